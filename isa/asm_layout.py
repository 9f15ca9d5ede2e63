"""Sections, the items placed in them, and the symbols that name places.

The first pass appends items to sections (each item knows its size, so every
label gets a section-relative offset); then each memory lays its sections out
one after the other in order of first appearance, each aligned to the largest
alignment asked for inside it; the second pass turns items into bytes.
"""
from __future__ import annotations

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


# Plain classes, not dataclasses: the assembler starts without the dataclasses module
# (`fenn-dma sim x.s`, docs/iss.md "Speed").
class Item:
    """``index``: statement number (for local labels and messages)."""

    __slots__ = ("index", "statement", "offset", "size")

    def __init__(self, index: int, statement: Statement, offset: int, size: int):
        self.index, self.statement, self.offset, self.size = index, statement, offset, size


class Fixed(Item):
    __slots__ = ("data",)

    def __init__(self, index: int, statement: Statement, offset: int, size: int, data: bytes = b""):
        super().__init__(index, statement, offset, size)
        self.data = data


class Data(Item):
    __slots__ = ("width", "values")

    def __init__(self, index: int, statement: Statement, offset: int, size: int, width: int = 4,
                 values: list[Expr] | None = None):
        super().__init__(index, statement, offset, size)
        self.width = width
        self.values = [] if values is None else values


class Instr(Item):
    __slots__ = ("form", "args")

    def __init__(self, index: int, statement: Statement, offset: int, size: int, form: Form | None = None,
                 args: dict[str, Arg] | None = None):
        super().__init__(index, statement, offset, size)
        self.form = form
        self.args = {} if args is None else args


class Section:
    __slots__ = ("name", "memory", "nobits", "size", "align", "base", "items")

    def __init__(self, name: str, memory: str, nobits: bool, size: int = 0, align: int = 1, base: int = 0,
                 items: list[Item] | None = None):
        self.name, self.memory, self.nobits = name, memory, nobits
        self.size, self.align, self.base = size, align, base
        self.items = [] if items is None else items

    def address(self, offset: int) -> int:
        return self.base + offset


class SymbolDef:
    """A label or .equ: ``index`` the statement number where it is defined; ``section``: a
    label's section, or an address-valued .equ's; ``offset``: a label's offset in its section;
    ``value``: an .equ known in the first pass (addresses section-relative); ``expr``: an .equ
    to evaluate later; ``dot``: the location of the .equ statement (first-pass form)."""

    __slots__ = ("name", "line", "column", "index", "section", "offset", "is_label", "value", "expr", "dot",
                 "is_global")

    def __init__(self, name: str, line: Line, column: int, index: int, section: str | None = None,
                 offset: int = 0, is_label: bool = True, value: Value | None = None, expr: Expr | None = None,
                 dot: Value | None = None, is_global: bool = False):
        self.name, self.line, self.column, self.index = name, line, column, index
        self.section, self.offset, self.is_label = section, offset, is_label
        self.value, self.expr, self.dot, self.is_global = value, expr, dot, is_global

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
