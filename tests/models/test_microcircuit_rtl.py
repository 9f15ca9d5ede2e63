"""The compiled microcircuit at the largest single-core scale (0.0132: 1018 neurons, 52 034
synapses, weights and delays streamed from DRAM, Poisson input drawn on the core) on the
``rtl`` device (the Verilated SoC with the DMA, the harness's DRAM with the ISS's timing)
against the ``iss`` device: identical spike records, instructions, cycles, counters and end
state, in several calls; with a recorded sample too. The SoC is the kv260 profile's, built once and cached."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.host import open_device
from fenn_dma.models import microcircuit as mc
from fenn_dma.models.validation import ROUNDING

pytestmark = pytest.mark.rtl

SCALE = 0.0132                      # the largest that fits one core (benchmarks/microcircuit.py)


def compiled(sample=None):
    inst = mc.draw(mc.Params(n_scale=SCALE, k_scale=SCALE))
    prog, _ = compile_model(mc.to_network(inst, sample=sample), rounding=ROUNDING, seed=1)
    assert prog.images.get("dram"), "the microcircuit's rows stream from DRAM"
    return prog


@pytest.fixture(scope="module")
def program():
    return compiled()


def same(a, b) -> None:
    assert set(a.records) == set(b.records)
    for k in a.records:
        np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    assert (a.instructions, a.cycles, a.calls) == (b.instructions, b.cycles, b.calls)


def run_both(rtl, program, calls: list[int]):
    iss = open_device("iss").load(program)
    rtl.load(program)
    outs = []
    for n in calls:
        a, b = iss.run(n), rtl.run(n)
        same(a, b)
        outs.append(a)
    assert iss.counters == rtl.counters and iss.t == rtl.t == sum(calls)
    np.testing.assert_array_equal(rtl.read_state("microcircuit", "V"), iss.read_state("microcircuit", "V"))
    np.testing.assert_array_equal(rtl.read_state("microcircuit", "I"), iss.read_state("microcircuit", "I"))
    return outs


def test_microcircuit_rtl_equals_iss(rtl, program):
    """60 steps in two calls (the initial burst and the Poisson-driven activity after it)."""
    outs = run_both(rtl, program, [20, 40])
    spikes = np.concatenate([o.records["microcircuit.spikes"] for o in outs])
    assert spikes[:20].sum() > 100 and spikes[20:].sum() > 10      # both calls propagate spikes


def test_microcircuit_sample_rtl_equals_iss(rtl):
    """The first 25 neurons of each population recorded (14 of L5I: all): 189 in 6 words per step."""
    program = compiled(sample=25)
    spec = program.io["records"]["microcircuit.spikes"]
    assert (spec["size"], spec["words"]) == (7 * 25 + 14, 6)
    outs = run_both(rtl, program, [15, 15])
    assert sum(int(o.records["microcircuit.spikes"].sum()) for o in outs) > 10


@pytest.mark.slow
def test_microcircuit_rtl_equals_iss_long(rtl, program):
    """150 ms (1500 steps: a full record window of 1022 steps and a second call) after
    a reset; the network's activity reaches its steady rates."""
    window = program.io["window"]
    outs = run_both(rtl, program, [window, 1500 - window])
    assert outs[0].calls == 1
    spikes = np.concatenate([o.records["microcircuit.spikes"] for o in outs])
    rate = spikes[500:].mean() / 1e-4                                 # Hz, after 50 ms
    assert 1.0 < rate < 20.0
