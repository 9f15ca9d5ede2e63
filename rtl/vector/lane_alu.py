"""Lane ALU: add, subtract, and, shift left/right by a per-lane amount, with
wrap or saturation (docs/isa.md section 4, VSOP without VMUL; also VSLLI, VANDADD)."""

from amaranth import Module, Mux
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .arith import INT16_MAX, INT16_MIN, S16, finish16, saturate16, wrap16


class AluOp(enum.Enum, shape=3):
    ADD = 0
    SUB = 1
    AND = 2
    SLL = 3
    SRA = 4


class LaneAlu(wiring.Component):
    """Combinational. Shift amounts are the low 5 bits of ``x_b``. Left
    shifts by 16..31 are exact (0 when wrapped, the bound when saturated and
    ``x_a`` is non-zero) without a 47-bit shifter."""

    x_op: In(AluOp)
    x_sat: In(1)
    x_a: In(S16)
    x_b: In(S16)
    x_result: Out(S16)

    def elaborate(self, platform):
        m = Module()
        a, b, sat = self.x_a, self.x_b, self.x_sat
        amount = b[:5]
        shifted = a << amount[:4]                       # exact for amounts 0..15 (31 bits)
        bound = Mux(a < 0, INT16_MIN, INT16_MAX)
        sll_wide_sat = Mux(a == 0, 0, bound)            # amounts 16..31
        sll = Mux(amount[4], Mux(sat, sll_wide_sat, 0), Mux(sat, saturate16(shifted), wrap16(shifted)))
        with m.Switch(self.x_op):
            with m.Case(AluOp.ADD):
                m.d.comb += self.x_result.eq(finish16(a + b, sat))
            with m.Case(AluOp.SUB):
                m.d.comb += self.x_result.eq(finish16(a - b, sat))
            with m.Case(AluOp.AND):
                m.d.comb += self.x_result.eq(a & b)
            with m.Case(AluOp.SLL):
                m.d.comb += self.x_result.eq(sll)
            with m.Case(AluOp.SRA):
                m.d.comb += self.x_result.eq(a >> amount)  # arithmetic: a is signed
        return m
