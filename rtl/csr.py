"""CSR file: mcountinhibit, the 64-bit counters mcycle/minstret and mhartid.

Unlisted CSRs read 0 and ignore writes (FeNN behaviour); the DMA's CSRs live
in the DMA engine (rtl/dma/regs.py), whose read the core ORs with this one. A CSR instruction reads and writes in the
execute stage, so the counters it reads include every older instruction.

``mcycle`` is kept as the ISS's cycle model defines it (sim/cycle_model.py):
each retiring instruction adds the cycles charged to it (its issue cycle, a
load-use bubble before it, the redirect bubble after a taken branch or
jump), so a read sees exactly the ISS's value. Both counters use the
inhibit bits as the retiring instruction leaves them (a write to
mcountinhibit already applies to the instruction that writes it).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import csrs

INHIBIT_CYCLE, INHIBIT_INSTRET = 0, 2
INHIBIT_WRITABLE = (1 << INHIBIT_CYCLE) | (1 << INHIBIT_INSTRET)


class CsrFile(wiring.Component):
    x_addr: In(12)
    x_r_data: Out(32)
    x_w_en: In(1)
    x_w_data: In(32)
    clear: In(1)       # start of a run: counters to 0, mcountinhibit to its reset value
    retire: In(1)      # an instruction retires this cycle
    charge: In(16)     # ... and is charged this many cycles
    mcycle: Out(64)
    minstret: Out(64)

    def __init__(self, hart_id: int = 0):
        self.hart_id = hart_id
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        inhibit = Signal(3, init=csrs.MCOUNTINHIBIT_RESET)
        with m.Switch(self.x_addr):
            with m.Case(csrs.MCOUNTINHIBIT):
                m.d.comb += self.x_r_data.eq(inhibit)
            with m.Case(csrs.MCYCLE):
                m.d.comb += self.x_r_data.eq(self.mcycle[:32])
            with m.Case(csrs.MCYCLEH):
                m.d.comb += self.x_r_data.eq(self.mcycle[32:])
            with m.Case(csrs.MINSTRET):
                m.d.comb += self.x_r_data.eq(self.minstret[:32])
            with m.Case(csrs.MINSTRETH):
                m.d.comb += self.x_r_data.eq(self.minstret[32:])
            with m.Case(csrs.MHARTID):
                m.d.comb += self.x_r_data.eq(self.hart_id)

        with m.If(self.clear):
            m.d.sync += [self.mcycle.eq(0), self.minstret.eq(0), inhibit.eq(csrs.MCOUNTINHIBIT_RESET)]
        with m.Else():
            inhibit_next = Signal.like(inhibit)
            m.d.comb += inhibit_next.eq(inhibit)
            with m.If(self.x_w_en & (self.x_addr == csrs.MCOUNTINHIBIT)):
                m.d.comb += inhibit_next.eq(self.x_w_data & INHIBIT_WRITABLE)
            m.d.sync += inhibit.eq(inhibit_next)
            with m.If(self.retire & ~inhibit_next[INHIBIT_CYCLE]):
                m.d.sync += self.mcycle.eq(self.mcycle + self.charge)
            with m.If(self.retire & ~inhibit_next[INHIBIT_INSTRET]):
                m.d.sync += self.minstret.eq(self.minstret + 1)
        return m
