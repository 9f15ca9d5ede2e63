"""The instruction table: every instruction of docs/isa.md, declared once.

Each ``InstrSpec`` gives the mnemonic, the semantic operation (``op``, what the
ISS and the RTL execute), the fixed bits (``match`` under ``mask``), the
operands with their fields, and the assembler syntax. ``mask`` covers every
bit that no operand uses, so a word with a non-zero "unused" bit (a VSOP
shift on VADD, rd of VLOADR0, ...) is illegal: every valid word disassembles
to text that assembles back to the same word.

It also carries the facts that the ISS, the RTL, the cycle model and the
compiler need about each instruction, so that none of them lists mnemonics:
its ``kind`` (``Kind``), the ``memory`` it reads or writes with the access
``width`` in bytes, whether a load zero-extends, whether it uses the per-lane
RNG (``uses_rng``, ``stochastic``). ``ops_of`` and ``OP_KIND`` answer the same
questions per semantic op.
"""
from __future__ import annotations

import enum
from collections import namedtuple

from fenn_dma.arch import LANE_BYTES, MEMORY_NAMES, ROW_BYTES

from . import fields as F
from .fields import Operand

# Major opcodes (7-bit).
LOAD, MISC_MEM, OP_IMM, AUIPC, STORE, OP, LUI = 0x03, 0x0F, 0x13, 0x17, 0x23, 0x33, 0x37
BRANCH, JALR, JAL, SYSTEM = 0x63, 0x67, 0x6F, 0x73
VSOP, VLUI, VTST, VSEL, VLOAD, VSTORE, VMOV, VSPC, VSOP_IMM = 0x02, 0x06, 0x0A, 0x0E, 0x12, 0x16, 0x1A, 0x22, 0x26

# Extensions. RV32I, MUL (the `mul` FeNN requires), Zbb (subset), Zicsr and V
# are always present; M (the rest of the M extension) is optional.
RV32I, MUL, M, ZBB, ZICSR, V = "RV32I", "MUL", "M", "Zbb", "Zicsr", "V"
BASE_EXTENSIONS = frozenset({RV32I, MUL, ZBB, ZICSR, V})
ALL_EXTENSIONS = BASE_EXTENSIONS | {M}

# Rounding modes of VMUL / VSRAI (funct7[5:4] / imm[5:4]).
ROUND_TRUNC, ROUND_NEAREST, ROUND_STOCHASTIC = 0, 1, 2
ROUND_SUFFIX = {ROUND_TRUNC: "", ROUND_NEAREST: "_rn", ROUND_STOCHASTIC: "_rs"}


class Kind(str, enum.Enum):
    """What an instruction does, as its consumers classify it (one per op)."""

    ALU = "alu"          # scalar register/immediate arithmetic, logic, shifts, lui/auipc, Zbb
    MUL = "mul"          # mul, mulh, mulhsu, mulhu
    DIV = "div"          # div, divu, rem, remu
    BRANCH = "branch"    # conditional branches
    JUMP = "jump"        # jal, jalr
    LOAD = "load"        # scalar loads from DMEM
    STORE = "store"      # scalar stores to DMEM
    CSR = "csr"          # csrrw ... csrrci
    SYSTEM = "system"    # ecall, ebreak (they stop the core)
    FENCE = "fence"      # fence, fence.tso, fence.i (no effect on this machine)
    VALU = "valu"        # lane-wise ops writing v[rd]: vadd ... vsra, vmul, vslli, vsrai, vandadd, vlui, vsel
    VCMP = "vcmp"        # vteq, vtne, vtlt, vtge: a lane mask into x[rd]
    VMOVE = "vmove"      # vfill (x -> every lane), vextract (one lane -> x)
    VRNG = "vrng"        # vrng: a draw of the RNG into v[rd]
    VLOAD = "vload"      # vloadv (VMEM row), vloadl (LLM), vloadr0/vloadr1 (RNG state from VMEM)
    VSTORE = "vstore"    # vstorev (VMEM row), vstorel (LLM)

    def __str__(self) -> str:
        return self.value


# Memories an instruction may access (``InstrSpec.memory``; names as in fenn_dma.arch.MEMORY_NAMES).
DMEM, VMEM, LLM = "dmem", "vmem", "llm"
assert {DMEM, VMEM, LLM} <= set(MEMORY_NAMES)
# Access widths: ROW_BYTES for vloadv, vstorev, vloadr0/1 (one VMEM row); LANE_BYTES per lane for vloadl, vstorel.


