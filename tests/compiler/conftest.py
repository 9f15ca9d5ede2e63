"""Shared check: compile a network, run it on the ISS and compare every record
and readout with the bit-exact reference simulator."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, compile_network
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime


def random_inputs(net, steps, rate, seed, batch=1):
    rng = np.random.default_rng(seed)
    return {p.name: rng.random((batch, steps, p.size)) < rate
            for p in net.populations.values() if p.kind == "input"}


def run_both(net, steps=40, rate=0.2, seed=0, rounding="nearest", options=None, batch=1, **qkw):
    q = quantise(net, rounding=rounding, n_steps=steps, **qkw)
    compiled = compile_network(q, options or CompileOptions())
    x = random_inputs(net, steps, rate, seed, batch)
    ref = ReferenceSimulator(q, batch).run(x)
    rt = Runtime(compiled, engine="fast")
    got = rt.run_batch(x, steps) if batch > 1 else rt.run({k: v[0] for k, v in x.items()}, steps)
    return q, compiled, ref, got


def assert_exact(ref, got, batch=1):
    assert set(ref.records) == set(got.records)
    assert set(ref.readouts) == set(got.readouts)
    for k in ref.records:
        r = ref.records[k] if batch > 1 else ref.records[k][0]
        np.testing.assert_array_equal(got.records[k], r, err_msg=k)
    for k in ref.readouts:
        r = ref.readouts[k] if batch > 1 else ref.readouts[k][0]
        np.testing.assert_array_equal(got.readouts[k], r, err_msg=k)


@pytest.fixture
def check_exact():
    def check(net, **kw):
        q, compiled, ref, got = run_both(net, **kw)
        assert_exact(ref, got, kw.get("batch", 1))
        return q, compiled, ref, got
    return check


@pytest.fixture
def run_pair():
    """``run_both`` (program on the ISS and reference), for tests that compare runs."""
    return run_both


@pytest.fixture
def make_inputs():
    return random_inputs
