"""Scalar instructions on the ISS (both engines): RV32I, M, Zbb, exceptions.
Expected values are worked out from docs/isa.md and the RISC-V spec."""
from __future__ import annotations


import pytest

from fenn_dma.isa.codec import encode
from fenn_dma.sim import BASE_EXTENSIONS, StopCause


def u32(v: int) -> int:
    return v & 0xFFFFFFFF


def test_alu_and_upper_immediates(run_asm):
    m = run_asm("""
        li   a0, 0x7fffffff
        addi a1, a0, 1            # wraps to 0x80000000
        sub  a2, zero, a0         # -0x7fffffff
        slt  a3, a1, a0           # signed: -2^31 < 2^31-1
        sltu a4, a1, a0           # unsigned: 0x80000000 > 0x7fffffff
        slti a5, a2, -1           # -0x7fffffff < -1
        sltiu a6, zero, -1        # 0 < 0xffffffff
        xori a7, zero, -1
        srai s2, a1, 31
        srli s3, a1, 31
        li   t0, 33
        sll  s4, a0, t0           # amount = 33 & 31 = 1
        sra  s5, a1, t0
        auipc s6, 1               # pc of this instruction is 0x38
        lui  s7, 0xfffff
        andi s8, a7, 0x0f0
        ori  s9, zero, -2048
        ecall
    """)
    x = m.x
    assert m.last_stop.cause == StopCause.ECALL
    assert x[11] == 0x80000000 and x[12] == u32(-0x7FFFFFFF)
    assert (x[13], x[14], x[15], x[16]) == (1, 0, 1, 1)
    assert x[17] == 0xFFFFFFFF and x[18] == 0xFFFFFFFF and x[19] == 1
    assert x[20] == 0xFFFFFFFE and x[21] == 0xC0000000
    assert x[22] == 0x38 + 0x1000 and x[23] == 0xFFFFF000
    assert x[24] == 0xF0 and x[25] == u32(-2048)


def test_x0_is_never_written(run_asm):
    m = run_asm("addi zero, zero, 5\nlui zero, 1\njal zero, 1f\n1: ecall")
    assert m.x[0] == 0


def test_mul_and_m_extension(run_asm):
    m = run_asm("""
        li   t0, 0x80000000
        li   t1, -1
        li   t2, 0xffffffff
        li   t3, -7
        li   t4, 2
        mul    a0, t3, t4          # -14
        mulh   a1, t0, t0          # 2^62 >> 32 = 0x40000000
        mulhu  a2, t2, t2          # (2^32-1)^2 >> 32 = 0xfffffffe
        mulhsu a3, t1, t2          # -1 * (2^32-1) = -(2^32-1): high word 0xffffffff
        div    a4, t3, t4          # -3 (toward zero)
        rem    a5, t3, t4          # -1
        div    a6, t3, zero        # -1
        rem    a7, t3, zero        # dividend
        div    s2, t0, t1          # overflow: -2^31
        rem    s3, t0, t1          # 0
        divu   s4, t3, zero        # 2^32-1
        remu   s5, t3, zero        # dividend
        divu   s6, t2, t4          # 0x7fffffff
        remu   s7, t2, t4          # 1
        ecall
    """)
    x = m.x
    assert x[10] == u32(-14) and x[11] == 0x40000000 and x[12] == 0xFFFFFFFE and x[13] == 0xFFFFFFFF
    assert x[14] == u32(-3) and x[15] == u32(-1) and x[16] == 0xFFFFFFFF and x[17] == u32(-7)
    assert x[18] == 0x80000000 and x[19] == 0
    assert x[20] == 0xFFFFFFFF and x[21] == u32(-7) and x[22] == 0x7FFFFFFF and x[23] == 1


def test_m_extension_absent_makes_div_illegal_but_keeps_mul(run_asm, small):
    cfg = small.with_(extensions=BASE_EXTENSIONS)
    m = run_asm("li t0, 6\nli t1, 3\nmul a0, t0, t1\ndiv a1, t0, t1\necall", config=cfg)
    assert m.x[10] == 18 and m.x[11] == 0
    assert m.last_stop.cause == StopCause.ILLEGAL_INSTRUCTION and m.last_stop.pc == 12
    assert m.instret == 3


def test_zbb_subset(run_asm):
    m = run_asm("""
        li t0, 0
        li t1, 1
        li t2, 0x80000000
        li t3, 0xf0f0
        li t4, 0x18000
        li t5, 0x80
        clz a0, t0
        clz a1, t1
        ctz a2, t0
        ctz a3, t2
        cpop a4, t3
        sext.b a5, t5
        sext.h a6, t4
        sext.h a7, t3
        ecall
    """)
    assert list(m.x[10:18]) == [32, 31, 32, 31, 8, 0xFFFFFF80, 0xFFFF8000, 0xFFFFF0F0]


def test_loads_extend_and_stores_write_bytes(run_asm):
    m = run_asm("""
        lb  a0, 0(zero)
        lbu a1, 0(zero)
        lh  a2, 2(zero)
        lhu a3, 2(zero)
        lw  a4, 4(zero)
        li  t0, 0x11223344
        sw  t0, 8(zero)
        sb  t0, 13(zero)
        sh  t0, 14(zero)
        ecall
        .data
        .byte 0x80, 0x7f
        .half 0x8001
        .word 0xdeadbeef
    """)
    assert list(m.x[10:15]) == [0xFFFFFF80, 0x80, 0xFFFF8001, 0x8001, 0xDEADBEEF]
    assert bytes(m.dmem[8:16]) == bytes([0x44, 0x33, 0x22, 0x11, 0, 0x44, 0x44, 0x33])