_SPEC_FIELDS = ("mnemonic op ext fixed operands syntax sat round reads_rd kind memory width zero_extends "
                "seeds_rng")


class InstrSpec(namedtuple("InstrSpec", _SPEC_FIELDS, defaults=(False, ROUND_TRUNC, False, None, None, 0, False,
                                                                 False))):
    """One instruction (an immutable record, like fields.BitField). ``match`` and ``mask`` are
    derived from ``fixed`` and the operands' fields when it is built."""

    mnemonic: str
    op: str
    ext: str
    fixed: tuple[tuple[F.BitField, int], ...]
    operands: tuple[Operand, ...]
    syntax: str                 # operand names in assembler order, e.g. "rd, imm(rs1)"
    sat: bool
    round: int
    reads_rd: bool              # rd's old value is a source (VSEL, VLOADL keep-old lanes)
    kind: Kind | None           # required: every spec says what it is
    memory: str | None          # DMEM, VMEM, LLM for loads and stores, else None
    width: int                  # bytes per access (per lane for LLM); 0 when memory is None
    zero_extends: bool          # a scalar load that zero-extends (lbu, lhu)
    seeds_rng: bool             # loads the RNG state (vloadr0, vloadr1)
    match: int                  # the fixed bits (set in __new__, kept in the instance's __dict__)
    mask: int                   # every bit no operand uses

    def __new__(cls, *args, **kwargs) -> "InstrSpec":
        self = super().__new__(cls, *args, **kwargs)
        match = 0
        for fld, value in self.fixed:
            match |= fld.insert(value)
        operand_bits = 0
        for operand in self.operands:
            operand_bits |= operand.field.mask
        self.match, self.mask = match, ~operand_bits & 0xFFFFFFFF
        assert match & ~self.mask == 0, self.mnemonic
        assert isinstance(self.kind, Kind), f"{self.mnemonic}: no kind"
        assert (self.memory is None) == (self.width == 0) == (self.kind not in _MEMORY_KINDS), self.mnemonic
        return self

    @property
    def opcode(self) -> int:
        return self.match & 0x7F

    @property
    def is_vector(self) -> bool:
        return self.ext == V

    @property
    def is_load(self) -> bool:
        return self.kind in (Kind.LOAD, Kind.VLOAD)

    @property
    def is_store(self) -> bool:
        return self.kind in (Kind.STORE, Kind.VSTORE)

    @property
    def is_control(self) -> bool:
        """A branch or jump: it may redirect the pc."""
        return self.kind in (Kind.BRANCH, Kind.JUMP)

    @property
    def stochastic(self) -> bool:
        """Stochastic rounding (vmul*_rs, vsrai_rs): each use advances the RNG."""
        return self.round == ROUND_STOCHASTIC

    @property
    def uses_rng(self) -> bool:
        """Reads or changes the per-lane RNG state (vrng, stochastic rounding, vloadr0/1)."""
        return self.kind == Kind.VRNG or self.stochastic or self.seeds_rng

    @property
    def load_use(self) -> bool:
        """A vector load whose destination the next instruction may not read (docs/isa.md section 6)."""
        return self.kind == Kind.VLOAD and self.vector_dest() is not None

    def operand(self, name: str) -> Operand:
        for o in self.operands:
            if o.name == name:
                return o
        raise KeyError(name)

    def vector_sources(self) -> tuple[str, ...]:
        """Slots read as vector registers (for the load-use rule)."""
        slots = tuple(o.slot for o in self.operands if o.kind == F.VREG and o.slot != "rd")
        return slots + ("rd",) if self.reads_rd else slots

    def vector_dest(self) -> str | None:
        return "rd" if any(o.kind == F.VREG and o.slot == "rd" for o in self.operands) else None

    def scalar_sources(self) -> tuple[str, ...]:
        return tuple(o.slot for o in self.operands if o.kind == F.XREG and o.slot != "rd")

    def scalar_dest(self) -> str | None:
        return "rd" if any(o.kind == F.XREG and o.slot == "rd" for o in self.operands) else None


