"""PoissonLIF (compiler/neurons/poisson_lif.py): LIF with Poisson input drawn on
the core from the lane RNG; bit-exact compiled vs reference under every
rounding, the count distribution its thresholds quantise, and the float model."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import simulate_float
from fenn_dma.compiler.model import Dense, Exponential, Delta, Network, SpikeInput
from fenn_dma.compiler.neurons import PoissonLIF, model_class
from fenn_dma.compiler.neurons.poisson_lif import _levels
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator

ROUNDINGS = ("truncate", "nearest", "stochastic")


def _net(rng, n=90):
    net = Network(dt=0.5)
    inp = net.population("in", 20, SpikeInput())
    # per-neuron rates: up to ~3 input spikes per step (several threshold levels)
    h = net.population("h", n, PoissonLIF(tau_mem=10, threshold=1.0, refractory=1.0, bias=0.0123,
                                          poisson_rate=rng.uniform(100, 6000, n), poisson_weight=0.05),
                       record=("spikes", "v"), formats={"V": "s4.11"})
    d = net.population("d", 40, PoissonLIF(tau_mem=5, threshold=0.5, poisson_rate=800.0, poisson_weight=0.2),
                       record=("spikes", "v"), formats={"V": "s4.11"})
    net.connect(inp, h, Dense(rng.normal(0.05, 0.1, (20, n))), Exponential(2))
    net.connect(h, d, Dense(rng.normal(0.0, 0.1, (n, 40))), Delta())     # d: no current, input onto V
    return net


def test_registered_and_validated():
    assert model_class("PoissonLIF") is PoissonLIF
    with pytest.raises(ModelError, match="population 'x': poisson_rate must be finite and >= 0"):
        Network().population("x", 3, PoissonLIF(poisson_rate=-1.0))


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_compiled_equals_reference(check_exact, rounding):
    q, compiled, ref, _ = check_exact(_net(np.random.default_rng(0)), steps=120, rate=0.1, rounding=rounding)
    assert q.populations["h"].extra["poisson_levels"] >= 4
    assert q.populations["h"].extra["dither"] and not q.populations["d"].extra["dither"]   # d: no bias
    assert "vrng" in compiled.asm.listing
    assert ref.records["h.spikes"].sum() > 200 and ref.records["d.spikes"].sum() > 50


def test_counts_follow_poisson():
    """With no leak of the current onto V (Delta synapse, V read before the
    threshold), V's step increments are the drawn counts x weight: their mean and
    variance are lambda's, and the lane RNG's counts pass a chi-square test."""
    lam = 1.3                  # per step
    net = Network(dt=1.0)
    net.population("p", 256, PoissonLIF(tau_mem=float("inf"), threshold=30.0, poisson_rate=lam * 1e3,
                                        poisson_weight=0.001), record=("v",), formats={"V": "s5.10"})
    q = quantise(net)
    ref = ReferenceSimulator(q, 1).run({}, steps=60)
    v = ref.records["p.v"][0].astype(np.int64)
    counts = np.diff(np.concatenate([np.zeros((1, 256), np.int64), v]), axis=0).ravel()   # w = 1 LSB
    assert abs(counts.mean() - lam) < 0.03 and abs(counts.var() - lam) < 0.06
    from math import exp, factorial
    obs = np.bincount(counts, minlength=7)[:7]
    exp_ = np.array([exp(-lam) * lam ** k / factorial(k) for k in range(7)]) * counts.size
    chi2 = ((obs[:5] - exp_[:5]) ** 2 / exp_[:5]).sum()
    assert chi2 < 20.0       # 4 dof: p ~ 5e-4


def test_levels_quantise_the_tail():
    th = _levels(np.array([0.0, 0.0128, 1.0]))
    assert th.shape[0] >= 6 and (th[:, 0] == 0).all()
    assert th[0, 1] == round((1 - np.exp(-0.0128)) * 32768) and th[1, 1] == 3 and th[2, 1] == 0
    assert np.all(np.diff(th, axis=0) <= 0)
    with pytest.raises(ModelError, match="levels"):
        _levels(np.array([40.0]))


def test_float_model_rates():
    """The float model draws numpy Poisson counts: same mean input as the program's."""
    net = _net(np.random.default_rng(1))
    x = {"in": np.zeros((1, 400, 20))}
    recs, _ = simulate_float(net, x)
    q = quantise(net)
    ref = ReferenceSimulator(q, 1).run({"in": np.zeros((1, 400, 20), bool)})
    f, r = recs["h"]["spikes"][0].mean(), ref.records["h.spikes"][0].mean()
    assert f > 0.01 and abs(f - r) < 0.15 * f


@pytest.mark.parametrize("dither", (True, False))
def test_bias_dither_is_exact_on_average(dither):
    """No leak, bias onto V (no synapse): after T steps V = T b exactly on average with
    the dither (b = 1.2595 LSB of s5.10), T round(b) without it."""
    b, T = 1.2595 / 1024, 2000
    net = Network(dt=1.0)
    net.population("p", 64, PoissonLIF(tau_mem=float("inf"), threshold=30.0, bias=b, dither_bias=dither),
                   record=("v",), formats={"V": "s5.10"})
    q = quantise(net)
    v = ReferenceSimulator(q, 1).run({}, steps=T).records["p.v"][0, -1].astype(np.int64)
    if dither:
        assert abs(v.mean() - T * 1.2595) < 4 * np.sqrt(T * 0.26 * 0.74 / 64)
        assert v.std() > 5                                  # per-neuron random walks
    else:
        assert (v == T).all()


def test_no_rate_and_no_dither_draws_nothing():
    net = Network(dt=1.0)
    net.population("p", 40, PoissonLIF(tau_mem=10, threshold=1.0, bias=0.25), record=("spikes",),
                   formats={"V": "s5.10"})
    q = quantise(net)
    p = q.populations["p"]
    assert not PoissonLIF.draws(p) and p.multiplies() == ("beta",)
