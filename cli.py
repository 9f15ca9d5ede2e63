"""`fenn-dma` command line: one entry point, one subcommand per module.

Each subcommand module defines ``COMMAND`` (its name), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only
when their command runs, so `fenn-dma asm` does not import torch or amaranth.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from fenn_dma.boundary import HelpFormatter
from fenn_dma.errors import FennError

# name -> (module, one-line help); kept here so `--help` needs no imports.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "asm": ("fenn_dma.isa.asm_cli", "assemble a .s file to a raw binary or ELF"),
    "disasm": ("fenn_dma.isa.disasm_cli", "disassemble a raw binary or ELF"),
    "sim": ("fenn_dma.verify.sim_cli", "run a program on the ISS (or the RTL) and report its final state"),
    "demo": ("fenn_dma.demo", "train, compile and run a Yin-Yang classifier on the ISS and the RTL"),
    "rtl": ("fenn_dma.rtl.rtl_cli", "write the SoC's Verilog and port description"),
    "train": ("fenn_dma.host.train_cli", "train a spiking network (PyTorch)"),
    "compile": ("fenn_dma.host.compile_cli", "compile a model or a trained network to a .fenn program"),
    "inspect": ("fenn_dma.compiler.inspect_cli", "show a .fenn program's memory map and kernels"),
    "run": ("fenn_dma.host.run_cli", "run a .fenn program on a device (ISS, RTL), or evaluate it on a data set"),
    "devices": ("fenn_dma.host.devices.cli", "list the devices a program can run on here, and why the others cannot"),
    "synth-shd": ("fenn_dma.host.synth_shd_cli", "make the SYNTHETIC SHD-format spoken-digit set (espeak-ng + lauscher)"),
    "synth": ("fenn_dma.boards.synth_cli", "build the SoC for a board (ECP5 bitstream, KV260 Vivado project)"),
}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version
    try:
        return package_version("fenn-dma")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """--version, reading the installed package's metadata only when asked (importlib.metadata
    costs more than the rest of `fenn-dma sim`'s argument parsing)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show the program's version number and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        parser._print_message(f"{parser.prog} {version()}\n", sys.stdout)
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (a known command) that command's subparser alone, with its
    arguments (each subparser costs start-up time; `fenn-dma --help` lists them all)."""
    parser = argparse.ArgumentParser(prog="fenn-dma", description="FeNN-DMA tools", formatter_class=HelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        if name == only:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in SUBCOMMANDS:
        command = None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        rc = int(module.run(args) or 0)
        sys.stdout.flush()
        return rc
    except FennError as exc:
        print(f"fenn-dma {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`fenn-dma inspect x.fenn | head`): stop quietly, as cat does.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except KeyboardInterrupt:
        print(f"fenn-dma {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
