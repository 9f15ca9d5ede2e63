"""Lane multiplier: (a * b + r) >> shift with truncating, nearest or
stochastic rounding, then wrap or saturation (VMUL; VSRAI with b = 1).

The rounding addend r is below 1 << shift, so with the product p = q * 2^shift + low
(q = p >> shift, 0 <= low < 2^shift):

    (p + r) >> shift = q + carry,   carry = (low + r >= 2^shift)

The multiplier therefore never adds r to the product: it computes ``x_q0``
(q, wrapped or saturated) and ``x_q1`` (q + 1, wrapped or saturated) from the
product alone, and ``x_carry``, which picks one of them (``x_result``). For
nearest rounding the carry is bit shift-1 of the product; for stochastic
rounding it is ``(rng & mask) > (~low & mask)`` (mask = 2^shift - 1), one
15-bit comparison, the only logic between the RNG output and the result. So
the path from a state that VLOADR0/1 loads in writeback (the RNG's bypass)
runs through the RNG's two adds, that comparison and the final select, not
through the multiply-add, the shift and the saturation (docs/vector_unit.md,
"Lane datapath and timing").

Saturation compares high bits: q is int16 when the product's bits
shift+15 .. 31 all equal its sign bit, decided by masks decoded from the shift
beside the barrel shift rather than by a wide compare after it.
"""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC

from .arith import S16

INT16_MAX_BITS, INT16_MIN_BITS = 0x7FFF, 0x8000


class LaneMultiplier(wiring.Component):
    """Combinational. ``x_rng``: this lane's RNG output (used by stochastic rounding).
    ``x_result`` = ``x_q1`` if ``x_carry`` else ``x_q0``; the lane selects between
    ``x_q0`` and ``x_q1`` last, after its result mux (rtl/vector/lane.py)."""

    x_a: In(S16)
    x_b: In(S16)
    x_shift: In(4)
    x_round: In(2)
    x_sat: In(1)
    x_rng: In(16)
    x_q0: Out(S16)          # (a*b) >> shift, finished (wrap or saturate)
    x_q1: Out(S16)          # (a*b) >> shift + 1, finished
    x_carry: Out(1)         # the rounding carries into bit `shift`
    x_result: Out(S16)

    def elaborate(self, platform):
        m = Module()
        shift, sat = self.x_shift, self.x_sat

        product = Signal(signed(32))          # 16x16 signed fits: |a*b| <= 2^30
        m.d.comb += product.eq(self.x_a * self.x_b)
        sign = product[31]

        # Decoded from the shift (control, early): thermometer and masks.
        ge = Signal(16)                       # ge[j] = (j >= shift)
        low_mask = Signal(15)                 # (1 << shift) - 1
        half_sel = Signal(15)                 # one-hot of bit shift-1 (zero for shift 0)
        window = Signal(30)                   # bits shift .. shift+14
        for j in range(16):
            m.d.comb += ge[j].eq(shift <= j)
        for j in range(15):
            m.d.comb += [low_mask[j].eq(shift > j), half_sel[j].eq(shift == j + 1)]
        for j in range(30):
            m.d.comb += window[j].eq((shift <= j) & (j < shift + 15))

        # Saturation from high bits: hi15 <=> q's bits 15..31 all equal the sign (q is int16);
        # low15_all <=> q[14:0] all ones (q = 32767 when q >= 0 is int16).
        differs = Signal(16)                  # differs[j]: product bit 15+j != sign (j < 16)
        m.d.comb += differs.eq(product[15:31] ^ sign.replicate(16))
        hi15 = ~(differs & ge).any()
        low15_all = ~(~product[:30] & window).any()

        q = Signal(signed(32))
        m.d.comb += q.eq(product >> shift)
        q_low = q[:16]
        inc = (q_low + 1)[:16]

        pos0 = ~sign & ~hi15                  # q > 32767
        neg0 = sign & ~hi15                   # q < -32768
        pos1 = ~sign & (~hi15 | low15_all)    # q + 1 > 32767
        neg1 = neg0                           # q + 1 < -32768, or = -32768 (q = -32769): -32768 either way
        m.d.comb += [
            self.x_q0.eq(Mux(sat & pos0, INT16_MAX_BITS, Mux(sat & neg0, INT16_MIN_BITS, q_low))),
            self.x_q1.eq(Mux(sat & pos1, INT16_MAX_BITS, Mux(sat & neg1, INT16_MIN_BITS, inc))),
        ]

        # The rounding's carry: nearest adds 1 << (shift-1) (bit shift-1 of the product);
        # stochastic adds rng & mask: carry when it exceeds (2^shift - 1 - low).
        nearest = (product[:15] & half_sel).any()
        rng_masked = Signal(unsigned(15))
        headroom = Signal(unsigned(15))
        m.d.comb += [rng_masked.eq(self.x_rng[:15] & low_mask), headroom.eq(~product[:15] & low_mask)]
        with m.Switch(self.x_round):
            with m.Case(ROUND_NEAREST):
                m.d.comb += self.x_carry.eq(nearest)
            with m.Case(ROUND_STOCHASTIC):
                m.d.comb += self.x_carry.eq(rng_masked > headroom)
        m.d.comb += self.x_result.eq(Mux(self.x_carry, self.x_q1, self.x_q0))
        return m
