"""NIR import: plain graphs, graphs written by the host's exporter, delays, errors."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import simulate_float
from fenn_dma.compiler.model import ALIF, LI, LIF, Exponential
from fenn_dma.compiler.nir_import import from_nir, read_nir
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork, simulate
from fenn_dma.host.nir_io import to_nir


def _cuba_graph(rng, n_in=20, n_h=30, n_o=4, bias=True):
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc1": nir.Affine(weight=rng.normal(0, 1, (n_h, n_in)), bias=np.zeros(n_h)),
        "lif": nir.CubaLIF(tau_syn=np.full(n_h, 5e-3), tau_mem=np.full(n_h, 20e-3), r=np.full(n_h, 20.),
                           v_leak=np.zeros(n_h), v_threshold=np.ones(n_h), w_in=np.full(n_h, 5.)),
        "rec": nir.Affine(weight=rng.normal(0, .3, (n_h, n_h)), bias=np.zeros(n_h)),
        "fc2": nir.Affine(weight=rng.normal(0, 1, (n_o, n_h)), bias=rng.normal(0, .1, n_o) if bias else np.zeros(n_o)),
        "li": nir.CubaLI(tau_syn=np.full(n_o, 5e-3), tau_mem=np.full(n_o, 20e-3), r=np.full(n_o, 20.),
                         v_leak=np.zeros(n_o), w_in=np.full(n_o, 5.)),
        "output": nir.Output(output_type={"output": np.array([n_o])})},
        edges=[("input", "fc1"), ("fc1", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "fc2"),
               ("fc2", "li"), ("li", "output")])


def test_plain_cuba_graph_maps_with_euler_gains_and_snntorch_latency(tmp_path, check_exact):
    rng = np.random.default_rng(0)
    g = _cuba_graph(rng)
    nir.write(str(tmp_path / "net.nir"), g)
    net = read_nir(tmp_path / "net.nir")
    assert set(net.populations) == {"input", "lif", "li"}
    conns = {c.name: c for c in net.connections.values()}
    assert conns["input->lif"].latency == 0 and conns["lif->li"].latency == 0
    assert conns["lif->lif"].latency == 1                   # the edge closing the cycle
    # gain (dt/tau_syn) w_in (dt/tau_mem) r = 0.2 * 5 * 0.05 * 20 = 1
    np.testing.assert_allclose(conns["input->lif"].connectivity.weights, g.nodes["fc1"].weight.T)
    lif = net.populations["lif"].neuron
    assert isinstance(lif, LIF) and isinstance(conns["input->lif"].synapse, Exponential)
    # forward Euler: beta = 1 - dt/tau_mem = 0.95
    np.testing.assert_allclose(np.exp(-1.0 / np.asarray(lif.tau_mem)), 0.95)
    np.testing.assert_allclose(np.exp(-1.0 / conns["input->lif"].synapse.tau), 0.8)
    # the Affine bias becomes a constant input current of the readout
    np.testing.assert_allclose(net.populations["li"].neuron.bias, g.nodes["fc2"].bias)
    assert net.populations["li"].record == ("v",) and net.populations["li"].readout == "v_sum"
    check_exact(net, steps=30, rate=0.3)


def _trained(rng, delays=True):
    hid = NeuronParams("ALIF", tau_mem=20, tau_syn=5, threshold=0.6, refractory=2, tau_adapt=200, beta_adapt=0.05)
    out = NeuronParams("LI", tau_mem=20, tau_syn=5)
    d = rng.integers(0, 5, (24, 16)) if delays else np.zeros((24, 16), np.int64)
    return TrainedNetwork(16, [Layer("hidden", hid, rng.normal(0.3, 0.5, (24, 16)), d, rng.normal(0, 0.2, (24, 24))),
                               Layer("out", out, rng.normal(0, 0.5, (3, 24)), np.zeros((3, 24), np.int64))],
                          n_steps=40, readout_reduce="max")


def test_host_exported_graph_reproduces_the_host_dynamics(tmp_path):
    rng = np.random.default_rng(1)
    tn = _trained(rng)
    nir.write(str(tmp_path / "h.nir"), to_nir(tn))
    net = read_nir(tmp_path / "h.nir")
    hid = net.populations["hidden"].neuron
    assert isinstance(hid, ALIF) and hid.refractory == 2.0 and hid.beta == 0.05
    c = net.connections["input->hidden"]
    assert c.latency == 1
    np.testing.assert_array_equal(c.connectivity.delays, tn.layers[0].delays.T)   # per-synapse delays merged
    assert net.populations["out"].readout == "v_max"
    x = rng.random((2, 40, 16)) < 0.3
    scores, traces = simulate(tn, x, record=True)
    recs, _ = simulate_float(net, {"input": x})
    np.testing.assert_array_equal(recs["hidden"]["spikes"], traces[0])
    np.testing.assert_allclose(recs["out"]["V"], traces[1], atol=1e-9)


def test_delay_matrix_metadata_extension_and_delay_nodes(check_exact):
    rng = np.random.default_rng(2)
    w = rng.normal(0.5, 0.3, (10, 8))
    dm = rng.integers(0, 4, (10, 8))
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([8])}),
        "dl": nir.Delay(delay=np.full(8, 2e-3)),
        "w": nir.Linear(weight=w, metadata={"fenn.delays": dm}),
        "n": nir.LIF(tau=np.full(10, 10e-3), r=np.full(10, 10.), v_leak=np.zeros(10), v_threshold=np.full(10, .5)),
        "sc": nir.Scale(scale=np.full(10, 0.5)),
        "if": nir.IF(r=np.ones(10), v_threshold=np.full(10, 0.8)),
        "out": nir.Output(output_type={"output": np.array([10])})},
        edges=[("in", "dl"), ("dl", "w"), ("w", "n"), ("n", "sc"), ("sc", "if"), ("if", "out")])
    net = from_nir(g, latency=1)
    c = net.connections["in->n"]
    np.testing.assert_array_equal(c.connectivity.delays, dm.T + 2)
    one2one = net.connections["n->if"].connectivity.weights
    np.testing.assert_allclose(one2one, 0.5 * np.eye(10))
    assert np.isinf(net.populations["if"].neuron.tau_mem).all()
    assert net.populations["if"].readout == "spike_count"
    check_exact(net, steps=30, rate=0.4)


@pytest.mark.parametrize("node, message", [
    (nir.Conv1d(input_shape=8, weight=np.ones((2, 2, 3)), stride=1, padding=0, dilation=1, groups=1,
                bias=np.zeros(2)), "Conv1d"),
    (nir.Threshold(threshold=np.ones(8)), "Threshold"),
])
def test_unsupported_nodes_are_named(node, message):
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type={"input": np.array([8])}), "bad": node,
                            "out": nir.Output(output_type={"output": np.array([8])})},
                     edges=[("in", "bad"), ("bad", "out")], type_check=False)
    with pytest.raises(ModelError, match=rf"'bad' \({message}\) is not supported"):
        from_nir(g)


def test_import_errors_name_the_node():
    rng = np.random.default_rng(3)
    g = _cuba_graph(rng)
    g.nodes["fc1"] = nir.Affine(weight=rng.normal(0, 1, (30, 21)), bias=np.zeros(30))
    with pytest.raises(ModelError, match=r"'fc1': weight shape \(30, 21\)"):
        from_nir(g)
    g = _cuba_graph(rng)
    g.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(30, 0.5e-3), tau_mem=np.full(30, 20e-3), r=np.ones(30),
                                 v_leak=np.zeros(30), v_threshold=np.ones(30))
    with pytest.raises(ModelError, match="'lif'.*tau_syn.*not longer than dt"):
        from_nir(g, dt=1.0)
    g.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(30, -5e-3), tau_mem=np.full(30, 20e-3), r=np.ones(30),
                                 v_leak=np.zeros(30), v_threshold=np.ones(30))
    with pytest.raises(ModelError, match="'lif'.*tau_syn = -0.005 s.*must be positive"):
        from_nir(g, dt=1.0)
    g = _cuba_graph(rng)
    g.nodes["rec"].metadata["fenn.delays"] = np.full((3, 3), 1)
    with pytest.raises(ModelError, match="'rec'.*fenn.delays.*shape"):
        from_nir(g)
    with pytest.raises(ModelError, match="not found"):
        read_nir("/nonexistent/x.nir")


def _canon(net):
    """Everything of a Network that the NIR pair must keep (populations and connections in order)."""
    pops = [(p.name, p.size, type(p.neuron).__name__, repr(p.neuron), p.record, p.readout)
            for p in net.populations.values()]
    conns = []
    for c in net.connections.values():
        w, d, _ = c.dense_arrays()
        conns.append((c.name, c.source.name, c.target.name, repr(c.synapse), c.latency, w.tobytes(), d.tobytes()))
    return net.dt, pops, conns


def test_writer_round_trips_a_compiler_network_through_a_file(tmp_path):
    from fenn_dma.compiler.model import Delta, Dense, Network, SpikeInput
    from fenn_dma.compiler.nir_export import to_nir, write_nir
    rng = np.random.default_rng(4)
    net = Network(dt=0.5, name="w")
    inp = net.population("input", 6, SpikeInput())
    a = net.population("a", 8, ALIF(tau_mem=15.0, threshold=0.7, refractory=1.0, tau_adapt=80.0, beta=0.1))
    b = net.population("b", 5, LIF(tau_mem=10.0, threshold=0.9))
    o = net.population("o", 3, LI(tau_mem=25.0), record=("v",), readout="v_max")
    net.connect(inp, a, Dense(rng.normal(0, 1, (6, 8)), rng.integers(0, 3, (6, 8))), Exponential(4.0))
    net.connect(a, a, Dense(rng.normal(0, .3, (8, 8))), Exponential(4.0))
    net.connect(a, b, Dense(rng.normal(0, 1, (8, 5)), 2), Delta())
    net.connect(b, o, Dense(rng.normal(0, 1, (5, 3))), Exponential(6.0))
    write_nir(net, tmp_path / "w.nir", {"n_steps": 7})
    g = nir.read(str(tmp_path / "w.nir"))
    assert type(g.nodes["b"]).__name__ == "LIF" and type(g.nodes["a"]).__name__ == "CubaLIF"
    assert g.nodes["a"].metadata["model"] == "ALIF" and g.metadata["readout_reduce"] == "max"
    back = read_nir(tmp_path / "w.nir")
    assert _canon(back) == _canon(net)
    assert _canon(from_nir(to_nir(back))) == _canon(net)


def test_writer_refuses_what_it_cannot_write():
    from fenn_dma.compiler.model import Dense, Network, SpikeInput
    from fenn_dma.compiler.nir_export import to_nir
    net = Network()
    inp = net.population("input", 2, SpikeInput())
    h = net.population("h", 2, LIF(bias=0.5))
    o = net.population("o", 1, LI(), record=("v",), readout="v_sum")
    net.connect(inp, h, Dense(np.ones((2, 2))), Exponential(5.0))
    net.connect(h, o, Dense(np.ones((2, 1))), Exponential(5.0), latency=2)
    with pytest.raises(ModelError, match="latencies"):
        to_nir(net)
    net.connections["h->o"].latency = 1
    with pytest.raises(ModelError, match="population 'h': a bias"):
        to_nir(net)
    net.populations["h"].neuron = LIF(threshold=np.array([1.0, 2.0]))
    with pytest.raises(ModelError, match="population 'h': per-neuron threshold"):
        to_nir(net)
