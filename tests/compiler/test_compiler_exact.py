"""The compiled program on the ISS equals the reference simulator bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenn_dma.compiler.codegen import CompileOptions, compile_network
from fenn_dma.compiler.model import (ALIF, LI, LIF, Delta, Dense, Exponential, FixedProbability, Network,
                                     Sparse, SpikeInput)
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime

ROUNDINGS = ("truncate", "nearest", "stochastic")


def _recurrent_alif(rng, n_in=40, n_hid=50, n_out=5):
    net = Network(dt=1.0)
    inp = net.population("input", n_in, SpikeInput())
    hid = net.population("hidden", n_hid, ALIF(tau_mem=20, tau_adapt=200, beta=0.05, threshold=0.6,
                                               refractory=2), record=("spikes", "v"), readout="spike_count")
    out = net.population("output", n_out, LI(tau_mem=20), readout="v_sum", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.1, 0.3, (n_in, n_hid))), Exponential(5))
    net.connect(hid, hid, Dense(rng.normal(0, 0.2, (n_hid, n_hid))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.3, (n_hid, n_out))), Exponential(5))
    return net


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_recurrent_alif_exp_synapses(check_exact, rounding):
    q, compiled, ref, got = check_exact(_recurrent_alif(np.random.default_rng(0)), steps=60, rounding=rounding)
    assert ref.records["hidden.spikes"].sum() > 50          # the network is active
    assert compiled.asm.words and got.instructions > 0


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_lif_delta_dendritic_delays_latency_refractory_bias(check_exact, rounding):
    rng = np.random.default_rng(1)
    net = Network()
    i = net.population("in", 33, SpikeInput())
    h = net.population("h", 70, LIF(tau_mem=10, threshold=0.5, v_reset=-0.1, refractory=3,
                                    bias=rng.normal(0, 0.05, 70)), record=("spikes", "v"))
    net.connect(i, h, Dense(rng.normal(0.1, 0.3, (33, 70)), delays=rng.integers(0, 6, (33, 70))), Delta(), latency=2)
    net.connect(h, h, Dense(rng.normal(0, 0.1, (70, 70))), Delta())
    q, compiled, ref, _ = check_exact(net, rounding=rounding)
    assert q.populations["h"].ring_depth == 8               # latency 2 + delays up to 5
    assert "vloadl" in compiled.asm.listing and "vstorel" in compiled.asm.listing
    assert ref.records["h.spikes"].sum() > 20


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_sparse_delays_latency0_vmax(check_exact, rounding):
    rng = np.random.default_rng(2)
    net = Network()
    i = net.population("in", 64, SpikeInput())
    h = net.population("h", 100, LIF(tau_mem=10, threshold=0.5), record=("spikes", "v"))
    o = net.population("o", 3, LI(tau_mem=10), record=("v",), readout="v_max")
    net.connect(i, h, FixedProbability(0.2, 0.4, seed=3), Exponential(5))
    pairs = np.unique(rng.integers(0, 100, 300) * 100 + rng.integers(0, 100, 300))
    pre, post = pairs // 100, pairs % 100
    net.connect(h, h, Sparse(pre, post, rng.normal(0, 0.2, pre.size), delays=rng.integers(0, 4, pre.size)),
                Exponential(5))
    net.connect(h, o, Dense(rng.normal(0, 0.3, (100, 3))), Exponential(5), latency=0)
    q, compiled, ref, _ = check_exact(net, rounding=rounding)
    assert "vandadd" in compiled.asm.listing
    assert ref.records["h.spikes"].sum() > 100


def test_latency0_chain_vmem_accumulators_chunk_loops_and_windows(check_exact):
    rng = np.random.default_rng(3)
    net = Network()
    i = net.population("in", 50, SpikeInput())
    h = net.population("h", 200, LIF(tau_mem=10, threshold=0.5), record=("spikes",), readout="spike_count")
    h2 = net.population("h2", 40, ALIF(tau_mem=10, threshold=0.5, beta=0.1), record=("spikes",))
    net.connect(i, h, Dense(rng.normal(0.1, 0.3, (50, 200))), Delta(), latency=0)
    net.connect(h, h2, Dense(rng.normal(0.0, 0.3, (200, 40))), Delta(), latency=0)
    net.connect(h2, h, Dense(rng.normal(0.0, 0.3, (40, 200))), Delta(), latency=1)
    q, compiled, ref, _ = check_exact(net, options=CompileOptions(resident_registers=0, window=7), steps=30)
    assert compiled.window == 7                              # 30 steps ran in 5 calls
    assert ref.records["h2.spikes"].sum() > 10


def test_saturating_accumulators_follow_program_order(check_exact):
    """Large weights clip the accumulators, so the reference's exact fast path is
    not valid and it must add spike by spike in the program's order."""
    rng = np.random.default_rng(4)
    net = Network()
    i = net.population("in", 64, SpikeInput())
    h = net.population("h", 32, LIF(tau_mem=10, threshold=3.0), record=("v", "spikes"), formats={"V": "s3.12"})
    w = rng.choice([-7.5, 7.5], size=(64, 32))
    net.connect(i, h, Dense(w), Delta())
    net.connect(i, h, Sparse(np.arange(64), np.arange(64) % 32, 7.9, delays=None), Delta(), name="extra")
    _, _, ref, _ = check_exact(net, rate=0.5, steps=20)
    v = ref.records["h.v"]
    assert (v == 32767).any() or (v == -32768).any()


