"""Property tests of the encoder/decoder and the disassembler over the whole table."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from fenn_dma.isa.asm_samples import boundary_operands, random_operands
from fenn_dma.isa.codec import IllegalInstruction, decode, encode, find_spec
from fenn_dma.isa.disassembler import disassemble_word
from fenn_dma.isa.table import SPECS

SPEC_IDS = [s.mnemonic for s in SPECS]


def _normalised(spec, values):
    """What decoding gives back: every field as stored (vlui keeps a 16-bit pattern)."""
    return {o.name: values[o.name] & 0xFFFF if spec.mnemonic == "vlui" else values[o.name]
            for o in spec.operands}


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_boundary_values_decode_to_themselves(spec):
    for values in boundary_operands(spec):
        word = encode(spec, **values)
        inst = decode(word)
        assert inst.spec is spec
        assert inst.operands() == _normalised(spec, values)
        assert inst.encode() == word


@settings(max_examples=300, deadline=None)
@given(spec=st.sampled_from(SPECS), rng=st.randoms(use_true_random=False))
def test_decode_encode_random(spec, rng):
    values = random_operands(spec, rng)
    word = encode(spec, **values)
    assert word & spec.mask == spec.match
    inst = decode(word)
    assert inst.spec is spec
    assert inst.operands() == _normalised(spec, values)


@settings(max_examples=500, deadline=None)
@given(word=st.integers(0, 0xFFFFFFFF))
def test_random_words_are_legal_or_illegal_consistently(word):
    spec = find_spec(word)
    text = disassemble_word(word)
    if spec is None:
        assert text == f"illegal 0x{word:08x}"
        with pytest.raises(IllegalInstruction, match=f"0x{word:08x}"):
            decode(word)
    else:
        assert decode(word).encode() == word
        assert text.split()[0] == spec.mnemonic


def test_listed_illegal_vector_corners():
    # Each corner of docs/isa.md that must be illegal.
    vadd = encode("vadd", rd=1, rs1=2, rs2=3)
    assert find_spec(vadd | (1 << 25)) is None            # VADD with a shift
    assert find_spec(vadd | (1 << 29)) is None            # VADD with a rounding mode
    vmul = encode("vmul", rd=1, rs1=2, rs2=3, shift=4)
    assert find_spec(vmul | (0b11 << 29)) is None         # rounding mode 11
    assert find_spec(encode("vslli", rd=1, rs1=2, shift=3) | (1 << 24)) is None  # VSLLI with rounding
    assert find_spec(encode("vsrai", rd=1, rs1=2, shift=3) | (1 << 26)) is None  # imm[6] set
    assert find_spec(encode("vteq", rd=1, rs1=2, rs2=3) | (1 << 12)) is None     # VTST funct3 001
    assert find_spec(encode("vrng", rd=1) | (1 << 15)) is None                   # VRNG with rs1
    assert find_spec(encode("vloadr0", rs1=1, imm=0) | (1 << 7)) is None         # VLOADR0 with rd
    assert find_spec(encode("vfill", rd=1, rs1=2) | (1 << 20)) is None           # VFILL with imm
    assert find_spec(encode("vextract", rd=1, rs1=2, lane=3) | (1 << 25)) is None  # lane > 31
    assert find_spec(encode("vlui", rd=1, imm=5) | (1 << 28)) is None           # VLUI bit 28
