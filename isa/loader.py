"""Load a program from any of the file kinds the tools take: assembler
source, ELF executable or raw binary."""
from __future__ import annotations

from pathlib import Path

from .assembler import assemble_file
from .elf import ProgramFileError, load_elf, load_raw
from .program import Program

SOURCE_SUFFIXES = (".s", ".S", ".asm")
ELF_MAGIC = b"\x7fELF"


def file_kind(path: str | Path) -> str:
    """'asm', 'elf' or 'raw': ELF by its magic number, source by its suffix,
    anything else is a raw IMEM image."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ProgramFileError(f"cannot read {path}: {exc.strerror}") from None
    if head == ELF_MAGIC:
        return "elf"
    if path.suffix in SOURCE_SUFFIXES:
        return "asm"
    return "raw"


def load_program(path: str | Path, kind: str | None = None) -> Program:
    """The program in ``path``; ``kind`` ('asm', 'elf', 'raw') overrides detection."""
    kind = kind or file_kind(path)
    if kind == "asm":
        return assemble_file(path)
    if kind == "elf":
        return load_elf(path)
    if kind == "raw":
        return load_raw(path)
    raise ValueError(f"unknown program file kind {kind!r}")
