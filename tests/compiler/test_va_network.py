"""The Vogels-Abbott benchmark network (examples/va_network.py) runs bit-exact
in every mode of FeNN's table: dense / sparse, weights in VMEM / DRAM."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.compiler.codegen import compile_network
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "va_network.py"


def _va():
    spec = importlib.util.spec_from_file_location("va_network_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("placement", ["vmem", "dram"])
def test_va_network_modes_match_the_reference(dense, placement):
    net = _va().va_network(256, dense, placement)
    q = quantise(net, n_steps=100)
    compiled = compile_network(q)
    assert {c.placement for c in q.connections.values()} == {placement}
    E = q.populations["E"]
    assert [(g.kind, g.tau) for g in E.synapses] == [("exp", 5.0), ("exp", 10.0)]
    assert E.initial_v.min() >= -11 * 1024 and E.initial_v.max() < -1 * 1024      # [-60, -50) mV from E_l
    if not dense:       # one weight per connection: kept at full precision in a register
        assert q.connections["EE"].constant_weight == int(np.floor(1.62 * 2.5 * (1 - np.exp(-1 / 20)) * 1024 + 0.5))
    if dense and placement == "dram":
        assert compiled.io["dram_regions"]["EE+EI.rows"][2] == ["EE", "EI"]
    got = Runtime(compiled).run({}, 100)
    ref = ReferenceSimulator(q, 1).run({}, 100)
    for k in ("E.spikes", "I.spikes"):
        np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=k)
    rate = got.records["E.spikes"].mean() * 1000
    assert 3 < rate < 30        # asynchronous irregular activity, as FeNN's ~9 Hz at this size
