"""LaneMultiplier (VMUL, and VSRAI as b = 1) against sim/lanes.py."""
import numpy as np
import pytest

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC, ROUND_TRUNC
from fenn_dma.rtl.vector.lane_mul import LaneMultiplier
from fenn_dma.sim import lanes

ROUNDS = [ROUND_TRUNC, ROUND_NEAREST, ROUND_STOCHASTIC]


def _run(simulate, a, b, shift, rnd, sat, rng_out):
    dut = LaneMultiplier()
    got = np.zeros(len(a), dtype=np.int16)

    async def bench(ctx):
        ctx.set(dut.x_shift, shift)
        ctx.set(dut.x_round, rnd)
        ctx.set(dut.x_sat, sat)
        for i in range(len(a)):
            ctx.set(dut.x_a, int(a[i]))
            ctx.set(dut.x_b, int(b[i]))
            ctx.set(dut.x_rng, int(rng_out[i]))
            got[i] = ctx.get(dut.x_result)

    simulate(dut, bench)
    return got


@pytest.mark.parametrize("sat", [False, True])
@pytest.mark.parametrize("rnd", ROUNDS)
def test_vmul_matches_lanes(rnd, sat, operand_pairs, rng, simulate):
    a, b = operand_pairs
    for shift in (0, 1, 7, 14, 15):
        rng_out = rng.integers(0, 1 << 16, len(a)).astype(np.uint16)
        expected = lanes.vmul(a, b, shift, rnd, sat, rng_out=rng_out)
        got = _run(simulate, a, b, shift, rnd, sat, rng_out)
        bad = np.flatnonzero(got != expected)
        assert bad.size == 0, (f"shift={shift}: a={a[bad[:5]]} b={b[bad[:5]]} rng={rng_out[bad[:5]]} "
                               f"got={got[bad[:5]]} want={expected[bad[:5]]}")


@pytest.mark.parametrize("rnd", ROUNDS)
def test_vsrai_is_multiply_by_one(rnd, rng, simulate):
    a = np.concatenate([[-32768, -32767, -1, 0, 1, 32767], rng.integers(-32768, 32768, 60)]).astype(np.int16)
    for shift in range(16):
        rng_out = rng.integers(0, 1 << 16, len(a)).astype(np.uint16)
        expected = lanes.vsrai(a, shift, rnd, rng_out=rng_out)
        got = _run(simulate, a, np.ones_like(a), shift, rnd, False, rng_out)
        assert np.array_equal(got, expected), f"shift={shift}"
