"""Integer execute units of the scalar core (execute stage, combinational)."""

from amaranth import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Adder(wiring.Component):
    """``x_a + x_b``, or ``x_a - x_b`` when ``x_sub``."""
    x_a: In(32)
    x_b: In(32)
    x_sub: In(1)
    x_result: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.x_result.eq(Mux(self.x_sub, self.x_a - self.x_b, self.x_a + self.x_b))
        return m


class Compare(wiring.Component):
    """Equality and signed/unsigned less-than, for branches and slt(i)(u)."""
    x_a: In(32)
    x_b: In(32)
    x_eq: Out(1)
    x_lt: Out(1)
    x_ltu: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.x_eq.eq(self.x_a == self.x_b),
            self.x_lt.eq(self.x_a.as_signed() < self.x_b.as_signed()),
            self.x_ltu.eq(self.x_a < self.x_b),
        ]
        return m


class Logic(wiring.Component):
    x_a: In(32)
    x_b: In(32)
    x_xor: Out(32)
    x_or: Out(32)
    x_and: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.x_xor.eq(self.x_a ^ self.x_b), self.x_or.eq(self.x_a | self.x_b),
                     self.x_and.eq(self.x_a & self.x_b)]
        return m


class Shifter(wiring.Component):
    """Barrel shifter: left, or right logical/arithmetic, by ``x_amount`` (0-31)."""
    x_value: In(32)
    x_amount: In(5)
    x_left: In(1)
    x_arith: In(1)
    x_result: Out(32)

    def elaborate(self, platform):
        m = Module()
        right = Mux(self.x_arith, (self.x_value.as_signed() >> self.x_amount).as_unsigned(),
                    self.x_value >> self.x_amount)
        m.d.comb += self.x_result.eq(Mux(self.x_left, (self.x_value << self.x_amount)[:32], right))
        return m


def _leading_zeros(bits):
    """(all zero, the number of zeros above the highest set bit) of ``bits`` (MSB last, a power of
    two of them), as a balanced tree: the count's log2(len) bits are valid when not all zero."""
    if len(bits) == 2:
        return ~bits[1] & ~bits[0], ~bits[1]
    half = len(bits) // 2
    lo_zero, lo_count = _leading_zeros(bits[:half])
    hi_zero, hi_count = _leading_zeros(bits[half:])
    return hi_zero & lo_zero, Mux(hi_zero, Cat(lo_count, 1), Cat(hi_count, 0))


def _popcount(bits):
    """The number of set bits, as a balanced tree of adders."""
    if len(bits) == 1:
        return bits[0]
    half = len(bits) // 2
    return _popcount(bits[:half]) + _popcount(bits[half:])


class Bitmanip(wiring.Component):
    """The Zbb subset: clz, ctz, cpop, sext.b, sext.h (one result per op). Balanced trees, not
    priority chains: these results are on the execute stage's path to the forwarding muxes."""
    x_a: In(32)
    x_clz: Out(6)
    x_ctz: Out(6)
    x_cpop: Out(6)
    x_sext_b: Out(32)
    x_sext_h: Out(32)

    def elaborate(self, platform):
        m = Module()
        a = self.x_a
        bits = [a[i] for i in range(32)]
        clz_zero, clz = _leading_zeros(bits)
        ctz_zero, ctz = _leading_zeros(bits[::-1])     # trailing zeros: leading zeros of the reversal
        m.d.comb += [
            self.x_clz.eq(Mux(clz_zero, 32, clz)),
            self.x_ctz.eq(Mux(ctz_zero, 32, ctz)),
            self.x_cpop.eq(_popcount(bits)),
            self.x_sext_b.eq(a[:8].as_signed()),
            self.x_sext_h.eq(a[:16].as_signed()),
        ]
        return m


