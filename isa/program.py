"""The assembler's output: memory images, symbols and a source map.

This is the artifact between the assembler (or the compiler) and everything
that loads programs (ISS, RTL harness, ELF/raw writers). Memory names are
those of docs/isa.md: ``imem`` (code), ``dmem`` (scalar data), ``vmem``
(vector memory); every image starts at address 0 of its memory.
"""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.arch import MEMORY_NAMES

MEMORIES = MEMORY_NAMES[:3]      # the memories a program has images of: imem, dmem, vmem

# Assembler section -> memory it is placed in.
SECTION_MEMORY = {
    ".text": "imem",
    ".data": "dmem",
    ".rodata": "dmem",
    ".sdata": "dmem",
    ".bss": "dmem",
    ".sbss": "dmem",
    ".vmem": "vmem",
}


# Plain records, not dataclasses: loading a program for `fenn-dma sim` needs no dataclasses
# module (docs/iss.md "Speed").
class Symbol(namedtuple("Symbol", "name value section is_global", defaults=(False,))):
    __slots__ = ()
    name: str
    value: int
    section: str | None  # None for absolute symbols (.equ/.set)
    is_global: bool


class SourceLocation(namedtuple("SourceLocation", "file line text", defaults=("",))):
    __slots__ = ()
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Program:
    """A program's images (memory name -> bytes from address 0), symbols, source map (IMEM
    byte address -> source) and entry point. Mutable: the assembler and loaders fill it in."""

    __slots__ = ("images", "symbols", "source_map", "entry")

    def __init__(self, images: dict[str, bytes] | None = None, symbols: dict[str, Symbol] | None = None,
                 source_map: dict[int, SourceLocation] | None = None, entry: int = 0):
        self.images = {} if images is None else images
        self.symbols = {} if symbols is None else symbols
        self.source_map = {} if source_map is None else source_map
        self.entry = entry

    def _fields(self) -> tuple:
        return self.images, self.symbols, self.source_map, self.entry

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()    # type: ignore[attr-defined]

    __hash__ = None     # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"Program(images={self.images!r}, symbols={self.symbols!r}, source_map={self.source_map!r}, "
                f"entry={self.entry!r})")

    def with_(self, **changes) -> "Program":
        """A copy with some fields changed (the others shared)."""
        fields = dict(zip(self.__slots__, self._fields()))
        return Program(**{**fields, **changes})

    @property
    def text(self) -> bytes:
        return self.images.get("imem", b"")

    @property
    def words(self) -> list[int]:
        t = self.text
        return [int.from_bytes(t[i:i + 4], "little") for i in range(0, len(t) - len(t) % 4, 4)]

    def symbol(self, name: str) -> int:
        return self.symbols[name].value

    @classmethod
    def from_words(cls, words, **images: bytes) -> "Program":
        text = b"".join(int(w & 0xFFFFFFFF).to_bytes(4, "little") for w in words)
        return cls(images={"imem": text, **images})
