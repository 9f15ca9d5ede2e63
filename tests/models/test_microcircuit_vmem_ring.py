"""The microcircuit with its delay ring in VMEM (compiler/codegen/delay_ring.py): at scale
0.01 forced (``delay_ring="vmem"``) the program equals the reference model and the LLM-ring
program spike for spike, and the rtl device equals the iss device in records, instructions,
cycles, counters and end state; at scale 0.05 (3858 neurons: the LLM ring of 7744 B per lane
does not fit, "auto" chooses VMEM) it runs with the model's delays and equals the reference
for 300 steps (``slow``: about 1 min, mostly the compile and the reference)."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import open_device
from fenn_dma.models import microcircuit as mc
from fenn_dma.models.validation import ROUNDING


def compiled(scale: float, delay_ring: str = "auto", seed: int = 2):
    inst = mc.draw(mc.Params(n_scale=scale, k_scale=scale, seed=seed))
    return compile_model(mc.to_network(inst), rounding=ROUNDING, seed=1,
                         options=CompileOptions(delay_ring=delay_ring))


@pytest.fixture(scope="module")
def small():
    return compiled(0.01, "vmem")


def test_vmem_ring_program_equals_reference_and_llm_ring(small):
    program, qnet = small
    assert program.plan.used["llm"] == 0
    assert any(r.name == "microcircuit.vring" for r in program.plan.regions)
    got = Runtime(program).run({}, steps=150)
    ref = ReferenceSimulator(qnet).run({}, steps=150).records["microcircuit.spikes"][0]
    llm, _ = compiled(0.01, "llm")
    other = Runtime(llm).run({}, steps=150)
    s = got.records["microcircuit.spikes"]
    np.testing.assert_array_equal(s, ref)
    np.testing.assert_array_equal(s, other.records["microcircuit.spikes"])
    assert s[:10].sum() > 20 and s[50:].sum() > 10       # the initial burst and the activity after it
    assert got.cycles < other.cycles                      # segments of synapses, not dense rows


@pytest.mark.rtl
def test_vmem_ring_microcircuit_rtl_equals_iss(rtl, small):
    program, _ = small
    iss = open_device("iss").load(program)
    rtl.load(program)
    for n in (12, 18):
        a, b = iss.run(n), rtl.run(n)
        assert set(a.records) == set(b.records)
        for k in a.records:
            np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
        assert (a.instructions, a.cycles, a.calls) == (b.instructions, b.cycles, b.calls)
    assert iss.counters == rtl.counters and iss.t == rtl.t == 30
    for var in ("V", "I"):
        np.testing.assert_array_equal(rtl.read_state("microcircuit", var), iss.read_state("microcircuit", var))


@pytest.mark.slow
def test_scale_005_runs_with_its_delays_and_equals_reference():
    program, qnet = compiled(0.05, seed=0)
    assert program.plan.used["llm"] == 0 and qnet.populations["microcircuit"].ring_depth == 32
    got = Runtime(program).run({}, steps=300).records["microcircuit.spikes"]
    ref = ReferenceSimulator(qnet).run({}, steps=300).records["microcircuit.spikes"][0]
    np.testing.assert_array_equal(got, ref)
    assert got[:10].sum() > 50 and got[200:].sum() > 20     # the initial burst, the activity after its lull
