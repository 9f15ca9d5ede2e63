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


def _boundary_cases(rng):
    """(a, b, shift, rng output) whose (a*b) >> shift lies at the int16 saturation edges (q and
    q + 1 on both sides of 32767 and -32768), for every shift: the cases where the
    multiplier's carry-select (q or q + 1) and its high-bit saturation must agree with the
    multiply-add of sim/lanes.py."""
    cases = []
    for shift in range(16):
        for target in (32766, 32767, 32768, -32767, -32768, -32769, -32770, -32771):
            goal = target << shift
            for a in list(range(1, 40)) + [255, 256, 1023, 4097, 16383, 32767]:
                for sa in (1, -1):
                    base = goal // (sa * a)
                    for b in (base - 1, base, base + 1):
                        if -32768 <= b <= 32767 and (sa * a * b) >> shift in (target - 1, target, target + 1):
                            low = (sa * a * b) & ((1 << shift) - 1)
                            # stochastic draws at the carry's edge and random ones
                            for r in ((1 << shift) - 1 - low, (1 << shift) - low, int(rng.integers(1 << 16))):
                                cases.append((sa * a, b, shift, r & 0xFFFF))
    return cases


@pytest.mark.parametrize("sat", [False, True])
@pytest.mark.parametrize("rnd", ROUNDS)
def test_vmul_saturation_edges_every_shift(rnd, sat, rng, simulate):
    cases = _boundary_cases(rng)
    cases = [cases[i] for i in rng.choice(len(cases), size=min(len(cases), 1500), replace=False)]
    dut = LaneMultiplier()
    got = []

    async def bench(ctx):
        ctx.set(dut.x_round, rnd)
        ctx.set(dut.x_sat, sat)
        for a, b, shift, r in cases:
            ctx.set(dut.x_a, a)
            ctx.set(dut.x_b, b)
            ctx.set(dut.x_shift, shift)
            ctx.set(dut.x_rng, r)
            got.append(ctx.get(dut.x_result))

    simulate(dut, bench)
    want = [int(lanes.vmul(np.array([a], np.int16), np.array([b], np.int16), shift, rnd, sat,
                           rng_out=np.array([r], np.uint16))[0]) for a, b, shift, r in cases]
    bad = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
    assert not bad, f"{len(bad)} of {len(cases)} differ, e.g. (a, b, shift, rng), got, want: {bad[:5]}"
