"""Delay rings in VMEM (compiler/codegen/delay_ring.py): programs whose delayed input goes
to a VMEM ring equal the reference model (records, both roundings that matter, latency-0
and latency-1 connections, several connections onto one ring, unrolled and looped chunk
updates, across windows), equal the same network's LLM-ring program, and the rtl device;
"auto" keeps the LLM ring while it fits and moves to VMEM when it does not; a ring that
fits neither memory is a ModelError naming the population, its connections and sizes."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
from fenn_dma.compiler.codegen.delay_ring_layout import SEGMENTS, ring_rows, slot_vectors
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.neurons import LIF
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import open_device

STEPS = 30


def net(size: int, density: float = 0.3, max_delay: int = 25, seed: int = 3) -> Network:
    """An input with per-synapse delays (latency 0) and a recurrent population with two
    delayed connections onto one ring (latency 1): two passes onto the ring, one of
    them with two connections in definition order."""
    rng = np.random.default_rng(seed)
    n = Network(name=f"vring{size}")
    inp = n.population("input", 24, SpikeInput())
    hid = n.population("hidden", size, LIF(tau_mem=10, threshold=0.4, refractory=1), record=("spikes", "v"))
    n.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (24, size)), delays=rng.integers(0, 20, (24, size))),
              Exponential(4))
    for k in range(2):
        w = rng.normal(0.0, 0.15, (size, size)) * (rng.random((size, size)) < density)
        n.connect(hid, hid, Dense(w, delays=rng.integers(0, max_delay, (size, size))), Exponential(4),
                  latency=1, name=f"rec{k}")
    return n


def inputs(seed: int = 5, steps: int = STEPS) -> dict:
    return {"input": np.random.default_rng(seed).random((steps, 24)) < 0.3}


def program(network: Network, rounding: str = "stochastic", **opt):
    q = quantise(network, rounding=rounding, n_steps=STEPS)
    return compile_network(q, CompileOptions(**opt)), q


@pytest.mark.parametrize("size, rounding, window", [
    (100, "stochastic", 1024),     # 4 chunks: unrolled update
    (230, "stochastic", 7),        # 8 chunks: looped update, windows of 7 steps
    (230, "nearest", 1024),
    (33, "stochastic", 4),         # 2 chunks, padded lanes
])
def test_vmem_ring_equals_the_reference_and_the_llm_ring(size, rounding, window):
    prog, q = program(net(size), rounding, window=window, delay_ring="vmem")
    llm, _ = program(net(size), rounding, window=window, delay_ring="llm")
    assert prog.plan.used["llm"] == 0 and llm.plan.used["llm"] > 0
    x = inputs()
    got = Runtime(prog).run(x).records
    ref = ReferenceSimulator(q).run({"input": x["input"][None]}).records
    other = Runtime(llm).run(x).records
    assert got["hidden.spikes"].sum() > 0
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k][0], err_msg=k)
        np.testing.assert_array_equal(got[k], other[k], err_msg=k)


def test_saturating_cells_add_in_connection_order():
    """Weights at the rails onto one cell from three connections of one pass: the saturating
    sums depend on the order, which is the reference's (and the LLM ring's)."""
    size = 40
    n = Network(name="sat")
    inp = n.population("input", 8, SpikeInput())
    hid = n.population("hidden", size, LIF(tau_mem=10, threshold=7.5), record=("v",), formats={"V": "s3.12"})
    d = np.full((8, size), 3)
    for name, w in (("up", 7.9), ("up again", 7.9), ("down", -7.9)):
        n.connect(inp, hid, Dense(np.full((8, size), w), delays=d), Exponential(4), name=name)
    q = quantise(n, rounding="nearest", n_steps=12)
    prog = compile_network(q, CompileOptions(delay_ring="vmem"))
    x = {"input": np.ones((12, 8), bool)}
    got = Runtime(prog).run(x).records["hidden.v"]
    ref = ReferenceSimulator(q).run({"input": x["input"][None]}).records["hidden.v"][0]
    np.testing.assert_array_equal(got, ref)
    # per spike +7.9 (sum 7.9), +7.9 (clipped at 7.9998), -7.9: the cell ends near 0.1, not at 7.9 (the
    # unclipped sum) nor 0 (the sum clipped at the end); V follows it
    assert (ref[-1] > 0).all() and (ref[-1] < 4.0 * 4096).all()


def test_auto_keeps_the_llm_ring_while_it_fits():
    a, _ = program(net(100))
    b, _ = program(net(100), delay_ring="llm")
    assert a.plan.used["llm"] > 0 and a.asm.words == b.asm.words and a.images == b.images


def test_auto_moves_the_ring_to_vmem_when_the_llm_is_too_small():
    sizes = MachineSizes(llm=256)                # 4 chunks x 32 slots x 2 B = 256: fits; 8 chunks do not
    small, _ = program(net(100), sizes=sizes)
    big, q = program(net(230), sizes=sizes)
    assert small.plan.used["llm"] == 256 and big.plan.used["llm"] == 0
    assert any(r.name == "hidden.vring" for r in big.plan.regions)
    x = inputs(2)
    np.testing.assert_array_equal(Runtime(big).run(x).records["hidden.spikes"],
                                  ReferenceSimulator(q).run({"input": x["input"][None]}).records["hidden.spikes"][0])


def test_a_ring_that_fits_neither_memory_is_named():
    with pytest.raises(ModelError, match=r"population 'hidden' \(230 neurons, delays up to 31 steps: connections "
                                         r"'input->hidden', 'rec0', 'rec1'\): its delay ring fits neither memory: "
                                         r"the LLM ring needs 512 B per lane of 256; the VMEM ring 16384 B"):
        program(net(230), sizes=MachineSizes(llm=256, vmem=16384))


def test_unknown_ring_memory_is_refused():
    with pytest.raises(ModelError, match=r"delay_ring = 'dram'; allowed: 'auto', 'llm', 'vmem'"):
        program(net(33), delay_ring="dram")


def test_rows_hold_every_synapse_once_in_its_cell():
    """The segment rows: each synapse's weight at its (offset + delay, chunk) cell and lane,
    headers h = r P + c, one segment per connection and cell, groups of SEGMENTS, nothing
    beyond a row's groups."""
    q = quantise(net(70, density=0.05), n_steps=4)
    tgt = q.populations["hidden"]
    conns = [q.connections["rec0"], q.connections["rec1"]]
    rr = ring_rows(conns, tgt)
    P, D = slot_vectors(tgt.chunks), tgt.ring_depth
    got = np.zeros((70, D * P, 32), np.int64)
    want = np.zeros_like(got)
    cells = set()
    for c in conns:
        jj, ii = np.nonzero(c.exists & (c.weights != 0))
        np.add.at(want, (jj, (c.offset + c.delays[jj, ii]) * P + ii // 32, ii % 32), c.weights[jj, ii])
        cells |= {(c.name, j, h) for j, h in zip(jj, (c.offset + c.delays[jj, ii]) * P + ii // 32)}
    for j in range(70):
        assert not rr.rows[j, rr.groups[j] * 32:].any()
        for s in range(rr.groups[j] * SEGMENTS):
            g, k = divmod(s, SEGMENTS)
            got[j, rr.rows[j, g * 32, k]] += rr.rows[j, g * 32 + 1 + k]
    np.testing.assert_array_equal(got, want)
    assert rr.segments == len(cells) and (rr.groups == -(-np.bincount(
        [j for _, j, _ in cells], minlength=70) // SEGMENTS)).all()


@pytest.mark.rtl
def test_vmem_ring_on_the_rtl_equals_the_iss(rtl):
    prog, _ = program(net(100, density=0.1), window=8, delay_ring="vmem")
    x = inputs(4, 20)
    iss = open_device("iss").load(prog).run(20, x)
    got = rtl.load(prog).run(20, x)
    for k in iss.records:
        np.testing.assert_array_equal(got.records[k], iss.records[k], err_msg=k)
    assert (got.cycles, got.instructions, got.calls) == (iss.cycles, iss.instructions, iss.calls) \
        and iss.calls == 3


def test_several_rings_passes_and_records():
    """Four populations, each with its VMEM ring fed by an input (latency 0) and by the next
    population (latency 1), eight record pointers held: every pass onto a ring, registers
    spilled where needed, = the reference."""
    rng = np.random.default_rng(1)
    n = Network(name="many")
    ins = [n.population(f"in{k}", 16, SpikeInput()) for k in range(3)]
    pops = [n.population(f"p{k}", 40, LIF(tau_mem=10, threshold=0.4), record=("spikes", "v")) for k in range(4)]
    for k, p in enumerate(pops):
        n.connect(ins[k % 3], p, Dense(rng.normal(0.3, 0.2, (16, 40)), delays=rng.integers(0, 9, (16, 40))),
                  Exponential(4))
        n.connect(pops[(k + 1) % 4], p, Dense(rng.normal(0, 0.2, (40, 40)), delays=rng.integers(0, 9, (40, 40))),
                  Exponential(4), latency=1)
    prog, q = program(n, delay_ring="vmem")
    assert sum(r.name.endswith(".vring") for r in prog.plan.regions) == 4
    x = {f"in{k}": rng.random((STEPS, 16)) < 0.3 for k in range(3)}
    got = Runtime(prog).run(x).records
    ref = ReferenceSimulator(q).run({k: v[None] for k, v in x.items()}).records
    assert sum(int(got[f"p{k}.spikes"].sum()) for k in range(4)) > 0
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k][0], err_msg=k)


def test_vmem_ring_program_round_trips_through_a_fenn_file(tmp_path):
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.compiler.pipeline import to_program
    prog, _ = program(net(33), window=6, delay_ring="vmem")
    to_program(prog).save(tmp_path / "r.fenn")
    back = load(tmp_path / "r.fenn")
    a, b = Runtime(prog).run(inputs()), Runtime(back).run(inputs())
    assert a.cycles == b.cycles
    for k in a.records:
        np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
