"""Neuron models as units (compiler/neurons): the registry, and a model added by its
own file only (IF, compiler/neurons/if_.py) running bit-exact compiled vs reference."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from fenn_dma.compiler import neurons
from fenn_dma.compiler.codegen import CompileOptions
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import simulate_float
from fenn_dma.compiler.model import ALIF, LI, LIF, Delta, Dense, Exponential, Network, SpikeInput, neuron_types
from fenn_dma.compiler.neurons import IF, NeuronModel, model_class, models, register
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator

ROUNDINGS = ("truncate", "nearest", "stochastic")


def test_registry_holds_every_model_by_name():
    assert list(models())[:3] == ["LIF", "ALIF", "LI"] and "IF" in models()
    for name, cls in models().items():
        assert model_class(name) is cls and cls.name == name and getattr(neurons, name) is cls
    assert model_class("IF") is IF and IF().kind == "IF"
    assert IF in neuron_types() and SpikeInput in neuron_types()
    with pytest.raises(ModelError, match="unknown neuron model 'QIF'; allowed: LIF, ALIF, LI"):
        model_class("QIF")
    assert not LI.spiking and LIF.spiking and IF.spiking


def test_registration_is_checked_and_only_registered_models_are_accepted():
    with pytest.raises(ValueError, match="'LIF' is taken"):
        @register
        @dataclass
        class Other(NeuronModel):
            name = "LIF"
    with pytest.raises(ValueError, match="'input' is taken"):
        @register
        @dataclass
        class Source(NeuronModel):
            name = "input"

    @dataclass
    class Unregistered(NeuronModel):
        name = "unregistered"

    net = Network()
    with pytest.raises(ModelError, match="population 'x': unsupported neuron model Unregistered; "
                                         "allowed: SpikeInput, LIF, ALIF, LI, IF"):
        net.population("x", 4, Unregistered())


def test_if_parameters_are_validated_like_lif():
    net = Network()
    with pytest.raises(ModelError, match="population 'h': refractory must be >= 0 ms, got -1"):
        net.population("h", 4, IF(refractory=-1))
    with pytest.raises(TypeError):
        IF(tau_mem=20)                                  # no leak: no membrane time constant
    net.population("ok", 4, IF(threshold=0.5), readout="spike_count", record=("spikes", "v"))
    with pytest.raises(ModelError, match="an LI readout does not spike"):
        net.population("o", 4, LI(), record=("spikes",))


def _if_net(rng, n_in=40, n_hid=150, refractory=2.0):
    """IF with exponential + delta input, recurrence, bias and a refractory period;
    150 neurons = 5 chunks, so the update runs in a chunk loop."""
    net = Network(dt=1.0)
    inp = net.population("in", n_in, SpikeInput())
    hid = net.population("h", n_hid, IF(threshold=0.8, v_reset=-0.1, refractory=refractory,
                                        bias=rng.normal(0.0, 0.01, n_hid)),
                         record=("spikes", "v"), readout="spike_count")
    small = net.population("s", 20, IF(threshold=0.5), record=("spikes", "v"))     # unrolled, no refractory
    out = net.population("o", 4, LI(tau_mem=20), readout="v_sum", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.05, 0.2, (n_in, n_hid))), Exponential(5))
    net.connect(inp, hid, Dense(rng.normal(0.0, 0.1, (n_in, n_hid))), Delta(), name="direct")
    net.connect(hid, hid, Dense(rng.normal(-0.02, 0.1, (n_hid, n_hid))), Exponential(10))
    net.connect(inp, small, Dense(rng.normal(0.05, 0.2, (n_in, 20))), Delta())
    net.connect(hid, out, Dense(rng.normal(0, 0.2, (n_hid, 4))), Exponential(5))
    return net


def test_if_has_no_leak_multiply():
    q = quantise(_if_net(np.random.default_rng(0)), rounding="stochastic")
    h = q.populations["h"]
    assert "beta" not in h.params and h.multiplies() == ("alpha", "alpha2")   # exp 5, delta, exp 10
    assert h.state_vars() == ("rc",) and q.populations["s"].state_vars() == ()
    lif = LIF(tau_mem=float("inf"), threshold=0.8)
    assert lif.float_leak(np.float64(0.3), 1.0) == 0.3                 # the same dynamics, with a multiply


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_if_compiled_equals_reference(check_exact, rounding):
    q, compiled, ref, _ = check_exact(_if_net(np.random.default_rng(1)), steps=200, rate=0.1, rounding=rounding)
    assert q.populations["h"].kind == "IF"
    assert ref.records["h.spikes"].sum() > 200 and ref.records["s.spikes"].sum() > 20      # active


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_if_in_register_resident_and_memory_chunks(check_exact, rounding):
    net = _if_net(np.random.default_rng(2), n_hid=70, refractory=0.0)
    check_exact(net, steps=120, rate=0.15, rounding=rounding, options=CompileOptions(resident_registers=0))
    check_exact(net, steps=120, rate=0.15, rounding=rounding)


def test_if_integrates_without_leak_and_tracks_the_float_model():
    rng = np.random.default_rng(3)
    net = Network()
    inp = net.population("in", 40, SpikeInput())
    h = net.population("h", 60, IF(threshold=1.0, refractory=2), record=("spikes", "v"))
    s = net.population("s", 20, IF(threshold=0.5), record=("spikes", "v"))
    net.connect(inp, h, Dense(rng.normal(0.1, 0.2, (40, 60))), Exponential(5))
    net.connect(inp, s, Dense(rng.normal(0.05, 0.2, (40, 20))), Delta())
    x = rng.random((4, 60, 40)) < 0.1
    recs, ranges = simulate_float(net, {"in": x})
    q = quantise(net, measured=ranges)
    ref = ReferenceSimulator(q, 4).run({"in": x})
    for name in ("h", "s"):
        v = q.populations[name].v_fmt.to_float(ref.records[f"{name}.v"])
        assert np.quantile(np.abs(v[:, :8] - recs[name]["V"][:, :8]), 0.99) < 0.01
        agree = (ref.records[f"{name}.spikes"][:, :15] == recs[name]["spikes"][:, :15].astype(bool)).mean()
        assert agree > 0.97
    assert ref.records["h.spikes"].sum() > 50
    # no leak: with no input V keeps its value (population "s": delta input only, no bias;
    # after a step every V is at or below the threshold, so nothing fires either)
    quiet = ReferenceSimulator(q, 1)
    quiet.run({"in": x[:1, :5]})
    quiet.run({"in": np.zeros((1, 1, 40), bool)})        # the last spikes arrive (latency 1)
    v0 = quiet.state["s"].V.copy()
    assert v0.any()
    quiet.run({"in": np.zeros((1, 10, 40), bool)})
    np.testing.assert_array_equal(quiet.state["s"].V, v0)


def test_float_steps_run_on_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    for model in (LIF(tau_mem=10, threshold=0.5, v_reset=-0.1, refractory=2),
                  ALIF(tau_mem=10, threshold=0.5, beta=0.1, refractory=1), IF(threshold=0.5), LI()):
        v_np = rng.normal(0.3, 0.4, (3, 7))
        st_np = model.float_init(v_np.shape)
        v_t = torch.tensor(v_np)
        st_t = model.float_init(v_t.shape, like=v_t)
        for _ in range(5):
            drive = rng.normal(0.1, 0.3, v_np.shape)
            v_np, z_np = model.float_fire(model.float_leak(v_np, 1.0) + drive, st_np, 1.0)
            v_t, z_t = model.float_fire(model.float_leak(v_t, 1.0) + torch.tensor(drive), st_t, 1.0)
            assert torch.is_tensor(v_t)
            np.testing.assert_allclose(v_t.numpy(), v_np, rtol=1e-12, atol=1e-12)
            assert (z_np is None) == (z_t is None)
            if z_np is not None:
                np.testing.assert_array_equal(z_t.numpy(), z_np)
