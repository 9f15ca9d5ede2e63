"""NIR with the real peers (the `interop` extra: snnTorch 1.0, Norse 1.1, Spyx 1.0 on
CPU JAX), both ways; the cases and the peers' exporter work-arounds are in verify/interop.py,
the table is printed by benchmarks/nir_interop.py."""
import contextlib
import io
import logging

import nir
import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.nir_export import SNNTORCH_DT, retime, to_nir, unit_r
from fenn_dma.compiler.nir_import import from_nir

snntorch = pytest.importorskip("snntorch", reason="snnTorch not installed (pip install -e '.[interop]')")
norse = pytest.importorskip("norse", reason="Norse not installed (pip install -e '.[interop]')")
from fenn_dma.verify import interop  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)         # Norse warns about r on each import
    with contextlib.redirect_stdout(io.StringIO()):   # snnTorch prints its weight-scaling hack
        yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("kind", ["Leaky", "Synaptic"])
def test_snntorch_export_compiles_and_matches_snntorch(kind):
    # Leaky: exact. Synaptic: snnTorch's zero reset also holds the step after a spike at 0,
    # which NIR cannot say; with that step as a refractory period the import is exact again.
    r = interop.snntorch_to_fenn(kind, seed=1, steps=120, hold=kind == "Synaptic")
    assert r.peer_spikes > 20
    assert r.float_agree == 1.0
    assert r.deployed_agree >= 0.9          # fixed point (benchmarks/nir_interop.py reports it)
    if kind == "Synaptic":
        plain = interop.snntorch_to_fenn(kind, seed=1, steps=120, deployed=False)
        assert plain.float_agree < 1.0          # the hold is real: without it the spikes differ


def test_snntorch_graph_gives_its_step():
    import torch
    from snntorch.export_nir import export_to_nir
    graph = export_to_nir(interop.snntorch_model("Leaky", 0), torch.zeros(interop.N_IN))
    assert from_nir(graph).dt == pytest.approx(SNNTORCH_DT * 1e3, rel=1e-9)
    assert from_nir(graph, dt=0.05).dt == 0.05         # the caller's wins


@pytest.mark.parametrize("kind", ["LIFBoxCell", "LIFCell"])
def test_norse_export_compiles_and_matches_norse(kind):
    r = interop.norse_to_fenn(kind, seed=2, steps=120)
    assert r.peer_spikes > 5
    assert r.float_agree == 1.0
    assert r.deployed_agree >= 0.97


def test_graph_without_a_step_is_refused_with_advice():
    import norse.torch as nt
    import torch
    model = interop.norse_model("LIFBoxCell", 0, 1e-3)
    graph = interop.fix_norse_graph(nt.to_nir(model, torch.zeros(1, interop.N_IN), dt=1e-3), model, 1e-3)
    with pytest.raises(ModelError, match=r"does not say its time step.*--dt MS"):
        from_nir(graph)
    graph.metadata = {"dt": 1e-3}
    assert from_nir(graph).dt == pytest.approx(1.0)
    graph.metadata = {"dt": -1.0}
    with pytest.raises(ModelError, match="not a positive number"):
        from_nir(graph)


@pytest.mark.parametrize("peer", ["snnTorch", "Norse"])
@pytest.mark.parametrize("synapse", ["delta", "exp"])
def test_our_export_runs_on_the_peer(peer, synapse):
    r = interop.fenn_to_peer(peer, synapse, seed=3, steps=120)
    assert r.peer_spikes > 50
    assert r.float_agree == 1.0


