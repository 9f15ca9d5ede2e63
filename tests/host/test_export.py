"""NIR round trip through real files, netx HDF5 layout, Loihi integer model."""
import h5py
import nir
import numpy as np
import pytest
import torch

from fenn_dma.host import loihi
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork, simulate
from fenn_dma.host.nir_io import export_nir, from_nir, import_nir
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig


def _trained(model="LIF", rec=True, refr=1, seed=2):
    cfg = NetConfig(5, 3, [HiddenConfig(10, model, rec, refractory=refr, tau_adapt=50, beta_adapt=0.2)],
                    delay_mode="synapse", max_delay=6, init_delay=1.0, seed=seed)
    m = SNN(cfg).double()
    with torch.no_grad():
        for w in m.w:
            w.mul_(4)
    return m.to_trained(30, {"k": 1})


@pytest.mark.parametrize("model", ["LIF", "ALIF"])
def test_nir_round_trip_identical(tmp_path, model):
    net = _trained(model)
    assert net.layers[0].delays.max() > 0
    export_nir(net, tmp_path / "net.nir")
    g = nir.read(str(tmp_path / "net.nir"))        # readable by nir
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert {"Input", "Output", "CubaLIF", "CubaLI", "Linear", "Delay"} <= kinds
    back = import_nir(tmp_path / "net.nir")
    assert back.equals(net)
    x = (np.random.default_rng(0).random((4, 30, 5)) < 0.3).astype(float)
    np.testing.assert_array_equal(simulate(back, x), simulate(net, x))


def test_nir_foreign_graph_without_metadata():
    """A graph in snnTorch's convention (dt = 1e-4 s): decays and gains decoded."""
    dt = 1e-4
    alpha, beta = 0.8, 0.9
    tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)
    w1 = np.arange(6.0).reshape(2, 3)
    w2 = np.ones((2, 2))
    lif = nir.CubaLIF(tau_syn=np.full(2, tau_syn), tau_mem=np.full(2, tau_mem), r=np.full(2, tau_mem / dt),
                      v_leak=np.zeros(2), v_threshold=np.full(2, 1.5), w_in=np.full(2, tau_syn / dt))
    li = nir.CubaLI(tau_syn=np.full(2, tau_syn), tau_mem=np.full(2, tau_mem), r=np.full(2, 2 * tau_mem / dt),
                    v_leak=np.zeros(2), w_in=np.full(2, tau_syn / dt))
    g = nir.NIRGraph(nodes={"in": nir.Input({"input": np.array([3])}), "fc1": nir.Affine(w1, np.zeros(2)),
                            "lif": lif, "fc2": nir.Linear(w2), "out_li": li,
                            "out": nir.Output({"output": np.array([2])})},
                     edges=[("in", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "out_li"), ("out_li", "out")])
    net = from_nir(g, dt=0.1)
    h, r = net.layers
    assert h.neuron.alpha == pytest.approx(alpha) and h.neuron.beta == pytest.approx(beta)
    assert h.neuron.threshold == 1.5
    np.testing.assert_allclose(h.weights, w1)
    np.testing.assert_allclose(r.weights, 2 * w2)         # r = 2 tau/dt folded into the weights


def test_nir_errors(tmp_path):
    with pytest.raises(ExportError, match="not found"):
        import_nir(tmp_path / "x.nir")
    g = nir.NIRGraph(nodes={"in": nir.Input({"input": np.array([3])}), "fc": nir.Affine(np.ones((2, 3)), np.ones(2)),
                            "li": nir.LI(np.full(2, 1e-2), np.ones(2), np.zeros(2)),
                            "out": nir.Output({"output": np.array([2])})},
                     edges=[("in", "fc"), ("fc", "li"), ("li", "out")])
    with pytest.raises(ExportError, match="bias"):
        from_nir(g)


def test_snntorch_nir_export_reads_back():
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
                                torch.nn.Linear(4, 2, bias=False),
                                snn.Synaptic(alpha=0.7, beta=0.95, init_hidden=True, output=True))
    try:
        g = export_to_nir(model, torch.zeros(1, 3))
    except Exception as exc:  # snnTorch/nirtorch version mismatch: nothing to compare
        pytest.skip(f"snntorch export_to_nir failed here: {exc}")
    cubas = [n for n in g.nodes.values() if isinstance(n, nir.CubaLIF)]
    assert cubas
    # our export of the same decays uses snnTorch's parameter convention
    dt = 1e-4
    np.testing.assert_allclose(np.asarray(cubas[0].tau_syn).ravel()[0], dt / (1 - 0.8), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(cubas[0].w_in).ravel()[0], 1 / (1 - 0.8), rtol=1e-6)
    net = _trained(rec=False)
    from fenn_dma.host.nir_io import to_nir
    ours = to_nir(net)
    n0 = ours.nodes["hidden0"]
    dts = net.dt * 1e-3
    np.testing.assert_allclose(n0.w_in * dts, n0.tau_syn)
    np.testing.assert_allclose(n0.r * dts, n0.tau_mem)