def test_runs_continue_and_reset_restarts():
    net = _recurrent_alif(np.random.default_rng(5), n_in=20, n_hid=40)
    q = quantise(net, rounding="stochastic")
    rt = Runtime(compile_network(q, CompileOptions(window=16)))
    x = np.random.default_rng(6).random((1, 50, 20)) < 0.3
    ref = ReferenceSimulator(q, 1).run({"input": x})
    first = rt.run({"input": x[0, :23]})
    second = rt.run({"input": x[0, 23:]})
    assert rt.t == 50
    np.testing.assert_array_equal(np.concatenate([first.records["hidden.spikes"], second.records["hidden.spikes"]]),
                                  ref.records["hidden.spikes"][0])
    np.testing.assert_array_equal(second.readouts["output"], ref.readouts["output"][0])
    rt.reset()
    again = rt.run({"input": x[0]})
    np.testing.assert_array_equal(again.records["output.v"], ref.records["output.v"][0])


def test_batch_runs_each_sample_from_the_initial_state(check_exact):
    check_exact(_recurrent_alif(np.random.default_rng(7), n_in=16, n_hid=20), steps=25, batch=3,
                rounding="stochastic")


@st.composite
def _networks(draw):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    net = Network(dt=draw(st.sampled_from([0.5, 1.0])))
    n_in = draw(st.integers(1, 70))
    inp = net.population("in", n_in, SpikeInput())
    pops = [inp]
    for k in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 80))
        kind = draw(st.sampled_from(["LIF", "ALIF", "LI"]))
        neuron = {"LIF": LIF(tau_mem=draw(st.floats(2, 50)), threshold=0.5,
                             refractory=draw(st.sampled_from([0.0, 2.0]))),
                  "ALIF": ALIF(tau_mem=15, threshold=0.5, tau_adapt=100, beta=0.05,
                               refractory=draw(st.sampled_from([0.0, 1.0]))),
                  "LI": LI(tau_mem=10)}[kind]
        readout = draw(st.sampled_from([None, "v_sum", "v_max"] + (["spike_count"] if kind != "LI" else [])))
        record = ("v",) if kind == "LI" else ("v", "spikes")
        pop = net.population(f"p{k}", n, neuron, record=record, readout=readout)
        syn = draw(st.sampled_from([Delta(), Exponential(4.0)]))
        srcs = [p for p in pops if p.spiking]
        for s in srcs[:2]:
            sparse = draw(st.booleans())
            latency = draw(st.sampled_from([0, 1, 1, 3]))
            delays = draw(st.sampled_from([None, 3]))
            if sparse:
                conn = FixedProbability(0.3, float(rng.normal(0.2, 0.2)), seed=seed + k,
                                        delay=None)
                if delays:
                    m = rng.random((s.size, n)) < 0.3
                    pre, post = np.nonzero(m)
                    conn = Sparse(pre, post, rng.normal(0.1, 0.3, pre.size), rng.integers(0, delays + 1, pre.size))
            else:
                conn = Dense(rng.normal(0.1, 0.3, (s.size, n)),
                             None if delays is None else rng.integers(0, delays + 1, (s.size, n)))
            net.connect(s, pop, conn, syn, latency=latency, placement=draw(st.sampled_from(["auto", "dram"])))
        if kind != "LI" and draw(st.booleans()):
            net.connect(pop, pop, Dense(rng.normal(0, 0.2, (n, n))), syn, latency=1, name=f"rec{k}",
                        placement=draw(st.sampled_from(["auto", "dram"])))
        pops.append(pop)
    return net, seed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_networks(), st.sampled_from(ROUNDINGS), st.integers(0, 3))
def test_random_networks_match_reference(check_exact, spec, rounding, residency):
    net, seed = spec
    check_exact(net, steps=20, rate=0.3, seed=seed, rounding=rounding,
                options=CompileOptions(resident_registers=4 * residency, window=9))
