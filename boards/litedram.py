"""The SDRAM behind LiteDRAM for a board: the generated standalone core
(``boards/litedram_gen.py``) as an Amaranth ``Instance``, the sequencer that
initialises it, and its two user ports wired to the SoC.

- ``dram``: the SoC's DMA master (AXI4, 32 bits: the user port is generated 32 bits
  wide, so LiteDRAM's own native-port converter joins two 16-bit chip words a beat;
  no converter here) straight onto the core's ``dma`` AXI user port;
- ``host``: the UARTBone bridge's AXI4-Lite, as single-beat AXI4 INCR transactions on
  the ``host`` user port (the host stages DRAM images there);
- ``ready``: the init sequence has run and the user ports are open.

Why a sequencer here: a core generated with ``cpu: None`` has no init engine. Its
``init_done``/``init_error`` pins are CSRs that firmware writes, and the user ports
stay blocked until ``init_done`` is set, so someone must run LiteX's ``sdram_init()``
over the core's control bus ``wb_ctrl``. Doing it in hardware, from reset, makes the
board usable with no host step (the host would otherwise need a route to ``wb_ctrl``
and the sequence): ``LiteDramInit`` replays the CSR writes that litedram_gen's own
``sdram_phy.h``/``csr.json`` give (``LiteDramCore.init``), each followed by its
``cdelay`` as that many cycles (firmware's loop takes at least one a count).
LiteX's BIOS memtest after the init is not done: ``init_error`` stays 0.

The SDRAM clock (not a LiteDRAM pin: LiteX boards drive it themselves) is the
system clock inverted by an ``ODDRX1F`` (D0 = 0, D1 = 1), i.e. 180 degrees. LiteX's
ULX3S target uses a 90-degree PLL output at 50 MHz; at this board's 25 MHz the PHY's
command and data outputs get 20 ns of setup and hold at the chip, and a read (CL 2,
tAC <= 6 ns) is captured on the same system edge as with 90 degrees, so the PHY's
read latency (CL + 1) holds. Not tried on a board here.
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.hdl import IOPort
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import AXI_BURST_INCR, axi4, axi4_lite

from .litedram_gen import CORE, CsrWrite, LiteDramCore, LiteDramError

WORD_SIZE = 2                # AXI size code of a 32-bit beat


@dataclass(frozen=True)
class SdramPins:
    """A board's SDR SDRAM pins (FPGA sites), in the core's port order (bit 0 first)."""
    clk: str
    cke: str
    cs_n: str
    we_n: str
    ras_n: str
    cas_n: str
    a: tuple[str, ...]
    ba: tuple[str, ...]
    dm: tuple[str, ...]
    dq: tuple[str, ...]

    def ports(self) -> dict[str, tuple[str, ...]]:
        """Top-level port name (``sdram_<pin>``, as the core names them) -> sites."""
        return {f"sdram_{name}": sites if isinstance(sites, tuple) else (sites,)
                for name, sites in vars(self).items()}

    def lpf(self) -> str:
        lines = ["# SDR SDRAM (LiteDRAM GENSDRPHY)"]
        for port, sites in self.ports().items():
            for i, site in enumerate(sites):
                name = port if len(sites) == 1 else f"{port}[{i}]"
                lines += [f'LOCATE COMP "{name}" SITE "{site}";',
                          f'IOBUF PORT "{name}" PULLMODE=NONE IO_TYPE=LVCMOS33 SLEWRATE=FAST;']
        return "\n".join(lines) + "\n"


# Radiona ULX3S (v2.x/v3.x): the board's published ulx3s_v20.lpf, as litex-boards' radiona_ulx3s platform lists it.
ULX3S_SDRAM = SdramPins(
    clk="F19", cke="F20", cs_n="P20", we_n="T20", ras_n="R20", cas_n="T19",
    a=("M20", "M19", "L20", "L19", "K20", "K19", "K18", "J20", "J19", "H20", "N19", "G20", "G19"),
    ba=("P19", "N20"), dm=("U19", "E20"),
    dq=("J16", "L18", "M18", "N18", "P18", "T18", "T17", "U20", "E19", "D20", "D19", "C20", "E18", "F18", "J18", "J17"))


class LiteDramInit(wiring.Component):
    """Runs ``writes`` on a Wishbone bus (LiteX's classic Wishbone, 32-bit, word addresses)
    after reset, one after another, each followed by its delay; then ``done``."""

    def __init__(self, writes: tuple[CsrWrite, ...]):
        if not writes:
            raise LiteDramError("an empty LiteDRAM init sequence")
        self.writes = writes
        super().__init__({"adr": Out(30), "dat_w": Out(32), "sel": Out(4), "cyc": Out(1), "stb": Out(1),
                          "we": Out(1), "ack": In(1), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        step = Signal(range(len(self.writes) + 1))
        wait = Signal(range(max(w.delay for w in self.writes) + 2))
        with m.Switch(step):
            for i, w in enumerate(self.writes):
                with m.Case(i):
                    m.d.comb += [self.adr.eq(w.addr >> 2), self.dat_w.eq(w.data)]
        m.d.comb += [self.sel.eq(0xF), self.we.eq(1), self.done.eq(step == len(self.writes))]
        with m.FSM():
            with m.State("WRITE"):
                with m.If(~self.done):
                    m.d.comb += [self.cyc.eq(1), self.stb.eq(1)]
                    with m.If(self.ack):
                        with m.Switch(step):
                            for i, w in enumerate(self.writes):
                                with m.Case(i):
                                    m.d.sync += wait.eq(w.delay)
                        m.next = "WAIT"
            with m.State("WAIT"):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait <= 1):
                    m.d.sync += step.eq(step + 1)
                    m.next = "WRITE"
        return m


class LiteDram(wiring.Component):
    """The generated ``core`` with its init sequencer; ``dram`` and ``host`` are the SoC's DMA
    master and the bridge's DRAM window. With the real PHY (``core.config.sim`` false) the
    SDRAM pins are top-level IO ports ``sdram_*`` (``ULX3S_SDRAM.ports()`` names them)."""

    def __init__(self, core: LiteDramCore, addr_width: int, host_addr_width: int, data_bits: int = 32):
        if data_bits != core.config.data_bits:
            raise LiteDramError(f"a {data_bits}-bit DMA master on LiteDRAM user ports of {core.config.data_bits} "
                                "bits: generate the core for the master's width")
        self.core = core
        super().__init__({"dram": In(axi4(addr_width, data_bits, core.config.dma_id_bits)),
                          "host": In(axi4_lite(host_addr_width)), "ready": Out(1)})

    def elaborate(self, platform):
        m = Module()
        core = self.core
        m.submodules.init = init = LiteDramInit(core.init)
        init_done, init_error = Signal(), Signal()
        bits = core.addr_bits
        ports = {"i_clk": ClockSignal(), "o_init_done": init_done, "o_init_error": init_error,
                 "o_user_clk": Signal(), "o_user_rst": Signal(),
                 "i_wb_ctrl_adr": init.adr, "i_wb_ctrl_dat_w": init.dat_w, "o_wb_ctrl_dat_r": Signal(32),
                 "i_wb_ctrl_sel": init.sel, "i_wb_ctrl_cyc": init.cyc, "i_wb_ctrl_stb": init.stb,
                 "i_wb_ctrl_we": init.we, "o_wb_ctrl_ack": init.ack, "o_wb_ctrl_err": Signal(),
                 "i_wb_ctrl_cti": Const(0, 3), "i_wb_ctrl_bte": Const(0, 2)}
        ports.update(_axi_ports("dma", self.dram, bits))
        ports.update(_lite_ports("host", self.host, bits))
        if core.config.sim:
            ports["i_sim_trace"] = Const(0, 1)
        else:
            ports["i_rst"] = ResetSignal()
            for name, (direction, width) in core.ports.items():
                if name.startswith("sdram_"):
                    ports[f"{ {'input': 'i', 'output': 'o', 'inout': 'io'}[direction]}_{name}"] = \
                        IOPort(width, name=name)
            clk_pin = IOPort(1, name="sdram_clk")
            m.submodules.sdram_clk = Instance("ODDRX1F", i_D0=Const(0, 1), i_D1=Const(1, 1), i_SCLK=ClockSignal(),
                                              i_RST=Const(0, 1), o_Q=clk_pin)
        _check_ports(core, ports)
        m.submodules.litedram = Instance(CORE, **ports)
        m.d.comb += self.ready.eq(init.done & init_done & ~init_error)
        return m


def _axi_ports(name: str, axi, bits: int) -> dict:
    p = f"user_port_{name}_"
    out = {}
    for ch in ("aw", "ar"):
        out.update({f"i_{p}{ch}addr": getattr(axi, f"{ch}addr")[:bits], f"i_{p}{ch}burst": getattr(axi, f"{ch}burst"),
                    f"i_{p}{ch}len": getattr(axi, f"{ch}len"), f"i_{p}{ch}size": Cat(getattr(axi, f"{ch}size"), Const(0, 1)),
                    f"i_{p}{ch}id": getattr(axi, f"{ch}id"), f"i_{p}{ch}valid": getattr(axi, f"{ch}valid"),
                    f"o_{p}{ch}ready": getattr(axi, f"{ch}ready")})
    out.update({f"i_{p}wdata": axi.wdata, f"i_{p}wstrb": axi.wstrb, f"i_{p}wlast": axi.wlast,
                f"i_{p}wvalid": axi.wvalid, f"o_{p}wready": axi.wready,
                f"o_{p}bid": axi.bid, f"o_{p}bresp": axi.bresp, f"o_{p}bvalid": axi.bvalid, f"i_{p}bready": axi.bready,
                f"o_{p}rid": axi.rid, f"o_{p}rdata": axi.rdata, f"o_{p}rresp": axi.rresp, f"o_{p}rlast": axi.rlast,
                f"o_{p}rvalid": axi.rvalid, f"i_{p}rready": axi.rready})
    return out


def _lite_ports(name: str, lite, bits: int) -> dict:
    """AXI4-Lite as AXI4: each transaction one INCR beat of 32 bits, ID 0."""
    p = f"user_port_{name}_"
    out = {}
    for ch in ("aw", "ar"):
        out.update({f"i_{p}{ch}addr": getattr(lite, f"{ch}addr")[:bits], f"i_{p}{ch}burst": Const(AXI_BURST_INCR, 2),
                    f"i_{p}{ch}len": Const(0, 8), f"i_{p}{ch}size": Const(WORD_SIZE, 4), f"i_{p}{ch}id": Const(0, 1),
                    f"i_{p}{ch}valid": getattr(lite, f"{ch}valid"), f"o_{p}{ch}ready": getattr(lite, f"{ch}ready")})
    out.update({f"i_{p}wdata": lite.wdata, f"i_{p}wstrb": lite.wstrb, f"i_{p}wlast": Const(1, 1),
                f"i_{p}wvalid": lite.wvalid, f"o_{p}wready": lite.wready,
                f"o_{p}bid": Signal(), f"o_{p}bresp": lite.bresp, f"o_{p}bvalid": lite.bvalid, f"i_{p}bready": lite.bready,
                f"o_{p}rid": Signal(), f"o_{p}rdata": lite.rdata, f"o_{p}rresp": lite.rresp, f"o_{p}rlast": Signal(),
                f"o_{p}rvalid": lite.rvalid, f"i_{p}rready": lite.rready})
    return out


def _check_ports(core: LiteDramCore, ports: dict) -> None:
    """Every port of the generated core connected once, at its width (a LiteDRAM version
    that renames or resizes one is caught here, not as a silent yosys/Verilator warning)."""
    given = {key.split("_", 1)[1]: value for key, value in ports.items()}
    if set(given) != set(core.ports):
        raise LiteDramError(f"{core.folder}: the core's ports and the wrapper's differ: the core has "
                            f"{sorted(set(core.ports) - set(given))} unconnected, the wrapper "
                            f"{sorted(set(given) - set(core.ports))} unknown")
    for name, value in given.items():
        width = core.ports[name][1]
        if len(value) != width:
            raise LiteDramError(f"{core.folder}: port {name} is {width} bits in the core, {len(value)} here")
