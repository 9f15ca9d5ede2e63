"""Lane multiplier: (a * b + r) >> shift with truncating, nearest or
stochastic rounding, then wrap or saturation (VMUL; VSRAI with b = 1).

The 16x16 signed product and the rounding addend form one multiply-add, the
shape that synthesis maps to one DSP48E2 (product + C input) per lane.
"""

from amaranth import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC

from .arith import S16, finish16


class LaneMultiplier(wiring.Component):
    """Combinational. ``x_rng``: this lane's RNG output (used by stochastic rounding)."""

    x_a: In(S16)
    x_b: In(S16)
    x_shift: In(4)
    x_round: In(2)
    x_sat: In(1)
    x_rng: In(16)
    x_result: Out(S16)

    def elaborate(self, platform):
        m = Module()
        shift = self.x_shift
        half = (Const(1, 16) << shift)[1:16]                  # 1 << (shift-1); 0 for shift 0
        low_mask = ((Const(1, 17) << shift) - 1)[:15]         # (1 << shift) - 1
        addend = Signal(unsigned(15))
        with m.Switch(self.x_round):
            with m.Case(ROUND_NEAREST):
                m.d.comb += addend.eq(half)
            with m.Case(ROUND_STOCHASTIC):
                m.d.comb += addend.eq(self.x_rng[:15] & low_mask)
        product = Signal(signed(32))
        total = Signal(signed(33))
        m.d.comb += [product.eq(self.x_a * self.x_b), total.eq(product + addend)]
        m.d.comb += self.x_result.eq(finish16(total >> shift, self.x_sat))
        return m
