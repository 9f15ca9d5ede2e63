"""Encoding and decoding of instruction words, driven by the table."""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.errors import FennError

from .table import ALL_EXTENSIONS, BY_MNEMONIC, SPECS, InstrSpec

SLOTS = ("rd", "rs1", "rs2", "imm", "aux")


class EncodingError(FennError):
    """An operand value that does not fit its field."""


class IllegalInstruction(FennError):
    def __init__(self, word: int, reason: str = "not a listed encoding"):
        super().__init__(f"illegal instruction 0x{word:08x}: {reason}")
        self.word = word


class Instruction(namedtuple("Instruction", ("spec",) + SLOTS, defaults=(0,) * len(SLOTS))):
    """A decoded instruction: its spec and the values of its slots (an immutable record, like
    fields.BitField)."""

    __slots__ = ()
    spec: InstrSpec
    rd: int
    rs1: int
    rs2: int
    imm: int
    aux: int

    @property
    def mnemonic(self) -> str:
        return self.spec.mnemonic

    @property
    def op(self) -> str:
        return self.spec.op

    def operand(self, name: str) -> int:
        return getattr(self, self.spec.operand(name).slot)

    def operands(self) -> dict[str, int]:
        return {o.name: getattr(self, o.slot) for o in self.spec.operands}

    def encode(self) -> int:
        return encode(self.spec, **self.operands())


def encode(spec: InstrSpec | str, **values: int) -> int:
    """The 32-bit word of ``spec`` with the given operand values (by operand name)."""
    if isinstance(spec, str):
        spec = BY_MNEMONIC[spec]
    word = spec.match
    names = {o.name for o in spec.operands}
    unknown = set(values) - names
    if unknown:
        raise EncodingError(f"{spec.mnemonic} has no operand {', '.join(sorted(unknown))}")
    for operand in spec.operands:
        if operand.name not in values:
            raise EncodingError(f"{spec.mnemonic} needs operand {operand.name}")
        value = int(values[operand.name])
        if not operand.min <= value <= operand.max:
            raise EncodingError(f"{spec.mnemonic}: {operand.name} = {value} is out of range "
                                f"[{operand.min}, {operand.max}]")
        if value % operand.field.align:
            raise EncodingError(f"{spec.mnemonic}: {operand.name} = {value} must be a multiple of "
                                f"{operand.field.align}")
        word |= operand.field.insert(value)
    return word


# Decode index: opcode -> specs with that opcode (a handful each).
_BY_OPCODE: dict[int, list[InstrSpec]] = {}
for _s in SPECS:
    _BY_OPCODE.setdefault(_s.opcode, []).append(_s)


def find_spec(word: int, extensions: frozenset[str] = ALL_EXTENSIONS) -> InstrSpec | None:
    for spec in _BY_OPCODE.get(word & 0x7F, ()):
        if word & spec.mask == spec.match and spec.ext in extensions:
            return spec
    return None


def decode(word: int, extensions: frozenset[str] = ALL_EXTENSIONS) -> Instruction:
    """Decode a word; raises ``IllegalInstruction`` for every unlisted encoding
    (and for instructions of extensions not in ``extensions``)."""
    word &= 0xFFFFFFFF
    spec = find_spec(word, extensions)
    if spec is None:
        raise IllegalInstruction(word)
    slots = {o.slot: o.field.extract(word) for o in spec.operands}
    return Instruction(spec, **slots)


def try_decode(word: int, extensions: frozenset[str] = ALL_EXTENSIONS) -> Instruction | None:
    try:
        return decode(word, extensions)
    except IllegalInstruction:
        return None
