"""Spiking statistics of the microcircuit validation (Potjans & Diesmann 2014;
van Albada et al. 2018's comparison of NEST and SpiNNaker): per population, the
distributions of firing rates, of the coefficient of variation of the
inter-spike intervals, and of pairwise spike-count correlations in 2 ms bins,
after a transient; compared by the two-sample Kolmogorov-Smirnov distance.

Spike trains are (steps, neurons) bool arrays, one per population.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.errors import FennError

STATISTICS = ("rate", "cv_isi", "corr")


def rates(spikes: np.ndarray, dt: float, discard: int) -> np.ndarray:
    """Per neuron, Hz, over the steps after ``discard``."""
    s = spikes[discard:]
    if s.shape[0] == 0:
        raise FennError(f"statistics: no steps left after discarding {discard}")
    return s.sum(axis=0) / (s.shape[0] * dt * 1e-3)


def cv_isi(spikes: np.ndarray, discard: int, min_spikes: int = 3) -> np.ndarray:
    """Per neuron with at least ``min_spikes`` spikes: std / mean of its ISIs."""
    s = spikes[discard:]
    out = []
    for j in np.nonzero(s.sum(axis=0) >= min_spikes)[0]:
        isi = np.diff(np.nonzero(s[:, j])[0]).astype(np.float64)
        out.append(isi.std() / isi.mean())
    return np.asarray(out)


def correlations(spikes: np.ndarray, dt: float, discard: int, bin_ms: float = 2.0,
                 max_neurons: int = 200) -> np.ndarray:
    """Pearson correlations of the spike counts in ``bin_ms`` bins between every pair
    of the first ``max_neurons`` neurons that spiked (upper triangle)."""
    s = spikes[discard:]
    b = max(1, int(round(bin_ms / dt)))
    nb = s.shape[0] // b
    counts = s[:nb * b].reshape(nb, b, -1).sum(axis=1).astype(np.float64)
    active = np.nonzero(counts.std(axis=0) > 0)[0][:max_neurons]
    if active.size < 2:
        return np.zeros(0)
    c = np.corrcoef(counts[:, active].T)
    return c[np.triu_indices(active.size, 1)]


def summary(spikes: dict[str, np.ndarray], dt: float, discard: int) -> dict[str, dict[str, np.ndarray]]:
    """``{population: {"rate": ..., "cv_isi": ..., "corr": ...}}``."""
    return {pop: {"rate": rates(s, dt, discard), "cv_isi": cv_isi(s, discard),
                  "corr": correlations(s, dt, discard)} for pop, s in spikes.items()}


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (nan if either is empty)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if a.size == 0 or b.size == 0:
        return float("nan")
    x = np.concatenate([a, b])
    fa = np.searchsorted(a, x, side="right") / a.size
    fb = np.searchsorted(b, x, side="right") / b.size
    return float(np.abs(fa - fb).max())


def ks_table(ref: dict, other: dict) -> dict[str, dict[str, float]]:
    """KS distance per population and statistic between two summaries."""
    return {pop: {k: ks_distance(ref[pop][k], other[pop][k]) for k in STATISTICS} for pop in ref}
