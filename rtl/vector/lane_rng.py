"""Per-lane Xoroshiro32++ (docs/isa.md section 5), 16-bit state s0, s1.

The output of the current state is available combinationally for the
instruction in execute; ``x_advance`` steps the state at the end of the cycle.
A VLOADR0/VLOADR1 delivers its row from VMEM one cycle after issue (``w_``);
that value is bypassed into the current state, so the very next instruction
already sees it (VLOADR has no load-use delay).
"""

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def rol16(x: Value, k: int) -> Value:
    return Cat(x[16 - k:16], x[:16 - k])


def xoroshiro32pp(s0: Value, s1: Value) -> tuple[Value, Value, Value]:
    """(output, next s0, next s1) of one advance."""
    output = (rol16((s0 + s1)[:16], 9) + s0)[:16]
    t = s1 ^ s0
    return output, rol16(s0, 13) ^ t ^ (t << 5)[:16], rol16(t, 10)


class LaneRng(wiring.Component):
    w_load_s0: In(1)
    w_load_s1: In(1)
    w_data: In(16)
    x_advance: In(1)
    x_output: Out(16)
    clear: In(1)            # back to the reset state (zero)

    def __init__(self, *, seed: tuple[int, int] = (0, 0)):
        # The reset state is implementation-defined (programs seed it); zero, as in the ISS.
        self._seed = seed
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        s0 = Signal(16, init=self._seed[0])
        s1 = Signal(16, init=self._seed[1])
        cur0 = Mux(self.w_load_s0, self.w_data, s0)
        cur1 = Mux(self.w_load_s1, self.w_data, s1)
        output, next0, next1 = xoroshiro32pp(cur0, cur1)
        m.d.comb += self.x_output.eq(output)
        m.d.sync += [s0.eq(Mux(self.x_advance, next0, cur0)), s1.eq(Mux(self.x_advance, next1, cur1))]
        with m.If(self.clear):
            m.d.sync += [s0.eq(self._seed[0]), s1.eq(self._seed[1])]
        return m
