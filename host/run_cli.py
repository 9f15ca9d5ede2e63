"""`fenn-dma run model.fenn --input spikes.npz --steps N -o out.npz`: run a
compiled program on the ISS.

``spikes.npz`` holds one array per spike source, named like the population:
``(steps, size)`` for one sample or ``(batch, steps, size)`` for several (each
run from the initial state). ``out.npz`` holds every record (``hidden.spikes``,
``output.v``: (steps, size) or (batch, steps, size)) and readout
(``output.readout``), plus ``instructions`` and ``cycles``.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from fenn_dma.boundary import check_output, load_npz, positive_int, write_outputs
from fenn_dma.compiler.validate import spike_array
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.cli_machine import add_profile_argument, resolve_profile

COMMAND = "run"
HELP = "run a .fenn program with inputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", metavar="PROGRAM.fenn", help="a program written by `fenn-dma compile`")
    parser.add_argument("--input", metavar="SPIKES.npz",
                        help="an .npz (np.savez) with one array per spike source, keyed by the source's population "
                             "name: (steps, size) for one sample, or (batch, steps, size) for several, each run from "
                             "the initial state; bool, or integers/floats that are all 0 or 1 "
                             "(omit if the program has no spike source)")
    parser.add_argument("--steps", type=positive_int,
                        help="timesteps to run (default: the inputs' length; needed without inputs)")
    parser.add_argument("-o", "--output", metavar="OUT.npz",
                        help="write records, readouts, instructions and cycles (default: only print a summary)")
    parser.add_argument("--engine", choices=("fast", "reference", "auto"), default="auto",
                        help="ISS engine (default auto)")
    add_profile_argument(parser, default=None, default_text="the machine the program was compiled for; "
                                                            "another machine is refused unless it matches")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def run(args: argparse.Namespace) -> int:
    if args.output:
        check_output(args.output, "-o")
    program = load(args.program)
    inputs = load_npz(args.input, "--input") if args.input else {}
    if not inputs and args.steps is None and program.io["inputs"]:
        raise ModelError("give --input spikes.npz (the program has spike sources)")
    config = None
    if args.profile:
        from fenn_dma.sim import MachineConfig
        config = MachineConfig.from_spec(resolve_profile(args))
    for name, a in inputs.items():
        if name in program.io["inputs"]:
            inputs[name] = spike_array(name, a, program.io["inputs"][name]["size"], batch=None)
    rt = Runtime(program, engine=args.engine, config=config)
    batched = any(np.ndim(a) == 3 for a in inputs.values())
    if batched:
        out = rt.run_batch(inputs, args.steps)
    else:
        out = rt.run(inputs, args.steps)
    arrays = {k: v for k, v in out.records.items()}
    arrays.update({f"{k}.readout": v for k, v in out.readouts.items()})
    arrays["instructions"] = np.int64(out.instructions)
    arrays["cycles"] = np.int64(out.cycles)
    if args.output:
        write_outputs({Path(args.output): _npz_bytes(arrays)})
    steps = next((v.shape[-2] for v in out.records.values()), args.steps)
    print(f"{program.name}: {steps} steps, {out.instructions} instructions, {out.cycles} cycles")
    for k, v in out.readouts.items():
        print(f"  readout {k}: {np.array2string(np.asarray(v), max_line_width=100, threshold=12)}")
    if args.output:
        print(f"wrote {args.output}")
    return 0
