"""Bit fields of an instruction word and the operands that live in them.

A ``BitField`` maps the bits of a value onto (possibly scattered) bits of the
32-bit word, as the RISC-V B- and J-type immediates need. Every format and
operand of the ISA is declared once below; the table, the encoder/decoder,
the assembler, the disassembler and the RTL decoder use these objects.
"""
from __future__ import annotations

from collections import namedtuple


# The records here and in table.py/codec.py are immutable named tuples, not dataclasses: the
# ISS starts without importing the dataclasses module (docs/iss.md "Speed").
class BitField(namedtuple("BitField", "segments signed align", defaults=(False, 1))):
    """``segments``: (word bit, width, value bit) triples; ``align``: low value
    bits that are implicitly zero (branch offsets are multiples of 2)."""

    __slots__ = ()
    segments: tuple[tuple[int, int, int], ...]
    signed: bool
    align: int

    @property
    def width(self) -> int:
        """Number of value bits, including the implicit low zero bits."""
        return max(vlo + w for _, w, vlo in self.segments)

    @property
    def mask(self) -> int:
        m = 0
        for wlo, w, _ in self.segments:
            m |= ((1 << w) - 1) << wlo
        return m

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def extract(self, word: int) -> int:
        v = 0
        for wlo, w, vlo in self.segments:
            v |= ((word >> wlo) & ((1 << w) - 1)) << vlo
        if self.signed and v >> (self.width - 1):
            v -= 1 << self.width
        return v

    def insert(self, value: int) -> int:
        """Bits of the word for ``value`` (which must already be in range)."""
        v = value & ((1 << self.width) - 1)
        word = 0
        for wlo, w, vlo in self.segments:
            word |= ((v >> vlo) & ((1 << w) - 1)) << wlo
        return word


def bits(hi: int, lo: int, value_lo: int = 0) -> tuple[int, int, int]:
    """A segment in the word bits hi..lo, holding value bits from value_lo up."""
    return (lo, hi - lo + 1, value_lo)


# Register fields.
RD = BitField((bits(11, 7),))
RS1 = BitField((bits(19, 15),))
RS2 = BitField((bits(24, 20),))

# Immediates of the RV32I formats.
I_IMM = BitField((bits(31, 20),), signed=True)
S_IMM = BitField((bits(11, 7, 0), bits(31, 25, 5)), signed=True)
B_IMM = BitField((bits(11, 8, 1), bits(30, 25, 5), bits(7, 7, 11), bits(31, 31, 12)), signed=True, align=2)
U_IMM = BitField((bits(31, 12),))
J_IMM = BitField((bits(30, 21, 1), bits(20, 20, 11), bits(19, 12, 12), bits(31, 31, 20)), signed=True, align=2)
SHAMT = BitField((bits(24, 20),))
CSR_NUM = BitField((bits(31, 20),))
ZIMM = BitField((bits(19, 15),))
FENCE_PRED = BitField((bits(27, 24),))
FENCE_SUCC = BitField((bits(23, 20),))

# Vector fields (docs/isa.md sections 3-4).
VLUI_IMM = BitField((bits(27, 12),))          # 16-bit lane pattern
VSOP_SHIFT = BitField((bits(28, 25),))        # funct7[3:0]
VIMM_SHIFT = BitField((bits(23, 20),))        # imm[3:0]
VEXTRACT_LANE = BitField((bits(24, 20),))     # imm[4:0]
VANDADD_BITS = BitField((bits(28, 25),))      # funct7[3:0]

# Fixed fields (for building match values).
OPCODE = BitField((bits(6, 0),))
FUNCT3 = BitField((bits(14, 12),))
FUNCT7 = BitField((bits(31, 25),))
FUNCT12 = BitField((bits(31, 20),))
VSOP_SAT = BitField((bits(31, 31),))
VSOP_ROUND = BitField((bits(30, 29),))
VIMM_ROUND = BitField((bits(25, 24),))        # imm[5:4]
FENCE_FM = BitField((bits(31, 28),))


# Operand kinds: how the assembler reads and the disassembler prints a value.
XREG, VREG, IMM, PCREL, CSR, FENCE = "x", "v", "imm", "pcrel", "csr", "fence"


class Operand(namedtuple("Operand", "name kind field slot lo hi", defaults=(None, None))):
    """One operand of an instruction: its assembler name, kind, field, and the
    slot of the decoded instruction (rd, rs1, rs2, imm, aux) that carries it;
    ``lo``, ``hi``: the accepted range, where wider than the field's own."""

    __slots__ = ()
    name: str
    kind: str
    field: BitField
    slot: str
    lo: int | None
    hi: int | None

    @property
    def min(self) -> int:
        return self.field.min if self.lo is None else self.lo

    @property
    def max(self) -> int:
        return self.field.max if self.hi is None else self.hi


XD = Operand("rd", XREG, RD, "rd")
XS1 = Operand("rs1", XREG, RS1, "rs1")
XS2 = Operand("rs2", XREG, RS2, "rs2")
VD = Operand("rd", VREG, RD, "rd")
VS1 = Operand("rs1", VREG, RS1, "rs1")
VS2 = Operand("rs2", VREG, RS2, "rs2")
OP_I_IMM = Operand("imm", IMM, I_IMM, "imm")
OP_S_IMM = Operand("imm", IMM, S_IMM, "imm")
OP_B_IMM = Operand("imm", PCREL, B_IMM, "imm")
OP_J_IMM = Operand("imm", PCREL, J_IMM, "imm")
OP_U_IMM = Operand("imm", IMM, U_IMM, "imm")
OP_SHAMT = Operand("imm", IMM, SHAMT, "imm")
OP_CSR = Operand("csr", CSR, CSR_NUM, "imm")
OP_ZIMM = Operand("zimm", IMM, ZIMM, "rs1")
OP_PRED = Operand("pred", FENCE, FENCE_PRED, "imm")
OP_SUCC = Operand("succ", FENCE, FENCE_SUCC, "aux")
OP_VLUI = Operand("imm", IMM, VLUI_IMM, "imm", lo=-32768, hi=65535)
OP_VSHIFT = Operand("shift", IMM, VSOP_SHIFT, "imm")
OP_VISHIFT = Operand("shift", IMM, VIMM_SHIFT, "imm")
OP_LANE = Operand("lane", IMM, VEXTRACT_LANE, "imm", lo=0, hi=31)
OP_BITS = Operand("bits", IMM, VANDADD_BITS, "imm")
