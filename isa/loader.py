"""Load a program from any of the file kinds the tools take: assembler
source, ELF executable or raw binary."""
from __future__ import annotations

from pathlib import Path

from .codec import try_decode
from .elf import ELF_MAGIC, ProgramFileError, load_elf, load_raw
from .program import Program

SOURCE_SUFFIXES = (".s", ".S", ".asm")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")   # a .fenn program is a zip archive


def file_kind(path: str | Path) -> str:
    """'asm', 'elf', 'fenn' or 'raw': ELF and zip (a ``.fenn`` program) by their
    magic numbers, source by its suffix (``.fenn`` too), anything else is a raw
    IMEM image."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ProgramFileError(f"cannot read {path}: {exc.strerror}") from None
    if head == ELF_MAGIC:
        return "elf"
    if head in ZIP_MAGICS or path.suffix == ".fenn":
        return "fenn"
    if path.suffix in SOURCE_SUFFIXES:
        return "asm"
    return "raw"


def load_program(path: str | Path, kind: str | None = None, require_code: bool = False) -> Program:
    """The program in ``path``; ``kind`` ('asm', 'elf', 'raw') overrides detection.

    A ``.fenn`` program (a compiled network, run by ``fenn-dma run``) is refused
    unless ``kind`` says otherwise; a detected raw image must be a non-empty
    whole number of 4-byte instructions. With ``require_code`` a program without
    instructions (an empty IMEM image) is refused too."""
    detected = kind is None
    kind = kind or file_kind(path)
    if kind == "asm":
        from .assembler import assemble_file    # here: an ELF or raw image starts without the assembler
        program = assemble_file(path)
    elif kind == "elf":
        program = load_elf(path)
    elif kind == "raw":
        program = load_raw(path)
        size = len(program.images["imem"])
        if detected and (size == 0 or size % 4):
            raise ProgramFileError(f"{path}: a raw IMEM image of {size} bytes; a raw program must hold a "
                                   "whole, non-zero number of 4-byte instructions (or give .s source or an ELF)")
        first = int.from_bytes(program.images["imem"][:4], "little")
        if detected and try_decode(first) is None:
            raise ProgramFileError(f"{path}: its first word 0x{first:08x}, where a raw program starts, is no "
                                   "instruction of this ISA; a raw program is an IMEM image as `fenn-dma asm "
                                   "--format raw` writes it (is this file something else?)")
    elif kind == "fenn":
        raise ProgramFileError(f"{path} is a .fenn program (a compiled network), not a program image; "
                               f"run it with `fenn-dma run {path}`, or look inside with `fenn-dma inspect`")
    else:
        raise ValueError(f"unknown program file kind {kind!r}")
    if require_code and not program.images.get("imem"):
        raise ProgramFileError(f"{path}: the program has no instructions (its IMEM image is empty)")
    return program
