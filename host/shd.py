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
N_CLASSES = {"shd": 20, "ssc": 35, "synthetic-shd": 20}
FILES = {"shd": {"train": "shd_train.h5", "test": "shd_test.h5"},
         "synthetic-shd": {"train": "synthetic_shd_train.h5", "test": "synthetic_shd_test.h5"},   # host/synth_shd.py
         "ssc": {"train": "ssc_train.h5", "val": "ssc_valid.h5", "test": "ssc_test.h5"}}
MAKE_SYNTHETIC = "make them with `fenn-dma synth-shd --out DIR` (synthetic speech, not SHD)"
WHERE = ("download shd_train.h5.gz / shd_test.h5.gz (or the ssc_*.h5.gz files) from "
         "https://zenkelab.org/datasets/ , gunzip them and pass their folder")


def _read_file(path: Path, f, n_channels: int, limit: int | None):
    """Spike times (s), units and labels of an open SHD/SSC file, each dataset
    checked: 1-D, as long as ``labels``, one finite time >= 0 per unit, units
    in ``[0, n_channels)``, integer labels >= 0."""
    import h5py

    for key in ("spikes/times", "spikes/units", "labels"):
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise DatasetError(f"{path}: no '{key}' dataset; is this an SHD/SSC file? {WHERE}")
    times, units, labels = f["spikes/times"], f["spikes/units"], f["labels"]
    for key, d in (("spikes/times", times), ("spikes/units", units), ("labels", labels)):
        if d.ndim == 0:
            raise DatasetError(f"{path}: '{key}' is a scalar; it must hold one entry per sample")
    for key in ("spikes/times", "spikes/units"):
        _check_heaps(path, f, key)
    if labels.ndim != 1:
        raise DatasetError(f"{path}: 'labels' has shape {labels.shape}; it must be 1-D (one label per sample)")
    n = len(labels) if limit is None else min(limit, len(labels))
    for key, d in (("spikes/times", times), ("spikes/units", units)):
        if len(d) < n:
            raise DatasetError(f"{path}: '{key}' holds {len(d)} samples, 'labels' {len(labels)}")
    try:
        lab = np.asarray(labels[:n])
        out_t = [np.asarray(times[i]) for i in range(n)]
        out_u = [np.asarray(units[i]) for i in range(n)]
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the samples: {exc}") from None
    if lab.dtype.kind not in "iu" or (lab.size and lab.min() < 0):
        raise DatasetError(f"{path}: 'labels' must be integers >= 0 (got dtype {lab.dtype})")
    for i, (t, u) in enumerate(zip(out_t, out_u)):
        where = f"{path}: sample {i}"
        if t.dtype.kind not in "fiu" or u.dtype.kind not in "iu":
            raise DatasetError(f"{where}: spike times must be numbers and units integers "
                               f"(got dtypes {t.dtype}, {u.dtype})")
        if t.shape != u.shape or t.ndim > 1:
            raise DatasetError(f"{where}: {t.size} spike times but {u.size} units; one unit per spike time")
        if t.size and not (np.isfinite(t).all() and t.min() >= 0):
            raise DatasetError(f"{where}: spike times must be finite and >= 0 seconds")
        if u.size and (u.min() < 0 or u.max() >= n_channels):
            raise DatasetError(f"{where}: unit {int(u.max()) if u.max() >= n_channels else int(u.min())} "
                               f"is outside the {n_channels} channels 0..{n_channels - 1}")
    return ([t.astype(np.float64).ravel() for t in out_t], [u.astype(np.int64).ravel() for u in out_u],
            lab.astype(np.int64))


def _check_heaps(path: Path, f, key: str) -> None:
    """Refuse a variable-length dataset whose global heap collection is damaged
    before h5py reads it: libhdf5 loops forever on a free-space object that does
    not run to the end of its collection, e.g. of size 0 (the fuzzer found it;
    docs/robustness.md). Checked where the layout is known:
    contiguous storage and 8-byte addresses and lengths; others are left to HDF5."""
    import mmap
    import struct

    import h5py

    d = f[key]
    offset = d.id.get_offset()
    if h5py.check_vlen_dtype(d.dtype) is None or offset is None or f.id.get_create_plist().get_sizes() != (8, 8):
        return
    base = f.userblock_size
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as b:
        start = base + offset
        if start + 16 * d.size > len(b):
            raise DatasetError(f"{path}: '{key}' lies past the end of the file (truncated or damaged)")
        collections = {struct.unpack_from("<IQI", b, start + 16 * i)[1] for i in range(d.size)
                       if struct.unpack_from("<I", b, start + 16 * i)[0]}
        for address in sorted(collections):
            at = base + address
            if at + 16 > len(b) or b[at:at + 4] != b"GCOL":
                raise DatasetError(f"{path}: '{key}' points at a damaged heap (offset {at}); the file is damaged")
            end = at + struct.unpack_from("<Q", b, at + 8)[0]
            pos = at + 16
            while pos + 16 <= min(end, len(b)):
                index, _, _, size = struct.unpack_from("<HHIQ", b, pos)
                step = size if index == 0 else 16 + -(-size // 8) * 8
                if (index == 0 and size != end - pos) or pos + step > end:   # free space runs to the end
                    raise DatasetError(f"{path}: '{key}': heap object at offset {pos} is damaged (size {size}); "
                                       "the file is damaged")
                if index == 0:
                    break
                pos += step


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
        try:
            with h5py.File(path, "r") as f:
                n_channels = int(f.attrs.get("channels", n_channels))    # a synthetic set of fewer channels says so
                self.times, self.units, self.labels = _read_file(path, f, n_channels, limit)
        except OSError as exc:
            raise DatasetError(f"cannot read {path} as HDF5: {exc}") from exc
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:   # h5py's, for damaged metadata inside
            raise DatasetError(f"{path}: damaged HDF5 file ({exc}); {WHERE}") from None
        if channel_pool < 1 or n_channels % channel_pool:
            raise DatasetError(f"channel_pool={channel_pool} must be >= 1 and divide {n_channels}")
        self.path = path
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
        raise DatasetError(f"{name.upper()} needs a local path (--data-path); "
                           f"{MAKE_SYNTHETIC if name == 'synthetic-shd' else WHERE}")
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{name.upper()} path {path} does not exist; "
                           f"{MAKE_SYNTHETIC if name == 'synthetic-shd' else WHERE}")
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
            raise DatasetError(f"{path} lacks {', '.join(missing)}; "
                               f"{MAKE_SYNTHETIC if name == 'synthetic-shd' else WHERE}")
    if "val" not in splits and val_fraction > 0:
        train = splits["train"]
        perm = np.random.default_rng(seed).permutation(len(train))
        n_val = max(1, int(round(val_fraction * len(train))))
        splits["val"] = torch.utils.data.Subset(train, perm[:n_val].tolist())
        splits["train"] = torch.utils.data.Subset(train, perm[n_val:].tolist())
    for split, data in splits.items():
        labels = data.dataset.labels[data.indices] if isinstance(data, torch.utils.data.Subset) else data.labels
        if len(labels) and labels.max() >= N_CLASSES[name]:
            file = data.dataset.path if isinstance(data, torch.utils.data.Subset) else data.path
            raise DatasetError(f"{file}: label {int(labels.max())} is not one of the {name.upper()} "
                               f"classes 0..{N_CLASSES[name] - 1}")
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
