"""`fenn-dma run model.fenn [--device iss|rtl] --input spikes.npz --steps N -o out.npz`:
run a compiled program on a device; `--dataset NAME --split test` evaluates its
accuracy on a built-in data set instead.

``spikes.npz`` holds one array per spike source, named like the population:
``(steps, size)`` for one sample or ``(batch, steps, size)`` for several (each
run from the initial state). ``out.npz`` holds every record (``hidden.spikes``,
``output.v``: (steps, size) or (batch, steps, size)) and readout
(``output.readout``), plus ``instructions``, ``cycles`` and the DMA payload bytes
``dma_bytes``, ``dma_mm2s_bytes``, ``dma_s2mm_bytes`` (per sample for a batch,
with ``us`` at the machine's clock). With ``--dataset`` it also holds
``predictions``, ``labels`` and ``confusion``; ``--report`` writes the summary as
JSON. Every output is written atomically, all or none.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fenn_dma.boundary import check_output, load_npz, positive_int, write_outputs
from fenn_dma.cli_machine import add_profile_argument
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.validate import spike_array

COMMAND = "run"
HELP = "run a .fenn program on a device (ISS, RTL), or evaluate it on a data set"
DEVICES = ("iss", "rtl", "kv260", "ecp5:PORT")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", metavar="PROGRAM.fenn", help="a program written by `fenn-dma compile`")
    parser.add_argument("--device", default="iss", metavar="DEVICE",
                        help=f"where to run it: {', '.join(DEVICES)} (`fenn-dma devices` lists the ones usable "
                             "here; default iss)")
    parser.add_argument("--input", metavar="SPIKES.npz",
                        help="an .npz (np.savez) with one array per spike source, keyed by the source's population "
                             "name: (steps, size) for one sample, or (batch, steps, size) for several, each run from "
                             "the initial state; bool, or integers/floats that are all 0 or 1 "
                             "(omit if the program has no spike source)")
    parser.add_argument("--dataset", metavar="NAME",
                        help="evaluate on a built-in data set instead of --input (yinyang, digits, shd, ssc): "
                             "accuracy of the readout's argmax, confusion matrix, cycles and time per sample")
    parser.add_argument("--split", default="test", help="the data set's split to evaluate (default test)")
    parser.add_argument("--limit", type=positive_int, help="evaluate only the split's first N samples (default all)")
    parser.add_argument("--dataset-steps", type=positive_int, metavar="N",
                        help="encode the data set over N steps (default: the data set's own, as in training)")
    parser.add_argument("--steps", type=positive_int,
                        help="timesteps to run (default: the inputs' length; needed without inputs)")
    parser.add_argument("-o", "--output", metavar="OUT.npz",
                        help="write records, readouts, instructions and cycles (default: only print a summary)")
    parser.add_argument("--report", metavar="REPORT.json",
                        help="write the summary (accuracy, confusion, cycles and us per sample) as JSON "
                             "(default: none)")
    parser.add_argument("--engine", choices=("fast", "reference", "auto"), default="auto",
                        help="ISS engine (--device iss only; default auto)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="processes to spread a batch over (default 1: this process)")
    parser.add_argument("--max-cycles", type=positive_int, metavar="N",
                        help="cycle limit of one firmware call (default 10^9)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: on a terminal, for long batches)")
    add_profile_argument(parser, default=None, default_text="the machine the program was compiled for; "
                                                            "another machine is refused unless it matches")
    from fenn_dma.sim.sim_cli import add_dram_arguments
    add_dram_arguments(parser)       # the iss and rtl devices' DRAM model (a board has its own DRAM)


def _npz_bytes(arrays: dict) -> bytes:
    import io
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _open(args):
    from fenn_dma.host.devices import DEFAULT_MAX_CYCLES, open_device
    options = {"engine": args.engine} if args.device == "iss" else {}
    if args.dram_timing or args.dram_stall or args.dram_seed != 1:
        if args.device.partition(":")[0] not in ("iss", "rtl"):
            from fenn_dma.host.devices.errors import DeviceError
            raise DeviceError(f"--dram-timing, --dram-stall and --dram-seed set the simulated DRAM of the iss and "
                              f"rtl devices; {args.device} has its own DRAM")
        from fenn_dma.dram import DramTiming, DEFAULT_PRESET
        from fenn_dma.sim.sim_cli import dram_timing
        options["dram"] = dram_timing(args, DramTiming.preset(DEFAULT_PRESET))
    return open_device(args.device, args.profile, max_cycles=args.max_cycles or DEFAULT_MAX_CYCLES, **options)


def run(args: argparse.Namespace) -> int:
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.host.devices.results import dma_summary
    outputs = {}
    for path, option in ((args.output, "-o"), (args.report, "--report")):
        if path:
            outputs[option] = check_output(path, option)
    if args.dataset and args.input:
        raise ModelError("give --input or --dataset, not both")
    program = load(args.program)
    if args.dataset:
        return _evaluate(args, program, outputs)
    inputs = load_npz(args.input, "--input") if args.input else {}
    if not inputs and args.steps is None and program.io["inputs"]:
        raise ModelError("give --input spikes.npz or --dataset NAME (the program has spike sources)")
    for name, a in inputs.items():
        if name in program.io["inputs"]:
            inputs[name] = spike_array(name, a, program.io["inputs"][name]["size"], batch=None)
    batched = any(np.ndim(a) == 3 for a in inputs.values())
    with _open(args) as dev:
        dev.load(program)
        if batched:
            res = dev.run_batch(inputs, args.steps, workers=args.workers, progress=args.progress)
            arrays, readouts = res.arrays(), res.readouts
            summary = {"samples": res.samples, "cycles_per_sample": float(res.cycles.mean()),
                       "us_per_sample": float(res.microseconds.mean()), **dma_summary(res)}
            instructions, cycles = int(res.instructions.sum()), int(res.cycles.sum())
        else:
            out = dev.run(args.steps, inputs)
            arrays = dict(out.records)
            arrays.update({f"{k}.readout": v for k, v in out.readouts.items()})
            arrays.update(instructions=np.int64(out.instructions), cycles=np.int64(out.cycles))
            dma = {"dma_bytes": out.dma_bytes, "dma_mm2s_bytes": out.dma_mm2s_bytes,
                   "dma_s2mm_bytes": out.dma_s2mm_bytes}
            if out.dma_bytes is not None:
                arrays.update({k: np.int64(v) for k, v in dma.items()})
            readouts, instructions, cycles = out.readouts, out.instructions, out.cycles
            summary = {"samples": 1, "cycles_per_sample": float(cycles), "us_per_sample": cycles / dev.clock_mhz,
                       **{f"{k}_per_sample": v for k, v in dma.items()}, "dma_bytes": out.dma_bytes}
        summary.update(device=dev.name, machine=dev.spec.name, clock_mhz=dev.clock_mhz, instructions=instructions,
                       cycles=cycles)
    saturation = res.saturation if batched else _saturation(program, readouts, arrays)
    summary["saturation"] = saturation.to_dict()
    _write(outputs, arrays, summary)
    steps = next((v.shape[-2] for v in arrays.values() if np.ndim(v) >= 2 and v.dtype != np.float64), args.steps)
    print(f"{program.name} on {summary['device']} ({summary['machine']}): {steps} steps, {instructions} "
          f"instructions, {cycles} cycles; {summary['cycles_per_sample']:.0f} cycles/sample, "
          f"{summary['us_per_sample']:.1f} us/sample at {summary['clock_mhz']:g} MHz{_dma_text(summary)}")
    for k, v in readouts.items():
        print(f"  readout {k}: {np.array2string(np.asarray(v), max_line_width=100, threshold=12)}")
    _warn(saturation.warnings())
    for option, path in outputs.items():
        print(f"wrote {path}")
    return 0


def _dma_text(summary: dict) -> str:
    """The DMA bytes per sample, as the summary line ends (nothing where the device does not count them)."""
    if summary["dma_bytes_per_sample"] is None:
        return ""
    return (f", {summary['dma_bytes_per_sample']:.0f} DMA bytes/sample (MM2S {summary['dma_mm2s_bytes_per_sample']:.0f}"
            f", S2MM {summary['dma_s2mm_bytes_per_sample']:.0f})")


def _saturation(program, readouts: dict, arrays: dict):
    """The saturation count of one sample's outputs (compiler.saturation)."""
    from fenn_dma.compiler.saturation import count_outputs
    records = {k: v for k, v in arrays.items() if k in program.io["records"]}
    return count_outputs(program, readouts, records)


