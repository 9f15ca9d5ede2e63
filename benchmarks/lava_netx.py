"""Our netx export run by Lava itself, against our bit-accurate Loihi model.

    python benchmarks/lava_netx.py [--run DIR] [--samples 200] [--python PY3.10]

Trains a small Yin-Yang network (``fenn-dma train --export-netx``) unless
``--run`` names a training folder with ``network_netx.h5``; makes (once) a
virtual environment with lava-nc and lava-dl for a Python 3.10 (lava-dl needs
Python < 3.11; found on PATH or under pyenv, or given), cached under
``~/.cache/fenn-dma/lava-dl-py310``; runs the test samples through netx in one
Lava run (benchmarks/lava_worker.py, ``reset_interval`` = T) and compares the
readout layer's voltages with ``host.loihi.simulate_loihi``, sample by sample.

netx resets layer k at phase k of each interval (its pipeline latency), so the
readout layer's first step of every window still holds the previous sample's
voltage; our model (one step of latency per layer) has 0 there. Read raw, the
window's mean includes that stale value once: that is the accuracy
difference. Both readings are printed.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("FENN_DMA_CACHE", Path.home() / ".cache" / "fenn-dma")) / "lava-dl-py310"


def find_python310(given: str | None) -> str:
    candidates = [given] if given else [shutil.which("python3.10"), *sorted(
        glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.10*" / "bin" / "python3.10")))]
    for c in candidates:
        if c and subprocess.run([c, "-c", "import venv"], capture_output=True).returncode == 0:
            return c
    sys.exit("lava_netx: no Python 3.10 found (lava-dl needs Python < 3.11); pass --python")


def lava_python(py310: str) -> str:
    py = VENV / "bin" / "python"
    if not py.exists() or subprocess.run([str(py), "-c", "import lava.lib.dl.netx"], capture_output=True).returncode:
        print(f"making {VENV} with lava-nc and lava-dl (once) ...", flush=True)
        subprocess.run([py310, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "lava-nc", "lava-dl"], check=True)
    return str(py)


def train_run(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "fenn_dma.cli", "train", "--dataset", "yinyang", "--epochs", "3", "--threads", "1",
           "--export-netx", "--no-plots", "--no-progress", "--out", str(folder)]
    print("training:", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="training folder with network_netx.h5 (default: train one)")
    ap.add_argument("--samples", type=int, default=200, help="test samples (default 200)")
    ap.add_argument("--python", help="a Python 3.10 for the lava-dl environment")
    args = ap.parse_args()
    from fenn_dma.host import loihi
    from fenn_dma.host.datasets import load_dataset

    py = lava_python(find_python310(args.python))
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or train_run(Path(tmp) / "run")
        net_path = run / "network_netx.h5"
        lnet = loihi.read_netx(net_path)
        test = load_dataset("yinyang").splits["test"]
        x = test.spikes.numpy()[:args.samples].astype(np.int8)
        y = test.labels.numpy()[:args.samples]
        np.savez(Path(tmp) / "samples.npz", spikes=x)
        subprocess.run([py, str(HERE / "lava_worker.py"), str(net_path), str(Path(tmp) / "samples.npz"),
                        str(Path(tmp) / "v.npy")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        v = np.load(Path(tmp) / "v.npy")
    B, T, _ = x.shape
    scores, traces = loihi.simulate_loihi(lnet, x, record=True)
    ours = traces[-1]
    raw = v[:B * T].reshape(B, T, -1)
    aligned = raw.copy()
    aligned[:, 0] = 0            # netx's reset phase: the previous sample's voltage, ours has 0 there
    reduce = np.mean if lnet.readout_reduce == "mean" else np.max
    acc = {name: float((reduce(w, axis=1).argmax(1) == y).mean()) for name, w in (("raw", raw), ("aligned", aligned))}
    equal_raw = sum(np.array_equal(raw[i], ours[i]) for i in range(B))
    equal_aligned = sum(np.array_equal(aligned[i], ours[i]) for i in range(B))
    ours_acc = float((scores.argmax(1) == y).mean())
    print(f"Lava netx (lava-dl, Loihi2SimCfg fixed_pt) vs host.loihi.simulate_loihi, {B} Yin-Yang test samples, T={T}")
    print(f"{'reading':34s} {'bit-equal samples':>18s} {'accuracy':>9s} {'ours':>7s}")
    print(f"{'Lava, raw window [iT, iT+T)':34s} {equal_raw:>12d}/{B:<5d} {acc['raw']:9.3f} {ours_acc:7.3f}")
    print(f"{'Lava, reset phase accounted':34s} {equal_aligned:>12d}/{B:<5d} {acc['aligned']:9.3f} {ours_acc:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
