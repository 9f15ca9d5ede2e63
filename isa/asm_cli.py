"""`fenn-dma asm FILE.s -o OUT [--format raw|elf] [--listing]`."""
from __future__ import annotations

import argparse
from pathlib import Path

from fenn_dma.boundary import check_output, write_outputs

from .assembler import assemble_file
from .disassembler import code_labels, disassemble_word
from .elf import elf_bytes, raw_paths
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
    fmt = args.format
    out = args.output
    if fmt is None:
        fmt = "elf" if out and out.endswith(".elf") else "raw"
    if out is None:
        out = str(Path(args.source).with_suffix(".elf" if fmt == "elf" else ".bin"))
    check_output(out, "-o")
    program = assemble_file(args.source)
    if fmt == "elf":
        written = [str(p) for p in write_outputs({out: elf_bytes(program)})]
    else:
        # As elf.write_raw: IMEM always, DMEM/VMEM when not empty; a stale one is removed.
        paths = raw_paths(out)
        images = {m: program.images.get(m, b"") for m in paths}
        written = [str(p) for p in write_outputs({paths[m]: image for m, image in images.items()
                                                  if image or m == "imem"})]
        for m, p in paths.items():
            if not images[m] and m != "imem" and p.exists():
                p.unlink()
    if args.listing:
        print(listing(program))
    sizes = ", ".join(f"{m} {len(b)} bytes" for m, b in program.images.items())
    print(f"wrote {', '.join(written)} ({sizes or 'empty'})")
    return 0
