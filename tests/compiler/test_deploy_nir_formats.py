"""Declared fixed-point formats survive a NIR file (graph metadata fenn_dma_formats),
and a damaged entry is refused by name."""
import json
import re

import numpy as np
import pytest

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import LI, LIF, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.nir_export import FORMATS_KEY, to_nir
from fenn_dma.compiler.nir_import import from_nir, read_nir
from fenn_dma.compiler.quantise import quantise


def _net(formats=True):
    net = Network(dt=1.0, name="f")
    inp = net.population("input", 3, SpikeInput())
    hid = net.population("hidden", 5, LIF(tau_mem=10), formats={"V": "s4.11"} if formats else None)
    out = net.population("out", 2, LI(tau_mem=10), readout="v_sum", record=("v",),
                         formats={"V": "s6.9"} if formats else None)
    rng = np.random.default_rng(0)
    net.connect(inp, hid, Dense(rng.normal(0, 1, (3, 5))), Exponential(5), latency=1)
    net.connect(hid, out, Dense(rng.normal(0, 1, (5, 2))), Exponential(5), latency=1)
    return net


def test_declared_formats_round_trip_through_a_file(tmp_path):
    import nir
    nir.write(str(tmp_path / "f.nir"), to_nir(_net()))
    back = read_nir(tmp_path / "f.nir")
    assert {p.name: p.formats for p in back.populations.values()} == \
        {"input": {}, "hidden": {"V": "s4.11"}, "out": {"V": "s6.9"}}
    assert quantise(back).formats() == quantise(_net()).formats()
    assert FORMATS_KEY not in to_nir(_net(formats=False)).metadata      # nothing declared, nothing written


@pytest.mark.parametrize("value, message", [
    ("not json", "is not the JSON object {population: {variable: \"sI.F\"}}"),
    (json.dumps({"hidden": "s4.11"}), "is not the JSON object"),
    (json.dumps({"ghost": {"V": "s4.11"}}), "names population(s) 'ghost' that the graph does not have"),
])
def test_damaged_formats_metadata_is_refused_by_name(value, message):
    graph = to_nir(_net())
    graph.metadata[FORMATS_KEY] = value
    with pytest.raises(ModelError, match=re.escape(message)) as err:
        from_nir(graph)
    assert str(err.value).startswith("NIR graph metadata 'fenn_dma_formats'")
