"""`fenn-dma compile MODEL -o model.fenn`: MODEL is a Python file defining
``build()`` -> Network, or a ``.nir`` graph."""
from __future__ import annotations

import argparse
from pathlib import Path

from fenn_dma.boundary import check_output, finite_float, nonnegative_int, positive_int, write_outputs
from fenn_dma.cli_machine import add_profile_argument, resolve_profile

from .codegen import CompileOptions, MachineSizes
from .fixedpoint import ROUNDINGS
from .pipeline import compile_model, load_model

COMMAND = "compile"
HELP = "compile a model to a .fenn program"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model.py (defines build()) or graph.nir")
    parser.add_argument("-o", "--output", metavar="OUT.fenn", help="program file (default: MODEL.fenn)")
    parser.add_argument("--rounding", choices=ROUNDINGS, default="nearest",
                        help="rounding of every multiply (default nearest)")
    parser.add_argument("--seed", type=nonnegative_int, default=1,
                        help="seed of the per-lane RNG state (stochastic rounding)")
    parser.add_argument("--steps", type=positive_int, default=1000, help="run length a v_sum readout is sized for")
    parser.add_argument("--window", type=positive_int, default=1024, help="most steps per firmware call (buffers)")
    parser.add_argument("--dt", type=finite_float(0, above=True), default=None,
                        help="step in ms of a NIR graph (default: the graph's own, from its metadata or "
                             "snnTorch's r = tau/dt; an error when it says none)")
    add_profile_argument(parser)
    parser.add_argument("--vmem", type=positive_int, help="VMEM bytes of the target (default: the profile's)")
    parser.add_argument("--dmem", type=positive_int, help="DMEM bytes of the target (default: the profile's)")
    parser.add_argument("--listing", metavar="FILE.s",
                        help="also write the generated assembly (both files are written, or neither)")


def run(args: argparse.Namespace) -> int:
    out = check_output(args.output or Path(args.model).with_suffix(".fenn"), "-o")
    if args.listing:
        check_output(args.listing, "--listing")
    net = load_model(args.model, dt=args.dt)
    sizes = MachineSizes.from_spec(resolve_profile(args))
    if args.vmem:
        sizes.vmem = args.vmem
    if args.dmem:
        sizes.dmem = args.dmem
    program, _ = compile_model(net, rounding=args.rounding, seed=args.seed, n_steps=args.steps,
                               options=CompileOptions(window=args.window, sizes=sizes))
    outputs = {out: program.save}
    if args.listing:
        outputs[args.listing] = program.listing
    write_outputs(outputs)
    m = program.metadata
    print(f"wrote {out}: {m['instructions']} instructions, "
          + ", ".join(f"{k} {program.plan.used[k]} B" for k in ("dmem", "vmem", "llm"))
          + f", window {m['window']} steps, compiled in {m['compile_seconds']:.3f} s")
    return 0