def test_branches_and_jumps(run_asm):
    m = run_asm("""
        li   t0, -1
        li   t1, 1
        li   a0, 0
        beq  t0, t1, 1f
        ori  a0, a0, 1          # not taken: runs
    1:  bne  t0, t1, 2f
        ori  a0, a0, 2          # skipped
    2:  blt  t0, t1, 3f         # signed -1 < 1: taken
        ori  a0, a0, 4
    3:  bltu t0, t1, 4f         # unsigned 0xffffffff < 1: not taken
        ori  a0, a0, 8
    4:  bge  t1, t0, 5f         # taken
        ori  a0, a0, 16
    5:  bgeu t1, t0, 6f         # not taken
        ori  a0, a0, 32
    6:  jal  ra, 7f
        ori  a0, a0, 64         # skipped
    7:  la   t2, 8f
        addi t2, t2, 1          # odd target: jalr clears bit 0
        jalr s2, 0(t2)
        ori  a0, a0, 128        # skipped
    8:  fence
        fence.i
        ecall
    """)
    assert m.x[10] == 1 | 8 | 32
    # One word per li here, two for la: jal at 60, jalr at 80, label 8 at 88.
    assert m.x[1] == 64 and m.x[18] == 84 and m.x[7] == 89


def test_jal_and_jalr_links(run_words):
    words = [encode("jal", rd=1, imm=8), encode("ebreak"), encode("jalr", rd=5, rs1=1, imm=8),
             encode("ebreak"), encode("ecall")]
    # jal at 0 links 4 and jumps to 8; jalr at 8 links 12 and jumps to ra + 8 = 12 (the ebreak).
    m = run_words(words)
    assert m.x[1] == 4 and m.x[5] == 12
    assert m.last_stop.cause == StopCause.EBREAK and m.last_stop.pc == 12


@pytest.mark.parametrize("word, cause", [
    (encode("jal", rd=1, imm=6), StopCause.MISALIGNED_FETCH),
    (encode("beq", rs1=0, rs2=0, imm=-2), StopCause.MISALIGNED_FETCH),
    (encode("jalr", rd=1, rs1=0, imm=0x102), StopCause.MISALIGNED_FETCH),
    (encode("lw", rd=5, rs1=0, imm=2), StopCause.MISALIGNED_LOAD),
    (encode("lh", rd=5, rs1=0, imm=1), StopCause.MISALIGNED_LOAD),
    (encode("lw", rd=5, rs1=0, imm=2044), None),  # in range (DMEM 4096) - sanity
    (encode("sw", rs2=0, rs1=0, imm=6), StopCause.MISALIGNED_STORE),
    (encode("sh", rs2=0, rs1=0, imm=3), StopCause.MISALIGNED_STORE),
    (encode("ebreak"), StopCause.EBREAK),
    (0x00000000, StopCause.ILLEGAL_INSTRUCTION),
    (0xFFFFFFFF, StopCause.ILLEGAL_INSTRUCTION),
])
def test_exception_reports_its_pc_and_leaves_state(run_words, word, cause):
    # Two instructions first, so the pc is 8 and minstret has something to count.
    words = [encode("addi", rd=1, rs1=0, imm=7), encode("csrrwi", rd=0, csr=0x320, zimm=0), word,
             encode("ecall")]
    m = run_words(words)
    if cause is None:
        assert m.last_stop.cause == StopCause.ECALL
        return
    assert m.last_stop.cause == cause and m.last_stop.pc == 8
    assert m.instret == 2 and m.minstret == 1     # csrrwi counted itself once counting was on
    assert m.x[1] == 7 and all(int(r) == 0 for r in m.x[2:])


def test_out_of_range_accesses_fault(run_asm):
    for source, cause in [("li t0, 4096\nlw a0, 0(t0)\necall", StopCause.LOAD_FAULT),
                          ("li t0, 4095\nlbu a0, 0(t0)\necall", None),
                          ("li t0, 4094\nlw a0, -2(t0)\necall", None),
                          ("li t0, 4096\nsb t0, 0(t0)\necall", StopCause.STORE_FAULT),
                          ("li t0, -4\nsw t0, 0(t0)\necall", StopCause.STORE_FAULT),
                          ("li t0, -4\nlw t0, 0(t0)\necall", StopCause.LOAD_FAULT)]:
        m = run_asm(source)
        if cause is None:
            assert m.last_stop.cause == StopCause.ECALL, source
        else:
            assert m.last_stop.cause == cause and m.last_stop.pc == 4 * (len(source.splitlines()) - 2), source


def test_fetch_fault_reports_the_unfetchable_pc(run_asm):
    m = run_asm("li t0, 4096\njalr zero, 0(t0)")
    assert m.last_stop.cause == StopCause.FETCH_FAULT and m.last_stop.pc == 4096
    m = run_asm("nop")   # runs off into zero words: illegal at 4
    assert m.last_stop.cause == StopCause.ILLEGAL_INSTRUCTION and m.last_stop.pc == 4


def test_not_taken_branch_to_misaligned_target_is_fine(run_words):
    m = run_words([encode("bne", rs1=0, rs2=0, imm=6), encode("ecall")])
    assert m.last_stop.cause == StopCause.ECALL and m.last_stop.pc == 4


def test_max_instructions_stops_before_the_next_instruction(run_asm):
    m = run_asm("addi a0, a0, 1\naddi a0, a0, 1\naddi a0, a0, 1\necall", max_instructions=2)
    assert m.last_stop.cause == StopCause.MAX_INSTRUCTIONS and m.last_stop.pc == 8
    assert m.x[10] == 2 and m.instret == 2
