"""assemble(disassemble(w)) == w for every instruction of the table."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from fenn_dma.isa.asm_samples import boundary_operands, random_operands
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode
from fenn_dma.isa.disassembler import disassemble, disassemble_word
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import SPECS


def _assemble_at(text: str, pc: int) -> int:
    program = assemble(f".zero {pc}\n{text}\n" if pc else text)
    return program.words[pc // 4]


@pytest.mark.parametrize("spec", SPECS, ids=[s.mnemonic for s in SPECS])
def test_boundary_words_round_trip(spec):
    words = [encode(spec, **values) for values in boundary_operands(spec)]
    for abi in (True, False):
        # pc unknown: targets print as '.+N'; all lines in one source.
        text = "\n".join(disassemble_word(w, abi=abi) for w in words)
        assert assemble(text).words == words, text
    # pc known: targets print as absolute addresses.
    text = "\n".join(disassemble_word(w, 4 * k) for k, w in enumerate(words))
    assert assemble(text).words == words, text


@settings(max_examples=400, deadline=None)
@given(spec=st.sampled_from(SPECS), rng=st.randoms(use_true_random=False),
       pc=st.integers(0, 64).map(lambda k: 4 * k), abi=st.booleans())
def test_random_words_round_trip(spec, rng, pc, abi):
    word = encode(spec, **random_operands(spec, rng))
    assert _assemble_at(disassemble_word(word, abi=abi), pc) == word
    assert _assemble_at(disassemble_word(word, pc, abi=abi), pc) == word


def test_vector_forms_are_those_of_isa_md():
    # The examples of docs/isa.md section 7, text -> word -> the same text.
    examples = ["vadd_s v3, v1, v2", "vmul_rs v4, v1, v2, 14", "vsrai_rn v5, v5, 3", "vtge a0, v1, v7",
                "vsel v1, a0, v9", "vlui v9, 32767", "vextract t0, v3, 31", "vandadd v2, v1, t1, 10",
                "vloadv v1, 64(a1)", "vloadr0 0(t2)", "vstorel v4, 2(v3)", "vfill v1, a2", "vrng v7",
                "vloadl v2, -2(v3)", "vstorev v31, -64(sp)", "vslli v1, v2, 15", "vmul_s v1, v2, v3, 0"]
    words = assemble("\n".join(examples)).words
    assert [disassemble_word(w) for w in words] == examples


def test_vlui_accepts_signed_and_unsigned_lane_values():
    a, b = assemble("vlui v1, -3\nvlui v1, 65533").words
    assert a == b
    assert disassemble_word(a) == "vlui v1, -3"


def test_illegal_word_prints_illegal():
    assert disassemble_word(0) == "illegal 0x00000000"
    assert disassemble_word(0xFFFFFFFF) == "illegal 0xffffffff"


def test_listing_has_addresses_labels_and_target_comments():
    program = assemble("start:\n  addi a0, zero, 3\nloop:\n  addi a0, a0, -1\n  bnez a0, loop\n  ecall\n")
    listing = disassemble(program).splitlines()
    assert listing[0] == "start:"
    assert listing[1].split()[:3] == ["00000000:", "00300513", "addi"]
    assert listing[2] == "loop:"
    assert listing[4].startswith("  00000008:  fe051ee3  bne a0, zero, 0x4")
    assert listing[4].endswith("# <loop>")
    # Words without a program: no labels, still addresses.
    plain = disassemble(program.words, start=0x100)
    assert plain.splitlines()[0].startswith("  00000100:  00300513")
    assert disassemble(Program.from_words([0])).strip().endswith("illegal 0x00000000")
