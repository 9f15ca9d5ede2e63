"""The instruction table against encodings worked out by hand from
docs/isa.md and the RISC-V specification (not from the table itself)."""
import pytest

from fenn_dma.isa.codec import IllegalInstruction, decode, encode
from fenn_dma.isa.table import (
    ALL_EXTENSIONS, BASE_EXTENSIONS, BY_MNEMONIC, DMEM, LLM, LOAD_USE_OPS, OP_KIND, OPS, SPECS, VMEM, InstrSpec, Kind,
    ops_of,
)

KNOWN = [
    # (mnemonic, operands, word)
    ("add", dict(rd=3, rs1=1, rs2=2), 0x002081B3),
    ("sub", dict(rd=3, rs1=1, rs2=2), 0x402081B3),
    ("lw", dict(rd=5, rs1=2, imm=8), 0x00812283),
    ("sw", dict(rs1=2, rs2=5, imm=8), 0x00512423),
    ("sw", dict(rs1=2, rs2=5, imm=-4), 0xFE512E23),
    ("beq", dict(rs1=1, rs2=2, imm=8), 0x00208463),
    ("bne", dict(rs1=1, rs2=0, imm=-8), 0xFE009CE3),
    ("jal", dict(rd=1, imm=16), 0x010000EF),
    ("jalr", dict(rd=0, rs1=1, imm=0), 0x00008067),
    ("lui", dict(rd=5, imm=0x12345), 0x123452B7),
    ("addi", dict(rd=1, rs1=0, imm=-5), 0xFFB00093),
    ("srai", dict(rd=1, rs1=1, imm=3), 0x4030D093),
    ("csrrs", dict(rd=5, csr=0xB00, rs1=0), 0xB00022F3),
    ("csrrwi", dict(rd=0, csr=0x320, zimm=5), 0x3202D073),
    ("ecall", dict(), 0x00000073),
    ("ebreak", dict(), 0x00100073),
    ("fence", dict(pred=0xF, succ=0xF), 0x0FF0000F),
    ("mul", dict(rd=3, rs1=1, rs2=2), 0x022081B3),
    ("divu", dict(rd=3, rs1=1, rs2=2), 0x0220D1B3),
    ("clz", dict(rd=5, rs1=6), 0x60031293),
    ("sext.h", dict(rd=5, rs1=6), 0x60531293),
    # Vector instructions, docs/isa.md sections 3-4.
    ("vadd", dict(rd=3, rs1=1, rs2=2), 0x00208182),
    ("vadd_s", dict(rd=3, rs1=1, rs2=2), 0x80208182),
    ("vmul_rs", dict(rd=4, rs1=1, rs2=2, shift=14), 0x5C20C202),
    ("vmul_s_rn", dict(rd=4, rs1=1, rs2=2, shift=1), 0xA220C202),
    ("vlui", dict(rd=9, imm=0x7FFF), 0x07FFF486),
    ("vlui", dict(rd=1, imm=-3), 0x0FFFD086),
    ("vextract", dict(rd=5, rs1=3, lane=31), 0x01F1929A),
    ("vstorel", dict(rs1=3, rs2=4, imm=2), 0x0041A116),
    ("vsrai_rn", dict(rd=5, rs1=5, shift=3), 0x013292A6),
    ("vandadd", dict(rd=2, rs1=1, rs2=6, bits=10), 0x14609122),
    ("vrng", dict(rd=7), 0x000003A2),
    ("vtge", dict(rd=10, rs1=1, rs2=7), 0x0070E50A),
    ("vsel", dict(rd=1, rs1=10, rs2=9), 0x0095008E),
    ("vfill", dict(rd=2, rs1=5), 0x0002811A),
    ("vloadv", dict(rd=1, rs1=11, imm=64), 0x04058092),
    ("vloadr1", dict(rs1=7, imm=0), 0x0003D012),
]


@pytest.mark.parametrize("mnemonic,operands,word", KNOWN, ids=[f"{m}-{w:08x}" for m, _, w in KNOWN])
def test_known_encoding(mnemonic, operands, word):
    assert encode(mnemonic, **operands) == word
    inst = decode(word)
    assert inst.mnemonic == mnemonic
    assert inst.operands() == {k: (v & 0xFFFF if mnemonic == "vlui" else v) for k, v in operands.items()}


