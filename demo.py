"""`fenn-dma demo`: the whole pipeline on a Yin-Yang classifier, end to end.

1. train a small LIF network on Yin-Yang (PyTorch BPTT, then quantisation-aware
   epochs on the states as the compiler deploys them);
2. quantise and compile it to a ``.fenn`` program for the ``--profile`` machine;
3. run the whole test set on the ISS (accuracy, cycles and time per sample);
4. run a handful of test samples on the Verilated SoC (built meanwhile, in the
   background) and check that every record, readout and cycle count equals the
   ISS's;
5. write ``report.json`` and pictures (training curves, a spike raster of one
   sample as the RTL ran it, the cycles per kernel) and say where they are.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import numpy as np

from fenn_dma.boundary import nonnegative_int, output_folder, positive_int, write_outputs
from fenn_dma.cli_machine import add_profile_argument, resolve_profile
from fenn_dma.errors import FennError

COMMAND = "demo"
HELP = "train, compile and run a Yin-Yang classifier on the ISS and the RTL"
STEPS = 40                               # the Yin-Yang latency code's steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="fenn-demo", metavar="DIR",
                        help="folder for the program, report and pictures (created; default fenn-demo)")
    parser.add_argument("--epochs", type=positive_int, default=6, help="float training epochs (default 6)")
    parser.add_argument("--qat-epochs", type=nonnegative_int, default=0,
                        help="quantisation-aware epochs on the deployed state arithmetic (default 0: the float "
                             "network quantised after training, formats from measured value ranges)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden LIF neurons (default 64)")
    parser.add_argument("--rtl-samples", type=positive_int, default=4,
                        help="test samples to run on the RTL and compare with the ISS (default 4)")
    parser.add_argument("--test-samples", type=positive_int,
                        help="run only the first N test samples on the ISS (default: the whole test set, 1000)")
    parser.add_argument("--no-rtl", action="store_true",
                        help="skip the RTL part (no Verilator build; default: run it)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    add_profile_argument(parser)


class _Background:
    """The RTL device opened (its Verilated model built) in a thread while training runs:
    the build is a subprocess, so it and PyTorch share the cores."""

    def __init__(self, spec):
        self.device = self.error = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._open, args=(spec,), daemon=True)
        self._thread.start()

    def _open(self, spec) -> None:
        from fenn_dma.host.devices import open_device
        t0 = time.perf_counter()
        try:
            self.device = open_device("rtl", spec)
        except FennError as exc:
            self.error = exc
        self.seconds = time.perf_counter() - t0

    def get(self):
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.device


def train_classifier(args, out: Path):
    from fenn_dma.host.datasets import load_dataset
    from fenn_dma.host.train import TrainConfig, train
    bundle = load_dataset("yinyang", n_steps=STEPS)
    cfg = TrainConfig(dataset="yinyang", data={"n_steps": STEPS}, net={"hidden": [{"size": args.hidden}]},
                      epochs=args.epochs, fine_tune_epochs=0, qat_epochs=args.qat_epochs,
                      qat_states=bool(args.qat_epochs),
                      seed=args.seed, out_dir=str(out / "train"), plots=False, progress=False, verbose=False, batch_size=64,
                      lr=5e-3)
    return train(cfg, bundle), bundle


def deployed_program(run_folder: Path, spec):
    """What `fenn-dma compile RUN --calibrate yinyang:train:512 --profile NAME` compiles from the
    trainer's run folder (``host.deploy.deployment``: the formats the trainer recorded, value
    ranges on calibration samples for the others, readouts sized for the samples' steps), with
    the hidden spikes recorded for the raster. Returns (program, qnet, saturation report)."""
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
    from fenn_dma.compiler.compile_cli import build_program
    from fenn_dma.host import deploy
    dep = deploy.deployment(run_folder, calibrate="yinyang:train:512")
    for pop in dep.net.populations.values():
        if not pop.is_input and pop.neuron.spiking:
            pop.record = ("spikes",)
    return build_program(dep, options=CompileOptions(sizes=MachineSizes.from_spec(spec)))


def run(args) -> int:
    from fenn_dma.compiler.profile import profile_run
    from fenn_dma.host import deploy, plots
    from fenn_dma.host.devices import evaluate, open_device

    spec = resolve_profile(args)
    out = output_folder(args.out, "--out")
    t_start = time.perf_counter()
    times = {}
    rtl = None
    if not args.no_rtl:
        from fenn_dma.host.devices.registry import why_unavailable
        why = why_unavailable("rtl")
        if why:
            print(f"the RTL part is skipped: {why}")
        else:
            rtl = _Background(spec)
    print(f"[1/5] training a {args.hidden}-neuron LIF classifier on Yin-Yang ({args.epochs} epochs"
          + (f" + {args.qat_epochs} QAT" if args.qat_epochs else "") + ") ..." + ("" if rtl is None else " (building the Verilated SoC meanwhile)"),
          flush=True)
    t0 = time.perf_counter()
    result, bundle = train_classifier(args, out)
    times["train_s"] = time.perf_counter() - t0
    s = result.summary
    print(f"      float test accuracy {100 * s['test_acc_float']:.1f} %"
          + (f", after QAT {100 * s['test_acc']:.1f} %" if args.qat_epochs else "") + f" ({times['train_s']:.0f} s)")

    print(f"[2/5] quantising and compiling for {spec.name} ...", flush=True)
    t0 = time.perf_counter()
    program, qnet, saturation = deployed_program(out / "train", spec)
    fenn = out / "yinyang.fenn"
    program.save(fenn)
    x_test, y_test = bundle.splits["test"].spikes.numpy() > 0, bundle.splits["test"].labels.numpy()
    if args.test_samples:
        x_test, y_test = x_test[:args.test_samples], y_test[:args.test_samples]
    reference_acc = deploy.accuracy(qnet, x_test, y_test)
    times["compile_s"] = time.perf_counter() - t0
    formats = ", ".join(f"{k} {v}" for k, v in program.formats.items() if not k.endswith(".decays"))
    print(f"      {fenn}: {program.metadata['instructions']} instructions; formats {formats}; "
          + ("no value at the int16 rails on the calibration samples" if not saturation.saturated()
             else "; ".join(saturation.warnings())))

    print(f"[3/5] running the {len(y_test)} test samples on the ISS ...", flush=True)
    t0 = time.perf_counter()
    iss = evaluate(program, x_test, y_test, "iss")
    times["iss_s"] = time.perf_counter() - t0
    r = iss.result
    print(f"      deployed accuracy {100 * iss.accuracy:.1f} % (compiler reference {100 * reference_acc:.1f} %), "
          f"{r.cycles.mean():.0f} cycles/sample, {r.microseconds.mean():.1f} us/sample at {r.clock_mhz:g} MHz "
          f"({times['iss_s']:.1f} s)")

    rtl_report = {"skipped": True}
    raster = None
    if rtl is not None:
        n = min(args.rtl_samples, len(y_test))
        print(f"[4/5] running {n} test samples on the RTL (Verilated SoC) ...", flush=True)
        dev = rtl.get()
        t0 = time.perf_counter()
        with dev:
            dev.load(program)
            got = dev.run_batch({"input": x_test[:n]})
        times["rtl_s"] = time.perf_counter() - t0
        times["rtl_build_s"] = rtl.seconds
        same = _identical(r, got, n)
        rtl_report = {"samples": n, "identical_to_iss": not same, "differences": same,
                      "cycles": got.cycles.tolist(), "iss_cycles": r.cycles[:n].tolist()}
        print(f"      records, readouts, instructions and cycles identical to the ISS: "
              f"{'yes' if not same else 'NO: ' + '; '.join(same)}")
        print(f"      cycles per sample RTL {got.cycles.tolist()} / ISS {r.cycles[:n].tolist()} "
              f"({times['rtl_s']:.1f} s; model ready after {rtl.seconds:.0f} s)")
        raster = got
    else:
        print("[4/5] RTL skipped")

    print("[5/5] report and pictures ...", flush=True)
    counts, _ = profile_run(program, {"input": x_test[0]}, STEPS)
    shown = raster if raster is not None else open_device("iss").load(program).run_batch({"input": x_test[:1]})
    pictures = {"curves": out / "curves.png", "raster": out / "raster.png", "kernels": out / "kernel_cycles.png"}
    staged = _pictures(pictures, out, lambda p: plots.plot_curves(result.history, p),
                       lambda p: plots.plot_raster(_traces(shown), p),
                       lambda p: plots.plot_kernel_cycles(counts, p))
    report = {"dataset": "yinyang", "profile": spec.name, "clock_mhz": r.clock_mhz, "program": str(fenn),
              "float_accuracy": s["test_acc_float"], "qat_accuracy": s["test_acc"],
              "deployed_accuracy_iss": iss.accuracy, "deployed_accuracy_reference": reference_acc,
              "trainer_deployed_accuracy": s.get("test_acc_deployed"), "test_samples": int(len(y_test)),
              "saturation": saturation.to_dict(), "cycles_per_sample": float(r.cycles.mean()), "us_per_sample": float(r.microseconds.mean()),
              "confusion": iss.confusion.tolist(), "rtl": rtl_report,
              "kernel_cycles": {k: v[1] for k, v in counts.items()}, "seconds": times,
              "pictures": {k: str(v) for k, v in pictures.items()}}
    times["total_s"] = time.perf_counter() - t_start
    staged[out / "report.json"] = json.dumps(report, indent=1) + "\n"
    write_outputs(staged)
    print(f"      float {100 * s['test_acc_float']:.1f} % -> deployed {100 * iss.accuracy:.1f} % "
          f"on {len(y_test)} test samples; {r.cycles.mean():.0f} cycles/sample = {r.microseconds.mean():.1f} us/sample "
          f"at {r.clock_mhz:g} MHz ({spec.name})")
    print(f"      wrote {out / 'report.json'}, {', '.join(str(p) for p in pictures.values())}")
    print(f"done in {times['total_s']:.0f} s")
    return 0 if rtl is None or rtl_report["identical_to_iss"] else 1


def _pictures(paths: dict, out: Path, *draw) -> dict:
    """The pictures as bytes to write with the report, all or none: matplotlib picks the
    format from the name, so each is drawn under its own name in a scratch folder first."""
    import tempfile
    staged = {}
    with tempfile.TemporaryDirectory(dir=out, prefix=".pictures.") as tmp:
        for path, plot in zip(paths.values(), draw):
            scratch = Path(tmp) / path.name
            plot(scratch)
            staged[path] = scratch.read_bytes()
    return staged


def _traces(res) -> list:
    spikes = [v for k, v in res.records.items() if k.endswith(".spikes")]
    volts = [v for k, v in res.records.items() if k.endswith(".v")]
    return spikes + volts[:1]


def _identical(iss, rtl, n: int) -> list[str]:
    """What differs between the ISS's first n samples and the RTL's (empty: nothing)."""
    diffs = []
    for group in ("records", "readouts"):
        for k, v in getattr(rtl, group).items():
            if not np.array_equal(getattr(iss, group)[k][:n], v):
                diffs.append(f"{group[:-1]} {k}")
    for k in ("cycles", "instructions"):
        if not np.array_equal(getattr(iss, k)[:n], getattr(rtl, k)):
            diffs.append(k)
    return diffs
