"""The assembler's output: memory images, symbols and a source map.

This is the artifact between the assembler (or the compiler) and everything
that loads programs (ISS, RTL harness, ELF/raw writers). Memory names are
those of docs/isa.md: ``imem`` (code), ``dmem`` (scalar data), ``vmem``
(vector memory); every image starts at address 0 of its memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    section: str | None  # None for absolute symbols (.equ/.set)
    is_global: bool = False


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Program:
    images: dict[str, bytes] = field(default_factory=dict)   # memory name -> bytes from address 0
    symbols: dict[str, Symbol] = field(default_factory=dict)
    source_map: dict[int, SourceLocation] = field(default_factory=dict)  # IMEM byte address -> source
    entry: int = 0

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
