"""The KV260 design's numbers, in one place: every generated file (wrapper, build.tcl,
overlay, board.json) is rendered from a :class:`Kv260Design`, which takes the host
window and the DMA width from the SoC's own port description and the names the
on-board driver looks for from the host map (``fenn_dma.hostmap``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from fenn_dma.errors import FennError
from fenn_dma.hostmap import KV260_UDMABUF_NAME as UDMABUF_NAME
from fenn_dma.hostmap import KV260_UIO_NAME as UIO_NAME

PART = "xck26-sfvc784-2LV-c"
BOARD_PART = "xilinx.com:kv260_som:part0:1.4"
APP = "fenn-dma"                     # the Kria app: /lib/firmware/xilinx/fenn-dma/
PROJECT = "fenn_dma_kv260"
WRAPPER = "fenn_kv260_wrapper"
HOST_BASE = 0xA000_0000              # M_AXI_HPM0_FPD's window starts here
TARGET_MHZ = 175.0                   # FeNN-DMA's published clock on the KV260
DMA_PREFIX = "dram"                  # the SoC's AXI4 master to DRAM (rtl/soc.py)
BUFFER_BYTES = 64 << 20              # the u-dma-buf DRAM buffer (CMA) for streamed weights
PL_IRQ0_SPI = 89                     # pl_ps_irq0[0] is GIC SPI 89 on the ZynqMP
PL0_CLOCK = 71                       # the ZynqMP clock controller's PL0_REF
PL0_RESET = 116                      # the ZynqMP reset controller's PS_PL0


@dataclass(frozen=True)
class HpPort:
    """A PS slave port for the DMA master: its Vivado names and its AFI FM registers."""
    name: str                        # the PS pin, S_AXI_HP1_FPD
    gp: int                          # Vivado's PSU__USE__S_AXI_GP<gp> / SAXIGP<gp>
    afifm: int                       # AFIFM<afifm>_RDCTRL/WRCTRL = config-afi regids 2 afifm, 2 afifm + 1

    @property
    def short(self) -> str:
        return self.name.removeprefix("S_AXI_").removesuffix("_FPD")          # HP1


# HP1: a 128-bit non-coherent port into DDR that shares its DDR controller port (XPI) only with
# HP2, which nothing uses here; HP0 shares one with the DisplayPort controller (UG1085, PS-PL AXI
# interfaces). Non-coherent (not HPC): the driver cleans the buffer's cache lines before a run.
DMA_PORT = HpPort("S_AXI_HP1_FPD", gp=3, afifm=3)
AFI_WIDTH = {128: 0, 64: 1, 32: 2}   # AFIFM RDCTRL/WRCTRL fabric width codes (the xlnx,afi-fpga binding)
AFIFS = 14                           # config-afi regid of AFIFS (M_AXI_HPM0/1_FPD widths, bits 9:8, 11:10)
AFIFS_WIDTH = {32: 0, 64: 1, 128: 2}
HPM0_BITS = 32                       # M_AXI_HPM0_FPD's data width (the host port is 32-bit AXI4-Lite)


class ProjectError(FennError):
    pass


def bus_ports(ports: list[dict], prefix: str) -> dict[str, dict]:
    return {p["name"][len(prefix) + 2:]: p for p in ports if p["name"].startswith(prefix + "__")}


def check_options(target_mhz: float = TARGET_MHZ, buffer_bytes: int = BUFFER_BYTES, **_) -> None:
    if buffer_bytes <= 0 or buffer_bytes % 4096:
        raise ProjectError(f"the DRAM buffer is {buffer_bytes} bytes; give a positive multiple of 4096")
    if buffer_bytes > 1 << 31:
        raise ProjectError(f"the DRAM buffer is {buffer_bytes} bytes; the DMA reaches low DDR only (2 GiB)")
    if not target_mhz > 0:
        raise ProjectError(f"the target clock is {target_mhz} MHz; give a positive frequency")


@dataclass(frozen=True)
class Kv260Design:
    host_window: int                 # bytes of the SoC's host map (1 << host__awaddr's width)
    dma_bits: int | None             # the DMA master's data width; None: the SoC has no DMA
    target_mhz: float = TARGET_MHZ
    buffer_bytes: int = BUFFER_BYTES
    host_base: int = HOST_BASE
    app: str = APP
    uio_name: str = UIO_NAME
    udmabuf_name: str = UDMABUF_NAME

    @classmethod
    def from_description(cls, description: dict, **options) -> "Kv260Design":
        check_options(**options)
        ports = description["ports"]
        awaddr = [p["width"] for p in ports if p["name"] == "host__awaddr"]
        if not awaddr:
            raise ProjectError(f"the SoC has no AXI4-Lite host port (host__awaddr); ports: "
                               f"{[p['name'] for p in ports]}")
        dram = bus_ports(ports, DMA_PREFIX)
        dma_bits = dram["wdata"]["width"] if dram else None
        if dma_bits is not None and dma_bits not in AFI_WIDTH:
            raise ProjectError(f"the SoC's DMA master is {dma_bits} bits wide; {DMA_PORT.name} takes "
                               f"{', '.join(map(str, sorted(AFI_WIDTH)))} (build the SoC with dma_data_bits = 128)")
        return cls(1 << awaddr[0], dma_bits, **options)

    @property
    def files(self) -> dict[str, str]:
        """role -> file name, relative to the output folder."""
        return {"verilog": "fenn_soc.v", "description": "fenn_soc.json", "wrapper": f"{WRAPPER}.v",
                "constraints": "fenn_kv260.xdc", "bif": f"{self.app}.bif", "overlay": f"{self.app}.dtso",
                "shell": f"firmware/{self.app}/shell.json", "board": "board.json", "install": "install.sh",
                "tcl": "build.tcl"}

    def to_json(self) -> dict:
        """What the flow was made for (board.json): the numbers the overlay and the TCL use."""
        return dict(asdict(self), part=PART, board_part=BOARD_PART, dma_port=DMA_PORT.name if self.dma_bits else None,
                    irq_spi=PL_IRQ0_SPI, firmware=f"/lib/firmware/xilinx/{self.app}",
                    bitstream=f"{self.app}.bit.bin", overlay=f"{self.app}.dtbo")
