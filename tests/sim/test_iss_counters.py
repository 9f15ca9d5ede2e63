"""Counters, mcountinhibit, the other CSRs and the cycle model (docs/isa.md section 2,
sim/cycle_model.py). Our definitions: a CSR read of mcycle/minstret returns the
count before the reading instruction; an instruction is counted according to
mcountinhibit as it stands after that instruction."""
from __future__ import annotations


from fenn_dma.isa import csrs
from fenn_dma.sim import CycleModel, Machine, StopCause
from fenn_dma.sim.state import CORE
from fenn_dma.isa.assembler import assemble


def test_reset_inhibits_both_counters(run_asm):
    m = run_asm("csrr a0, mcountinhibit\nnop\ncsrr a1, mcycle\ncsrr a2, minstret\necall")
    assert list(m.x[10:13]) == [5, 0, 0]
    assert m.instret == 4 and m.mcycle == 0 and m.minstret == 0


def test_counting_starts_with_the_enabling_instruction(run_asm):
    m = run_asm("""
        csrw mcountinhibit, zero
        nop
        nop
        csrr a3, minstret         # csrw, nop, nop
        csrr a4, mcycle           # csrw, nop, nop, csrr: one cycle each
        ecall
    """)
    assert m.x[13] == 3 and m.x[14] == 4
    assert m.minstret == 5 and m.mcycle == 5 and m.instret == 5   # ecall is not counted


def test_inhibit_bits_separately_and_warl_mask(run_asm):
    m = run_asm("""
        csrwi mcountinhibit, 4    # minstret stopped, mcycle runs
        nop
        csrr a0, mcycle           # csrwi, nop
        csrr a1, minstret
        li t0, -1
        csrw mcountinhibit, t0
        csrr a2, mcountinhibit    # only bits 0 and 2 exist
        csrrci a3, mcountinhibit, 1
        csrrsi a4, mcountinhibit, 2
        csrr a5, mcountinhibit
        ecall
    """)
    assert list(m.x[10:16]) == [2, 0, 5, 5, 4, 4]


def test_high_halves(run_asm):
    def setup(m):
        m.core[CORE["minstret"]] = 0x2_FFFFFFFE
        m.core[CORE["mcycle"]] = 0x7_FFFFFFFD
    m = run_asm("csrw mcountinhibit, zero\ncsrr a0, minstret\ncsrr a1, minstreth\n"
                "csrr a2, mcycle\ncsrr a3, mcycleh\necall", setup=setup)
    # minstret: +1 (csrw) -> ..FF read, +1 -> 0x3_00000000 read high 3.
    # mcycle: +1 +1 +1 -> 0x8_00000000 read low 0, +1 -> high 8.
    assert list(m.x[10:14]) == [0xFFFFFFFF, 3, 0, 8]


def test_mhartid_unlisted_and_read_only_csrs(run_asm, small):
    m = run_asm("""
        csrr a0, mhartid
        li t0, 1234
        csrw 0x7c0, t0
        csrr a1, 0x7c0            # unlisted: reads 0, writes ignored
        csrw mcycle, t0           # read-only: ignored
        csrr a2, mcycle
        csrw mm2s_status, t0
        csrr a3, mm2s_status      # idle
        csrw mm2s_count, t0
        csrr a4, mm2s_count
        csrr a5, mm2s_control     # write-only: reads 0
        ecall
    """, config=small.with_(hartid=3))
    assert list(m.x[10:16]) == [3, 0, 0, csrs.DMA_IDLE, 1234, 0]
    assert m.csr_read(csrs.MHARTID) == 3 and m.csr_read(csrs.MM2S_COUNT) == 1234


MODEL = CycleModel(pipeline_fill=4, taken_branch_penalty=2, jump_penalty=2, load_use_stall=1)


def test_cycle_model_penalties(run_asm, small):
    m = run_asm("""
        csrw mcountinhibit, zero  # 1
        j 1f                      # 1 + 2 (jump)
        nop
    1:  csrr a0, mcycle           # reads 4
        li t2, 1                  # 1
        beq t2, zero, 2f          # not taken: 1
        bne t2, zero, 2f          # taken: 1 + 2
        nop
    2:  csrr a1, mcycle           # reads 4 + 1 (csrr) + 1 + 1 + 3 = 10
        lw t0, 0(zero)            # 1
        addi t1, t0, 1            # 1 + 1 (load-use)
        lw t0, 0(zero)            # 1
        addi t1, t2, 1            # 1
        lw zero, 0(zero)          # 1
        addi t1, zero, 1          # 1 (x0 is never a load-use)
        lw t0, 0(zero)            # 1
        vfill v1, t0              # 1 + 1 (a scalar source of a vector instruction)
        lw t0, 0(zero)            # 1
        vloadv v2, 0(t0)          # 1 + 1 (address register)
        csrr a2, mcycle           # reads 10 + 1 (csrr a1) + 13 = 24
        ecall
    """, config=small.with_(cycle_model=MODEL))
    assert list(m.x[10:13]) == [4, 10, 24]
    assert m.mcycle == 25 and m.cycles == 4 + 25 and m.instret == 18   # two nops skipped


def test_cycle_model_parameters(run_asm, small):
    model = CycleModel(pipeline_fill=0, taken_branch_penalty=5, jump_penalty=7, load_use_stall=3,
                       mul_extra=2, div_extra=9)
    m = run_asm("""
        li t0, 2                  # 1
    1:  addi t0, t0, -1           # 1, 1
        bnez t0, 1b               # 1 + 5 (taken), 1
        jal ra, 2f                # 1 + 7
    2:  mul t1, t0, t0            # 1 + 2
        div t1, t0, ra            # 1 + 9
        lw t2, 0(zero)            # 1
        add t3, t2, t2            # 1 + 3
        ecall
    """, config=small.with_(cycle_model=model))
    assert m.cycles == 1 + 2 + 7 + 8 + 3 + 10 + 1 + 4
    assert m.instret == 10


def test_stops_do_not_count_and_state_is_resumable(small):
    m = Machine(small.with_(cycle_model=MODEL))
    m.load(assemble("nop\nnop\nnop\necall"))
    assert m.run(max_instructions=2, engine="fast").cause == StopCause.MAX_INSTRUCTIONS
    assert m.cycles == 4 + 2
    assert m.run(engine="reference").cause == StopCause.ECALL
    assert m.instret == 3 and m.cycles == 4 + 3
    assert m.state_dict()["stop"] == {"cause": "ecall", "pc": 12}
