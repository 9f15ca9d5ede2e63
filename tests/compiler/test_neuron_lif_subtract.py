"""LIFSubtract (compiler/neurons/lif_subtract.py), a neuron model added as one file:
reset by subtraction, bit-exact compiled vs reference, and the float model."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import simulate_float
from fenn_dma.compiler.model import LI, Delta, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.neurons import LIFSubtract, model_class
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator

ROUNDINGS = ("truncate", "nearest", "stochastic")


def _net(rng, n_in=40, n_hid=140):
    net = Network(dt=1.0)
    inp = net.population("in", n_in, SpikeInput())
    hid = net.population("h", n_hid, LIFSubtract(tau_mem=rng.uniform(10, 30, n_hid), threshold=0.6,
                                                 bias=0.01), record=("spikes", "v"), readout="spike_count")
    few = net.population("f", 24, LIFSubtract(tau_mem=15, threshold=rng.uniform(0.3, 0.6, 24)),
                         record=("spikes", "v"))
    out = net.population("o", 3, LI(tau_mem=20), readout="v_max", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.08, 0.25, (n_in, n_hid))), Exponential(5))
    net.connect(hid, hid, Dense(rng.normal(0.0, 0.1, (n_hid, n_hid))), Delta())
    net.connect(inp, few, Dense(rng.normal(0.1, 0.3, (n_in, 24)), delays=rng.integers(0, 3, (n_in, 24))),
                Delta())
    net.connect(hid, out, Dense(rng.normal(0, 0.2, (n_hid, 3))), Exponential(5))
    return net


def test_registered_and_validated():
    assert model_class("LIFSubtract") is LIFSubtract and LIFSubtract.spiking
    with pytest.raises(ModelError, match="population 'x': tau_mem must be > 0"):
        Network().population("x", 3, LIFSubtract(tau_mem=0))


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_compiled_equals_reference(check_exact, rounding):
    q, compiled, ref, _ = check_exact(_net(np.random.default_rng(0)), steps=150, rate=0.1, rounding=rounding)
    assert "subtractive reset" in compiled.asm.listing
    assert ref.records["h.spikes"].sum() > 300 and ref.records["f.spikes"].sum() > 30


def test_a_spike_subtracts_the_threshold():
    """No leak (tau_mem = inf: beta = 1.0, an exact multiply), 0.75 per step onto a
    threshold of 1.0: what is above the threshold carries over."""
    net = Network()
    inp = net.population("in", 1, SpikeInput())
    net.population("f", 1, LIFSubtract(tau_mem=float("inf"), threshold=1.0), record=("spikes", "v"),
                   formats={"V": "s4.11"})
    net.connect(inp, net.populations["f"], Dense(np.array([[0.75]])), Delta())
    q = quantise(net)
    ref = ReferenceSimulator(q, 1).run({"in": np.ones((1, 10, 1), bool)})
    v = q.populations["f"].v_fmt.to_float(ref.records["f.v"][0, :, 0])
    np.testing.assert_array_equal(v, [0, 0.75, 0.5, 0.25, 1.0, 0.75, 0.5, 0.25, 1.0, 0.75])
    np.testing.assert_array_equal(ref.records["f.spikes"][0, :, 0], [0, 0, 1, 1, 0, 1, 1, 1, 0, 1])
    recs, _ = simulate_float(net, {"in": np.ones((1, 10, 1))})
    np.testing.assert_allclose(recs["f"]["V"][0, :, 0], v)


def test_tracks_the_float_model():
    rng = np.random.default_rng(3)
    net = Network()
    inp = net.population("in", 40, SpikeInput())
    for name, syn, w in (("h", Exponential(5), 0.05), ("d", Delta(), 0.15)):
        pop = net.population(name, 50, LIFSubtract(tau_mem=rng.uniform(10, 30, 50), threshold=0.6),
                             record=("spikes", "v"))
        net.connect(inp, pop, Dense(rng.normal(w / 4, w, (40, 50))), syn)
    x = rng.random((4, 50, 40)) < 0.1
    recs, ranges = simulate_float(net, {"in": x})
    q = quantise(net, measured=ranges)
    ref = ReferenceSimulator(q, 4).run({"in": x})
    for name in ("h", "d"):
        v = q.populations[name].v_fmt.to_float(ref.records[f"{name}.v"])
        assert np.quantile(np.abs(v[:, :8] - recs[name]["V"][:, :8]), 0.99) < 0.01
        agree = (ref.records[f"{name}.spikes"][:, :15] == recs[name]["spikes"][:, :15].astype(bool)).mean()
        assert agree > 0.97 and ref.records[f"{name}.spikes"].sum() > 50