def _warn(lines: list[str]) -> None:
    import sys
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _evaluate(args, program, outputs: dict) -> int:
    from fenn_dma.host.devices import evaluate_dataset
    options = {"n_steps": args.dataset_steps} if args.dataset_steps else {}
    with _open(args) as dev:
        ev = evaluate_dataset(program, args.dataset, args.split, dev, limit=args.limit, dataset_options=options,
                              steps=args.steps, workers=args.workers, progress=args.progress)
        report = ev.report()
    report.update(program=program.name, dataset=args.dataset, split=args.split)
    arrays = ev.result.arrays()
    arrays.update(predictions=ev.predictions, labels=ev.labels, confusion=ev.confusion,
                  accuracy=np.float64(ev.accuracy))
    _write(outputs, arrays, report)
    print(f"{program.name} on {report['device']} ({report['machine']}), {args.dataset} {args.split}: "
          f"accuracy {100 * ev.accuracy:.2f} % of {report['samples']} samples")
    print(f"  {report['cycles_per_sample']:.0f} cycles/sample, {report['us_per_sample']:.1f} us/sample at "
          f"{report['clock_mhz']:g} MHz{_dma_text(report)}")
    print("  confusion (rows: label, columns: prediction):")
    for row in ev.confusion:
        print("   " + " ".join(f"{int(c):6d}" for c in row))
    _warn(ev.result.warnings())
    for option, path in outputs.items():
        print(f"wrote {path}")
    return 0


def _write(outputs: dict, arrays: dict, summary: dict) -> None:
    files = {}
    if "-o" in outputs:
        files[outputs["-o"]] = _npz_bytes(arrays)
    if "--report" in outputs:
        files[outputs["--report"]] = json.dumps(summary, indent=1) + "\n"
    if files:
        write_outputs({Path(p): c for p, c in files.items()})
