"""QAT of the neuron states: the torch forward in fixed-point mode against the
compiler's bit-exact reference (feed-forward and recurrent, with and without
clipping accumulators); checkpoint selection by validation accuracy; the
half-integer latency window."""
import dataclasses

import numpy as np
import pytest
import torch

from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.host import deploy, fixed
from fenn_dma.host.datasets import latency_encode, load_yinyang
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
from fenn_dma.host.train import TrainConfig, train

torch.set_num_threads(1)      # tiny tensors: threads only contend on the shared cores


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


def _recurrent_model(model, refr, delays, clip, hidden=(40,), seed=1):
    """A recurrent network; with ``clip`` its weights are large against the V
    formats that ``_formats`` gives, so that accumulators' partial sums clip."""
    cfg = NetConfig(5, 3, [HiddenConfig(n, model, recurrent=True, refractory=refr, tau_adapt=30, beta_adapt=0.3)
                           for n in hidden],
                    delay_mode="synapse" if delays else "none", max_delay=4, init_delay=1.0, seed=seed)
    m = SNN(cfg).double()
    g = torch.Generator().manual_seed(seed + 4)
    with torch.no_grad():
        for w in list(m.w[:-1]) + list(m.w_rec):
            if clip:      # within +-4 (s2.13), mostly excitatory inputs
                w.copy_((torch.rand(w.shape, generator=g) - (0.4 if w is m.w[0] else 0.5)) * 6)
            else:
                w.mul_(3)
        if clip:          # within +-8 (s3.12)
            m.w[-1].copy_((torch.rand(m.w[-1].shape, generator=g) - 0.5) * 12)
    return m


def _formats(m, clip):
    if not clip:
        return None
    return {**{name: "s2.13" for name in m.layer_names()[:-1]}, "readout": "s3.12"}


def _reference(qnet, x, record=()):
    for name in record:
        qnet.populations[name].record = ("spikes",)
    return ReferenceSimulator(qnet, batch=len(x)).run({"input": x > 0})


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("delays", [False, True])
@pytest.mark.parametrize("rounding", ["nearest", "truncate", "stochastic"])
@pytest.mark.parametrize("model,refr", [("LIF", 0), ("ALIF", 2)])
def test_recurrent_fixed_forward_equals_compiler_reference_bit_for_bit(model, refr, rounding, delays, clip,
                                                                        monkeypatch):
    m = _recurrent_model(model, refr, delays, clip)
    x = (np.random.default_rng(0).random((32, 30, 5)) < 0.3).astype(float)
    qnet = deploy.plan(m.to_trained(30), x, rounding=rounding, formats=_formats(m, clip))
    # the recurrent connection is direct; the input projection is a ring exactly when delayed
    modes = {c.name: c.mode for c in qnet.connections.values()}
    assert modes["hidden0->hidden0"] == "direct"
    assert modes["input->hidden0"] == ("ring" if delays else "direct")
    m.set_state_qat(qnet)
    got = m.readout_int(torch.from_numpy(x)).detach().numpy().astype(np.int64)
    res = _reference(qnet, x, record=["hidden0"])
    np.testing.assert_array_equal(got, res.readouts["readout"].astype(np.int64))
    _, traces = m(torch.from_numpy(x), record=True)
    spikes = res.records["hidden0.spikes"]
    assert 0.05 < spikes.mean() < 0.6
    np.testing.assert_array_equal(traces[0].detach().numpy() > 0, spikes)
    assert len(np.unique(got)) > 10
    if clip:   # partial sums clip here: saturating each accumulator's total would not be the deployed network
        monkeypatch.setattr(fixed, "_clipped", lambda exact, unsafe, value: fixed._sat(exact))
        assert (m.readout_int(torch.from_numpy(x)).detach().numpy() != got).any()


def test_recurrent_spikes_enter_the_shared_accumulator_in_schedule_order():
    # two recurrent layers, undelayed: each hidden accumulator sums its projection's and its
    # own spikes, clipping; the order of sources is the schedule's (also when reversed)
    m = _recurrent_model("ALIF", 1, False, True, hidden=(20, 36), seed=2)
    x = (np.random.default_rng(0).random((32, 25, 5)) < 0.3).astype(float)
    for reverse in (False, True):
        qnet = deploy.plan(m.to_trained(25), x, formats=_formats(m, True))
        if reverse:
            qnet.schedule = dataclasses.replace(qnet.schedule, phase1=qnet.schedule.phase1[::-1])
        m.set_state_qat(qnet)
        assert [fl.rec_first for fl in m.fixed.layers] == [reverse, reverse, False]
        got = m.readout_int(torch.from_numpy(x)).detach().numpy().astype(np.int64)
        res = _reference(qnet, x, record=["hidden0", "hidden1"])
        np.testing.assert_array_equal(got, res.readouts["readout"].astype(np.int64))
        _, traces = m(torch.from_numpy(x), record=True)
        for i in (0, 1):
            np.testing.assert_array_equal(traces[i].detach().numpy() > 0, res.records[f"hidden{i}.spikes"])
        for fl in m.fixed.layers:       # the other order gives another network
            fl.rec_first = not fl.rec_first
        assert (m.readout_int(torch.from_numpy(x)).detach().numpy() != got).any()


def test_recorded_formats_include_the_measured_alif_adaptation_format():
    # A's format is measured like V's; re-planning the network from its recorded formats
    # (what deploy.accuracy does) must give the network QAT trained, A included
    m = _recurrent_model("ALIF", 2, True, False)
    x = (np.random.default_rng(0).random((32, 30, 5)) < 0.3).astype(float)
    qnet = deploy.plan(m.to_trained(30), x)
    m.set_state_qat(qnet)
    formats = deploy.formats_of(qnet)
    assert formats["hidden0.A"] == str(qnet.populations["hidden0"].a_fmt) != "s8.7"     # not the default
    net = m.to_trained(30)
    assert net.metadata["formats"] == formats          # to_trained records A's format too
    again = deploy.plan(net)
    assert again.formats() == qnet.formats()
    got = m.readout_int(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_array_equal(got, deploy.run_reference(again, x))


def test_gradients_flow_through_the_recurrent_spikes():
    # the readout sees only neurons 20.. , which get no input but recurrent spikes from neurons
    # 0..19: the input weights of 0..19 get a gradient only through those spikes' surrogate
    m = _recurrent_model("LIF", 0, False, False)
    with torch.no_grad():
        m.w[0][20:] = 0
        m.w_rec[0][:, 20:] = 0
        m.w_rec[0][:20] = 0
        m.w_rec[0][20:, :20] = m.w_rec[0][20:, :20].abs() * 2
        m.w[1][:, :20] = 0
    x = torch.from_numpy((np.random.default_rng(2).random((8, 30, 5)) < 0.3).astype(float))
    m.set_state_qat(deploy.plan(m.to_trained(30), x.numpy()))
    loss = torch.nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    loss.backward()
    assert m.w[0].grad[:20].abs().sum() > 0 and m.w_rec[0].grad[20:, :20].abs().sum() > 0
    assert torch.isfinite(m.w[0].grad).all() and torch.isfinite(m.w_rec[0].grad).all()


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
