"""Damaged or foreign SHD/SSC files and bad loader options: a DatasetError
naming the file (and sample) and what is allowed, never a traceback or
silently dropped spikes."""
from __future__ import annotations

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from fenn_dma.host import datasets as ds  # noqa: E402
from fenn_dma.host import shd  # noqa: E402
from fenn_dma.host.errors import DatasetError  # noqa: E402


def _h5(path, **items):
    with h5py.File(path, "w") as f:
        for key, value in items.items():
            f[key.replace("__", "/")] = value
    return path


GOOD = dict(spikes__times=np.zeros((2, 3)), spikes__units=np.zeros((2, 3), np.int64), labels=np.array([1, 2]))


@pytest.mark.parametrize("change, match", [
    (dict(spikes__times=np.array([b"a", b"b"])), "spike times must be numbers"),
    (dict(spikes__units=np.zeros((2, 3))), "units integers"),
    (dict(spikes__units=np.zeros((2, 4), np.int64)), "3 spike times but 4 units"),
    (dict(spikes__times=np.full((2, 3), np.nan)), "must be finite and >= 0"),
    (dict(spikes__times=np.full((2, 3), -1.0)), "must be finite and >= 0"),
    (dict(spikes__units=np.full((2, 3), 700)), "unit 700 is outside the 700 channels"),
    (dict(spikes__times=np.zeros((1, 3))), "'spikes/times' holds 1 samples, 'labels' 2"),
    (dict(labels=np.array([0.5, 1.0])), "'labels' must be integers >= 0"),
    (dict(labels=np.array([[1, 2]])), "'labels' has shape"),
    (dict(labels=np.int64(3)), "'labels' is a scalar"),
])
def test_damaged_contents(tmp_path, change, match):
    path = _h5(tmp_path / "x.h5", **{**GOOD, **change})
    with pytest.raises(DatasetError, match=match) as info:
        shd.SpikingAudioDataset(path)
    assert str(path) in str(info.value)


def test_a_group_where_a_dataset_belongs(tmp_path):
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as f:
        f.create_group("spikes/times")
        f["spikes/units"] = GOOD["spikes__units"]
        f["labels"] = GOOD["labels"]
    with pytest.raises(DatasetError, match="no 'spikes/times' dataset"):
        shd.SpikingAudioDataset(path)


def test_labels_outside_the_classes(tmp_path):
    path = _h5(tmp_path / "x.h5", **{**GOOD, "labels": np.array([1, 25])})
    with pytest.raises(DatasetError, match="label 25 is not one of the SHD classes 0..19"):
        ds.load_dataset("shd", path=path)
    assert len(ds.load_dataset("ssc", path=path).splits["test"]) == 2


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x89HDF\r\n\x1a\n" + bytes(200)])
def test_garbage_files(tmp_path, data):
    (tmp_path / "x.h5").write_bytes(data)
    with pytest.raises(DatasetError, match="cannot read .*x.h5 as HDF5"):
        ds.load_dataset("shd", path=tmp_path / "x.h5")


def test_truncated_file(tmp_path):
    shd.write_spiking_audio_file(tmp_path / "ok.h5", [[0.1, 0.2], [0.3]], [[1, 2], [3]], [1, 2])
    raw = (tmp_path / "ok.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DatasetError, match="HDF5"):
        shd.SpikingAudioDataset(tmp_path / "t.h5")


def test_unknown_loader_options():
    with pytest.raises(DatasetError, match="takes no option path; allowed: n_steps"):
        ds.load_dataset("yinyang", path="x")


@pytest.mark.parametrize("features", [[[np.nan, 0.5]], [[1.5, 0.0]], [[-0.1, 0.0]]])
def test_encoders_refuse_non_finite_or_unscaled_features(features):
    with pytest.raises(DatasetError, match=r"\[0, 1\]"):
        ds.latency_encode(np.array(features), 10)
    with pytest.raises(DatasetError, match=r"\[0, 1\]"):
        ds.rate_encode(np.array(features), 10)


def test_damaged_heap_is_refused_before_libhdf5_loops_on_it(tmp_path):
    """A free-space heap object of size 0 makes libhdf5 loop forever in
    ``dataset[i]`` (found by tests/fuzz); the reader checks the heap first.
    Run in a child process so a regression fails instead of hanging."""
    import struct
    import subprocess
    import sys

    shd.write_spiking_audio_file(tmp_path / "ok.h5", [[0.1, 0.2], [0.3]], [[1, 2], [3]], [1, 2])
    raw = bytearray((tmp_path / "ok.h5").read_bytes())
    pos = raw.index(b"GCOL") + 16
    while struct.unpack_from("<H", raw, pos)[0] != 0:                  # to the free-space object
        pos += 16 + -(-struct.unpack_from("<Q", raw, pos + 8)[0] // 8) * 8
    struct.pack_into("<Q", raw, pos + 8, 0)
    (tmp_path / "bad.h5").write_bytes(raw)
    code = ("import sys; from fenn_dma.host.shd import SpikingAudioDataset as S\n"
            "try: S(sys.argv[1])\nexcept Exception as e: print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bad.h5")], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("DatasetError") and "heap object at offset" in out and "is damaged (size 0)" in out
