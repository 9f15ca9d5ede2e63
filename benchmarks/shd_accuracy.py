"""Accuracy on the SYNTHETIC SHD-format set (not SHD): EventProp vs BPTT, with and without learnt
delays, float and deployed (the compiler's bit-exact reference and the ISS running the compiled program).

    .venv/bin/python benchmarks/shd_accuracy.py                   # the protocol below (700 channels, 700-256-20)
    .venv/bin/python benchmarks/shd_accuracy.py --quick           # smoke test: 32 channels, 3 words, 1 epoch
    .venv/bin/python benchmarks/shd_accuracy.py --data DIR --runs DIR --epochs 60 --jobs 2

The data set is made (or read back from the sample cache) by ``fenn-dma synth-shd``'s
:func:`fenn_dma.host.synth_shd.generate`; each training is the user's command, ``fenn-dma train
--dataset synthetic-shd`` in a subprocess (one torch thread), whose run folder then goes the deploy
path: ``fenn-dma compile RUN`` writes ``RUN/network.fenn`` (the network's recorded formats and
rounding), whose readouts on the ISS (fast engine) must equal, integer for integer, those of the
compiler's reference model (``deploy.run_reference`` of the recorded plan) on every test sample; a
mismatch is reported in the table and makes the exit status 1. Accuracy = argmax of the readout.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Protocol:
    """Everything the table depends on (printed with it)."""
    channels: int = 700
    per_class: int = 6            # training words per class (one per training voice); 10 % held out for validation
    test_per_class: int = 2       # test words per class (the two test voices)
    classes: tuple[int, ...] | None = None     # None: SHD's 20
    seed: int = 0
    dt: float = 8.0               # ms per step
    max_time: float = 800.0       # ms: T = max_time / dt
    hidden: int = 256
    epochs: int = 30
    batch: int = 32
    max_delay: int = 16           # delay taps: 0 .. 15 steps
    max_spikes: int = 100         # EventProp's buffer per neuron and sample (T: cannot overflow)

    @property
    def steps(self) -> int:
        return int(np.ceil(self.max_time / self.dt))


QUICK = Protocol(channels=32, per_class=1, test_per_class=1, classes=(0, 1, 10), dt=16.0, max_time=400.0,
                 hidden=16, epochs=1, max_spikes=25)
RUNS = (("eventprop", False), ("eventprop", True), ("bptt", False), ("bptt", True))


def train_args(p: Protocol, data: Path, out: Path, method: str, delays: bool) -> list[str]:
    """The `fenn-dma train` command line of one row."""
    args = ["train", "--out", str(out), "--method", method, "--dataset", "synthetic-shd", "--data-path", str(data),
            "--dt", repr(p.dt), "--max-time", repr(p.max_time), "--hidden", str(p.hidden), "--recurrent",
            "--epochs", str(p.epochs), "--batch-size", str(p.batch), "--threads", "1", "--seed", str(p.seed),
            "--no-plots", "--no-progress"]
    if method == "eventprop":
        args += ["--max-spikes", str(p.max_spikes)]
    if delays:
        args += ["--delays", "synapse", "--max-delay", str(p.max_delay)]
    return args


def _train(p: Protocol, data: Path, out: Path, method: str, delays: bool) -> dict:
    """One training in its own process; its CPU seconds (user + system) and wall seconds."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "fenn_dma.cli", *train_args(p, data, out, method, delays)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    log = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)          # this child's own CPU time (trainings may run at once)
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    (out.parent / f"{out.name}.log").write_text(log)
    if rc:
        raise SystemExit(f"`{' '.join(cmd)}` failed (rc {rc}); its output: {out}.log\n{log[-2000:]}")
    return {"wall_s": time.perf_counter() - t0, "cpu_s": usage.ru_utime + usage.ru_stime}


