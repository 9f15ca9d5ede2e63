"""host/ dispatches through the compiler's neuron-model registry: a model
registered here (an LIF whose threshold is doubled), and every spiking model of
the registry (LIF, ALIF, IF, LIFSubtract, ...), trains, simulates, exports and
runs state QAT bit for bit against the compiler's reference with no host code
of its own."""
from dataclasses import dataclass, fields, replace

import numpy as np
import pytest
import torch

from fenn_dma.compiler.neurons import LIF, model_class, register
from fenn_dma.compiler.neurons import base as registry
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.host import deploy
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork, hidden_models, simulate
from fenn_dma.host.nir_io import from_nir, to_nir
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig

torch.set_num_threads(1)


@dataclass
class TwiceLIF(LIF):
    """LIF that fires above twice its threshold."""

    name = "TwiceLIF"

    def float_threshold(self, state, dt):
        return 2.0 * self.threshold

    @classmethod
    def int_threshold(cls, q, ops, state):
        return ops.add(ops.par["thr"], ops.par["thr"])


@pytest.fixture
def twice():
    register(TwiceLIF)
    yield "TwiceLIF"
    registry._REGISTRY.pop("TwiceLIF")


def _model(model, threshold, seed=1):
    cfg = NetConfig(5, 3, [HiddenConfig(40, model, threshold=threshold, refractory=1)], delay_mode="synapse",
                    max_delay=4, init_delay=1.0, seed=seed)
    m = SNN(cfg).double()
    with torch.no_grad():
        m.w[0].mul_(3)
    return m


def test_a_registered_model_needs_no_host_code(twice):
    assert twice in hidden_models() and "LI" not in hidden_models()
    x = (np.random.default_rng(0).random((16, 30, 5)) < 0.2).astype(float)
    m, ref = _model(twice, 0.5), _model("LIF", 1.0)
    with torch.no_grad():
        for a, b in zip(ref.parameters(), m.parameters()):
            a.copy_(b)
    # the torch layers: the unit's float step, the same as LIF at twice the threshold
    scores, traces = m(torch.from_numpy(x), record=True)
    scores_ref, traces_ref = ref(torch.from_numpy(x), record=True)
    assert traces[0].sum() > 50
    assert torch.equal(scores, scores_ref) and torch.equal(traces[0], traces_ref[0])
    net = m.to_trained(30)
    assert net.layers[0].neuron.model == twice
    # simulate (float64 numpy) and the NIR round trip
    lif = TrainedNetwork(net.n_inputs, [Layer(net.layers[0].name, replace(net.layers[0].neuron, model="LIF",
                                                                           threshold=1.0),
                                              net.layers[0].weights, net.layers[0].delays), net.layers[1]],
                         net.n_steps, net.readout_reduce)
    np.testing.assert_array_equal(simulate(net, x), simulate(lif, x))
    g = to_nir(net)
    assert g.nodes["hidden0"].metadata["model"] == twice
    assert from_nir(g).equals(net)
    # state QAT: the unit's integer step in torch = the compiler's reference, bit for bit
    qnet = deploy.plan(net, x)
    assert qnet.populations["hidden0"].kind == twice
    m.set_state_qat(qnet)
    got = m.readout_int(torch.from_numpy(x)).detach().numpy().astype(np.int64)
    want = ReferenceSimulator(qnet, batch=len(x)).run({"input": x > 0}).readouts["readout"].astype(np.int64)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 10


def test_unknown_models_are_refused_with_the_registry_list():
    with pytest.raises(ExportError, match="unknown neuron model 'HH'; allowed: LIF, ALIF, LI"):
        NeuronParams("HH")


@pytest.mark.parametrize("model", hidden_models())
def test_every_registered_spiking_model_trains_exports_and_runs_state_qat(model, tmp_path):
    """Whatever the registry holds (LIF, ALIF, IF, LIFSubtract, ...): the host takes it as it is."""
    from fenn_dma.host.nir_io import export_nir, import_nir
    cfg = NetConfig(5, 3, [HiddenConfig(30, model, recurrent=True, threshold=0.6, tau_adapt=40, beta_adapt=0.2)],
                    delay_mode="synapse", max_delay=3, init_delay=1.0, seed=2)
    m = SNN(cfg).double()
    with torch.no_grad():
        m.w[0].mul_(3)
    m.hard_delays = True                 # the delays the trained network keeps
    x = (np.random.default_rng(1).random((12, 25, 5)) < 0.25).astype(float)
    scores, traces = m(torch.from_numpy(x), record=True)
    scores.sum().backward()
    assert traces[0].sum() > 20 and m.w[0].grad.abs().sum() > 0
    net = m.to_trained(25)
    np.testing.assert_allclose(simulate(net, x), scores.detach().numpy(), rtol=1e-9, atol=1e-12)
    if "tau_mem" in {f.name for f in fields(model_class(model))}:
        export_nir(net, tmp_path / "n.nir")
        assert import_nir(tmp_path / "n.nir").equals(net)
    else:       # NIR has no node for a leak-free neuron behind an exponential synapse
        with pytest.raises(ExportError, match="no leak.*cannot be written"):
            export_nir(net, tmp_path / "n.nir")
    qnet = deploy.plan(net, x)
    m.set_state_qat(qnet)
    got = m.readout_int(torch.from_numpy(x)).detach().numpy().astype(np.int64)
    want = ReferenceSimulator(qnet, batch=len(x)).run({"input": x > 0}).readouts["readout"].astype(np.int64)
    np.testing.assert_array_equal(got, want)
