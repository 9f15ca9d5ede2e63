"""`fenn-dma asm FILE.s -o OUT [--format raw|elf] [--listing]`."""
from __future__ import annotations

import argparse
from pathlib import Path

from .assembler import assemble_file
from .disassembler import code_labels, disassemble_word
from .elf import write_elf, write_raw
from .program import Program

COMMAND = "asm"
HELP = "assemble a .s file to a raw binary or ELF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="FILE.s", help="assembler source")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="output file (default: FILE.elf or FILE.bin by --format)")
    parser.add_argument("--format", choices=("raw", "elf"),
                        help="elf: one ELF32 RISC-V executable; raw: IMEM image in OUT plus OUT.dmem and "
                             "OUT.vmem when those are not empty (default: elf if OUT ends in .elf, else raw)")
    parser.add_argument("--listing", action="store_true",
                        help="print address, word, disassembly and source line of every instruction")


def listing(program: Program) -> str:
    lines = []
    labels = code_labels(program)
    for k, word in enumerate(program.words):
        pc = 4 * k
        for name in labels.get(pc, ()):
            lines.append(f"{name}:")
        loc = program.source_map.get(pc)
        src = f"{loc.line:>5}  {loc.text}" if loc else ""
        lines.append(f"  {pc:08x}:  {word:08x}  {disassemble_word(word, pc):<36} {src}".rstrip())
    for memory in ("dmem", "vmem"):
        if program.images.get(memory):
            lines.append(f"{memory}: {len(program.images[memory])} bytes")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    program = assemble_file(args.source)
    fmt = args.format
    out = args.output
    if fmt is None:
        fmt = "elf" if out and out.endswith(".elf") else "raw"
    if out is None:
        out = str(Path(args.source).with_suffix(".elf" if fmt == "elf" else ".bin"))
    if fmt == "elf":
        write_elf(program, out)
        written = [out]
    else:
        written = [str(p) for p in write_raw(program, out)]
    if args.listing:
        print(listing(program))
    sizes = ", ".join(f"{m} {len(b)} bytes" for m, b in program.images.items())
    print(f"wrote {', '.join(written)} ({sizes or 'empty'})")
    return 0