def test_written_files_are_read_by_the_peers(tmp_path):
    """Through nir.write / nir.read: arrays, explicit types, the step in the metadata."""
    import norse.torch as nt
    from snntorch.import_nir import import_from_nir
    net = interop.fenn_network("exp", 4)
    path = tmp_path / "ours.nir"
    nir.write(str(path), retime(to_nir(net), SNNTORCH_DT))
    graph = nir.read(str(path))
    assert float(graph.metadata["dt"]) == SNNTORCH_DT
    assert all(np.ndim(getattr(n, "tau_mem", np.zeros(1))) == 1 for n in graph.nodes.values())
    x = np.random.default_rng(0).random((50, interop.N_IN)) < 0.3
    ours, _ = interop._ours(net, x, "out", deployed=False)
    got = interop.run_peer(import_from_nir(graph), x)
    np.testing.assert_array_equal(got, ours)
    norse_graph = nir.read(str(path))
    got = interop.run_peer(nt.from_nir(unit_r(norse_graph), dt=SNNTORCH_DT), x)
    np.testing.assert_array_equal(got, ours)
    assert from_nir(nir.read(str(path))).dt == net.dt       # our reader: exact, at our step


def _spyx():
    return pytest.importorskip("spyx.nir", reason="Spyx (JAX) not installed (pip install -e '.[interop]')")


def test_spyx_export_compiles_and_matches_spyx():
    _spyx()
    r = interop.spyx_to_fenn(seed=1, steps=120)
    assert r.peer_spikes > 50
    assert r.float_agree == 1.0
    assert r.deployed_agree >= 0.85         # fixed point (benchmarks/nir_interop.py reports it)


def test_spyx_workarounds_are_needed():
    """Each repair of Spyx's graph is real: without it the spikes differ."""
    spyx_nir = _spyx()
    model = interop.spyx_model(1)
    x = interop._spikes(120, 2)
    peer = interop.spyx_run(model, x)

    def agreement(fix=True, subtract=True, lag=True):
        graph = spyx_nir.to_nir(model, {"input": np.array([interop.N_IN])}, {"output": np.array([interop.N_OUT])},
                                dt=interop.SPYX_DT)
        if fix:
            graph = interop.fix_spyx_graph(graph, interop.SPYX_DT)
        net = from_nir(graph, dt=interop.SPYX_DT * 1e3)
        if subtract:
            interop.subtract_reset(net)
        ours, _ = interop._ours(net, x, interop._output_population(graph), deployed=False)
        return interop._agree_lagged(peer, ours, interop.spyx_lag(graph) if lag else 0)

    assert interop.spyx_lag(spyx_nir.to_nir(model, {"input": np.array([6])}, {"output": np.array([4])})) == 2
    assert agreement() == 1.0
    assert agreement(fix=False) < 0.95 and agreement(subtract=False) < 1.0 and agreement(lag=False) < 0.95


def test_our_export_runs_on_spyx(tmp_path):
    """Our graph, through nir.write / nir.read, imported and run by Spyx at its recorded step."""
    _spyx()
    r = interop.fenn_to_spyx(seed=3, steps=120)
    assert r.peer_spikes > 50
    assert r.float_agree == 1.0
    import jax.numpy as jnp
    import spyx.nir
    net = interop.fenn_network("exp", 4, neuron="LIFSubtract")
    path = tmp_path / "ours.nir"
    nir.write(str(path), to_nir(net))
    graph = nir.read(str(path))
    x = np.random.default_rng(0).random((60, interop.N_IN)) < 0.3
    ours, _ = interop._ours(net, x, "out", deployed=False)
    _, out = spyx.nir.from_nir(graph, jnp.asarray(x[:, None], jnp.float32), dt=float(graph.metadata["dt"]))
    lag = interop.spyx_lag(graph)
    np.testing.assert_array_equal(np.asarray(out)[lag:, 0] > 0, ours[:-lag])
    assert ours.sum() > 20


def test_unit_r_refuses_a_shared_linear():
    g = nir.NIRGraph(nodes={"in": nir.Input({"input": np.array([2])}), "w": nir.Linear(np.ones((2, 2))),
                            "a": nir.LIF(np.full(2, 1e-2), np.full(2, 10.0), np.zeros(2), np.ones(2)),
                            "b": nir.LIF(np.full(2, 1e-2), np.full(2, 10.0), np.zeros(2), np.ones(2)),
                            "out": nir.Output({"output": np.array([2])})},
                     edges=[("in", "w"), ("w", "a"), ("w", "b"), ("a", "out"), ("b", "out")], type_check=False)
    with pytest.raises(ModelError, match="feed it alone"):
        unit_r(g)
