"""Delay method gradients, QAT rounding, model vs numpy reference, tiny training."""
import numpy as np
import pytest
import torch

from fenn_dma.compiler.fixedpoint import FixedFormat, quantize
from fenn_dma.host.datasets import load_yinyang
from fenn_dma.host.delays import delay_kernel, delayed_projection
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.network import TrainedNetwork, simulate
from fenn_dma.host.quant import fake_quantize, resolve_format
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
from fenn_dma.host.train import TrainConfig, evaluate, train


@pytest.mark.parametrize("kind", ["gauss", "triangle"])
def test_delay_gradient_matches_finite_differences(kind):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(2, 12, 3, generator=g) < 0.4).double()
    w = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    # keep delays away from integer points, where the triangle kernel has a kink
    d = (torch.randint(0, 5, (4, 3), generator=g) + 0.2 + 0.6 * torch.rand(4, 3, generator=g)).double()
    d.requires_grad_(True)
    f = lambda w, d: delayed_projection(x, w, d, 7, kind, sigma=1.3)
    assert torch.autograd.gradcheck(f, (w, d), eps=1e-6, atol=1e-6)


def test_delay_kernels_shift_input():
    x = torch.zeros(1, 10, 1)
    x[0, 2, 0] = 1.0
    w = torch.ones(1, 1)
    y = delayed_projection(x, w, torch.tensor([[3.0]]), 6, "hard")
    assert int(torch.argmax(y[0, :, 0])) == 2 + 1 + 3 and y.sum() == 1
    y = delayed_projection(x, w, torch.tensor([[2.25]]), 6, "triangle")
    np.testing.assert_allclose(y[0, 5:7, 0].numpy(), [0.75, 0.25])
    k = delay_kernel(torch.tensor([2.0]), 8, "gauss", sigma=0.3)
    assert abs(float(k.sum()) - 1) < 1e-5 and int(k.argmax()) == 2


def test_fake_quantize_equals_fixedpoint():
    fmt = FixedFormat.parse("s2.5")
    vals = np.concatenate([np.random.default_rng(0).normal(0, 2, 1000),
                           (np.arange(-40, 40) + 0.5) / 32, [10.0, -10.0]])
    for rounding in ("nearest", "truncate"):
        q = fake_quantize(torch.tensor(vals), fmt, rounding).numpy()
        np.testing.assert_array_equal(q * 32, quantize(vals, fmt, rounding))
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    q = fake_quantize(torch.tensor(vals), fmt, "stochastic", rng1).numpy()
    np.testing.assert_array_equal(q * 32, quantize(vals, fmt, "stochastic", rng2))


def test_fake_quantize_straight_through_gradient():
    fmt = FixedFormat.parse("s1.6")
    x = torch.tensor([0.3, -1.9, 2.5, -3.0], requires_grad=True)
    fake_quantize(x, fmt).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 0, 0])   # saturated values get no gradient


def test_resolve_format():
    assert str(resolve_format("s7.8")) == "s7.8"
    assert str(resolve_format("auto8", [-1.7, 0.9])) == "s1.6"
    with pytest.raises(ConfigError, match="autoN"):
        resolve_format("q3")


def _net(mode="synapse", model="LIF", rec=False, refr=0):
    cfg = NetConfig(5, 3, [HiddenConfig(12, model, rec, refractory=refr, tau_adapt=40, beta_adapt=0.3),
                           HiddenConfig(8)], delay_mode=mode, max_delay=5, init_delay=1.0, seed=3)
    m = SNN(cfg).double()
    with torch.no_grad():
        for w in m.w:
            w.mul_(4)
    return m


@pytest.mark.parametrize("mode,model,rec,refr", [("none", "LIF", False, 0), ("synapse", "ALIF", True, 2),
                                                 ("position", "LIF", True, 1)])
def test_model_matches_numpy_reference(mode, model, rec, refr):
    m = _net(mode, model, rec, refr)
    m.hard_delays = True
    x = (torch.rand(3, 25, 5, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    s, traces = m(x, record=True)
    assert traces[0].sum() > 0        # the hidden layer spikes
    net = m.to_trained(25)
    ref = simulate(net, x.numpy())
    np.testing.assert_allclose(s.detach().numpy(), ref, atol=1e-12)
    back = SNN.from_trained(net)
    np.testing.assert_allclose(back(x).detach().numpy(), ref, atol=1e-12)


def test_trained_network_save_load(tmp_path):
    net = _net("synapse", "ALIF", True).to_trained(25, {"note": "x"})
    net.save(tmp_path / "n.npz")
    back = TrainedNetwork.load(tmp_path / "n.npz")
    assert back.equals(net) and back.metadata["note"] == "x"
    assert back.layers[0].delays.dtype == np.int64 and back.layers[0].neuron.model == "ALIF"


def test_bad_config_messages():
    with pytest.raises(ConfigError, match="allowed: none, synapse, position"):
        SNN(NetConfig(2, 2, delay_mode="axon"))
    with pytest.raises(ConfigError, match="allowed: LIF, ALIF"):
        SNN(NetConfig(2, 2, [HiddenConfig(4, "Izhikevich")]))
    with pytest.raises(ConfigError, match="tau_mem"):
        SNN(NetConfig(2, 2, [HiddenConfig(4, tau_mem=-1)]))
    with pytest.raises(ConfigError, match="qat_format"):
        TrainConfig(qat_epochs=2).validate()
    with pytest.raises(ConfigError, match="unknown network option"):
        train(TrainConfig(net={"hiden": []}, epochs=1, progress=False),
              load_yinyang(10, sizes={"train": 4, "val": 4, "test": 4}))


def test_tiny_training_loss_decreases_and_qat_weights_on_grid():
    bundle = load_yinyang(20, sizes={"train": 600, "val": 200, "test": 200})
    cfg = TrainConfig(net={"hidden": [{"size": 32}], "delay_mode": "synapse", "max_delay": 4,
                           "readout_reduce": "max"},
                      epochs=8, fine_tune_epochs=1, qat_epochs=1, qat_format="s3.4",
                      batch_size=32, lr=5e-3, progress=False)
    r = train(cfg, bundle)
    losses = [h["train_loss"] for h in r.history]
    assert losses[7] < 0.8 * losses[0], losses
    assert r.summary["test_acc"] > 0.6
    net = r.model.to_trained(20)
    for layer in net.layers:
        np.testing.assert_array_equal(layer.weights * 16, np.round(layer.weights * 16))
        assert np.abs(layer.weights).max() <= 8
    acc_np = np.mean(simulate(net, bundle.splits["test"].spikes.numpy()).argmax(1)
                     == bundle.splits["test"].labels.numpy())
    assert abs(acc_np - evaluate(r.model, bundle.splits["test"].dataset())[0]) < 0.02
