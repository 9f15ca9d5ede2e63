"""`fenn-dma sim`: the ISS's command (sim/sim_cli.py: its options, report and
JSON state) with the RTL backend added here, since the simulator package does
not depend on the RTL (tests/test_layering.py)."""
from __future__ import annotations

import argparse

from fenn_dma.sim import sim_cli as iss_cli

COMMAND, HELP = iss_cli.COMMAND, iss_cli.HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    iss_cli.add_arguments(parser)
    # The names only (not .runner, which imports the RTL and Amaranth: the ISS backend starts without them).
    parser.add_argument("--rtl-harness", choices=("native", "cocotb"), default="native",
                        help="with --backend rtl: the native C++ run loop (fast; --trace writes VCD or FST waves) "
                             "or the cocotb testbench")


def run(args: argparse.Namespace) -> int:
    if args.backend == "rtl":
        from .runner import run_cli
        return run_cli(args)
    return iss_cli.run(args)
