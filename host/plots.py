"""PNG figures of a training run (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(history: list, path: str | Path) -> None:
    plt = _plt()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(ep, [h["train_loss"] for h in history], label="train")
    a.set_xlabel("epoch"); a.set_ylabel("loss"); a.legend()
    b.plot(ep, [h["train_acc"] for h in history], label="train")
    if any("val_acc" in h for h in history):
        b.plot(ep, [h.get("val_acc", np.nan) for h in history], label="validation")
    b.set_xlabel("epoch"); b.set_ylabel("accuracy"); b.legend()
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def plot_raster(traces: list, path: str | Path, sample: int = 0) -> None:
    """Spikes of every hidden layer and the readout voltages of one sample."""
    plt = _plt()
    n = len(traces)
    fig, axes = plt.subplots(n, 1, figsize=(7, 2.2 * n), sharex=True, squeeze=False)
    for i, tr in enumerate(traces):
        ax = axes[i, 0]
        x = np.asarray(tr[sample])
        if i < n - 1:
            t, idx = np.nonzero(x)
            ax.scatter(t, idx, s=2, c="k")
            ax.set_ylabel(f"hidden{i}")
        else:
            ax.plot(x)
            ax.set_ylabel("readout V")
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def plot_delays(delays: list, path: str | Path) -> None:
    """Histogram of the learned integer delays of each projection."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, d in enumerate(delays):
        d = np.asarray(d).ravel()
        ax.hist(d, bins=np.arange(d.max() + 2) - 0.5 if d.size else 1, alpha=0.6, label=f"projection {i}")
    ax.set_xlabel("delay (steps)"); ax.set_ylabel("synapses"); ax.legend()
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def plot_kernel_cycles(counts: dict, path: str | Path) -> None:
    """Cycles per kernel of a profiled run (``compiler.profile.profile_run``), largest first."""
    plt = _plt()
    items = sorted(counts.items(), key=lambda kv: -kv[1][1])
    names = [k or "(start)" for k, _ in items]
    cycles = np.array([v[1] for _, v in items], float)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2))
    ax.barh(names[::-1], cycles[::-1])
    total = cycles.sum()
    for i, c in enumerate(cycles[::-1]):
        ax.text(c, i, f" {100 * c / total:.1f} %", va="center", fontsize=8)
    ax.set_xlabel("cycles (one sample)")
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)
