"""LaneAlu against the numpy lane semantics of sim/lanes.py."""
import numpy as np
import pytest

from fenn_dma.rtl.vector.lane_alu import AluOp, LaneAlu
from fenn_dma.sim import lanes

ORACLE = {AluOp.ADD: lanes.vadd, AluOp.SUB: lanes.vsub, AluOp.AND: lanes.vand,
          AluOp.SLL: lanes.vsll, AluOp.SRA: lanes.vsra}


@pytest.mark.parametrize("sat", [False, True])
@pytest.mark.parametrize("op", list(AluOp))
def test_lane_alu_matches_lanes(op, sat, operand_pairs, simulate):
    a, b = operand_pairs
    if op in (AluOp.SLL, AluOp.SRA):
        # every amount 0..31 against every a, plus amounts whose high bits are set
        amounts = np.concatenate([np.arange(32), [32, 33, 47, -1, -16, -32768, 0x7FE1]]).astype(np.int16)
        a, b = (x.ravel() for x in np.meshgrid(np.unique(a)[::4], amounts))
        a, b = a.astype(np.int16), b.astype(np.int16)
    expected = ORACLE[op](a, b, sat=sat)
    dut = LaneAlu()
    got = np.zeros_like(expected)

    async def bench(ctx):
        ctx.set(dut.x_op, op)
        ctx.set(dut.x_sat, sat)
        for i in range(len(a)):
            ctx.set(dut.x_a, int(a[i]))
            ctx.set(dut.x_b, int(b[i]))
            got[i] = ctx.get(dut.x_result)

    simulate(dut, bench)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, f"{op} sat={sat}: a={a[bad[:5]]} b={b[bad[:5]]} got={got[bad[:5]]} want={expected[bad[:5]]}"
