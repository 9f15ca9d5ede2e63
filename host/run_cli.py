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
import os
import tempfile
from pathlib import Path

import numpy as np

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.cli_machine import add_profile_argument, resolve_profile

COMMAND = "run"
HELP = "run a .fenn program with inputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", metavar="PROGRAM.fenn")
    parser.add_argument("--input", metavar="SPIKES.npz", help="spikes per spike source (omit if there are none)")
    parser.add_argument("--steps", type=int, help="timesteps to run (default: the inputs' length)")
    parser.add_argument("-o", "--output", metavar="OUT.npz", help="records and readouts (default: print a summary)")
    parser.add_argument("--engine", choices=("fast", "reference", "auto"), default="auto",
                        help="ISS engine (default auto)")
    add_profile_argument(parser, default=None, default_text="the machine the program was compiled for; "
                                                            "another machine is refused unless it matches")


def _save_npz(path: Path, arrays: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".npz", dir=path.parent or ".")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args: argparse.Namespace) -> int:
    program = load(args.program)
    inputs = {}
    if args.input:
        try:
            with np.load(args.input) as z:
                inputs = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{args.input}: cannot read spikes ({exc})") from None
    if not inputs and args.steps is None and program.io["inputs"]:
        raise ModelError("give --input spikes.npz (the program has spike sources)")
    config = None
    if args.profile:
        from fenn_dma.sim import MachineConfig
        config = MachineConfig.from_spec(resolve_profile(args))
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
    steps = next((v.shape[-2] for v in out.records.values()), args.steps)
    print(f"{program.name}: {steps} steps, {out.instructions} instructions, {out.cycles} cycles")
    for k, v in out.readouts.items():
        print(f"  readout {k}: {np.array2string(np.asarray(v), max_line_width=100, threshold=12)}")
    if args.output:
        _save_npz(Path(args.output), arrays)
        print(f"wrote {args.output}")
    return 0
