"""QAT of the neuron states: the torch forward in fixed-point mode against the
compiler's bit-exact reference; checkpoint selection by validation accuracy;
the half-integer latency window."""
import numpy as np
import pytest
import torch

from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.host import deploy
from fenn_dma.host.datasets import latency_encode, load_yinyang
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
from fenn_dma.host.train import TrainConfig, train


def _model(model="LIF", refr=0, seed=1, n=40):
    cfg = NetConfig(5, 3, [HiddenConfig(n, model, refractory=refr, tau_adapt=30, beta_adapt=0.3)],
                    delay_mode="synapse", max_delay=4, init_delay=1.0, seed=seed)
    m = SNN(cfg).double()
    with torch.no_grad():
        for w in m.w:
            w.mul_(3)
    return m


@pytest.mark.parametrize("rounding", ["nearest", "truncate", "stochastic"])
@pytest.mark.parametrize("model,refr", [("LIF", 0), ("ALIF", 2)])
def test_fixed_forward_equals_compiler_reference_bit_for_bit(rounding, model, refr):
    m = _model(model, refr)
    x = (np.random.default_rng(0).random((48, 30, 5)) < 0.2).astype(float)
    qnet = deploy.plan(m.to_trained(30), x, rounding=rounding)
    m.set_state_qat(qnet)
    got = m.readout_int(torch.from_numpy(x)).detach().numpy().astype(np.int64)
    sim = ReferenceSimulator(qnet, batch=len(x))
    ref = sim.run({"input": x > 0}).readouts["readout"].astype(np.int64)
    np.testing.assert_array_equal(got, ref)
    # the hidden spikes too (recorded by the reference when asked)
    qnet.populations["hidden0"].record = ("spikes",)
    spikes = ReferenceSimulator(qnet, batch=len(x)).run({"input": x > 0}).records["hidden0.spikes"]
    _, traces = m(torch.from_numpy(x), record=True)
    assert spikes.sum() > 100
    np.testing.assert_array_equal(traces[0].detach().numpy() > 0, spikes)
    assert len(np.unique(got)) > 10          # not a degenerate all-zero readout


def test_fixed_forward_gradients_flow_straight_through():
    m = _model(seed=3)
    x = torch.from_numpy((np.random.default_rng(2).random((8, 30, 5)) < 0.2).astype(float))
    m.set_state_qat(deploy.plan(m.to_trained(30), x.numpy()))
    loss = torch.nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    loss.backward()
    for w in m.w:
        assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0
    net = m.to_trained(30)
    assert net.metadata["formats"] == deploy.formats_of(m.fixed.qnet)
    # the recorded formats give the same plan again (what deploy.accuracy uses)
    again = deploy.plan(net)
    assert deploy.formats_of(again) == net.metadata["formats"]


def test_training_with_state_qat_reports_the_compilers_accuracy():
    bundle = load_yinyang(20, sizes={"train": 400, "val": 150, "test": 150})
    cfg = TrainConfig(net={"hidden": [{"size": 24}], "delay_mode": "synapse", "max_delay": 3},
                      epochs=3, fine_tune_epochs=1, qat_epochs=1, qat_states=True, qat_samples=64,
                      batch_size=32, lr=5e-3, progress=False)
    r = train(cfg, bundle)
    s = r.summary
    # the torch QAT forward and the compiler's reference agree on every test sample
    assert s["test_acc_deployed"] == s["test_acc"]
    assert set(s["formats"]) == {"hidden0", "readout"}
    # checkpoints were chosen by validation accuracy among each phase's deployable epochs
    ft = [h for h in r.history if h["phase"] == "fine_tune"]
    assert s["selected_epoch_fine_tune"] == ft[int(np.argmax([h["val_acc"] for h in ft]))]["epoch"]
    assert s["val_acc_qat"] == max(h["val_acc"] for h in r.history if h["phase"] == "qat")


def test_half_integer_window_offsets_complementary_features():
    f = np.random.default_rng(0).random((4000, 1))       # no exact rounding ties
    both = latency_encode(np.hstack([f, 1 - f]), 40, t_max=29.5, bias_spike=False)
    codes = {tuple(both[i].argmax(0)) for i in range(len(f))}
    alone = {int(both[i, :, 0].argmax()) for i in range(len(f))}
    assert len(codes) >= 2 * len(alone) - 2       # the pair resolves twice as finely
    same = latency_encode(np.hstack([f, 1 - f]), 40, t_max=30, bias_spike=False)
    assert len({tuple(same[i].argmax(0)) for i in range(len(f))}) == 31
    assert load_yinyang(40, sizes={"train": 3, "val": 3, "test": 3}).description.count("29.5") == 1
