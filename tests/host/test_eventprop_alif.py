"""EventProp for adaptive LIF (ALIF) hidden neurons: forward semantics, exact readout
gradients, surrogate-BPTT direction and the continuous-time reference (docs/training.md)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from fenn_dma.host import event_reference as ref
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.eventprop import EventPropSNN, Population, cross_entropy, dense_forward
from fenn_dma.host.network import simulate

ADAPT = dict(tau_adapt=15.0, beta_adapt=0.3)


def _net(readout="sum", adapt=ADAPT, delays=True):
    m = EventPropSNN(6, [8], 3, recurrent=True, delays=delays, max_delay=4, tau_mem=10.0, tau_syn=5.0,
                     readout=readout, dtype=torch.float64, seed=0, **adapt)
    with torch.no_grad():
        m.weights[0].mul_(4.0)
    return m


def _input(B=4, T=60, n=6, p=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, T, n, generator=g, dtype=torch.float64) < p).double()


@pytest.mark.parametrize("readout", ["sum", "max"])
def test_alif_forward_equals_plain_forward_and_deployed_network(readout):
    m, x = _net(readout), _input()
    scores, counts = m(x)
    _, lif_counts = _net(readout, adapt={})(x)
    assert counts[0].sum() > 20 and counts[0].sum() < lif_counts[0].sum()    # adaptation does act
    plain, trains, _ = dense_forward(m.spec, x, m.params())
    assert torch.allclose(scores, plain, rtol=0, atol=1e-12)
    assert torch.equal(counts[0], trains[0].sum(1))
    net = m.to_trained(x.shape[1])
    assert net.layers[0].neuron.model == "ALIF" and net.layers[0].neuron.beta_adapt == 0.3
    np.testing.assert_allclose(simulate(net, x.numpy()), scores.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("readout", ["sum", "max"])
def test_alif_readout_gradients_equal_autograd_exactly(readout):
    m, x, y = _net(readout), _input(), torch.tensor([0, 1, 2, 0])
    cross_entropy(m(x)[0], y).backward()
    g_ep = m.weights[1].grad.clone()
    m.zero_grad()
    cross_entropy(dense_forward(m.spec, x, m.params())[0], y).backward()
    assert torch.allclose(g_ep, m.weights[1].grad, rtol=1e-10, atol=1e-13)


def test_alif_hidden_gradients_point_like_surrogate_bptt():
    """As for LIF (tests/host/test_eventprop.py): BPTT's surrogate is not the discrete
    network's gradient, so "agree" means the same direction (cosine similarity > 0.5)."""
    torch.manual_seed(0)
    m = EventPropSNN(10, [16], 3, tau_mem=10.0, tau_syn=5.0, dt=0.1, dtype=torch.float64, seed=0,
                     tau_adapt=15.0, beta_adapt=0.3)
    with torch.no_grad():
        m.weights[0].mul_(0.06)
    x = (torch.rand(8, 300, 10, dtype=torch.float64) < 0.02).double()
    y = torch.randint(0, 3, (8,))
    scores, counts = m(x)
    assert counts[0].sum() > 50
    cross_entropy(scores, y).backward()
    g_ep = m.weights[0].grad.clone()
    m.zero_grad()
    cross_entropy(dense_forward(m.spec, x, m.params(), surrogate=10.0)[0], y).backward()
    cos = torch.nn.functional.cosine_similarity(g_ep.flatten(), m.weights[0].grad.flatten(), 0)
    assert cos > 0.5


def test_alif_gradients_match_continuous_reference():
    """3-3(recurrent, ALIF)-2 with delays everywhere: < 5 % relative error per group at
    dt = 0.01 ms (1.9 % worst observed; 0.9 % at 0.005 ms; without the adaptation adjoint
    10 - 35 % on the hidden groups at 0.005 ms)."""
    prob = ref.tiny_problem(adaptive=True)
    _, sp_alif = ref.simulate(prob["layers"], prob["samples"][0], prob["n_in"], prob["t_end"])
    lif = [replace(prob["layers"][0], tau_adapt=0.0, beta_adapt=0.0), prob["layers"][1]]
    _, sp_lif = ref.simulate(lif, prob["samples"][0], prob["n_in"], prob["t_end"])
    assert sum(map(len, sp_alif[0])) < sum(map(len, sp_lif[0]))             # the threshold does adapt
    g_ref = ref.reference_gradients(prob, "sum")
    L, g = ref.eventprop_gradients(prob, "sum", 0.01)
    L_ref = ref.loss(prob["layers"], prob["samples"], prob["labels"], prob["n_in"], prob["t_end"], "sum")
    assert abs(L - L_ref) < 0.02 * L_ref
    for name, _, _ in ref.params_of(prob["layers"]):
        err = np.linalg.norm(g[name] - g_ref[name]) / np.linalg.norm(g_ref[name])
        assert err < 0.05, f"{name}: relative error {err:.3%} at dt = 0.01"


def test_adaptation_needs_a_time_constant_and_a_spiking_population():
    with pytest.raises(ConfigError, match="population h: adaptation .* tau_adapt > 0"):
        Population("h", 4, beta_adapt=0.2)
    with pytest.raises(ConfigError, match="population r: adaptation"):
        Population("r", 4, spiking=False, tau_adapt=10.0, beta_adapt=0.2)


def test_train_cli_eventprop_alif_writes_an_alif_network_that_deploys(tmp_path):
    """`fenn-dma train --method eventprop --neuron ALIF`: the network.npz is ALIF with the
    options' adaptation and goes through the deploy path (compiler's fixed-point reference)."""
    from fenn_dma.cli import main
    from fenn_dma.host import deploy
    from fenn_dma.host.datasets import load_dataset
    from fenn_dma.host.network import TrainedNetwork

    out = tmp_path / "run"
    rc = main(["train", "--out", str(out), "--method", "eventprop", "--neuron", "ALIF", "--tau-adapt", "50",
               "--beta-adapt", "0.2", "--epochs", "1", "--fine-tune-epochs", "0", "--steps", "16", "--hidden", "12",
               "--max-batches", "2", "--batch-size", "32", "--threads", "1", "--no-progress"])
    assert rc == 0
    net = TrainedNetwork.load(out / "network.npz")
    nrn = net.layers[0].neuron
    assert (nrn.model, nrn.tau_adapt, nrn.beta_adapt) == ("ALIF", 50.0, 0.2)
    test = load_dataset("yinyang", n_steps=16).splits["test"]
    xs, ys = test.spikes[:64].numpy(), test.labels[:64].numpy()
    float_acc = float((simulate(net, xs).argmax(1) == ys).mean())
    assert abs(deploy.accuracy(deploy.plan(net, xs), xs, ys) - float_acc) <= 0.1
