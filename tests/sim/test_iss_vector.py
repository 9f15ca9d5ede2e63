"""Vector instructions on the ISS (both engines), corner by corner of
docs/isa.md section 4. Expected lane values are worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.sim import StopCause

DEAD = 0xDEAD - 0x10000   # VMEM/LLM reset pattern as int16


def lanes_of(*values: int) -> str:
    """.half directive for a 32-lane row (values repeat to fill 32 lanes)."""
    row = [values[i % len(values)] & 0xFFFF for i in range(32)]
    return "    .half " + ", ".join(str(v) for v in row) + "\n"


def vector_program(body: str, rows: list[tuple[int, ...]]) -> str:
    """``body`` after loading row k of VMEM into v(k+1) (with a spacer after the last load)."""
    loads = "".join(f"    vloadv v{k + 1}, {64 * k}(zero)\n" for k in range(len(rows)))
    data = "".join(lanes_of(*r) for r in rows)
    return loads + "    nop\n" + body + "\n    ecall\n    .section .vmem\n" + data


def row(m, reg: int) -> list[int]:
    return [int(x) for x in m.v[reg]]


@pytest.mark.parametrize("op, a, b, wrap, sat", [
    ("vadd", 32767, 1, -32768, 32767),
    ("vadd", -32768, -1, 32767, -32768),
    ("vadd", 100, -300, -200, -200),
    ("vsub", -32768, 1, 32767, -32768),
    ("vsub", 32767, -1, -32768, 32767),
    ("vsub", 5, 7, -2, -2),
    ("vand", -1, 0x1234, 0x1234, 0x1234),
    ("vand", -32768, -2, -32768, -32768),
    ("vsll", 1, 15, -32768, 32767),
    ("vsll", -1, 3, -8, -8),
    ("vsll", 1, 16, 0, 32767),       # amount 16: exact 65536 wraps to 0, saturates
    ("vsll", 0, 20, 0, 0),
    ("vsll", 3, 33, 6, 6),           # amount = low 5 bits of 33 = 1
    ("vsll", -32768, 1, 0, -32768),
    ("vsll", 0x4001, 2, 4, 32767),
    ("vsra", -7, 1, -4, -4),         # floor
    ("vsra", -1, 20, -1, -1),
    ("vsra", 100, 15, 0, 0),
    ("vsra", 100, 33, 50, 50),       # amount 1
    ("vsra", -32768, 31, -1, -1),
])
def test_vsop_wrap_and_sat(run_asm, op, a, b, wrap, sat):
    m = run_asm(vector_program(f"{op} v3, v1, v2\n{op}_s v4, v1, v2", [(a,), (b,)]))
    assert m.last_stop.cause == StopCause.ECALL
    assert row(m, 3) == [wrap] * 32 and row(m, 4) == [sat] * 32


@pytest.mark.parametrize("a, b, shift, trunc, nearest, trunc_sat", [
    (-3, 1, 1, -2, -1, -2),              # floor(-1.5) = -2; (-3 + 1) >> 1 = -1
    (3, 1, 1, 1, 2, 1),
    (-32768, -32768, 15, -32768, -32768, 32767),   # 2^30 >> 15 = 32768: wraps, saturates
    (-32768, 32767, 15, -32767, -32767, -32767),
    (32767, 32767, 15, 32766, 32766, 32766),       # 32767^2 = 32766 * 32768 + 1: .5 short of 32767
    (300, 300, 0, 24464, 24464, 32767),            # shift 0: rounding adds nothing; 90000 wraps
    (-300, 300, 0, -24464, -24464, -32768),
    (5, 3, 4, 0, 1, 0),                            # 15/16: truncates to 0, rounds to 1
    (-5, 3, 4, -1, -1, -1),                        # -15/16: floor -1; (-15 + 8) >> 4 = -1
    (-1, 8, 4, -1, 0, -1),                         # -8/16: floor -1; (-8 + 8) >> 4 = 0 (half up)
])
def test_vmul_rounding_shift_and_saturation(run_asm, a, b, shift, trunc, nearest, trunc_sat):
    m = run_asm(vector_program(f"vmul v3, v1, v2, {shift}\nvmul_rn v4, v1, v2, {shift}\n"
                               f"vmul_s v5, v1, v2, {shift}\nvmul_s_rn v6, v1, v2, {shift}",
                               [(a,), (b,)]))
    assert row(m, 3) == [trunc] * 32 and row(m, 4) == [nearest] * 32 and row(m, 5) == [trunc_sat] * 32
    nearest_sat = max(-32768, min(32767, (a * b + (1 << (shift - 1) if shift else 0)) >> shift))
    assert row(m, 6) == [nearest_sat] * 32


def test_vslli_and_vsrai(run_asm):
    m = run_asm(vector_program("""
        vslli v3, v1, 2          # 0x4001 << 2 wraps to 4
        vsrai v4, v2, 1          # -5 >> 1 = -3
        vsrai_rn v5, v2, 1       # (-5 + 1) >> 1 = -2
        vsrai_rn v6, v7, 1       # (32767 + 1) >> 1 = 16384
        vsrai_rn v8, v2, 0       # shift 0: unchanged
        vslli v9, v2, 15         # -5 << 15 = -163840: low 16 bits 0x8000
    """, [(0x4001,), (-5,), (0,), (0,), (0,), (0,), (32767,)]))
    assert row(m, 3) == [4] * 32 and row(m, 4) == [-3] * 32 and row(m, 5) == [-2] * 32
    assert row(m, 6) == [16384] * 32 and row(m, 8) == [-5] * 32 and row(m, 9) == [-32768] * 32


def test_vtst_masks_are_signed_per_lane(run_asm):
    ramp = tuple(i - 16 for i in range(32))      # lanes 0-15 negative, lane 16 zero
    m = run_asm(vector_program("""
        vlui v2, 0
        vtlt a0, v1, v2
        vtge a1, v1, v2
        vteq a2, v1, v2
        vtne a3, v1, v2
        vteq zero, v1, v1        # x0 stays zero
    """, [ramp]))
    assert list(m.x[10:14]) == [0x0000FFFF, 0xFFFF0000, 0x00010000, 0xFFFEFFFF]
    assert m.x[0] == 0


def test_vsel_keeps_old_lanes(run_asm):
    m = run_asm(vector_program("""
        li t0, 0x8000000f
        vsel v1, t0, v2
    """, [(11,), (22,)]))
    assert row(m, 1) == [22] * 4 + [11] * 27 + [22]


def test_vlui_patterns(run_asm):
    m = run_asm("vlui v1, -3\nvlui v2, 65535\nvlui v3, 0x8000\nvlui v4, 0x7fff\necall")
    assert row(m, 1) == [-3] * 32 and row(m, 2) == [-1] * 32
    assert row(m, 3) == [-32768] * 32 and row(m, 4) == [32767] * 32


@pytest.mark.parametrize("x, lane", [
    (0x80000005, -32763),     # {x[31], x[14:0]} = 0x8005
    (0x00018000, 0),          # bit 15 and 16 are not used
    (0x00007FFF, 32767),
    (0xFFFFFFFF, -1),
    (0x7FFF8001, 1),
])
def test_vfill_bit_selection(run_asm, x, lane):
    m = run_asm(f"li t0, {x}\nvfill v1, t0\necall")
    assert row(m, 1) == [lane] * 32


def test_vextract_lane_range_and_sign(run_asm):
    ramp = tuple(-(i + 1) if i % 2 else i * 100 for i in range(32))
    m = run_asm(vector_program("""
        vextract a0, v1, 0
        vextract a1, v1, 31
        vextract a2, v1, 30
        vextract zero, v1, 31
    """, [ramp]))
    assert m.x[10] == 0 and m.x[11] == 0xFFFFFFE0 and m.x[12] == 3000 and m.x[0] == 0


def test_vandadd(run_asm):
    m = run_asm(vector_program("""
        li t0, 0x12340010
        vandadd v3, v1, t0, 8     # (0x1234 & 0xff) + 0x0010 = 0x44
        li t1, -1
        vandadd v4, v2, t1, 15    # 0x7fff + 0xffff = 0x17ffe: wraps to 0x7ffe
        vandadd v5, v1, t0, 0     # mask 0: the scalar's low half only
        li t2, 0x8000
        vandadd v6, v1, t2, 4     # 4 + 0x8000 = 0x8004 -> -32764
    """, [(0x1234,), (-1,)]))
    assert row(m, 3) == [0x44] * 32 and row(m, 4) == [0x7FFE] * 32
    assert row(m, 5) == [0x10] * 32 and row(m, 6) == [-32764] * 32


def test_vloadv_vstorev_round_trip_and_faults(run_asm, small):
    m = run_asm("""
        li t0, 64
        vloadv v1, 0(t0)
        nop
        vstorev v1, 128(t0)
        ecall
        .section .vmem
        .space 64
        .half 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
        .half -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16
    """)
    expected = list(range(1, 17)) + [-i for i in range(1, 17)]
    assert row(m, 1) == expected
    assert m.vmem[192:256].view("<i2").tolist() == expected
    assert m.vmem[256:258].view("<u2")[0] == 0xDEAD   # untouched VMEM keeps the reset pattern
    top = small.vmem_size
    for source, cause in [("vloadv v1, 32(zero)", StopCause.MISALIGNED_LOAD),
                          (f"li t0, {top}\nvloadv v1, 0(t0)", StopCause.LOAD_FAULT),
                          (f"li t0, {top - 64}\nvloadv v1, 0(t0)", StopCause.ECALL),
                          ("vstorev v1, 2(zero)", StopCause.MISALIGNED_STORE),
                          (f"li t0, {top}\nvstorev v1, -64(t0)", StopCause.ECALL),
                          (f"li t0, {top}\nvstorev v1, 0(t0)", StopCause.STORE_FAULT),
                          ("li t0, -64\nvstorev v1, 0(t0)", StopCause.STORE_FAULT),
                          ("vloadr0 8(zero)", StopCause.MISALIGNED_LOAD),
                          (f"li t0, {top}\nvloadr1 0(t0)", StopCause.LOAD_FAULT)]:
        m = run_asm("vlui v1, 9\n" + source + "\necall")
        assert m.last_stop.cause == cause, source
        if cause != StopCause.ECALL:
            assert m.last_stop.pc == 4 * len(source.splitlines()), source
            assert row(m, 1) == [9] * 32
            assert np.all(m.vmem.view("<u2") == 0xDEAD)


def llm_setup(m):
    """LLM lane i holds halfword 1000 * i + k at byte 2k (k < 64)."""
    for lane in range(32):
        m.llm[lane, :128] = (1000 * lane + np.arange(64, dtype=np.int16)).astype("<i2").view(np.uint8)


def test_vloadl_per_lane_addresses_and_masked_lanes(run_asm):
    addr = tuple(2 * i if i % 8 != 5 else -2 for i in range(32))   # lanes 5, 13, 21, 29 masked
    m = run_asm(vector_program("""
        vlui v3, 7
        vloadl v3, 4(v1)            # lane i reads halfword 2 + i; masked lanes keep 7
        vlui v4, 7
        vloadl v4, 4(v2)            # address -2 + 4 = 2, but the lane is masked: keeps 7
    """, [addr, (-2,)]), setup=llm_setup)
    expected = [7 if i % 8 == 5 else 1000 * i + i + 2 for i in range(32)]
    assert row(m, 3) == expected and row(m, 4) == [7] * 32


def test_vloadl_reads_reset_pattern_and_faults_write_nothing(run_asm, small):
    m = run_asm(vector_program("vloadl v3, 0(v1)", [(100,)]))
    assert row(m, 3) == [DEAD] * 32
    for addr_row, imm, cause in [((0,) * 7 + (small.llm_size,), 0, StopCause.LOAD_FAULT),
                                 ((0,) * 7 + (small.llm_size - 2,), 0, StopCause.ECALL),
                                 ((0,) * 3 + (1,), 0, StopCause.MISALIGNED_LOAD),
                                 ((0,), -2, StopCause.LOAD_FAULT),     # active lane, sum negative
                                 ((-32768,), 2, StopCause.ECALL)]:    # all masked: nothing to fault
        m = run_asm(vector_program(f"vlui v3, 5\nvloadl v3, {imm}(v1)", [addr_row]), setup=llm_setup)
        assert m.last_stop.cause == cause, (addr_row, imm)
        if cause != StopCause.ECALL:
            assert row(m, 3) == [5] * 32


def test_vstorel_writes_active_lanes_only_and_faults_write_nothing(run_asm, small):
    addr = tuple(2 * i if i != 9 else -1 for i in range(32))
    m = run_asm(vector_program("vstorel v2, 2(v1)", [addr, tuple(range(100, 132))]))
    for lane in range(32):
        got = m.llm[lane].view("<i2")
        if lane == 9:
            assert np.all(got == DEAD)
        else:
            assert got[lane + 1] == 100 + lane
            assert np.count_nonzero(got != DEAD) == 1
    bad = tuple(0 if i != 20 else small.llm_size for i in range(32))
    m = run_asm(vector_program("vstorel v2, 0(v1)", [bad, (3,)]))
    assert m.last_stop.cause == StopCause.STORE_FAULT and np.all(m.llm.view("<u2") == 0xDEAD)
    m = run_asm(vector_program("vstorel v2, 1(v1)", [(0,), (3,)]))
    assert m.last_stop.cause == StopCause.MISALIGNED_STORE and np.all(m.llm.view("<u2") == 0xDEAD)


def test_v0_is_an_ordinary_register(run_asm):
    m = run_asm("vlui v0, 12\nvadd v1, v0, v0\necall")
    assert row(m, 0) == [12] * 32 and row(m, 1) == [24] * 32
