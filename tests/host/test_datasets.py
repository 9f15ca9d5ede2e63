"""Data sets: Yin-Yang against an independent re-implementation of the reference
sampler, encodings, digits, SHD/SSC loaders on files written here."""
import numpy as np
import pytest
import torch

from fenn_dma.host import datasets as ds
from fenn_dma.host import shd
from fenn_dma.host.errors import DatasetError


def _ref_yinyang(size, seed, rs=0.1, rb=0.5):
    """Tiny independent re-implementation of Kriener et al.'s rejection sampler."""
    rng = np.random.RandomState(seed)
    out, labels = [], []
    for _ in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2 * rb
            if np.hypot(x - rb, y - rb) > rb:
                continue
            dr, dl = np.hypot(x - 1.5 * rb, y - rb), np.hypot(x - 0.5 * rb, y - rb)
            if dr < rs or dl < rs:
                c = 2
            else:
                c = int(dr <= rs or rs < dl <= rb / 2 or (y > rb and dr > rb / 2))
            if c == goal:
                break
        out.append([x, y, 1 - x, 1 - y])
        labels.append(c)
    return np.array(out), np.array(labels)


def test_yinyang_matches_reference_sampler():
    for split, seed in (("train", 42), ("val", 41), ("test", 40)):
        x, y = ds.yin_yang(split, size=300)
        rx, ry = _ref_yinyang(300, seed)
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)


def test_yinyang_properties():
    x, y = ds.yin_yang("train")
    assert x.shape == (5000, 4) and y.shape == (5000,)
    np.testing.assert_allclose(x[:, 2], 1 - x[:, 0])
    np.testing.assert_allclose(x[:, 3], 1 - x[:, 1])
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5)
    counts = np.bincount(y, minlength=3)
    # class chosen uniformly per sample: each near 5000/3 (binomial sd ~33)
    assert np.all(np.abs(counts - 5000 / 3) < 150), counts
    x2, y2 = ds.yin_yang("train")
    np.testing.assert_array_equal(x, x2)
    xt, _ = ds.yin_yang("test")
    assert xt.shape == (1000, 4) and not np.allclose(xt[:10], x[:10])
    # dots: within r_small of a dot centre
    d = np.minimum(np.hypot(x[:, 0] - 0.75, x[:, 1] - 0.5), np.hypot(x[:, 0] - 0.25, x[:, 1] - 0.5))
    assert np.all((d < 0.1) == (y == 2))


def test_yinyang_bad_args():
    with pytest.raises(DatasetError, match="split"):
        ds.yin_yang("dev")
    with pytest.raises(DatasetError, match="r_small"):
        ds.YinYangGenerator(r_small=0.4)


def test_latency_encoding():
    f = np.array([[0.0, 1.0, 0.5, 0.26]])
    s = ds.latency_encode(f, n_steps=12, t_max=10)
    assert s.shape == (1, 12, 5)
    assert s.sum() == 5
    assert [int(np.argmax(s[0, :, i])) for i in range(5)] == [0, 10, 5, 3, 0]
    with pytest.raises(DatasetError):
        ds.latency_encode(np.array([[1.5]]), 10)
    with pytest.raises(DatasetError):
        ds.latency_encode(f, 10, t_max=10)


def test_rate_encoding_reproducible_and_rate():
    f = np.full((200, 3), [0.0, 0.5, 1.0])
    a = ds.rate_encode(f, 100, max_prob=0.4, seed=3)
    np.testing.assert_array_equal(a, ds.rate_encode(f, 100, max_prob=0.4, seed=3))
    rates = a.mean(axis=(0, 1))
    np.testing.assert_allclose(rates, [0.0, 0.2, 0.4], atol=0.01)


def test_yinyang_bundle():
    b = ds.load_yinyang(n_steps=20, sizes={"train": 50, "val": 10, "test": 10})
    tr = b.splits["train"]
    assert tr.spikes.shape == (50, 20, 5) and tr.labels.dtype == torch.int64
    assert torch.all(tr.spikes.sum(1) == 1)          # every channel spikes exactly once


def test_digits_bundle():
    b = ds.load_digits(n_steps=10)
    n = sum(len(s) for s in b.splits.values())
    assert n == 1797 and b.n_inputs == 64 and b.n_classes == 10
    assert b.splits["train"].spikes.sum(1).max() == 1
    r = ds.load_digits(n_steps=10, encoding="rate")
    assert r.splits["test"].spikes.shape[1:] == (10, 64)
    with pytest.raises(DatasetError, match="allowed"):
        ds.load_digits(encoding="phase")


def _write(tmp_path, name, n=6, seed=0):
    rng = np.random.default_rng(seed)
    times, units, labels = [], [], []
    for i in range(n):
        k = 50 + i
        times.append(np.sort(rng.uniform(0, 1.2, k)))
        units.append(rng.integers(0, 700, k))
        labels.append(i % 20)
    shd.write_spiking_audio_file(tmp_path / name, times, units, labels)
    return times, units, labels


def test_shd_loader_bins_and_crops(tmp_path):
    times, units, labels = _write(tmp_path, "shd_train.h5")
    _write(tmp_path, "shd_test.h5", n=3, seed=1)
    b = ds.load_dataset("shd", path=tmp_path, dt=10.0, max_time=1000.0)
    assert b.n_steps == 100 and b.n_inputs == 700 and b.n_classes == 20
    assert len(b.splits["train"]) == 6 and len(b.splits["test"]) == 3
    x, y = b.splits["train"][2]
    assert x.shape == (100, 700) and y == labels[2]
    t32 = np.asarray(times[2], dtype=np.float32).astype(np.float64)
    step = np.floor(t32 * 1000 / 10).astype(int)
    keep = step < 100
    expect = np.zeros((100, 700), np.float32)
    expect[step[keep], units[2][keep]] = 1
    np.testing.assert_array_equal(x.numpy(), expect)


def test_shd_channel_pool_and_val_split(tmp_path):
    _write(tmp_path, "shd_train.h5", n=10)
    _write(tmp_path, "shd_test.h5", n=2)
    b = ds.load_dataset("shd", path=tmp_path, dt=5.0, max_time=200.0, channel_pool=7,
                        val_fraction=0.2)
    assert b.n_inputs == 100 and len(b.splits["val"]) == 2 and len(b.splits["train"]) == 8
    x, _ = b.splits["val"][0]
    assert x.shape == (40, 100)


def test_ssc_single_file(tmp_path):
    _write(tmp_path, "ssc_test.h5")
    b = ds.load_dataset("ssc", path=tmp_path / "ssc_test.h5", dt=20.0)
    assert b.n_classes == 35 and len(b.splits["test"]) == 6


def test_shd_missing_path_message(tmp_path):
    with pytest.raises(DatasetError, match="zenkelab.org/datasets"):
        ds.load_dataset("shd", path=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="zenkelab"):
        ds.load_dataset("shd", path=None)
    with pytest.raises(DatasetError, match="shd_train.h5"):
        ds.load_dataset("shd", path=tmp_path)
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="HDF5"):
        ds.load_dataset("shd", path=tmp_path / "bad.h5")
    with pytest.raises(DatasetError, match="allowed"):
        ds.load_dataset("mnist")
