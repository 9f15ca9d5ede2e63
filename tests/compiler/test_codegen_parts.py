"""The code generator's parts (compiler/codegen/): scoped registers, the frozen
layout, and the layout the compiled program is built from."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CONTROL, CTRL, CompileOptions, compile_network, plan_layout
from fenn_dma.compiler.codegen.emitter import Constants, Emitter
from fenn_dma.compiler.errors import ResourceError
from fenn_dma.compiler.model import LIF, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.quantise import quantise


def test_scope_frees_its_registers_in_the_order_taken():
    em = Emitter()
    free_x, free_v = list(em.xpool.free), list(em.vpool.free)
    with em.scope() as t:
        a, b = t.x("a"), t.x("b")
        v = t.v("v")
        with em.scope() as inner:
            c = inner.x("c")
            assert em.xpool.owner[free_x[2]] == "c"
        assert em.xpool.free[0] == free_x[2]            # c is free again, a and b are held
        assert em.xpool.owner == {free_x[0]: "a", free_x[1]: "b"}
        assert c not in (a, b)
    assert em.xpool.available == len(free_x) and em.vpool.available == len(free_v)
    # put(a, b): the pools hand out the most recently freed register first
    assert em.xpool.get("next") == b and em.xpool.get("then") == a
    assert em.vpool.get("next") == v


def test_running_out_names_the_holders():
    em = Emitter()
    with pytest.raises(ResourceError, match="out of vector registers allocating 'one too many'.*v0=held 0"):
        with em.scope() as t:
            for k in range(33):
                t.v("one too many" if k == 32 else f"held {k}")


def test_lent_registers_come_back():
    em = Emitter()
    r = em.program.x("record pointer")
    with em.lent([("record pointer", r)]):
        with em.scope() as t:
            assert t.x("pass") == r          # free during the block
    assert list(em.xpool.owner.values()) == ["record pointer"]
    assert em.xpool.get("next") != r


def test_constants_are_emitted_once_per_key():
    em = Emitter()
    with em.scope() as s:
        k = Constants(s)
        r1 = k.x(100, "ring base 100", 100)
        r2 = k.x(100, "ring base 100", 100)
        w = k.v(("weight", 3), "weight 3", lambda r: em.op("vlui", r, 3))
        assert r1 == r2 and k.v(("weight", 3), "weight 3", lambda r: em.op("vlui", r, 4)) == w
    assert [it.op for it in em.b.items] == ["addi", "vlui"]


def test_addi_reaches_any_value_through_a_temporary():
    em = Emitter()
    with em.scope() as t:
        r = t.x("r")
        free = em.xpool.available
        em.addi(r, r, 5000)
        assert em.xpool.available == free
    assert [it.op for it in em.b.items] == ["lui", "addi", "add"]


def _net():
    rng = np.random.default_rng(0)
    net = Network()
    i = net.population("in", 40, SpikeInput())
    h = net.population("h", 70, LIF(tau_mem=10, threshold=0.5), record=("spikes", "v"))
    net.connect(i, h, Dense(rng.normal(0, 0.3, (40, 70)), delays=rng.integers(0, 3, (40, 70))), Exponential(5))
    net.connect(h, h, Dense(rng.normal(0, 0.1, (70, 70))), Exponential(5))
    return net


def test_layout_is_frozen_and_is_what_the_program_uses():
    q = quantise(_net())
    layout = plan_layout(q, CompileOptions())
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.window = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.populations["h"].stride = 0
    compiled = compile_network(quantise(_net()))
    assert [(r.memory, r.name, r.offset, r.size) for r in layout.plan.regions] == \
        [(r.memory, r.name, r.offset, r.size) for r in compiled.plan.regions if r.name != "code"]
    h = layout.populations["h"]
    assert compiled.io["state"]["h"] == {"addr": h.state.offset, "stride": h.stride, "chunks": 3, "size": 70,
                                         "offsets": h.offsets}
    assert [r.key for r in layout.records] == ["h.spikes", "h.v"] == list(compiled.io["records"])
    assert layout.connections["in->h"].delays is not None and layout.connections["h->h"].delays is None
    assert compiled.io["control"] == CTRL == dataclasses.asdict(CONTROL)
