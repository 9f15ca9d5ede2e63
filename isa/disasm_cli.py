"""`fenn-dma disasm FILE [--raw|--elf]`: list the IMEM of a program file."""
from __future__ import annotations

import argparse

from .disassembler import disassemble
from .loader import load_program

COMMAND = "disasm"
HELP = "disassemble a raw binary or ELF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="ELF executable, raw IMEM image or .s source")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--raw", dest="kind", action="store_const", const="raw",
                      help="read FILE as a raw little-endian IMEM image")
    kind.add_argument("--elf", dest="kind", action="store_const", const="elf", help="read FILE as ELF")
    parser.add_argument("--no-abi", action="store_true", help="print x0-x31 instead of ABI register names")


def run(args: argparse.Namespace) -> int:
    program = load_program(args.file, args.kind)
    print(disassemble(program, abi=not args.no_abi), end="")
    for memory in ("dmem", "vmem"):
        if program.images.get(memory):
            print(f"# {memory}: {len(program.images[memory])} bytes")
    return 0
