"""The load-use rule of docs/isa.md section 6: the register written by VLOADV or
VLOADL may not be read by the very next instruction."""
from __future__ import annotations

import pytest

from fenn_dma.sim import Machine, StopCause
from fenn_dma.isa.assembler import assemble

SETUP = "li t0, 0x8000ffff\nvlui v2, 3\nvlui v24, 0\n"   # v24: LLM addresses 0
PRE = 3 * 4 + 4   # li is two words: the load sits at pc 16, the next instruction at 20


@pytest.mark.parametrize("load, next_instruction", [
    ("vloadv v1, 0(zero)", "vadd v3, v1, v2"),
    ("vloadv v1, 0(zero)", "vadd v3, v2, v1"),
    ("vloadv v1, 0(zero)", "vmul_rn v3, v2, v1, 3"),
    ("vloadv v1, 0(zero)", "vsel v1, t0, v2"),        # keep-old read of rd
    ("vloadv v1, 0(zero)", "vsel v3, t0, v1"),
    ("vloadv v1, 0(zero)", "vloadl v1, 0(v24)"),      # keep-old read of rd
    ("vloadv v1, 0(zero)", "vloadl v3, 0(v1)"),       # address vector
    ("vloadv v1, 0(zero)", "vstorev v1, 64(zero)"),
    ("vloadv v1, 0(zero)", "vstorel v1, 0(v24)"),
    ("vloadv v1, 0(zero)", "vstorel v2, 0(v1)"),
    ("vloadv v1, 0(zero)", "vextract a0, v1, 3"),
    ("vloadv v1, 0(zero)", "vtge a0, v2, v1"),
    ("vloadv v1, 0(zero)", "vandadd v3, v1, t0, 4"),
    ("vloadv v1, 0(zero)", "vslli v3, v1, 1"),
    ("vloadl v1, 0(v24)", "vadd v3, v1, v2"),
])
def test_reading_the_loaded_register_next_is_a_raw_hazard(run_asm, load, next_instruction):
    m = run_asm(SETUP + load + "\n" + next_instruction + "\necall")
    assert m.last_stop.cause == StopCause.RAW_HAZARD and m.last_stop.pc == PRE + 4
    assert m.instret == 4 + 1           # the hazard instruction did not retire
    assert int(m.v[3][0]) == 0 and m.x[10] == 0


@pytest.mark.parametrize("load, next_instruction", [
    ("vloadv v1, 0(zero)", "vlui v1, 5"),             # writing the loaded register again is allowed
    ("vloadv v1, 0(zero)", "vloadv v1, 64(zero)"),
    ("vloadv v1, 0(zero)", "vadd v3, v2, v2"),
    ("vloadv v1, 0(zero)", "vrng v1"),
    ("vloadv v1, 0(zero)", "vfill v1, t0"),
    ("vloadr0 0(zero)", "vrng v3"),                    # VLOADR0/1 have no delay
    ("vloadv v1, 0(zero)", "vextract a0, v2, 3"),
    ("vloadv v1, 0(zero)", "addi a0, zero, 1"),
])
def test_independent_next_instruction_is_fine(run_asm, load, next_instruction):
    m = run_asm(SETUP + load + "\n" + next_instruction + "\nnop\nvadd v4, v1, v1\necall")
    assert m.last_stop.cause == StopCause.ECALL


def test_later_write_wins_and_one_instruction_gap_suffices(run_asm):
    m = run_asm(SETUP + "vloadv v1, 0(zero)\nvlui v1, 5\nvadd v4, v1, v1\n"
                "vloadv v5, 0(zero)\nnop\nvadd v6, v5, v2\necall")
    assert m.last_stop.cause == StopCause.ECALL
    assert int(m.v[4][0]) == 10 and int(m.v[6][0]) == int(m.v[5][0]) + 3


def test_the_rule_follows_the_dynamic_next_instruction(run_asm):
    # The jump sits in the load-use slot; the target reads v1 two instructions after the load.
    m = run_asm(SETUP + "vloadv v1, 0(zero)\nj 1f\nvadd v3, v1, v1\n1: vadd v3, v1, v1\necall")
    assert m.last_stop.cause == StopCause.ECALL


@pytest.mark.parametrize("first, second", [("fast", "reference"), ("reference", "fast")])
def test_hazard_state_survives_a_stop_between_the_two_instructions(first, second):
    program = assemble(SETUP + "vloadv v1, 0(zero)\nvadd v3, v1, v1\necall")
    m = Machine()
    m.load(program)
    assert m.run(max_instructions=5, engine=first).cause == StopCause.MAX_INSTRUCTIONS
    stop = m.run(engine=second)
    assert stop.cause == StopCause.RAW_HAZARD and stop.pc == PRE + 4
