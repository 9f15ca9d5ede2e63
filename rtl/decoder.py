"""Instruction decoder, generated from the instruction table (isa/table.py).

Every comparison (``word & mask == match``) and every field extraction is
built at elaboration from the table's ``InstrSpec``s and ``BitField``s, so no
encoding is written twice. Which opcodes are legal depends on the
extensions the core is built with; vector instructions are decoded only when
the core has a vector unit.

Decode is on the FPGA's critical path (the instruction RAM's output is not
registered), so only ``illegal`` compares every fixed bit of every spec. Each
other output (an op bit, an immediate's selection, a register-use flag) looks
at the fewest fixed bits that tell the specs where it holds from the specs
where it does not (``term_mask``: the opcode, then funct3, then funct7, then
all): exact for every legal word, and don't-care for an illegal one, which
stops the core in execute before any of its decoded fields has an effect.
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import fields as F
from fenn_dma.isa.table import SPECS, InstrSpec, M, V, BASE_EXTENSIONS


def core_extensions(full_m: bool, vector: bool) -> frozenset[str]:
    ext = set(BASE_EXTENSIONS - {V})
    if full_m:
        ext.add(M)
    if vector:
        ext.add(V)
    return frozenset(ext)


def scalar_specs(extensions: frozenset[str]) -> tuple[InstrSpec, ...]:
    return tuple(s for s in SPECS if s.ext in extensions and not s.is_vector)


def scalar_ops(extensions: frozenset[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.op for s in scalar_specs(extensions)))


def op_layout(extensions: frozenset[str]) -> data.StructLayout:
    """One bit per semantic operation: the decoded op is one-hot."""
    return data.StructLayout({op: 1 for op in scalar_ops(extensions)})


def decoded_layout(extensions: frozenset[str]) -> data.StructLayout:
    return data.StructLayout({
        "op": op_layout(extensions),
        "rd": 5, "rs1": 5, "rs2": 5,
        "imm": signed(32),
        "reads_rs1": 1, "reads_rs2": 1, "writes_rd": 1,
        "imm_b": 1,          # the ALU's second operand is the immediate, not rs2
        "illegal": 1,
        "vector": 1,         # a vector instruction (issued to the vector unit)
        "vector_writes_rd": 1,  # ... that returns a scalar result (VTST, VEXTRACT)
    })


def field_value(word, fld: F.BitField):
    """The value of ``fld`` in ``word`` as an Amaranth expression (signed where the field is; the
    implicit low zero bits of an aligned field are zeros). The scalar and vector decoders share it."""
    pieces = []
    pos = 0
    for wlo, width, vlo in sorted(fld.segments, key=lambda s: s[2]):
        if vlo > pos:
            pieces.append(Const(0, vlo - pos))
        pieces.append(word[wlo:wlo + width])
        pos = vlo + width
    value = Cat(*pieces)
    return value.as_signed() if fld.signed else value


# The bits a decode term may look at, narrowest first: opcode, + funct3, + funct7, every fixed bit.
TERM_LEVELS = (0x0000007F, 0x0000707F, 0xFE00707F, 0xFFFFFFFF)


def term_mask(spec: InstrSpec, others) -> int:
    """The narrowest ``TERM_LEVELS`` part of ``spec``'s mask under which no word of a spec in
    ``others`` matches ``spec`` (specs never overlap, so the whole mask always does)."""
    for level in TERM_LEVELS:
        mask = spec.mask & level
        if all((spec.match ^ t.match) & mask & t.mask for t in others):
            return mask
    raise AssertionError(f"{spec.mnemonic} overlaps another spec")


def _has_operand(spec: InstrSpec, kind: str, slot: str) -> bool:
    return any(o.kind == kind and o.slot == slot for o in spec.operands)


def _imm_field(spec: InstrSpec) -> F.BitField | None:
    for o in spec.operands:
        if o.slot == "imm":
            return o.field
    return None


class Decoder(wiring.Component):
    """``d_word`` in, ``d_decoded`` out (combinational, decode stage)."""

    def __init__(self, extensions: frozenset[str]):
        self.extensions = extensions
        self.specs = tuple(s for s in SPECS if s.ext in extensions)
        super().__init__({
            "d_word": In(32),
            "d_decoded": Out(decoded_layout(extensions)),
        })

    def elaborate(self, platform):
        m = Module()
        word, out = self.d_word, self.d_decoded

        # One signal per distinct term, shared by every output that uses it.
        term_signals: dict[tuple[int, int], Signal] = {}

        def term(mask: int, match: int) -> Signal:
            if (mask, match) not in term_signals:
                t = term_signals[mask, match] = Signal(name=f"t_{mask:08x}_{match:08x}")
                m.d.comb += t.eq((word & mask) == match)
            return term_signals[mask, match]

        # Exact hits, for `illegal` only.
        m.d.comb += out.illegal.eq(~Cat(*(term(spec.mask, spec.match) for spec in self.specs)).any())

        def any_of(predicate, name: str, dont_care=lambda s: False):
            """``predicate`` of the word's spec, exact on legal words (``term_mask``) except the
            specs for which ``dont_care`` holds."""
            chosen = [s for s in self.specs if predicate(s)]
            others = [s for s in self.specs if not predicate(s) and not dont_care(s)]
            terms = dict.fromkeys((mask, s.match & mask) for s in chosen for mask in (term_mask(s, others),))
            value = Signal(name=name)
            m.d.comb += value.eq(Cat(*(term(mask, match) for mask, match in terms)).any() if terms else 0)
            return value

        for op in scalar_ops(self.extensions):
            m.d.comb += out.op[op].eq(any_of(lambda s, op=op: s.op == op and not s.is_vector, f"op_{op}"))
        m.d.comb += [
            out.vector.eq(any_of(lambda s: s.is_vector, "vector")),
            out.vector_writes_rd.eq(any_of(lambda s: s.is_vector and _has_operand(s, F.XREG, "rd"),
                                           "vector_writes_rd")),
            out.reads_rs1.eq(any_of(lambda s: _has_operand(s, F.XREG, "rs1"), "reads_rs1")),
            out.reads_rs2.eq(any_of(lambda s: _has_operand(s, F.XREG, "rs2"), "reads_rs2")),
            out.writes_rd.eq(any_of(lambda s: not s.is_vector and _has_operand(s, F.XREG, "rd"), "writes_rd")),
            out.imm_b.eq(any_of(lambda s: _imm_field(s) is not None and not _has_operand(s, F.XREG, "rs2"),
                                "imm_b")),
            out.rd.eq(field_value(word, F.RD)),
            out.rs1.eq(field_value(word, F.RS1)),
            out.rs2.eq(field_value(word, F.RS2)),
        ]

        # The immediate: one extraction per distinct field, selected where a spec uses it.
        fields = tuple(dict.fromkeys(f for f in map(_imm_field, self.specs) if f is not None))
        imm = Const(0, signed(32))
        for fld in fields:
            # Nothing reads the immediate of a spec without one.
            used = any_of(lambda s, fld=fld: _imm_field(s) == fld, f"imm_{fld.mask:08x}_used",
                          dont_care=lambda s: _imm_field(s) is None)
            value = Signal(signed(32), name=f"imm_{fld.mask:08x}")
            m.d.comb += value.eq(field_value(word, fld))
            imm = imm | value.as_unsigned() & used.replicate(32)
        m.d.comb += out.imm.eq(imm)
        return m
