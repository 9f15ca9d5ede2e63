"""Instruction decoder, generated from the instruction table (isa/table.py).

Every comparison (``word & mask == match``) and every field extraction is
built at elaboration from the table's ``InstrSpec``s and ``BitField``s, so no
encoding is written twice. Which opcodes are legal depends on the
extensions the core is built with; vector instructions are decoded only when
the core has a vector unit.
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

        hits: dict[str, Signal] = {}
        for spec in self.specs:
            hit = Signal(name=f"is_{spec.mnemonic.replace('.', '_')}")
            m.d.comb += hit.eq((word & spec.mask) == spec.match)
            hits[spec.mnemonic] = hit

        def any_of(predicate) -> object:
            chosen = [hits[s.mnemonic] for s in self.specs if predicate(s)]
            return Cat(*chosen).any() if chosen else Const(0)

        for op in scalar_ops(self.extensions):
            m.d.comb += out.op[op].eq(any_of(lambda s, op=op: s.op == op and not s.is_vector))
        m.d.comb += [
            out.vector.eq(any_of(lambda s: s.is_vector)),
            out.vector_writes_rd.eq(any_of(lambda s: s.is_vector and _has_operand(s, F.XREG, "rd"))),
            out.illegal.eq(~Cat(*hits.values()).any()),
            out.reads_rs1.eq(any_of(lambda s: _has_operand(s, F.XREG, "rs1"))),
            out.reads_rs2.eq(any_of(lambda s: _has_operand(s, F.XREG, "rs2"))),
            out.writes_rd.eq(any_of(lambda s: not s.is_vector and _has_operand(s, F.XREG, "rd"))),
            out.imm_b.eq(any_of(lambda s: _imm_field(s) is not None and not _has_operand(s, F.XREG, "rs2"))),
            out.rd.eq(field_value(word, F.RD)),
            out.rs1.eq(field_value(word, F.RS1)),
            out.rs2.eq(field_value(word, F.RS2)),
        ]

        # The immediate: one extraction per distinct field, selected by the specs using it.
        by_field: dict[F.BitField, list[InstrSpec]] = {}
        for spec in self.specs:
            fld = _imm_field(spec)
            if fld is not None:
                by_field.setdefault(fld, []).append(spec)
        imm = Const(0, signed(32))
        for fld, specs in by_field.items():
            used = Cat(*(hits[s.mnemonic] for s in specs)).any()
            value = Signal(signed(32), name=f"imm_{len(specs)}_{fld.mask:08x}")
            m.d.comb += value.eq(field_value(word, fld))
            imm = imm | value.as_unsigned().replicate(1) & used.replicate(32)
        m.d.comb += out.imm.eq(imm)
        return m
