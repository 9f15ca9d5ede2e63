"""`fenn-dma inspect model.fenn`: memory map, instructions per kernel, formats, I/O."""
from __future__ import annotations

import argparse

from .fennfile import load

COMMAND = "inspect"
HELP = "show a .fenn program's memory map and kernels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", metavar="PROGRAM.fenn", help="a compiled program (fenn-dma compile -o)")
    parser.add_argument("--listing", action="store_true", help="also print the generated assembly")


def describe(p) -> str:
    m = p.metadata
    lines = [f"{p.name}: .fenn version {p.version}, dt {m.get('dt_ms')} ms, rounding {m.get('rounding')}, "
             f"window {m.get('window')} steps",
             "", "populations:"]
    for name, d in m.get("populations", {}).items():
        lines.append(f"  {name:<20} {d['kind']:<6} {d['size']:>6} neurons")
    lines += ["", "connections:"]
    for name, d in m.get("connections", {}).items():
        lines.append(f"  {name:<28} {'sparse' if d['sparse'] else 'dense':<6} {d['mode']:<6} latency {d['latency']}"
                     + (f"  weights in {d['placement'].upper()}" if "placement" in d else ""))
    lines += ["", f"machine: {p.machine.describe()}", "", "memory map:", p.plan.table(), "",
              "instructions per kernel (static):"]
    for k, n in p.kernels.items():
        lines.append(f"  {k:<28} {n:>6}")
    lines.append(f"  {'total':<28} {sum(p.kernels.values()):>6}  "
                 f"(load-use slots filled {m.get('load_use_slots_filled')}, nops {m.get('nops')})")
    lines += ["", "fixed-point formats:"] + [f"  {k:<24} {v}" for k, v in p.formats.items()]
    lines += ["", "inputs:"] + [f"  {k}: {v['size']} neurons, {v['words']} words per step at dmem 0x{v['addr']:x}"
                                for k, v in p.io["inputs"].items()]
    lines += ["outputs:"] + [f"  record {k}: {v['memory']} 0x{v['addr']:x}" for k, v in p.io["records"].items()]
    lines += [f"  readout {k} ({v['kind']}): vmem 0x{v['addr']:x}" for k, v in p.io["readouts"].items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    p = load(args.program)
    print(describe(p))
    if args.listing:
        print()
        print(p.listing)
    return 0