ILLEGAL = [
    0x00000000,                    # all zero
    0xFFFFFFFF,
    0x00208182 | (1 << 25),        # vadd with a non-zero shift field
    0x00208182 | (1 << 29),        # vadd with a rounding mode
    0x0020C202 | (0b11 << 29),     # vmul rounding 11
    0x013292A6 | (0b11 << 24),     # vsrai rounding 11
    0x00028026 | (1 << 24),        # vslli with a rounding mode
    0x0070E50A & ~0x7000 | 0x1000,  # vtst funct3 001
    0x0201929A,                    # vextract lane 32
    0x0003D012 | (1 << 7),         # vloadr1 with rd != 0
    0x10FFD086,                    # vlui with bit 28 set
    0x0000002A,                    # opcode 0x2A (major 0b01010): unassigned
    0x0000303E,                    # opcode 0x3E: unassigned
    0x0220D1B3 | (1 << 31),        # OP with a bad funct7
    0x00000007,                    # FP load: not in this ISA
]


@pytest.mark.parametrize("word", ILLEGAL, ids=[f"{w:08x}" for w in ILLEGAL])
def test_illegal(word):
    with pytest.raises(IllegalInstruction):
        decode(word)


def test_optional_m_extension():
    word = encode("div", rd=1, rs1=2, rs2=3)
    assert decode(word, ALL_EXTENSIONS).mnemonic == "div"
    with pytest.raises(IllegalInstruction):
        decode(word, BASE_EXTENSIONS)
    assert decode(encode("mul", rd=1, rs1=2, rs2=3), BASE_EXTENSIONS).mnemonic == "mul"


def test_every_vector_class_uses_its_major_opcode():
    majors = {"vsop": 0x02, "vlui": 0x06, "vtst": 0x0A, "vsel": 0x0E, "vload": 0x12,
              "vstore": 0x16, "vmov": 0x1A, "vspc": 0x22, "vsopimm": 0x26}
    cls = {"vadd": "vsop", "vsub": "vsop", "vand": "vsop", "vsll": "vsop", "vsra": "vsop", "vmul": "vsop",
           "vslli": "vsopimm", "vsrai": "vsopimm", "vteq": "vtst", "vtne": "vtst", "vtlt": "vtst",
           "vtge": "vtst", "vsel": "vsel", "vlui": "vlui", "vfill": "vmov", "vextract": "vmov",
           "vrng": "vspc", "vandadd": "vspc", "vloadv": "vload", "vloadl": "vload", "vloadr0": "vload",
           "vloadr1": "vload", "vstorev": "vstore", "vstorel": "vstore"}
    vector = [s for s in SPECS if s.is_vector]
    assert {s.op for s in vector} == set(cls)
    for s in vector:
        assert s.opcode == majors[cls[s.op]], s.mnemonic
        assert s.opcode & 0b11 == 0b10


def test_vector_variants_are_complete():
    names = {s.mnemonic for s in SPECS}
    for base in ("vadd", "vsub", "vand", "vsll", "vsra"):
        assert {base, base + "_s"} <= names
    for sat in ("", "_s"):
        for rnd in ("", "_rn", "_rs"):
            assert "vmul" + sat + rnd in names
    assert {"vsrai", "vsrai_rn", "vsrai_rs", "vslli"} <= names
    assert BY_MNEMONIC["vmul_s_rs"].sat and BY_MNEMONIC["vmul_s_rs"].round == 2


def test_load_use_sources():
    assert BY_MNEMONIC["vsel"].vector_sources() == ("rs2", "rd")
    assert BY_MNEMONIC["vloadl"].vector_sources() == ("rs1", "rd")
    assert BY_MNEMONIC["vstorev"].vector_sources() == ("rs2",)
    assert BY_MNEMONIC["vtge"].vector_sources() == ("rs1", "rs2")
    assert BY_MNEMONIC["vandadd"].vector_sources() == ("rs1",)
    assert BY_MNEMONIC["add"].vector_sources() == ()


# --- the properties consumers query (written out by hand, not from the table) ---

