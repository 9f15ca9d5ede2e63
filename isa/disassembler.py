"""Instruction words -> assembler text that assembles back to the same words.

Vector instructions print exactly the forms of docs/isa.md section 7; scalar
ones print their plain (non-alias) objdump form with ABI register names and
", " between operands. A pc-relative target prints as its absolute address
(``0x1c``) when the pc is known and as ``.+8`` / ``.-8`` (relative to the
instruction itself, which the assembler reads back) when it is not. An
invalid word prints as ``illegal 0x...``.
"""
from __future__ import annotations

from typing import Iterable

from . import fields as F
from .asm_layout import section_memory
from .asm_operands import FENCE_BITS, syntax_parts
from .codec import Instruction, try_decode
from .csrs import csr_name
from .program import Program
from .registers import scalar_name, vector_name
from .table import ALL_EXTENSIONS

_HEX_IMMEDIATES = frozenset({"lui", "auipc"})  # objdump prints U-type immediates in hex


def fence_set(bits: int) -> str:
    return "".join(c for c, b in FENCE_BITS.items() if bits & b) or "0"


def target(pc: int, offset: int) -> int:
    return (pc + offset) & 0xFFFFFFFF


def _operand(inst: Instruction, name: str, pc: int | None, abi: bool) -> str:
    operand = inst.spec.operand(name)
    value = getattr(inst, operand.slot)
    kind = operand.kind
    if kind == F.XREG:
        return scalar_name(value, abi)
    if kind == F.VREG:
        return vector_name(value)
    if kind == F.CSR:
        return csr_name(value)
    if kind == F.FENCE:
        return fence_set(value)
    if kind == F.PCREL:
        if pc is None:
            return f".{value:+d}"
        return f"0x{target(pc, value):x}"
    if inst.mnemonic in _HEX_IMMEDIATES:
        return f"0x{value:x}"
    if inst.mnemonic == "vlui":
        return str(value - 0x10000 if value & 0x8000 else value)  # the lane value, as docs/isa.md writes it
    return str(value)


def format_instruction(inst: Instruction, pc: int | None = None, abi: bool = True) -> str:
    parts = []
    for part in syntax_parts(inst.spec.syntax):
        if len(part) == 1:
            parts.append(_operand(inst, part[0], pc, abi))
        else:
            parts.append(f"{_operand(inst, part[0], pc, abi)}({_operand(inst, part[1], pc, abi)})")
    return f"{inst.mnemonic} {', '.join(parts)}" if parts else inst.mnemonic


def disassemble_word(word: int, pc: int | None = None, *, abi: bool = True,
                     extensions: frozenset[str] = ALL_EXTENSIONS) -> str:
    """One word as assembler text; ``illegal 0x...`` for an invalid encoding."""
    word &= 0xFFFFFFFF
    inst = try_decode(word, extensions)
    if inst is None:
        return f"illegal 0x{word:08x}"
    return format_instruction(inst, pc, abi)


def code_labels(program: Program) -> dict[int, list[str]]:
    """IMEM address -> names of the symbols there."""
    labels: dict[int, list[str]] = {}
    for sym in program.symbols.values():
        if sym.section is not None and section_memory(sym.section) == "imem":
            labels.setdefault(sym.value, []).append(sym.name)
    return labels


def disassemble(program_or_words: Program | Iterable[int], start: int = 0, *, abi: bool = True,
                extensions: frozenset[str] = ALL_EXTENSIONS) -> str:
    """A listing of IMEM: ``address: word  text``, with symbol labels on their own
    lines and the label of a branch target as a comment."""
    if isinstance(program_or_words, Program):
        words, labels = program_or_words.words, code_labels(program_or_words)
    else:
        words, labels = [int(w) for w in program_or_words], {}
    lines: list[str] = []
    for k, word in enumerate(words):
        pc = start + 4 * k
        for name in labels.get(pc, ()):
            lines.append(f"{name}:")
        text = disassemble_word(word, pc, abi=abi, extensions=extensions)
        inst = try_decode(word, extensions)
        if inst is not None:
            for o in inst.spec.operands:
                if o.kind == F.PCREL and labels.get(target(pc, getattr(inst, o.slot))):
                    text = f"{text:<32} # <{labels[target(pc, getattr(inst, o.slot))][0]}>"
        lines.append(f"  {pc:08x}:  {word & 0xFFFFFFFF:08x}  {text}")
    return "\n".join(lines) + ("\n" if lines else "")
