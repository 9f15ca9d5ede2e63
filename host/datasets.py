"""Offline data sets for training, encoded as spike trains (nothing is downloaded).

* Yin-Yang (Kriener et al. 2021): generated here with the reference's exact
  sampling logic (numpy ``RandomState``; class chosen by ``randint(3)``, then
  points drawn with ``rand(2)`` until they fall in the big circle and in that
  class), 5000/1000/1000 train/validation/test with seeds 42/41/40.
  Features ``(x, y, 1-x, 1-y)`` are encoded as spike latencies (see
  :func:`latency_encode`).
* scikit-learn's bundled 8x8 digits, latency- or rate-encoded.
* SHD / SSC from the standard HDF5 files (see :mod:`fenn_dma.host.shd`).

Every split is an :class:`EncodedSplit`: a dense float32 tensor of spikes
``(samples, steps, inputs)`` and int64 labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fenn_dma.host.errors import DatasetError

YINYANG_SEEDS = {"train": 42, "val": 41, "test": 40}
YINYANG_SIZES = {"train": 5000, "val": 1000, "test": 1000}
YINYANG_CLASSES = ("yin", "yang", "dot")


# --------------------------------------------------------------------------- Yin-Yang
class YinYangGenerator:
    """The reference generator (``yin_yang_data_set/dataset.py``), numpy only."""

    def __init__(self, r_small: float = 0.1, r_big: float = 0.5, seed: int = 42):
        if not 0 < r_small < 0.5 * r_big:
            raise DatasetError(f"Yin-Yang r_small={r_small} must lie in (0, r_big/2={0.5 * r_big})")
        self.rng = np.random.RandomState(seed)
        self.r_small = r_small
        self.r_big = r_big

    def which_class(self, x: float, y: float) -> int:
        d_right = np.sqrt((x - 1.5 * self.r_big) ** 2 + (y - self.r_big) ** 2)
        d_left = np.sqrt((x - 0.5 * self.r_big) ** 2 + (y - self.r_big) ** 2)
        criterion1 = d_right <= self.r_small
        criterion2 = d_left > self.r_small and d_left <= 0.5 * self.r_big
        criterion3 = y > self.r_big and d_right > 0.5 * self.r_big
        is_yin = criterion1 or criterion2 or criterion3
        if d_right < self.r_small or d_left < self.r_small:
            return 2
        return int(is_yin)

    def sample(self, goal: int | None) -> tuple[float, float, int]:
        while True:
            x, y = self.rng.rand(2) * 2.0 * self.r_big
            if np.sqrt((x - self.r_big) ** 2 + (y - self.r_big) ** 2) > self.r_big:
                continue
            c = self.which_class(x, y)
            if goal is None or c == goal:
                return x, y, c

    def generate(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        vals = np.empty((size, 4), dtype=np.float64)
        labels = np.empty(size, dtype=np.int64)
        for i in range(size):
            goal = self.rng.randint(3)
            x, y, c = self.sample(goal)
            vals[i] = (x, y, 1.0 - x, 1.0 - y)
            labels[i] = c
        return vals, labels


def yin_yang(split: str = "train", size: int | None = None, seed: int | None = None,
             r_small: float = 0.1, r_big: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(N, 4)`` = (x, y, 1-x, 1-y) and labels (0 yin, 1 yang, 2 dot)."""
    if split not in YINYANG_SEEDS:
        raise DatasetError(f"unknown Yin-Yang split {split!r}; allowed: {', '.join(YINYANG_SEEDS)}")
    size = YINYANG_SIZES[split] if size is None else size
    seed = YINYANG_SEEDS[split] if seed is None else seed
    if size < 1:
        raise DatasetError(f"Yin-Yang size must be >= 1, got {size}")
    return YinYangGenerator(r_small, r_big, seed).generate(size)


