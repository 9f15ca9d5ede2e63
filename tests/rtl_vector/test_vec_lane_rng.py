"""LaneRng: Xoroshiro32++ sequences, state loads and their bypass, against sim/lanes.py."""
import numpy as np

from fenn_dma.rtl.vector.lane_rng import LaneRng
from fenn_dma.sim import lanes


def test_rng_sequence_and_loads(simulate, rng):
    dut = LaneRng()
    # A schedule of (load s0 value | None, load s1 value | None, advance), one per cycle.
    schedule = [(0x1234, None, False), (None, 0xBEEF, True)]
    schedule += [(None, None, bool(rng.integers(2))) for _ in range(200)]
    schedule += [(int(rng.integers(1 << 16)), int(rng.integers(1 << 16)), True)]  # both loads, used at once
    schedule += [(None, None, True) for _ in range(50)]
    schedule += [(0, None, False), (None, 0, True), (None, None, True)]            # all-zero state is stuck
    outputs = []

    async def bench(ctx):
        for load0, load1, advance in schedule:
            ctx.set(dut.w_load_s0, load0 is not None)
            ctx.set(dut.w_load_s1, load1 is not None)
            # one data bus: when both load in one cycle, both take it (the unit never does that)
            ctx.set(dut.w_data, load0 if load0 is not None else (load1 or 0))
            ctx.set(dut.x_advance, advance)
            outputs.append(ctx.get(dut.x_output))
            await ctx.tick()

    simulate(dut, bench, clocked=True)

    s0, s1 = np.uint16(0), np.uint16(0)   # the unit's reset state (as the ISS)
    for (load0, load1, advance), got in zip(schedule, outputs):
        data = load0 if load0 is not None else (load1 or 0)
        if load0 is not None:
            s0 = np.uint16(data)
        if load1 is not None:
            s1 = np.uint16(data)
        out, n0, n1 = lanes.rng_next(s0, s1)
        assert got == int(out)
        if advance:
            s0, s1 = n0, n1
    assert outputs[-1] == 0
