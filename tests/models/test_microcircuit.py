"""models/microcircuit.py: the Potjans & Diesmann (2014) tables and scaling, the
drawn instance, its mapping onto the compiler (PSP shape, delays, background),
the compiled program bit-exact with the reference, and the short side-by-side
run with NEST (skipped without NEST; the long one is marked slow)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import simulate_float
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.models import microcircuit as mc
from fenn_dma.models import nest_microcircuit as nm
from fenn_dma.models import statistics as st

needs_nest = pytest.mark.skipif(not nm.available(), reason="NEST not installed (pip install -e '.[nest]')")


def test_full_scale_tables():
    assert mc.FULL_SIZES.sum() == 77169
    total = mc.full_synapses().sum()
    assert 2.9e8 < total < 3.1e8                       # "about 3 x 10^8 synapses"
    k = mc.full_indegrees()
    # in-degree of L4E from L4I: C N_pre for small C, a little more (pairs drawn with replacement)
    assert k[2, 3] == pytest.approx(-math.log(1 - 0.1350) * 5479, rel=1e-3)
    w = mc.mean_weights()
    assert w[0, 2] == 2 * 87.8 and w[1, 2] == 87.8 and w[4, 5] == -4 * 87.8
    # DC equivalent of the background at full scale: K_ext nu w tau_syn
    i = mc.background_current(mc.Params(n_scale=1.0, k_scale=1.0, background="dc"))
    np.testing.assert_allclose(i, mc.K_EXT * 8.0 * 87.8 * 0.5e-3)


def test_scaling_keeps_the_mean_input():
    """Mean input per neuron at the full-scale rates: recurrent (k K w/sqrt(k) r) + DC
    (+ Poisson mean) is the full-scale one for every k (van Albada et al. 2015)."""
    def mean_input(p):
        rec = (mc.full_indegrees() * p.k_scale * mc.mean_weights() / math.sqrt(p.k_scale)
               * mc.FULL_RATES).sum(axis=1) * mc.TAU_SYN * 1e-3
        ext = mc.K_EXT * p.k_scale * 8.0 * 87.8 / math.sqrt(p.k_scale) * mc.TAU_SYN * 1e-3 \
            if p.background == "poisson" else 0.0
        return rec + ext + mc.background_current(p)
    full = mean_input(mc.Params(n_scale=1.0, k_scale=1.0))
    for k in (0.01, 0.1, 0.5):
        for bg in ("dc", "poisson"):
            np.testing.assert_allclose(mean_input(mc.Params(k_scale=k, background=bg)), full, rtol=1e-12)


def test_instance_statistics():
    p = mc.Params(n_scale=0.02, k_scale=0.05, seed=3)
    inst = mc.draw(p)
    assert list(inst.sizes) == list(np.round(mc.FULL_SIZES * 0.02).astype(int))
    counts = mc.synapse_counts(p)
    assert inst.synapses == counts.sum() and len(inst.projections) == (counts > 0).sum()
    w_all = np.concatenate([pr.weight for pr in inst.projections if mc.EXCITATORY[pr.source]
                            and (pr.source, pr.target) != (2, 0)])
    assert w_all.mean() == pytest.approx(87.8 / math.sqrt(0.05), rel=0.01)
    assert w_all.std() == pytest.approx(0.1 * 87.8 / math.sqrt(0.05), rel=0.05)
    for pr in inst.projections:
        assert pr.delay.min() >= 1 and pr.delay.max() <= 31
        assert (pr.weight >= 0).all() if mc.EXCITATORY[pr.source] else (pr.weight <= 0).all()
    d_e = np.concatenate([pr.delay for pr in inst.projections if mc.EXCITATORY[pr.source]]) * 0.1
    assert d_e.mean() == pytest.approx(1.5, abs=0.05)        # clipping at dt and 3.1 ms: nearly symmetric
    big = next(pr for pr in inst.projections if (pr.source, pr.target) == (5, 4))   # L5I -> L5E: C = 0.37
    pairs = big.pre * 10_000 + big.post
    assert np.unique(pairs).size < pairs.size                # multapses drawn


def test_layers_keep_every_synapse():
    inst = mc.draw(mc.Params(n_scale=0.02, k_scale=0.05))
    for pr in inst.projections[:20]:
        lay = mc.layers(pr)
        total = sum(w.sum() for _, _, w, _ in lay)
        assert total == pytest.approx(pr.weight.sum())
        for pre, post, _, _ in lay:                          # one synapse per pair in a layer
            assert np.unique(pre * 10_000 + post).size == pre.size
        # per (pre, post, delay) the summed weight is the one of the drawn synapses
        key = lambda a, b, d: (a * 10_000 + b) * 100 + d    # noqa: E731
        got = {}
        for pre, post, w, d in lay:
            for kk, ww in zip(key(pre, post, d), w):
                got[kk] = got.get(kk, 0.0) + ww
        want = {}
        for kk, ww in zip(key(pr.pre, pr.post, pr.delay), pr.weight):
            want[kk] = want.get(kk, 0.0) + ww
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-9 for k in want)


def _one_synapse(w_pa: float, delay: int) -> mc.Instance:
    """L23E neuron 0 fires at step 0 (V0 above threshold) onto L23I neuron 0."""
    p = mc.Params(n_scale=1e-5, k_scale=1.0, background="dc")
    sizes = np.ones(8, np.int64)
    v0 = [np.array([mc.E_L]) for _ in range(8)]
    v0[0] = np.array([mc.V_TH + 1.0])
    pr = mc.Projection(0, 1, np.array([0]), np.array([0]), np.array([w_pa]), np.array([delay]))
    return mc.Instance(p, sizes, [pr], v0, np.zeros(8))


def test_psp_is_the_exact_iaf_psc_exp_response():
    """Through to_network and the float model: the PSP of one synapse is NEST's exact
    iaf_psc_exp kernel w tau_s tau_m / (C (tau_m - tau_s)) (e^-t/tau_m - e^-t/tau_s),
    starting ``delay`` + 1 steps after the spike, as NEST's (its V moves one step after
    the current takes the spike: test_psp_matches_nest)."""
    w, d = 500.0, 15
    inst = _one_synapse(w, d)
    rec, _ = simulate_float(mc.to_network(inst), {}, steps=120)
    v = mc.split(rec["microcircuit"]["V"][0], inst)["L23I"][:, 0]
    spk = mc.split(rec["microcircuit"]["spikes"][0], inst)["L23E"][:, 0]
    assert np.nonzero(spk)[0].tolist() == [0]
    d += 1
    t = (np.arange(120 - d) + 1) * 0.1
    kernel = w * mc.TAU_SYN * mc.TAU_M / (mc.C_M * (mc.TAU_M - mc.TAU_SYN)) * \
        (np.exp(-t / mc.TAU_M) - np.exp(-t / mc.TAU_SYN))
    np.testing.assert_array_equal(v[:d], 0.0)
    np.testing.assert_allclose(v[d:], kernel, rtol=1e-9, atol=1e-12)


@needs_nest
def test_psp_matches_nest():
    """The same one-synapse instance in NEST: V of the target step for step."""
    import nest
    inst = _one_synapse(500.0, 15)
    rec, _ = simulate_float(mc.to_network(inst), {}, steps=60)
    v = mc.split(rec["microcircuit"]["V"][0], inst)["L23I"][:, 0] + mc.E_L
    nm.simulate(inst, 0.1)                     # builds the network; then record V of L23I
    vm = nest.Create("voltmeter", params={"interval": 0.1})
    nest.Connect(vm, nest.NodeCollection([2]))
    nest.Simulate(6.0)
    got = np.asarray(vm.get("events")["V_m"])[:59]
    np.testing.assert_allclose(got, v[1:60], rtol=0, atol=1e-9)


def test_dc_bias_drives_v_to_nest_steady_state():
    inst = _one_synapse(0.0, 1)
    inst.i_bg[:] = 300.0                                    # pA: V_inf = I R = 12 mV
    rec, _ = simulate_float(mc.to_network(inst), {}, steps=2000)
    v = mc.split(rec["microcircuit"]["V"][0], inst)["L5E"][-1, 0]
    assert v == pytest.approx(300.0 * mc.TAU_M / mc.C_M, rel=1e-6)


@pytest.mark.parametrize("background,rounding", (("dc", "stochastic"), ("poisson", "stochastic"),
                                                ("poisson", "nearest")))
def test_program_equals_reference(background, rounding):
    inst = mc.draw(mc.Params(background=background, seed=2))
    program, qnet = compile_model(mc.to_network(inst), rounding=rounding)
    got = Runtime(program).run({}, steps=300).records["microcircuit.spikes"]
    ref = ReferenceSimulator(qnet).run({}, steps=300).records["microcircuit.spikes"][0]
    np.testing.assert_array_equal(got, ref)
    assert got[:10].sum() > 20                 # the neurons that start above threshold
    if background == "poisson":                # the DC-driven network at k = 0.01 falls silent
        assert got[100:].sum() > 10


def test_bad_parameters():
    with pytest.raises(ModelError, match="n_scale = 0 must be in"):
        mc.draw(mc.Params(n_scale=0))
    with pytest.raises(ModelError, match="max_delay = 0.05 ms must be >= dt"):
        mc.draw(mc.Params(max_delay=0.05))
    with pytest.raises(ModelError, match="background 'noise'"):
        mc.draw(mc.Params(background="noise"))


def test_statistics():
    s = np.zeros((1000, 3), bool)
    s[::100, 0] = True                                       # regular: CV 0, 10 Hz at dt 1 ms
    s[[1, 3, 50, 52, 600, 603], 1] = True
    assert st.rates(s, 1.0, 0)[0] == pytest.approx(10.0)
    cv = st.cv_isi(s, 0)
    assert cv[0] == 0.0 and cv[1] > 1.0 and cv.size == 2      # neuron 2 never fires
    assert st.ks_distance(np.arange(10), np.arange(10)) == 0.0
    assert st.ks_distance(np.zeros(5), np.ones(5)) == 1.0
    c = st.correlations(np.repeat(s[:, :2], 2, axis=1), 1.0, 0, bin_ms=2.0)
    assert c.size == 6 and c.max() == pytest.approx(1.0)


@needs_nest
def test_side_by_side_short():
    """700 ms at scale 0.01 with the Poisson background (200 ms discarded): the program's
    per-population rate distributions are within twice NEST's seed-to-seed KS spread
    (+ 0.1), and its mean rates within 40 % of NEST's."""
    from fenn_dma.models.validation import compare
    c = compare(mc.Params(background="poisson"), 700.0, discard_ms=200.0, nest_seeds=3, engines=("iss",))
    for pop in mc.POPULATIONS:
        ks, spread = c.ks["iss"][pop]["rate"], c.spread[pop]["rate"]
        assert ks <= 2 * spread + 0.1, (pop, ks, spread)
        r_nest, r_iss = c.summaries["nest0"][pop]["rate"].mean(), c.summaries["iss"][pop]["rate"].mean()
        assert abs(r_iss - r_nest) <= 0.4 * r_nest + 0.3, (pop, r_nest, r_iss)