# --------------------------------------------------------------------------- encodings
def latency_encode(features: np.ndarray, n_steps: int, t_max: float | None = None,
                   bias_spike: bool = True) -> np.ndarray:
    """Time-to-first-spike code: a feature ``f`` in [0, 1] spikes once, at step
    ``round(f * t_max)`` (half up; small value = early spike); with ``bias_spike`` an
    extra input channel spikes at step 0 for every sample (a reference time
    that lets the network measure latencies). Result ``(N, n_steps, F[+1])``.

    ``t_max`` may be fractional: with a half-integer ``t_max`` the grids of
    ``f`` and ``1 - f`` are offset by half a step, so a pair of complementary
    features (Yin-Yang's x and 1-x) resolves twice as finely as either alone."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise DatasetError(f"latency_encode needs (samples, features), got shape {f.shape}")
    if f.size and not (np.isfinite(f).all() and f.min() >= 0 and f.max() <= 1):
        raise DatasetError("latency_encode needs features scaled to [0, 1]")
    t_max = n_steps - 1 if t_max is None else t_max
    if not 0 <= np.floor(t_max + 0.5) < n_steps:
        raise DatasetError(f"latency window t_max={t_max} must round into [0, n_steps-1={n_steps - 1}]")
    n, nf = f.shape
    out = np.zeros((n, n_steps, nf + int(bias_spike)), dtype=np.float32)
    steps = np.floor(f * t_max + 0.5).astype(np.int64)
    rows = np.repeat(np.arange(n), nf)
    out[rows, steps.ravel(), np.tile(np.arange(nf), n)] = 1.0
    if bias_spike:
        out[:, 0, nf] = 1.0
    return out


def rate_encode(features: np.ndarray, n_steps: int, max_prob: float = 0.5, seed: int = 0) -> np.ndarray:
    """Bernoulli rate code: feature ``f`` in [0, 1] spikes with probability
    ``f * max_prob`` at each step (numpy Generator seeded by ``seed``)."""
    f = np.asarray(features, dtype=np.float64)
    if not 0 < max_prob <= 1:
        raise DatasetError(f"rate code max_prob={max_prob} must lie in (0, 1]")
    if f.ndim != 2:
        raise DatasetError(f"rate_encode needs (samples, features), got shape {f.shape}")
    if f.size and not (np.isfinite(f).all() and f.min() >= 0 and f.max() <= 1):
        raise DatasetError("rate_encode needs finite features scaled to [0, 1]")
    rng = np.random.default_rng(seed)
    p = (f * max_prob)[:, None, :]
    return (rng.random((f.shape[0], n_steps, f.shape[1])) < p).astype(np.float32)


# --------------------------------------------------------------------------- splits
@dataclass
class EncodedSplit:
    spikes: torch.Tensor          # (N, T, n_in) float32, 0/1
    labels: torch.Tensor          # (N,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def dataset(self) -> torch.utils.data.Dataset:
        return torch.utils.data.TensorDataset(self.spikes, self.labels)


@dataclass
class DatasetBundle:
    name: str
    n_inputs: int
    n_classes: int
    n_steps: int
    dt: float                     # ms per step
    splits: dict = field(default_factory=dict)   # name -> EncodedSplit or torch Dataset
    description: str = ""


def _split(spikes: np.ndarray, labels: np.ndarray) -> EncodedSplit:
    return EncodedSplit(torch.from_numpy(spikes), torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def load_yinyang(n_steps: int = 40, t_max: float | None = None, dt: float = 1.0,
                 sizes: dict | None = None) -> DatasetBundle:
    """Yin-Yang latency-encoded: 4 feature channels + 1 bias channel.

    Default ``t_max = 3/4 n_steps - 1/2`` (29.5 for 40 steps): a half-integer
    window offsets the grids of x and 1-x (and y, 1-y) by half a step. With an
    integer window both round to the same grid and the code's Bayes-optimal
    accuracy is 97.1 % at t_max = 30; with 29.5 it is 98.5 %
    (``benchmarks/train_yinyang.py --ceiling`` measures it)."""
    if n_steps < 2:
        raise DatasetError(f"Yin-Yang needs n_steps >= 2, got {n_steps}")
    t_max = max(0.75 * n_steps - 0.5, 0.0) if t_max is None else t_max
    sizes = {**YINYANG_SIZES, **(sizes or {})}
    splits = {}
    for name in ("train", "val", "test"):
        x, y = yin_yang(name, size=sizes[name])
        splits[name] = _split(latency_encode(x, n_steps, t_max), y)
    return DatasetBundle("yinyang", 5, 3, n_steps, dt, splits,
                         f"Yin-Yang, latency code over steps 0..{t_max} + bias spike at 0")


def load_digits(n_steps: int = 20, encoding: str = "latency", dt: float = 1.0, seed: int = 0,
                test_fraction: float = 0.2, max_prob: float = 0.5) -> DatasetBundle:
    """scikit-learn's bundled 8x8 digits (1797 images, pixel 0..16 scaled to [0, 1]).
    Latency code: bright pixels spike early (``1 - f``), dark (0) pixels never.
    Split stratified with ``seed``: train / val (half of the held-out part) / test."""
    from sklearn.datasets import load_digits as _ld
    from sklearn.model_selection import train_test_split

    if encoding not in ("latency", "rate"):
        raise DatasetError(f"unknown digits encoding {encoding!r}; allowed: latency, rate")
    d = _ld()
    x = d.data / 16.0
    idx = np.arange(len(x))
    tr, rest = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=d.target)
    va, te = train_test_split(rest, test_size=0.5, random_state=seed, stratify=d.target[rest])
    if encoding == "latency":
        t_max = n_steps - 1
        enc = latency_encode(1.0 - x, n_steps, t_max, bias_spike=False)
        enc *= (x > 0)[:, None, :].astype(np.float32)   # black pixels never spike
    else:
        enc = rate_encode(x, n_steps, max_prob, seed)
    splits = {k: _split(enc[i], d.target[i]) for k, i in (("train", tr), ("val", va), ("test", te))}
    return DatasetBundle("digits", 64, 10, n_steps, dt, splits, f"sklearn digits, {encoding} code")


DATASETS = ("yinyang", "digits", "shd", "ssc", "synthetic-shd")


def load_dataset(name: str, **options) -> DatasetBundle:
    """Dispatch by name; ``options`` go to the loader (``path`` for SHD/SSC); an
    option the loader does not take is a :class:`DatasetError` listing those it does."""
    if name == "yinyang":
        loader, args = load_yinyang, ()
    elif name == "digits":
        loader, args = load_digits, ()
    elif name in ("shd", "ssc", "synthetic-shd"):
        from fenn_dma.host.shd import load_spiking_audio
        loader, args = load_spiking_audio, (name,)
    else:
        raise DatasetError(f"unknown data set {name!r}; allowed: {', '.join(DATASETS)}")
    import inspect
    allowed = [p for p in inspect.signature(loader).parameters if p != "name"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DatasetError(f"data set {name!r} takes no option {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return loader(*args, **options)
