"""`fenn-dma rtl`: write the SoC's Verilog and a JSON description of its ports."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

COMMAND = "rtl"
HELP = "write the SoC's Verilog and port description"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fenn_dma.cli_machine import add_profile_argument
    add_profile_argument(parser)
    parser.add_argument("--full-m", action=argparse.BooleanOptionalAction, default=None,
                        help="build the whole M extension (default: the profile's choice)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output directory")


def run(args: argparse.Namespace) -> int:
    from fenn_dma.boundary import output_folder
    from fenn_dma.cli_machine import resolve_profile

    from .config import SocConfig
    output_folder(args.output, "-o")
    from .generate import write
    config = SocConfig.from_spec(resolve_profile(args))
    if args.full_m is not None:
        config = replace(config, full_m=args.full_m)
    print(f"fenn-dma rtl: elaborating profile {args.profile} "
          f"(IMEM {config.imem_size} B, DMEM {config.dmem_size} B, full M {config.full_m})")
    v_path, j_path = write(config, args.output)
    print(f"wrote {v_path} and {j_path}")
    return 0