@needs_nest
@pytest.mark.slow
def test_side_by_side_long():
    """2.5 s (500 ms discarded), four NEST seeds: float and fixed point against NEST on
    rates, CVs and correlations; most entries within 1.5 x NEST's spread + 0.05, none
    beyond 3 x + 0.1."""
    from fenn_dma.models.validation import compare
    c = compare(mc.Params(background="poisson"), 2500.0, nest_seeds=4, engines=("float", "iss"))
    for e in ("float", "iss"):
        ok = c.within(e)
        assert sum(ok.values()) >= 0.75 * len(ok), (e, [k for k, v in ok.items() if not v])
        loose = c.within(e, factor=3.0, slack=0.1)
        assert all(loose.values()), (e, [k for k, v in loose.items() if not v])


SAMPLE = {"L23E": 40, "L4E": 17, "L5I": 11, "L6I": 3}      # L5I: all of its 11 neurons at scale 0.01


def test_sample_records_the_first_neurons_of_each_population():
    """``sample``: the program records only the first N neurons of the named populations (placed
    first in the compiler's population): with the DC background, nearest rounding and no dither
    the dynamics are integer and order-free, so the sample's record is the full program's,
    neuron for neuron; the window holds 3 words per step instead of 25."""
    inst = mc.draw(mc.Params(background="dc", seed=2))
    full, _ = compile_model(mc.to_network(inst, dither_bias=False), rounding="nearest")
    samp, _ = compile_model(mc.to_network(inst, dither_bias=False, sample=SAMPLE), rounding="nearest")
    assert samp.io["records"]["microcircuit.spikes"]["words"] == 3 and full.io["records"]["microcircuit.spikes"][
        "words"] == 25
    a = mc.split(Runtime(full).run({}, steps=200).records["microcircuit.spikes"], inst)
    rec = Runtime(samp).run({}, steps=200).records["microcircuit.spikes"]
    assert rec.shape == (200, 71)
    b = mc.split(rec, inst, SAMPLE)
    for k, pop in enumerate(mc.POPULATIONS):
        n = SAMPLE.get(pop, 0)
        assert b[pop].shape == (200, n)
        np.testing.assert_array_equal(b[pop], a[pop][:, :n], err_msg=pop)
    assert rec.sum() > 5


