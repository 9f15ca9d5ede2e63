"""PNG figures of a training run (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_run(out: str | Path, history: list, inputs, traces: list, prediction: int, label: int,
             delays: list) -> list[Path]:
    """The figures of a training run in ``out``: ``curves.png`` (:func:`curves`),
    ``raster.png`` (:func:`raster` of one test sample) and, when any delay is not zero,
    ``delays.png`` (:func:`delay_histogram`); an old ``delays.png`` of an earlier run is
    removed so the folder never shows delays the network does not have. Returns the paths."""
    out = Path(out)
    figures = {out / "curves.png": curves(history),
               out / "raster.png": raster(traces, inputs=inputs, prediction=prediction, label=label)}
    hist = delay_histogram(delays)
    if hist is not None:
        figures[out / "delays.png"] = hist
    elif (out / "delays.png").exists():
        (out / "delays.png").unlink()
    for path, fig in figures.items():
        _save(fig, path)
    return list(figures)


def curves(history: list):
    """Loss and accuracy per epoch: training and, where recorded, validation."""
    plt = _plt()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, what in ((a, "loss", "loss"), (b, "acc", "accuracy")):
        ax.plot(ep, [h[f"train_{key}"] for h in history], marker=".", label="train")
        if any(f"val_{key}" in h for h in history):
            ax.plot(ep, [h.get(f"val_{key}", np.nan) for h in history], marker=".", label="validation")
        ax.set_title(f"{what} per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.legend()
    fig.tight_layout()
    return fig


def raster(traces: list, sample: int = 0, inputs=None, prediction: int | None = None, label: int | None = None):
    """One sample: its input spikes (``inputs`` (B, T, n_in), if given), the spikes of
    every hidden layer and the readout voltages (the last trace, (B, T, classes)), the
    predicted class's drawn thicker; the title names prediction and label."""
    plt = _plt()
    rows = ([("input", np.asarray(inputs)[sample])] if inputs is not None else []) \
        + [(f"hidden {i}", np.asarray(t)[sample]) for i, t in enumerate(traces[:-1])] \
        + [("readout", np.asarray(traces[-1])[sample])]
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 2.2 * len(rows)), sharex=True, squeeze=False)
    for ax, (name, x) in zip(axes[:, 0], rows):
        if name == "readout":
            for c in range(x.shape[1]):
                ax.plot(x[:, c], lw=2.0 if c == prediction else 0.8, label=f"class {c}")
            ax.set_ylabel("readout V")
            if x.shape[1] <= 10:
                ax.legend(fontsize=7, ncol=min(x.shape[1], 5), loc="upper left")
        else:
            t, idx = np.nonzero(x)
            ax.scatter(t, idx, s=2, c="k")
            ax.set_ylabel(f"{name} neuron")
            ax.set_ylim(-0.5, x.shape[1] - 0.5)
    title = "spikes and readout of one test sample"
    if prediction is not None:
        title += f": predicted {prediction}" + (f", label {label}" if label is not None else "")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    return fig


def delay_histogram(delays: list):
    """Histogram of the integer delays of each projection; None when every delay is 0
    (a network without learned delays: nothing to show)."""
    arrays = [np.asarray(d).ravel() for d in delays]
    if not any(d.size and d.max() > 0 for d in arrays):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    top = max(int(d.max()) for d in arrays if d.size)
    for i, d in enumerate(arrays):
        if d.size:
            ax.hist(d, bins=np.arange(top + 2) - 0.5, alpha=0.6, label=f"projection {i}")
    ax.set_title("learned delays")
    ax.set_xlabel("delay (steps)")
    ax.set_ylabel("synapses")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(history: list, path: str | Path) -> None:
    _save(curves(history), path)


def plot_raster(traces: list, path: str | Path, sample: int = 0, inputs=None, prediction: int | None = None,
                label: int | None = None) -> None:
    _save(raster(traces, sample, inputs, prediction, label), path)


def _save(fig, path: str | Path) -> None:
    from fenn_dma.boundary import write_outputs
    write_outputs({Path(path): lambda p: fig.savefig(p, dpi=100, format="png")})
    _plt().close(fig)


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
    fig.tight_layout()
    _save(fig, path)
