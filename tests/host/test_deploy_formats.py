"""A trained network's recorded formats and rounding reach the compiler's model,
through network.npz and network.nir alike; a format for no population is refused."""
import numpy as np
import pytest

from fenn_dma.host import deploy
from fenn_dma.host.convert import to_network
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork
from fenn_dma.host.nir_io import export_nir, import_nir


def _net(**meta):
    rng = np.random.default_rng(4)
    return TrainedNetwork(4, [Layer("h", NeuronParams("ALIF", 20, 5, 1.0, 1.0, 0, 200.0, 0.05),
                                    rng.normal(0, 1, (6, 4)), np.zeros((6, 4), int)),
                              Layer("ro", NeuronParams("LI"), rng.normal(0, 1, (3, 6)), np.zeros((3, 6), int))],
                          n_steps=30, metadata=meta)


def test_recorded_formats_and_rounding_survive_npz_and_nir(tmp_path):
    net = _net(formats={"h": "s3.12", "h.A": "s5.10", "ro": "s6.9"}, rounding="truncate")
    assert {k: p.formats for k, p in to_network(net).populations.items()} == \
        {"input": {}, "h": {"V": "s3.12", "A": "s5.10"}, "ro": {"V": "s6.9"}}
    net.save(tmp_path / "n.npz")
    export_nir(net, tmp_path / "n.nir")
    for back in (TrainedNetwork.load(tmp_path / "n.npz"), import_nir(tmp_path / "n.nir")):
        assert back.metadata["formats"] == net.metadata["formats"] and back.metadata["rounding"] == "truncate"
        q = deploy.plan(back)
        assert q.rounding == "truncate" and deploy.formats_of(q) == net.metadata["formats"]
    nir_dep = deploy.deployment(tmp_path / "n.nir")
    assert (nir_dep.rounding, nir_dep.n_steps) == ("truncate", 30)


def test_a_format_for_no_population_is_refused():
    with pytest.raises(ExportError, match="format 'hidden9': 'hidden9' is not a population of the network; "
                                          "populations: input, h, ro"):
        to_network(_net(formats={"hidden9": "s3.12"}))
    with pytest.raises(ExportError, match="format 'x.A': 'x' is not a population"):
        deploy.plan(_net(formats={"x.A": "s3.12"}))