def test_spikes(p: Protocol, data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test split as the trainer bins it: spikes (B, T, channels) bool, labels (B,)."""
    from fenn_dma.host.datasets import load_dataset
    test = load_dataset("synthetic-shd", path=str(data), dt=p.dt, max_time=p.max_time).splits["test"]
    return np.stack([test.bin(i) for i in range(len(test))]) > 0, np.asarray(test.labels)


def deployed(run: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the compiler reference's readouts, the ISS's readouts) of the run's network on ``x``: the
    reference from the plan recorded in network.npz, the ISS from ``fenn-dma compile RUN``'s program."""
    from fenn_dma.cli import main
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.compiler.runtime import Runtime
    from fenn_dma.host import deploy
    from fenn_dma.host.network import TrainedNetwork

    qnet = deploy.plan(TrainedNetwork.load(run / "network.npz"))
    reference = deploy.run_reference(qnet, x)
    if main(["compile", str(run)]) != 0:
        raise SystemExit(f"fenn-dma compile {run} failed")
    out = Runtime(load(run / "network.fenn"), engine="fast").run_batch({deploy.INPUT: x})
    return reference, np.asarray(out.readouts[deploy.readout_population(qnet)], np.int64)


def row(p: Protocol, runs: Path, x: np.ndarray, y: np.ndarray, method: str, delays: bool, trained: dict) -> dict:
    run = runs / f"{method}-{'delays' if delays else 'nodelays'}"
    summary = json.loads((run / "metrics.json").read_text())["summary"]
    history = json.loads((run / "metrics.json").read_text()).get("history", [])
    reference, iss = deployed(run, x)
    return {"method": method, "delays": delays, "float": summary["test_acc"],
            "reference": float(np.mean(reference.argmax(1) == y)), "iss": float(np.mean(iss.argmax(1) == y)),
            "bit_exact": bool(reference.shape == iss.shape and np.array_equal(reference, iss)),
            "best_epoch": _last(summary, "selected_epoch_"), "best_val": _last(summary, "val_acc_"),
            "epochs": len(history), "train_acc": history[-1].get("train_acc") if history else None,
            "cpu_s": trained.get("cpu_s"), "wall_s": trained.get("wall_s")}


def _last(summary: dict, prefix: str):
    """The last phase's value of a per-phase summary entry (``selected_epoch_<phase>``), or None."""
    keys = [k for k in summary if k.startswith(prefix)]
    return summary[keys[-1]] if keys else None


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def table(p: Protocol, rows: list[dict], n_train: int, n_test: int, load: tuple[str, str]) -> str:
    classes = len(p.classes) if p.classes else 20
    lines = [
        f"SYNTHETIC SHD-format set (espeak-ng words + lauscher cochlea; not SHD): {classes} classes, "
        f"{p.channels} channels, {p.per_class} train words/class ({n_train} train + val, 10 % of them held out for "
        f"validation), {p.test_per_class} test words/class ({n_test} test samples, other speakers), seed {p.seed}",
        f"network {p.channels}-{p.hidden}(recurrent)-20 LIF, dt {p.dt:g} ms, {p.max_time:g} ms (T = {p.steps}), "
        f"batch {p.batch}, Adam, {p.epochs} epochs (+ the default fine-tune epochs with delays frozen), "
        f"the epoch of the best validation accuracy kept; delays: synapse, {p.max_delay} taps; "
        f"EventProp buffer {p.max_spikes} spikes/neuron",
        "deployed: reference = the compiler's bit-exact reference model of the recorded plan; ISS = "
        "`fenn-dma compile RUN` on the ISS (fast engine)",
        "",
        "| method | delays | float test acc | deployed (reference) | deployed (ISS) | ISS == reference | "
        "kept epoch (val acc) | epochs run | last train acc | training CPU s (wall s) |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        kept = "-" if r["best_epoch"] is None else f"{r['best_epoch']} ({_pct(r['best_val'])})"
        lines.append(f"| {'EventProp' if r['method'] == 'eventprop' else 'BPTT'} | "
                     f"{'synapse, ' + str(p.max_delay) + ' taps' if r['delays'] else 'none'} | {_pct(r['float'])} | "
                     f"{_pct(r['reference'])} | {_pct(r['iss'])} | {'yes' if r['bit_exact'] else 'NO'} | {kept} | "
                     f"{r['epochs']} | {_pct(r['train_acc'])} | {_secs(r)} |")
    lines.append(f"\nchance {100 / classes:.1f} %; one test sample = {100 / max(n_test, 1):.1f} points; "
                 f"load average before / after: {load[0]} / {load[1]}")
    return "\n".join(lines)


def _secs(r: dict) -> str:
    return "-" if r.get("cpu_s") is None else f"{r['cpu_s']:.0f} ({r['wall_s']:.0f})"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 32 channels, 3 classes x 1 word, 1 epoch")
    ap.add_argument("--data", help="data set folder (made there if absent; default under --runs)")
    ap.add_argument("--runs", help="folder for the four run folders (default runs/shd_accuracy[_quick])")
    ap.add_argument("--epochs", type=int, help="override the protocol's epochs")
    ap.add_argument("--jobs", type=int, default=1, help="trainings (and data set workers) at once")
    ap.add_argument("--only", choices=[f"{m}-{'delays' if d else 'nodelays'}" for m, d in RUNS], action="append",
                    help="only these rows (repeatable)")
    ap.add_argument("--no-train", action="store_true", help="evaluate the run folders already in --runs")
    a = ap.parse_args(argv)
    p = QUICK if a.quick else Protocol()
    if a.epochs:
        p = replace(p, epochs=a.epochs)
    runs = Path(a.runs or f"runs/shd_accuracy{'_quick' if a.quick else ''}")
    data = Path(a.data) if a.data else runs / "data"
    load0 = _load()
    if not (data / "synthetic_shd_test.h5").is_file():
        from fenn_dma.host.synth_shd import generate
        generate(data, p.per_class, p.test_per_class, p.channels, p.seed, a.jobs, progress=False,
                 classes=p.classes)
    chosen = [(m, d) for m, d in RUNS if not a.only or f"{m}-{'delays' if d else 'nodelays'}" in a.only]
    runs.mkdir(parents=True, exist_ok=True)
    trained = {}
    if not a.no_train:
        def one(md):
            m, d = md
            return _train(p, data, runs / f"{m}-{'delays' if d else 'nodelays'}", m, d)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with ThreadPoolExecutor(max(1, a.jobs)) as pool:
            trained = dict(zip(chosen, pool.map(one, chosen)))
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"trainings: {c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime:.0f} s of CPU in all", flush=True)
    x, y = test_spikes(p, data)
    rows = [row(p, runs, x, y, m, d, trained.get((m, d), {})) for m, d in chosen]
    from fenn_dma.host.datasets import load_dataset
    n_train = len(load_dataset("synthetic-shd", path=str(data), dt=p.dt, max_time=p.max_time).splits["train"])
    print(table(p, rows, n_train, len(y), (load0, _load())))
    (runs / "accuracy.json").write_text(json.dumps({"protocol": p.__dict__, "rows": rows}, indent=1, default=str))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
