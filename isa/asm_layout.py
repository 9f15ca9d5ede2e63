"""Sections, the items placed in them, and the symbols that name places.

The first pass appends items to sections (each item knows its size, so every
label gets a section-relative offset); then each memory lays its sections out
one after the other in order of first appearance, each aligned to the largest
alignment asked for inside it; the second pass turns items into bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .asm_expr import Expr, Value
from .asm_lexer import Line, Statement
from .asm_operands import Arg
from .asm_forms import Form
from .program import SECTION_MEMORY

NOBITS = (".bss", ".sbss")


def section_memory(name: str) -> str | None:
    """The memory a section goes to: by exact name, or by prefix (``.text.init``,
    ``.rodata.str1.1``, ``.vmem.weights``), as a linker script would place them."""
    if name in SECTION_MEMORY:
        return SECTION_MEMORY[name]
    for known, memory in SECTION_MEMORY.items():
        if name.startswith(known + "."):
            return memory
    return None


@dataclass
class Item:
    index: int          # statement number (for local labels and messages)
    statement: Statement
    offset: int
    size: int


@dataclass
class Fixed(Item):
    data: bytes = b""


@dataclass
class Data(Item):
    width: int = 4
    values: list[Expr] = field(default_factory=list)


@dataclass
class Instr(Item):
    form: Form | None = None
    args: dict[str, Arg] = field(default_factory=dict)


@dataclass
class Section:
    name: str
    memory: str
    nobits: bool
    size: int = 0
    align: int = 1
    base: int = 0
    items: list[Item] = field(default_factory=list)

    def address(self, offset: int) -> int:
        return self.base + offset


@dataclass
class SymbolDef:
    name: str
    line: Line
    column: int
    index: int                     # statement number where it is defined
    section: str | None = None     # labels: the section; address-valued .equ: its section
    offset: int = 0                # labels: offset in the section
    is_label: bool = True
    value: Value | None = None     # .equ known in the first pass (addresses section-relative)
    expr: Expr | None = None       # .equ to evaluate later
    dot: Value | None = None       # location of the .equ statement (first-pass form)
    is_global: bool = False

    @property
    def where(self) -> str:
        return f"{self.line.file}:{self.line.number}"


def layout(sections: dict[str, Section]) -> None:
    """Give each section its base address in its memory (first appearance order)."""
    end: dict[str, int] = {}
    for sec in sections.values():
        base = end.get(sec.memory, 0)
        base = (base + sec.align - 1) // sec.align * sec.align
        sec.base = base
        end[sec.memory] = base + sec.size
