"""`fenn-dma compile MODEL -o model.fenn`: the compiler's part of the command.

MODEL here is a Python file defining ``build()`` -> Network, or a ``.nir``
graph; the command the CLI registers (``fenn_dma.host.compile_cli``) adds a
trained network (a ``fenn-dma train`` run folder or its ``network.npz``) and
calibration data sets, and then compiles through :func:`compile_deployment`.

What the quantiser gets (docs/compiler.md, "Deploying a trained network"):
the formats the model declares (a trained network's recorded ones), value
ranges measured on the calibration inputs for the others, the rounding
(``--rounding``, else the one recorded, else nearest), and ``v_sum`` readouts
sized for ``--steps``, else the calibration inputs' steps, else the steps the
model records, else 1000. After calibration the fixed-point reference runs the
calibration inputs and every population whose values hit the int16 rails is
named on stderr with the format to widen (``compiler/saturation.py``). The
choices are recorded in the program's ``metadata["deploy"]``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fenn_dma.boundary import check_output, finite_float, load_npz, nonnegative_int, positive_int, write_outputs
from fenn_dma.cli_machine import add_profile_argument, resolve_profile

from .codegen import CompileOptions, MachineSizes
from .codegen.delay_ring_layout import RING_MEMORIES
from .codegen.layout import RECORD_MEMORIES
from .errors import ModelError
from .fixedpoint import ROUNDINGS
from .model import Network
from .pipeline import compile_model, load_model

COMMAND = "compile"
HELP = "compile a model to a .fenn program"
DEFAULT_STEPS = 1000        # the run length a v_sum readout is sized for when nothing says otherwise
MODEL_HELP = "model.py (defines build()) or graph.nir"
CALIBRATE_HELP = ("calibration inputs: an .npz with one (batch, steps, size) spike array per spike source "
                  "(np.savez('cal.npz', input=spikes)); the formats the model does not declare are measured on "
                  "them, v_sum readouts are sized for their steps, and saturation is checked on them")


@dataclass
class Deployment:
    """What is compiled: the model and what its source records."""

    net: Network
    source: str                          # e.g. "model.py", "graph.nir", "run folder runs/a (network.npz)"
    n_steps: int | None = None           # steps per sample the source records (a trained network's)
    rounding: str | None = None          # the rounding the source records
    calibration: dict[str, np.ndarray] | None = None     # {spike source: (B, T, size)} spikes
    calibration_spec: str | None = None  # where they came from (file, data set spec)
    labels: np.ndarray | None = None     # (B,) labels of the calibration samples, when known
    extra: dict = field(default_factory=dict)             # recorded with the program (metadata["deploy"])


def add_arguments(parser: argparse.ArgumentParser, model_help: str = MODEL_HELP,
                  calibrate_help: str = CALIBRATE_HELP, output_help: str = "program file (default: MODEL.fenn)") -> None:
    parser.add_argument("model", metavar="MODEL", help=model_help)
    parser.add_argument("-o", "--output", metavar="OUT.fenn", help=output_help)
    parser.add_argument("--calibrate", metavar="SPEC", help=calibrate_help)
    parser.add_argument("--rounding", choices=ROUNDINGS, default=None,
                        help="rounding of every multiply (default: the one the trained network records, else nearest)")
    parser.add_argument("--seed", type=nonnegative_int, default=1,
                        help="seed of the per-lane RNG state (stochastic rounding)")
    parser.add_argument("--steps", type=positive_int,
                        help="run length a v_sum readout is sized for (default: the calibration inputs' steps, "
                             f"else the steps the trained network records, else {DEFAULT_STEPS})")
    parser.add_argument("--window", type=positive_int, default=1024, help="most steps per firmware call (buffers)")
    parser.add_argument("--delay-ring", choices=RING_MEMORIES, default="auto",
                        help="memory of the delay rings: the LLM, VMEM, or auto (the LLM while it fits; default)")
    parser.add_argument("--record-memory", choices=RECORD_MEMORIES, default="auto",
                        help="where V records collect: vmem; dram (S2MM copies each step's rows out, a machine "
                             "with the DMA); auto (default): dram where VMEM would shorten the window")
    parser.add_argument("--dt", type=finite_float(0, above=True), default=None,
                        help="step in ms of a NIR graph (default: the graph's own, from its metadata or "
                             "snnTorch's r = tau/dt; an error when it says none)")
    add_profile_argument(parser)
    parser.add_argument("--vmem", type=positive_int, help="VMEM bytes of the target (default: the profile's)")
    parser.add_argument("--dmem", type=positive_int, help="DMEM bytes of the target (default: the profile's)")
    parser.add_argument("--listing", metavar="FILE.s",
                        help="also write the generated assembly (both files are written, or neither)")


def load_deployment(path: str | Path, dt: float | None = None) -> Deployment:
    """A model file (``.py`` or ``.nir``) as a :class:`Deployment`; a NIR graph's
    metadata gives the steps and rounding it records (a trained network's)."""
    path = Path(path)
    if path.suffix == ".nir" and path.is_file():
        from .nir_import import from_nir, load_graph
        graph = load_graph(path)
        meta = dict(graph.metadata or {})
        steps = _int_or_none(meta.get("n_steps"))
        rounding = str(meta.get("rounding") or "") or None
        if rounding is not None and rounding not in ROUNDINGS:
            raise ModelError(f"{path}: graph metadata rounding {rounding!r}; allowed: {', '.join(ROUNDINGS)}")
        return Deployment(from_nir(graph, dt=dt, name=path.stem), str(path), steps, rounding)
    return Deployment(load_model(path, dt=dt), str(path))


def _int_or_none(value) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def calibration_file(path: str | Path, net: Network, option: str = "--calibrate") -> dict[str, np.ndarray]:
    """The spike arrays of a calibration ``.npz`` (one (batch, steps, size) array per spike source)."""
    return calibration_arrays(load_npz(path, option), net, f"{option} {path}")


def calibration_arrays(arrays: dict, net: Network, what: str) -> dict[str, np.ndarray]:
    """``arrays`` checked as calibration inputs of ``net``: one (batch, steps, size)
    spike array per spike source, named like it; ``what`` names them in errors."""
    from .validate import spike_array
    sources = {p.name: p for p in net.populations.values() if p.is_input}
    if sorted(arrays) != sorted(sources):
        raise ModelError(f"{what}: arrays {sorted(arrays)}; expected one per spike source of the model, "
                         f"named like it: {sorted(sources)}")
    try:
        out = {k: spike_array(k, a, sources[k].size, batch=True) for k, a in arrays.items()}
    except ModelError as exc:
        raise ModelError(f"{what}: {exc}") from None
    if any(a.shape[0] == 0 or a.shape[1] == 0 for a in out.values()):
        raise ModelError(f"{what}: no sample or no step (shapes {[a.shape for a in out.values()]})")
    return out


def readout_steps(args_steps: int | None, dep: Deployment) -> tuple[int, str]:
    """(steps a v_sum readout is sized for, where that came from)."""
    if args_steps is not None:
        return args_steps, "--steps"
    if dep.calibration:
        return min(a.shape[1] for a in dep.calibration.values()), "calibration inputs"
    if dep.n_steps:
        return dep.n_steps, "trained network"
    return DEFAULT_STEPS, "default"


def check_outputs(args: argparse.Namespace) -> Path:
    """The program's path, after checking it (and the listing's) can be written: before any work."""
    out = check_output(args.output or Path(args.model).with_suffix(".fenn"), "-o")
    if args.listing:
        check_output(args.listing, "--listing")
    return out


def build_program(dep: Deployment, rounding: str | None = None, seed: int = 1, steps: int | None = None,
                  options: CompileOptions | None = None):
    """Compile a :class:`Deployment` (the Python API of ``fenn-dma compile``):
    ``(program, qnet, report)``, ``report`` the :class:`~fenn_dma.compiler.saturation.SaturationReport`
    of the calibration inputs on the fixed-point reference (None without them).
    ``rounding`` / ``steps``: None for the recorded ones (module docstring); the
    choices are in ``program.metadata["deploy"]``."""
    from .quantise import calibrate
    from .saturation import count_reference

    steps, steps_from = readout_steps(steps, dep)
    rounding = rounding or dep.rounding or "nearest"
    measured = calibrate(dep.net, dep.calibration) if dep.calibration else None
    program, qnet = compile_model(dep.net, rounding=rounding, seed=seed, n_steps=steps,
                                  options=options or CompileOptions(), measured=measured)
    deploy = {"source": dep.source, "rounding": rounding, "readout_steps": steps, "readout_steps_from": steps_from,
              "formats_declared": sorted(f"{p.name}.{v}" for p in dep.net.populations.values() for v in p.formats),
              **dep.extra}
    report = None
    if dep.calibration:
        report = count_reference(qnet, dep.calibration)
        deploy.update(calibration=dep.calibration_spec, calibration_samples=report.samples,
                      saturation=report.to_dict())
        if dep.labels is not None:
            deploy["calibration_accuracy"] = _accuracy(report.readouts, dep.labels)
    program.metadata["deploy"] = deploy
    return program, qnet, report


def compile_deployment(args: argparse.Namespace, dep: Deployment) -> int:
    """:func:`build_program` with the command's options, then write the program (and
    listing) all-or-none; prints a summary and any saturation warnings (stderr)."""
    out = check_outputs(args)
    sizes = MachineSizes.from_spec(resolve_profile(args))
    if args.vmem:
        sizes.vmem = args.vmem
    if args.dmem:
        sizes.dmem = args.dmem
    program, _, report = build_program(dep, args.rounding, args.seed, args.steps,
                                       CompileOptions(window=args.window, record_memory=args.record_memory,
                                                      sizes=sizes, delay_ring=args.delay_ring))
    deploy = program.metadata["deploy"]
    outputs = {out: program.save}
    if args.listing:
        outputs[args.listing] = program.listing
    write_outputs(outputs)
    m = program.metadata
    print(f"wrote {out}: {m['instructions']} instructions, "
          + ", ".join(f"{k} {program.plan.used[k]} B" for k in ("dmem", "vmem", "llm"))
          + f", window {m['window']} steps, compiled in {m['compile_seconds']:.3f} s")
    print("  formats: " + ", ".join(f"{k} {v}" for k, v in program.formats.items() if not k.endswith(".decays"))
          + f"; rounding {deploy['rounding']}; v_sum readouts sized for {deploy['readout_steps']} steps "
          + f"({deploy['readout_steps_from']})")
    if report is not None:
        acc = deploy.get("calibration_accuracy")
        print(f"  calibration: {dep.calibration_spec}, {report.samples} samples of {report.steps} steps"
              + (f", accuracy {100 * acc:.2f} % on the fixed-point reference" if acc is not None else "")
              + ("" if report.saturated() else "; no value hit the int16 rails"))
        for line in report.warnings():
            print(f"warning: {line}", file=sys.stderr)
    else:
        hint = dep.extra.get("trained", {}).get("calibration")
        print("  saturation not checked: no calibration inputs (--calibrate "
              + (f"{hint}, the trainer's)" if hint else "SPEC)"))
    return 0


def _accuracy(readouts: dict[str, np.ndarray], labels: np.ndarray) -> float | None:
    """Argmax accuracy of the one readout population (None with several)."""
    if len(readouts) != 1:
        return None
    scores = next(iter(readouts.values()))
    return float(np.mean(scores.argmax(1) == np.asarray(labels))) if len(scores) else None


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    dep = load_deployment(args.model, dt=args.dt)
    if args.calibrate:
        dep.calibration = calibration_file(args.calibrate, dep.net)
        dep.calibration_spec = str(args.calibrate)
    return compile_deployment(args, dep)