class Multiplier(wiring.Component):
    """32 x 32 multiply; the high word with either operand signed (mulh/mulhsu/mulhu).

    ``stages`` 1: combinational. ``stages`` 2: the partial products of 16-bit halves (each one
    MULT18X18D on ECP5) are registered at the end of the first cycle and summed in the second:
    the operands must stay the same for both cycles (the core holds the multiply in execute)."""
    x_a: In(32)
    x_b: In(32)
    x_a_signed: In(1)
    x_b_signed: In(1)
    x_low: Out(32)
    x_high: Out(32)

    def __init__(self, high: bool, stages: int = 1):
        if stages not in (1, 2):
            raise ValueError(f"Multiplier stages = {stages}: must be 1 or 2")
        self.high = high   # False: only `mul` is built
        self.stages = stages
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self.stages == 2:
            self._two_stages(m)
        elif self.high:
            a = Cat(self.x_a, self.x_a[31] & self.x_a_signed).as_signed()
            b = Cat(self.x_b, self.x_b[31] & self.x_b_signed).as_signed()
            product = a * b
            m.d.comb += [self.x_low.eq(product[:32]), self.x_high.eq(product[32:64])]
        else:
            m.d.comb += self.x_low.eq((self.x_a * self.x_b)[:32])
        return m

    def _two_stages(self, m):
        a_lo, b_lo = self.x_a[:16], self.x_b[:16]
        ll = Signal(32)
        m.d.sync += ll.eq(a_lo * b_lo)
        if not self.high:
            # The low word needs only the low halves of the cross products.
            lh, hl = Signal(16), Signal(16)
            m.d.sync += [lh.eq((a_lo * self.x_b[16:])[:16]), hl.eq((self.x_a[16:] * b_lo)[:16])]
            m.d.comb += self.x_low.eq((ll + Cat(C(0, 16), (lh + hl)[:16]))[:32])
            return
        # 33-bit operands (sign or zero extended) = hi * 2^16 + lo, hi signed 17 bits, lo unsigned 16.
        a_hi = Cat(self.x_a[16:], self.x_a[31] & self.x_a_signed).as_signed()
        b_hi = Cat(self.x_b[16:], self.x_b[31] & self.x_b_signed).as_signed()
        lh, hl, hh = Signal(signed(33)), Signal(signed(33)), Signal(signed(34))
        m.d.sync += [lh.eq(Cat(a_lo, C(0, 1)).as_signed() * b_hi),
                     hl.eq(a_hi * Cat(b_lo, C(0, 1)).as_signed()),
                     hh.eq(a_hi * b_hi)]
        product = Signal(64)
        m.d.comb += [product.eq(ll + (lh << 16) + (hl << 16) + (hh << 32)),
                     self.x_low.eq(product[:32]), self.x_high.eq(product[32:])]


class Divider(wiring.Component):
    """RISC-V division (div/divu/rem/remu), combinational, including x/0 and overflow.

    Magnitudes are divided unsigned and the signs applied after, which gives
    RISC-V's round-toward-zero; -2^31 / -1 then wraps to -2^31 with remainder 0,
    as the spec asks. Division by zero gives quotient all-ones, remainder x_a.
    """
    x_a: In(32)
    x_b: In(32)
    x_signed: In(1)
    x_quotient: Out(32)
    x_remainder: Out(32)

    def elaborate(self, platform):
        m = Module()
        a_neg = self.x_signed & self.x_a[31]
        b_neg = self.x_signed & self.x_b[31]
        a_mag = Mux(a_neg, -self.x_a, self.x_a)[:32]
        b_mag = Mux(b_neg, -self.x_b, self.x_b)[:32]
        q_mag = a_mag // b_mag
        r_mag = a_mag % b_mag
        q = Mux(a_neg ^ b_neg, -q_mag, q_mag)[:32]
        r = Mux(a_neg, -r_mag, r_mag)[:32]
        by_zero = self.x_b == 0
        m.d.comb += [
            self.x_quotient.eq(Mux(by_zero, 0xFFFFFFFF, q)),
            self.x_remainder.eq(Mux(by_zero, self.x_a, r)),
        ]
        return m