KINDS = {
    Kind.ALU: {"lui", "auipc", "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai", "add", "sub",
               "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "clz", "ctz", "cpop", "sext_b", "sext_h"},
    Kind.MUL: {"mul", "mulh", "mulhsu", "mulhu"},
    Kind.DIV: {"div", "divu", "rem", "remu"},
    Kind.BRANCH: {"beq", "bne", "blt", "bge", "bltu", "bgeu"},
    Kind.JUMP: {"jal", "jalr"},
    Kind.LOAD: {"lb", "lh", "lw", "lbu", "lhu"},
    Kind.STORE: {"sb", "sh", "sw"},
    Kind.CSR: {"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"},
    Kind.SYSTEM: {"ecall", "ebreak"},
    Kind.FENCE: {"fence", "fence_i"},
    Kind.VALU: {"vadd", "vsub", "vand", "vsll", "vsra", "vmul", "vslli", "vsrai", "vandadd", "vlui", "vsel"},
    Kind.VCMP: {"vteq", "vtne", "vtlt", "vtge"},
    Kind.VMOVE: {"vfill", "vextract"},
    Kind.VRNG: {"vrng"},
    Kind.VLOAD: {"vloadv", "vloadl", "vloadr0", "vloadr1"},
    Kind.VSTORE: {"vstorev", "vstorel"},
}

MEMORY = {  # mnemonic -> (memory, width, is_store, zero_extends)
    "lb": (DMEM, 1, False, False), "lh": (DMEM, 2, False, False), "lw": (DMEM, 4, False, False),
    "lbu": (DMEM, 1, False, True), "lhu": (DMEM, 2, False, True),
    "sb": (DMEM, 1, True, False), "sh": (DMEM, 2, True, False), "sw": (DMEM, 4, True, False),
    "vloadv": (VMEM, 64, False, False), "vstorev": (VMEM, 64, True, False),
    "vloadr0": (VMEM, 64, False, False), "vloadr1": (VMEM, 64, False, False),
    "vloadl": (LLM, 2, False, False), "vstorel": (LLM, 2, True, False),
}

RNG_USERS = {"vrng", "vloadr0", "vloadr1", "vmul_rs", "vmul_s_rs", "vsrai_rs"}


def test_every_spec_has_a_kind():
    for s in SPECS:
        assert isinstance(s.kind, Kind), s.mnemonic
    assert {op: k for k, ops in KINDS.items() for op in ops} == OP_KIND
    for k, ops in KINDS.items():
        assert ops_of(k) == ops, k
    assert set(OP_KIND) == set(OPS)


def test_vector_kinds_are_the_vector_extension():
    vector_kinds = {Kind.VALU, Kind.VCMP, Kind.VMOVE, Kind.VRNG, Kind.VLOAD, Kind.VSTORE}
    for s in SPECS:
        assert s.is_vector == (s.kind in vector_kinds), s.mnemonic


def test_kind_is_a_plain_string():
    assert Kind.LOAD == "load" and str(Kind.VLOAD) == "vload" and Kind("vstore") is Kind.VSTORE


def test_memory_width_store():
    for s in SPECS:
        if s.mnemonic in MEMORY:
            assert (s.memory, s.width, s.is_store, s.zero_extends) == MEMORY[s.mnemonic], s.mnemonic
            assert s.is_load != s.is_store
        else:
            assert (s.memory, s.width, s.is_load, s.is_store, s.zero_extends) == (None, 0, False, False, False), \
                s.mnemonic


def test_rng_and_rounding():
    assert {s.mnemonic for s in SPECS if s.uses_rng} == RNG_USERS
    assert {s.mnemonic for s in SPECS if s.stochastic} == {"vmul_rs", "vmul_s_rs", "vsrai_rs"}
    assert {s.mnemonic for s in SPECS if s.seeds_rng} == {"vloadr0", "vloadr1"}


def test_control_and_load_use():
    assert {s.mnemonic for s in SPECS if s.is_control} == KINDS[Kind.BRANCH] | KINDS[Kind.JUMP]
    assert LOAD_USE_OPS == {"vloadv", "vloadl"}
    assert {s.mnemonic for s in SPECS if s.load_use} == {"vloadv", "vloadl"}


def test_a_spec_without_a_kind_is_refused():
    with pytest.raises(AssertionError, match="no kind"):
        InstrSpec("vnew", "vnew", "V", (), (), "")
    with pytest.raises(AssertionError):
        InstrSpec("vnew", "vnew", "V", (), (), "", kind=Kind.VLOAD)        # a load without a memory