def _spec(mnemonic, ext, opcode, operands, syntax, *, f3=None, f7=None, f12=None, extra=(), op=None, **kw):
    fixed = [(F.OPCODE, opcode)]
    if f3 is not None:
        fixed.append((F.FUNCT3, f3))
    if f7 is not None:
        fixed.append((F.FUNCT7, f7))
    if f12 is not None:
        fixed.append((F.FUNCT12, f12))
    fixed.extend(extra)
    return InstrSpec(mnemonic, op or mnemonic.replace(".", "_"), ext, tuple(fixed), tuple(operands), syntax, **kw)


_MEMORY_KINDS = frozenset({Kind.LOAD, Kind.STORE, Kind.VLOAD, Kind.VSTORE})

R3 = (F.XD, F.XS1, F.XS2)
R3_SYNTAX = "rd, rs1, rs2"


def _scalar_specs() -> list[InstrSpec]:
    s: list[InstrSpec] = [
        _spec("lui", RV32I, LUI, (F.XD, F.OP_U_IMM), "rd, imm", kind=Kind.ALU),
        _spec("auipc", RV32I, AUIPC, (F.XD, F.OP_U_IMM), "rd, imm", kind=Kind.ALU),
        _spec("jal", RV32I, JAL, (F.XD, F.OP_J_IMM), "rd, imm", kind=Kind.JUMP),
        _spec("jalr", RV32I, JALR, (F.XD, F.XS1, F.OP_I_IMM), "rd, imm(rs1)", f3=0, kind=Kind.JUMP),
    ]
    for name, f3 in (("beq", 0), ("bne", 1), ("blt", 4), ("bge", 5), ("bltu", 6), ("bgeu", 7)):
        s.append(_spec(name, RV32I, BRANCH, (F.XS1, F.XS2, F.OP_B_IMM), "rs1, rs2, imm", f3=f3, kind=Kind.BRANCH))
    for name, f3, width in (("lb", 0, 1), ("lh", 1, 2), ("lw", 2, 4), ("lbu", 4, 1), ("lhu", 5, 2)):
        s.append(_spec(name, RV32I, LOAD, (F.XD, F.XS1, F.OP_I_IMM), "rd, imm(rs1)", f3=f3, kind=Kind.LOAD,
                       memory=DMEM, width=width, zero_extends=name.endswith("u")))
    for name, f3, width in (("sb", 0, 1), ("sh", 1, 2), ("sw", 2, 4)):
        s.append(_spec(name, RV32I, STORE, (F.XS1, F.XS2, F.OP_S_IMM), "rs2, imm(rs1)", f3=f3, kind=Kind.STORE,
                       memory=DMEM, width=width))
    for name, f3 in (("addi", 0), ("slti", 2), ("sltiu", 3), ("xori", 4), ("ori", 6), ("andi", 7)):
        s.append(_spec(name, RV32I, OP_IMM, (F.XD, F.XS1, F.OP_I_IMM), "rd, rs1, imm", f3=f3, kind=Kind.ALU))
    for name, f3, f7 in (("slli", 1, 0x00), ("srli", 5, 0x00), ("srai", 5, 0x20)):
        s.append(_spec(name, RV32I, OP_IMM, (F.XD, F.XS1, F.OP_SHAMT), "rd, rs1, imm", f3=f3, f7=f7, kind=Kind.ALU))
    for name, f3, f7 in (("add", 0, 0), ("sub", 0, 0x20), ("sll", 1, 0), ("slt", 2, 0), ("sltu", 3, 0),
                         ("xor", 4, 0), ("srl", 5, 0), ("sra", 5, 0x20), ("or", 6, 0), ("and", 7, 0)):
        s.append(_spec(name, RV32I, OP, R3, R3_SYNTAX, f3=f3, f7=f7, kind=Kind.ALU))
    s.append(_spec("fence", RV32I, MISC_MEM, (F.OP_PRED, F.OP_SUCC), "pred, succ", f3=0, kind=Kind.FENCE,
                   extra=((F.RD, 0), (F.RS1, 0), (F.FENCE_FM, 0))))
    s.append(_spec("fence.tso", RV32I, MISC_MEM, (), "", f3=0, op="fence", kind=Kind.FENCE,
                   extra=((F.RD, 0), (F.RS1, 0), (F.FENCE_FM, 0b1000), (F.FENCE_PRED, 0b0011), (F.FENCE_SUCC, 0b0011))))
    s.append(_spec("fence.i", RV32I, MISC_MEM, (), "", f3=1, f12=0, kind=Kind.FENCE, extra=((F.RD, 0), (F.RS1, 0))))
    s.append(_spec("ecall", RV32I, SYSTEM, (), "", f3=0, f12=0, kind=Kind.SYSTEM, extra=((F.RD, 0), (F.RS1, 0))))
    s.append(_spec("ebreak", RV32I, SYSTEM, (), "", f3=0, f12=1, kind=Kind.SYSTEM, extra=((F.RD, 0), (F.RS1, 0))))
    for name, f3 in (("csrrw", 1), ("csrrs", 2), ("csrrc", 3)):
        s.append(_spec(name, ZICSR, SYSTEM, (F.XD, F.OP_CSR, F.XS1), "rd, csr, rs1", f3=f3, kind=Kind.CSR))
    for name, f3 in (("csrrwi", 5), ("csrrsi", 6), ("csrrci", 7)):
        s.append(_spec(name, ZICSR, SYSTEM, (F.XD, F.OP_CSR, F.OP_ZIMM), "rd, csr, zimm", f3=f3, kind=Kind.CSR))
    s.append(_spec("mul", MUL, OP, R3, R3_SYNTAX, f3=0, f7=1, kind=Kind.MUL))
    for name, f3 in (("mulh", 1), ("mulhsu", 2), ("mulhu", 3)):
        s.append(_spec(name, M, OP, R3, R3_SYNTAX, f3=f3, f7=1, kind=Kind.MUL))
    for name, f3 in (("div", 4), ("divu", 5), ("rem", 6), ("remu", 7)):
        s.append(_spec(name, M, OP, R3, R3_SYNTAX, f3=f3, f7=1, kind=Kind.DIV))
    for name, f12 in (("clz", 0x600), ("ctz", 0x601), ("cpop", 0x602), ("sext.b", 0x604), ("sext.h", 0x605)):
        s.append(_spec(name, ZBB, OP_IMM, (F.XD, F.XS1), "rd, rs1", f3=1, f12=f12, kind=Kind.ALU))
    return s


