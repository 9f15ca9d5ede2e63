"""`fenn-dma rtl`: write the SoC's Verilog and a JSON description of its ports."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

COMMAND = "rtl"
HELP = "write the SoC's Verilog and port description"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .config import PROFILES
    parser.add_argument("--profile", default="kv260", choices=sorted(PROFILES),
                        help="named SoC configuration (memory sizes, options)")
    parser.add_argument("--full-m", action=argparse.BooleanOptionalAction, default=None,
                        help="build the whole M extension (default: the profile's choice)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output directory")


def run(args: argparse.Namespace) -> int:
    from .config import profile
    from .generate import write
    config = profile(args.profile)
    if args.full_m is not None:
        config = replace(config, full_m=args.full_m)
    print(f"fenn-dma rtl: elaborating profile {args.profile} "
          f"(IMEM {config.imem_size} B, DMEM {config.dmem_size} B, full M {config.full_m})")
    v_path, j_path = write(config, args.output)
    print(f"wrote {v_path} and {j_path}")
    return 0