def test_sample_program_equals_reference():
    inst = mc.draw(mc.Params(seed=1))
    program, qnet = compile_model(mc.to_network(inst, sample=20), rounding="stochastic")
    got = Runtime(program).run({}, steps=150).records["microcircuit.spikes"]
    ref = ReferenceSimulator(qnet).run({}, steps=150).records["microcircuit.spikes"][0]
    assert got.shape == (150, int(np.minimum(inst.sizes, 20).sum()))
    np.testing.assert_array_equal(got, ref)
    assert got.sum() > 10


@pytest.mark.parametrize("sample, match", [
    ({"L7E": 3}, r"sample names 'L7E'; allowed populations: L23E, L23I, L4E"),
    ({"L5I": 12}, r"sample\['L5I'\] = 12; allowed: an integer from 0 to 11 \(the neurons of L5I at this scale\)"),
    ({"L4E": -1}, r"sample\['L4E'\] = -1; allowed: an integer from 0"),
    ({"L4E": 2.0}, r"sample\['L4E'\] = 2.0"),
    ({"L4E": 0}, r"the sample records no neuron"),
    (0, r"sample = 0; allowed: an integer >= 1"),
    ("all", r"sample = 'all'; allowed"),
])
def test_bad_sample(sample, match):
    inst = mc.draw(mc.Params())
    with pytest.raises(ModelError, match=match):
        mc.to_network(inst, sample=sample)


def test_split_refuses_other_widths():
    inst = mc.draw(mc.Params())
    with pytest.raises(ModelError, match=r"5 columns are neither the 771 neurons nor the sample's 71"):
        mc.split(np.zeros((3, 5), bool), inst, SAMPLE)