def _vector_specs() -> list[InstrSpec]:
    s: list[InstrSpec] = []
    v3 = (F.VD, F.VS1, F.VS2)
    for base, f3 in (("vadd", 0), ("vsub", 2), ("vand", 3), ("vsll", 1), ("vsra", 5)):
        for sat in (False, True):
            s.append(_spec(base + ("_s" if sat else ""), V, VSOP, v3, R3_SYNTAX, f3=f3, op=base, sat=sat,
                           kind=Kind.VALU, extra=((F.VSOP_SAT, int(sat)), (F.VSOP_ROUND, 0), (F.VSOP_SHIFT, 0))))
    for sat in (False, True):
        for rnd in (ROUND_TRUNC, ROUND_NEAREST, ROUND_STOCHASTIC):
            name = "vmul" + ("_s" if sat else "") + ROUND_SUFFIX[rnd]
            s.append(_spec(name, V, VSOP, v3 + (F.OP_VSHIFT,), "rd, rs1, rs2, shift", f3=4, op="vmul",
                           sat=sat, round=rnd, kind=Kind.VALU, extra=((F.VSOP_SAT, int(sat)), (F.VSOP_ROUND, rnd))))
    vimm_zero_hi = (F.BitField((F.bits(31, 26),)), 0)
    s.append(_spec("vslli", V, VSOP_IMM, (F.VD, F.VS1, F.OP_VISHIFT), "rd, rs1, shift", f3=0, kind=Kind.VALU,
                   extra=(vimm_zero_hi, (F.VIMM_ROUND, 0))))
    for rnd in (ROUND_TRUNC, ROUND_NEAREST, ROUND_STOCHASTIC):
        s.append(_spec("vsrai" + ROUND_SUFFIX[rnd], V, VSOP_IMM, (F.VD, F.VS1, F.OP_VISHIFT), "rd, rs1, shift",
                       f3=1, op="vsrai", round=rnd, kind=Kind.VALU, extra=(vimm_zero_hi, (F.VIMM_ROUND, rnd))))
    for name, f3 in (("vteq", 0), ("vtne", 2), ("vtlt", 4), ("vtge", 6)):
        s.append(_spec(name, V, VTST, (F.XD, F.VS1, F.VS2), R3_SYNTAX, f3=f3, f7=0, kind=Kind.VCMP))
    s.append(_spec("vsel", V, VSEL, (F.VD, F.XS1, F.VS2), R3_SYNTAX, f3=0, f7=0, reads_rd=True, kind=Kind.VALU))
    s.append(_spec("vlui", V, VLUI, (F.VD, F.OP_VLUI), "rd, imm", kind=Kind.VALU,
                   extra=((F.BitField((F.bits(31, 28),)), 0),)))
    s.append(_spec("vfill", V, VMOV, (F.VD, F.XS1), "rd, rs1", f3=0, f12=0, kind=Kind.VMOVE))
    s.append(_spec("vextract", V, VMOV, (F.XD, F.VS1, F.OP_LANE), "rd, rs1, lane", f3=1, kind=Kind.VMOVE,
                   extra=((F.FUNCT7, 0),)))
    s.append(_spec("vrng", V, VSPC, (F.VD,), "rd", f3=0, f7=0, kind=Kind.VRNG, extra=((F.RS1, 0), (F.RS2, 0))))
    s.append(_spec("vandadd", V, VSPC, (F.VD, F.VS1, F.XS2, F.OP_BITS), "rd, rs1, rs2, bits", f3=1, kind=Kind.VALU,
                   extra=((F.BitField((F.bits(31, 29),)), 0),)))
    vload = dict(kind=Kind.VLOAD, memory=VMEM, width=ROW_BYTES)
    s.append(_spec("vloadv", V, VLOAD, (F.VD, F.XS1, F.OP_I_IMM), "rd, imm(rs1)", f3=0, **vload))
    s.append(_spec("vloadl", V, VLOAD, (F.VD, F.VS1, F.OP_I_IMM), "rd, imm(rs1)", f3=2, reads_rd=True,
                   kind=Kind.VLOAD, memory=LLM, width=LANE_BYTES))
    s.append(_spec("vloadr0", V, VLOAD, (F.XS1, F.OP_I_IMM), "imm(rs1)", f3=1, extra=((F.RD, 0),),
                   seeds_rng=True, **vload))
    s.append(_spec("vloadr1", V, VLOAD, (F.XS1, F.OP_I_IMM), "imm(rs1)", f3=5, extra=((F.RD, 0),),
                   seeds_rng=True, **vload))
    s.append(_spec("vstorev", V, VSTORE, (F.XS1, F.VS2, F.OP_S_IMM), "rs2, imm(rs1)", f3=0,
                   kind=Kind.VSTORE, memory=VMEM, width=ROW_BYTES))
    s.append(_spec("vstorel", V, VSTORE, (F.VS1, F.VS2, F.OP_S_IMM), "rs2, imm(rs1)", f3=2,
                   kind=Kind.VSTORE, memory=LLM, width=LANE_BYTES))
    return s


