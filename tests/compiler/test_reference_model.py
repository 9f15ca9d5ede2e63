"""The fixed-point plan and reference against the float model."""
from __future__ import annotations

import numpy as np

from fenn_dma.compiler.float_sim import measure_ranges, simulate_float
from fenn_dma.compiler.model import ALIF, LI, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator


def _net():
    rng = np.random.default_rng(0)
    net = Network()
    i = net.population("in", 50, SpikeInput())
    h = net.population("h", 64, ALIF(tau_mem=20, threshold=0.6, tau_adapt=500, beta=0.02, refractory=2),
                       record=("spikes", "v"))
    o = net.population("o", 4, LI(tau_mem=20), record=("v",))
    net.connect(i, h, Dense(rng.normal(0.05, 0.15, (50, 64))), Exponential(5))
    net.connect(h, h, Dense(rng.normal(0, 0.05, (64, 64))), Exponential(5))
    net.connect(h, o, Dense(rng.normal(0, 0.2, (64, 4))), Exponential(5))
    return net


def test_measured_ranges_choose_formats_that_cover_them():
    net = _net()
    x = {"in": np.random.default_rng(1).random((4, 80, 50)) < 0.1}
    ranges = measure_ranges(net, x)
    q = quantise(net, measured=ranges)
    for pop in ("h", "o"):
        lo, hi = ranges[pop]["V"]
        fmt = q.populations[pop].v_fmt
        assert fmt.min_value <= 1.25 * lo and 1.25 * hi <= fmt.max_value
        # and no coarser than needed: one more fraction bit would not hold the range
        assert max(abs(lo), abs(hi)) * 1.25 > fmt.max_value / 2 - 1
    assert str(q.populations["h"].a_fmt) != ""


def test_fixed_point_reference_tracks_the_float_model():
    net = _net()
    x = np.random.default_rng(2).random((8, 40, 50)) < 0.1
    recs, ranges = simulate_float(net, {"in": x})
    q = quantise(net, measured=ranges)
    ref = ReferenceSimulator(q, 8).run({"in": x})
    v_fixed = q.populations["o"].v_fmt.to_float(ref.records["o.v"])
    scale = np.abs(recs["o"]["V"]).max()
    np.testing.assert_allclose(v_fixed[:, :8], recs["o"]["V"][:, :8], atol=0.01 * scale)
    agree = (ref.records["h.spikes"][:, :15] == recs["h"]["spikes"][:, :15].astype(bool)).mean()
    assert agree > 0.97


def test_stochastic_rounding_is_unbiased_where_truncation_is_not():
    net = _net()
    x = np.random.default_rng(3).random((8, 60, 50)) < 0.1
    recs, ranges = simulate_float(net, {"in": x})
    errs = {}
    for r in ("truncate", "stochastic"):
        q = quantise(net, measured=ranges, rounding=r)
        v = q.populations["o"].v_fmt.to_float(ReferenceSimulator(q, 8).run({"in": x}).records["o.v"])
        errs[r] = abs(float(np.mean(v[:, :10] - recs["o"]["V"][:, :10])))
    assert errs["stochastic"] < errs["truncate"]
