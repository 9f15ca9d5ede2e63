"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) from the
standard HDF5 files (Cramer et al. 2020), read from a local path.

File layout: ``spikes/times`` (one float array per sample, seconds),
``spikes/units`` (one integer array per sample, channel 0..699), ``labels``.
Spikes are binned into ``dt`` ms steps (several spikes of one channel in one
bin count once), cropped to ``max_time`` ms, and optionally pooled over
channels (``channel_pool`` neighbouring channels OR-ed into one).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fenn_dma.host.datasets import DatasetBundle
from fenn_dma.host.errors import DatasetError

N_CHANNELS = 700
N_CLASSES = {"shd": 20, "ssc": 35}
FILES = {"shd": {"train": "shd_train.h5", "test": "shd_test.h5"},
         "ssc": {"train": "ssc_train.h5", "val": "ssc_valid.h5", "test": "ssc_test.h5"}}
WHERE = ("download shd_train.h5.gz / shd_test.h5.gz (or the ssc_*.h5.gz files) from "
         "https://zenkelab.org/datasets/ , gunzip them and pass their folder")


class SpikingAudioDataset(torch.utils.data.Dataset):
    """Lazy binning of one HDF5 file: item = (spikes (T, channels) float32, label)."""

    def __init__(self, path: str | Path, dt: float = 1.0, max_time: float = 1000.0,
                 channel_pool: int = 1, n_channels: int = N_CHANNELS, limit: int | None = None):
        import h5py

        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"spiking audio file {path} not found; {WHERE}")
        if dt <= 0 or max_time <= 0:
            raise DatasetError(f"dt ({dt} ms) and max_time ({max_time} ms) must be > 0")
        if channel_pool < 1 or n_channels % channel_pool:
            raise DatasetError(f"channel_pool={channel_pool} must be >= 1 and divide {n_channels}")
        try:
            with h5py.File(path, "r") as f:
                for key in ("spikes/times", "spikes/units", "labels"):
                    if key not in f:
                        raise DatasetError(f"{path}: no '{key}' dataset; is this an SHD/SSC file? {WHERE}")
                n = len(f["labels"]) if limit is None else min(limit, len(f["labels"]))
                self.times = [np.asarray(f["spikes/times"][i], dtype=np.float64) for i in range(n)]
                self.units = [np.asarray(f["spikes/units"][i], dtype=np.int64) for i in range(n)]
                self.labels = np.asarray(f["labels"][:n], dtype=np.int64)
        except OSError as exc:
            raise DatasetError(f"cannot read {path} as HDF5: {exc}") from exc
        self.dt = dt
        self.n_steps = int(np.ceil(max_time / dt))
        self.channel_pool = channel_pool
        self.n_inputs = n_channels // channel_pool
        self.n_channels = n_channels

    def __len__(self) -> int:
        return len(self.labels)

    def bin(self, i: int) -> np.ndarray:
        steps = np.floor(self.times[i] * 1000.0 / self.dt).astype(np.int64)
        units = self.units[i]
        keep = (steps >= 0) & (steps < self.n_steps) & (units >= 0) & (units < self.n_channels)
        out = np.zeros((self.n_steps, self.n_inputs), dtype=np.float32)
        out[steps[keep], units[keep] // self.channel_pool] = 1.0
        return out

    def __getitem__(self, i: int):
        return torch.from_numpy(self.bin(i)), int(self.labels[i])


def load_spiking_audio(name: str, path: str | Path | None = None, dt: float = 1.0,
                       max_time: float = 1000.0, channel_pool: int = 1,
                       limit: int | None = None, val_fraction: float = 0.0, seed: int = 0) -> DatasetBundle:
    """SHD or SSC from ``path`` (a folder holding the standard files, or one file,
    used as both train and test). SHD has no validation file: ``val_fraction``
    of train is held out (seeded) when asked."""
    if name not in FILES:
        raise DatasetError(f"unknown spiking audio set {name!r}; allowed: {', '.join(FILES)}")
    if path is None:
        raise DatasetError(f"{name.upper()} needs a local path (--data-path); {WHERE}")
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{name.upper()} path {path} does not exist; {WHERE}")
    opts = dict(dt=dt, max_time=max_time, channel_pool=channel_pool, limit=limit)
    splits = {}
    if path.is_file():
        splits["train"] = splits["test"] = SpikingAudioDataset(path, **opts)
    else:
        for split, fname in FILES[name].items():
            if (path / fname).is_file():
                splits[split] = SpikingAudioDataset(path / fname, **opts)
        missing = [FILES[name][s] for s in ("train", "test") if s not in splits]
        if missing:
            raise DatasetError(f"{path} lacks {', '.join(missing)}; {WHERE}")
    if "val" not in splits and val_fraction > 0:
        train = splits["train"]
        perm = np.random.default_rng(seed).permutation(len(train))
        n_val = max(1, int(round(val_fraction * len(train))))
        splits["val"] = torch.utils.data.Subset(train, perm[:n_val].tolist())
        splits["train"] = torch.utils.data.Subset(train, perm[n_val:].tolist())
    first = splits["test"]
    return DatasetBundle(name, first.n_inputs, N_CLASSES[name], first.n_steps, dt, splits,
                         f"{name.upper()} from {path}, {dt} ms bins, cropped at {max_time} ms")


def write_spiking_audio_file(path: str | Path, times: list, units: list, labels) -> None:
    """Write a file in the SHD/SSC layout (used by tests and for small subsets)."""
    import h5py

    with h5py.File(path, "w") as f:
        ft = h5py.vlen_dtype(np.dtype("float32"))
        fu = h5py.vlen_dtype(np.dtype("uint16"))
        t = f.create_dataset("spikes/times", (len(times),), dtype=ft)
        u = f.create_dataset("spikes/units", (len(units),), dtype=fu)
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i] = np.asarray(ti, dtype=np.float32)
            u[i] = np.asarray(ui, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