SPECS: tuple[InstrSpec, ...] = tuple(_scalar_specs() + _vector_specs())
BY_MNEMONIC: dict[str, InstrSpec] = {s.mnemonic: s for s in SPECS}
OPS: tuple[str, ...] = tuple(dict.fromkeys(s.op for s in SPECS))  # semantic ops, table order


def _op_kinds() -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for s in SPECS:
        assert kinds.setdefault(s.op, s.kind) == s.kind, f"op {s.op} has two kinds"
    return kinds


OP_KIND: dict[str, Kind] = _op_kinds()      # semantic op -> its kind


def ops_of(*kinds: Kind) -> frozenset[str]:
    """The semantic ops of the given kinds."""
    return frozenset(op for op, k in OP_KIND.items() if k in kinds)


def ops_where(predicate) -> frozenset[str]:
    """The semantic ops with at least one spec for which ``predicate(spec)`` holds."""
    return frozenset(s.op for s in SPECS if predicate(s))


# Vector loads whose destination may not be read by the next instruction (docs/isa.md section 6).
LOAD_USE_OPS = ops_where(lambda s: s.load_use)


def _check_unique() -> None:
    """No word matches two specs. Only specs of one major opcode can (every mask covers the
    opcode bits), so each opcode's few specs are compared among themselves."""
    by_opcode: dict[int, list[InstrSpec]] = {}
    for s in SPECS:
        assert s.mask & 0x7F == 0x7F, s.mnemonic
        by_opcode.setdefault(s.opcode, []).append(s)
    for group in by_opcode.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                common = a.mask & b.mask
                assert (a.match & common) != (b.match & common), f"{a.mnemonic} overlaps {b.mnemonic}"


_check_unique()