def test_netx_layout(tmp_path):
    net = _trained(rec=True)
    lnet = loihi.export_netx(net, tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r") as f:
        assert sorted(f["layer"].keys()) == ["0", "1", "2"]
        assert f["layer/0/type"][()] == b"input"
        assert list(f["layer/0/shape"][()]) == [1, 1, 5]
        for i, n in ((1, 10), (2, 3)):
            g = f[f"layer/{i}"]
            assert g["type"][()] == b"dense" and list(g["shape"][()]) == [n]
            assert g["neuron/type"][()] == b"CUBA"
            for key in ("iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike"):
                assert key in g["neuron"]
            w = g["weight"][()]
            assert w.dtype.kind == "i" and w.shape[0] == n
        p = net.layers[0].neuron
        assert f["layer/1/neuron/iDecay"][()] == round(4096 * (1 - p.alpha))
        assert f["layer/1/neuron/vDecay"][()] == round(4096 * (1 - p.beta))
        assert f["layer/1/neuron/refDelay"][()] == 2
        assert f["layer/2/neuron/vThMant"][()] == 2 ** 17 - 1
        np.testing.assert_array_equal(f["layer/1/delay"][()], net.layers[0].delays)
        assert "weight_rec" in f["layer/1"]
    # 8-bit mantissas: weight = mant << exp, |mant| <= 128
    for layer in lnet.layers:
        w = layer.weight
        exp = int(np.log2(np.gcd.reduce(np.abs(w[w != 0]))))
        assert np.abs(w >> exp).max() <= 128
    back = loihi.read_netx(tmp_path / "net.h5")
    for a, b in zip(lnet.layers, back.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert (a.i_decay, a.v_decay, a.vth_mant, a.ref_delay, a.readout) == \
            (b.i_decay, b.v_decay, b.vth_mant, b.ref_delay, b.readout)


def test_netx_delay_clip_warns_and_alif_refused(tmp_path):
    p = NeuronParams("LIF", 10, 5, 1.0)
    net = TrainedNetwork(2, [Layer("h", p, np.ones((2, 2)), np.array([[0, 70], [3, 62]])),
                             Layer("o", NeuronParams("LI"), np.ones((1, 2)), np.zeros((1, 2), int))])
    with pytest.warns(UserWarning, match="clipped to 62"):
        lnet = loihi.export_netx(net, tmp_path / "a.h5")
    assert lnet.layers[0].delay.max() == 62
    with pytest.raises(ExportError, match="ALIF"):
        loihi.convert(_trained("ALIF"))


def test_loihi_model_hand_computed_steps():
    """One neuron: iDecay 1024 (u keeps 3/4), vDecay 2048 (v keeps 1/2), vth 100,
    weight 50; input spikes at steps 0 and 1 arrive at steps 1 and 2."""
    layer = loihi.LoihiLayer(np.array([[50]]), np.array([[0]]), None, 1024, 2048, 100, 1, False)
    ro = loihi.LoihiLayer(np.array([[1]]), np.array([[0]]), None, 4096, 4096, loihi.VTH_MAX, 1, True)
    lnet = loihi.LoihiNetwork(1, [layer, ro])
    x = np.zeros((1, 6, 1), dtype=np.int64)
    x[0, 0, 0] = x[0, 1, 0] = 1
    _, (z, v_out) = loihi.simulate_loihi(lnet, x, record=True)
    # step1: u = 3200, v = 3200; step2: u = 2400 + 3200 = 5600, v = 1600 + 5600 = 7200 > 6400 -> spike, v = 0
    # step3: u = 4200, v = 4200 < 6400; step4: u = 3150, v = 2100 + 3150 = 5250; step5: u = 2362 (floor), v = 2625 + 2362
    assert z[0, :, 0].tolist() == [0, 0, 1, 0, 0, 0]
    # readout: spike at 2 arrives at 3: u = 64, v = 64; iDecay=vDecay=4096 -> no memory
    assert v_out[0, :, 0].tolist() == [0, 0, 0, 64, 0, 0]
    # negative values decay toward zero symmetrically (sign * (|x| >> 12))
    assert loihi._decay(np.array([-4097, 4097]), 2048).tolist() == [-2048, 2048]


def test_loihi_model_tracks_float_model():
    rng = np.random.default_rng(0)
    net = _trained(rec=False, refr=0, seed=4)
    x = (rng.random((64, 30, 5)) < 0.25).astype(float)
    ref, ftr = simulate(net, x, record=True)
    lnet = loihi.convert(net)
    got, ltr = loihi.simulate_loihi(lnet, x, record=True)
    spikes_f, spikes_l = ftr[0], ltr[0]
    assert spikes_f.sum() > 20
    agree = (spikes_f == spikes_l).mean()
    assert agree > 0.97, agree
    assert (ref.argmax(1) == got.argmax(1)).mean() > 0.85
