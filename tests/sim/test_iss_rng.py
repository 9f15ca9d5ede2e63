"""Per-lane Xoroshiro32++ (docs/isa.md section 5) against an independent plain-Python
model written here, VRNG and stochastic rounding."""
from __future__ import annotations

import numpy as np


def rol16(x: int, k: int) -> int:
    return ((x << k) | (x >> (16 - k))) & 0xFFFF


def xoroshiro32pp(s0: int, s1: int) -> tuple[int, int, int]:
    """One step: (output, s0, s1), straight from the docs/isa.md text."""
    out = (rol16((s0 + s1) & 0xFFFF, 9) + s0) & 0xFFFF
    s1 ^= s0
    s0 = rol16(s0, 13) ^ s1 ^ ((s1 << 5) & 0xFFFF)
    s1 = rol16(s1, 10)
    return out, s0, s1


SEED0 = [(0x1234 + 77 * i) & 0xFFFF for i in range(32)]
SEED1 = [(0xBEEF ^ (i << 9)) & 0xFFFF for i in range(32)]


def seeds_data() -> str:
    return ("    .section .vmem\n    .half " + ", ".join(map(str, SEED0)) + "\n    .half "
            + ", ".join(map(str, SEED1)) + "\n")


def stream(steps: int) -> list[list[int]]:
    """outputs[step][lane]."""
    state = list(zip(SEED0, SEED1))
    outs = []
    for _ in range(steps):
        row = []
        for lane, (a, b) in enumerate(state):
            o, a, b = xoroshiro32pp(a, b)
            state[lane] = (a, b)
            row.append(o)
        outs.append(row)
    return outs


def test_known_first_output():
    # s0 = 1, s1 = 0: rol16(1, 9) + 1 = 513.
    assert xoroshiro32pp(1, 0)[0] == 513


def test_vrng_sequence_and_state(run_asm):
    m = run_asm("vloadr0 0(zero)\nvloadr1 64(zero)\nvrng v1\nvrng v2\nvrng v3\necall\n" + seeds_data())
    outs = stream(3)
    for k in range(3):
        assert [int(x) for x in m.v[k + 1]] == [o >> 1 for o in outs[k]]
    state = list(zip(SEED0, SEED1))
    for _ in range(3):
        state = [xoroshiro32pp(a, b)[1:] for a, b in state]
    assert [int(x) for x in m.s0] == [a for a, _ in state]
    assert [int(x) for x in m.s1] == [b for _, b in state]


def test_zero_state_is_stuck(run_asm):
    m = run_asm("vrng v1\nvrng v1\necall")   # reset state is zero in this ISS
    assert np.all(m.v[1] == 0) and np.all(m.s0 == 0) and np.all(m.s1 == 0)


def test_stochastic_rounding_uses_one_output_per_instruction(run_asm):
    m = run_asm("""
        vloadr0 0(zero)
        vloadr1 64(zero)
        li t0, -5
        vfill v1, t0
        li t1, 3
        vfill v2, t1
        vmul_rs v3, v1, v2, 4        # (-15 + (out0 & 15)) >> 4
        vsrai_rs v4, v1, 2           # (-5 + (out1 & 3)) >> 2
        vmul_s_rs v5, v1, v2, 0      # shift 0: exact -15, but still advances (out2)
        vrng v6                      # out3 >> 1
        ecall
    """ + seeds_data())
    outs = stream(4)
    assert [int(x) for x in m.v[3]] == [(-15 + (o & 15)) >> 4 for o in outs[0]]
    assert [int(x) for x in m.v[4]] == [(-5 + (o & 3)) >> 2 for o in outs[1]]
    assert [int(x) for x in m.v[5]] == [-15] * 32
    assert [int(x) for x in m.v[6]] == [o >> 1 for o in outs[3]]


def test_nearest_and_truncating_forms_do_not_touch_the_rng(run_asm):
    m = run_asm("vloadr0 0(zero)\nvloadr1 64(zero)\nvmul_rn v3, v1, v2, 4\nvsrai v4, v1, 3\n"
                "vrng v6\necall\n" + seeds_data())
    assert [int(x) for x in m.v[6]] == [o >> 1 for o in stream(1)[0]]
