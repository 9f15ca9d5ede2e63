"""Decoder of vector instruction words, generated from isa/table.py.

Every vector ``InstrSpec`` becomes one case of a switch on the word (its
``match`` under its ``mask``), and every field is cut with the operand's own
``BitField``: no encoding is written here a second time.
"""

from amaranth import Cat, Module, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import fields as F
from fenn_dma.isa.table import SPECS, InstrSpec
from fenn_dma.rtl.decoder import field_value

VECTOR_SPECS: tuple[InstrSpec, ...] = tuple(s for s in SPECS if s.is_vector)
VECTOR_OP_NAMES: tuple[str, ...] = tuple(dict.fromkeys(s.op for s in VECTOR_SPECS))


def _make_op_enum() -> type[enum.Enum]:
    ns = enum.EnumType.__prepare__("VectorOp", (enum.Enum,))
    for i, name in enumerate(VECTOR_OP_NAMES):
        ns[name.upper()] = i
    return enum.EnumType("VectorOp", (enum.Enum,), ns, shape=unsigned(max(1, (len(VECTOR_OP_NAMES) - 1).bit_length())))


# Semantic vector operations of the table (VectorOp.VADD, VectorOp.VMUL, ...).
VectorOp = _make_op_enum()


def vector_op(name: str) -> enum.Enum:
    return VectorOp[name.upper()]


# A decoded vector instruction, as issued to the vector unit. ``imm`` holds
# the operand in the table's "imm" slot (offset, shift, lane, bits, VLUI pattern).
VectorControl = data.StructLayout({
    "op": VectorOp,
    "sat": 1,
    "round": 2,
    "rd": 5,
    "rs1": 5,
    "rs2": 5,
    "imm": signed(32),
    # VSRAI (the multiplier's b is 1), matched on the word directly, beside the op switch:
    # it selects the multiplier's operand, where the op's decode would lengthen the path.
    "mul_b_one": 1,
})


def case_pattern(spec: InstrSpec) -> str:
    """The spec's match/mask as an Amaranth case pattern (MSB first, '-' = operand bit)."""
    return "".join("-" if not (spec.mask >> b) & 1 else str((spec.match >> b) & 1) for b in range(31, -1, -1))


class VectorDecoder(wiring.Component):
    """Combinational: ``legal`` is high for every listed vector encoding and
    ``ctrl`` holds its fields; the ``*_x_*`` outputs tell the core which scalar
    registers the instruction reads and writes (for its forwarding and hazards)."""

    word: In(32)
    legal: Out(1)
    ctrl: Out(VectorControl)
    reads_x_rs1: Out(1)
    reads_x_rs2: Out(1)
    writes_x_rd: Out(1)

    def elaborate(self, platform):
        m = Module()
        word, ctrl = self.word, self.ctrl
        m.d.comb += [ctrl.rd.eq(field_value(word, F.RD)), ctrl.rs1.eq(field_value(word, F.RS1)),
                     ctrl.rs2.eq(field_value(word, F.RS2))]
        m.d.comb += ctrl.mul_b_one.eq(Cat((word & s.mask) == s.match for s in VECTOR_SPECS if s.op == "vsrai").any())
        with m.Switch(word):
            for spec in VECTOR_SPECS:
                with m.Case(case_pattern(spec)):
                    m.d.comb += [self.legal.eq(1), ctrl.op.eq(vector_op(spec.op)),
                                 ctrl.sat.eq(int(spec.sat)), ctrl.round.eq(spec.round)]
                    for operand in spec.operands:
                        if operand.slot == "imm":
                            m.d.comb += ctrl.imm.eq(field_value(word, operand.field))
                    m.d.comb += [self.reads_x_rs1.eq("rs1" in spec.scalar_sources()),
                                 self.reads_x_rs2.eq("rs2" in spec.scalar_sources()),
                                 self.writes_x_rd.eq(spec.scalar_dest() == "rd")]
        return m
