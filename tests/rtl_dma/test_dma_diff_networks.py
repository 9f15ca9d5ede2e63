"""Whole compiled networks with DRAM-streamed weights (the compiler's streaming path, dense and
sparse, with delays) on the native RTL harness and on the ISS: the same spikes, records,
readouts and the same cycles, bit for bit, at both DRAM latencies, and both equal to the
bit-exact reference simulator.

The ISS side is the compiler's Runtime; each window's machine state as its machine run starts
(the firmware's inputs and control words written into DMEM; VMEM, LLM, DRAM; x registers) is
captured and becomes one RTL job and one fresh ISS run, compared whole. Window by window the
RTL then ran what the Runtime ran: the records and readouts (from DMEM and VMEM, which
match the Runtime's machine at the end) and the Runtime's cycles are the RTL's."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
from fenn_dma.compiler.model import LIF, Delta, Dense, Exponential, Network, Sparse, SpikeInput
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.isa.program import Program
from fenn_dma.verify.compare import DMA_FIELDS
from fenn_dma.verify.runner import iss_state, run_windows_on_rtl, windows_of_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_diff import LATENCIES, compare, dma_soc, machine  # noqa: E402,F401

pytestmark = pytest.mark.rtl
STEPS = 24


def network(seed: int, sparse: bool) -> Network:
    """64 inputs -> 96 LIF (dense, DRAM) -> itself (sparse with delays, or dense, DRAM) -> 32
    LIF (dense with delays, DRAM; and a VMEM-resident one beside it)."""
    r = np.random.default_rng(seed)
    n = Network(name=f"stream{seed}")
    i = n.population("in", 64, SpikeInput())
    h = n.population("h", 96, LIF(tau_mem=20, threshold=0.5, refractory=2), record=("spikes", "v"))
    o = n.population("o", 32, LIF(tau_mem=20, threshold=0.5), record=("spikes",))
    n.connect(i, h, Dense(r.normal(0.1, 0.3, (64, 96))), Exponential(5), placement="dram")
    if sparse:
        pre, post = np.nonzero(r.random((96, 96)) < 0.2)
        n.connect(h, h, Sparse(pre, post, r.normal(0, 0.2, pre.size), delays=r.integers(0, 3, pre.size)),
                  Exponential(10), placement="dram")
    else:
        n.connect(h, h, Dense(r.normal(0.0, 0.1, (96, 96))), Exponential(10), placement="dram")
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (96, 32)), delays=r.integers(0, 4, (96, 32))), Delta(),
              placement="dram")
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (96, 32))), Exponential(5), placement="vmem", name="h->o vmem")
    return n


def one_streamed_pass(seed: int, which: str) -> Network:
    """Inputs -> 96 LIF -> 32 LIF where one pass streams (its first transfer started early,
    codegen/streaming.py Prefetch) and the rest is small and sparse in VMEM: "input" (dense
    in -> h and in -> o with delays, one fused row), "recurrent" (h -> h sparse with delays and
    h -> o dense: two rows a spike), "latency0" (h -> o dense, latency 0), "runs" (in -> h dense
    alone: room for row buffers of several rows, so runs of inputs spiking one after the other
    share a transfer)."""
    r = np.random.default_rng(seed)
    n = Network(name=f"prefetch{seed}")
    i = n.population("in", 64 if which == "input" else 16, SpikeInput())     # (8 KiB of VMEM)
    h = n.population("h", 96, LIF(tau_mem=20, threshold=0.5, refractory=2), record=("spikes", "v"))
    o = n.population("o", 32, LIF(tau_mem=20, threshold=0.5), record=("spikes",))

    def sparse(a, b, p, placement, **kw):
        pre, post = np.nonzero(r.random((a.size, b.size)) < p)
        n.connect(a, b, Sparse(pre, post, r.normal(0.2, 0.3, pre.size), delays=r.integers(0, 3, pre.size)),
                  Exponential(10), placement=placement, **kw)

    def dense(a, b, placement, **kw):
        n.connect(a, b, Dense(r.normal(0.1, 0.3, (a.size, b.size))), Exponential(5), placement=placement, **kw)

    if which == "input":
        dense(i, h, "dram")
        n.connect(i, o, Dense(r.normal(0.1, 0.3, (64, 32)), delays=r.integers(0, 4, (64, 32))), Delta(),
                  placement="dram")
        sparse(h, o, 0.1, "vmem")
    elif which == "runs":
        dense(i, h, "dram")
        sparse(h, o, 0.05, "vmem")
    elif which == "recurrent":
        sparse(i, h, 0.3, "vmem")
        sparse(h, h, 0.2, "dram")
        dense(h, o, "dram")
    else:
        sparse(i, h, 0.3, "vmem")
        dense(h, o, "dram", latency=0)
    return n


@pytest.mark.parametrize("latency", LATENCIES)
def test_streamed_networks_on_the_rtl_equal_the_iss(dma_soc, latency):
    cases = [(seed, network(seed, sparse), "sparse" if sparse else "dense", 1024)
             for seed, sparse in ((1, True), (2, False), (3, True))]
    check_on_rtl(dma_soc, latency, cases)


@pytest.mark.parametrize("latency", LATENCIES)
def test_prefetched_streamed_passes_on_the_rtl_equal_the_iss(dma_soc, latency):
    """Windows of 8 steps: a window's first step starts its own first transfer, its last
    prefetches none."""
    cases = [(4 + k, one_streamed_pass(4 + k, which), which, 8)
             for k, which in enumerate(("input", "recurrent", "latency0", "runs"))]
    runs = compile_network(quantise(cases[-1][1], n_steps=STEPS),
                           CompileOptions(resident_registers=4, sizes=MachineSizes.from_config(machine(latency)),
                                          window=8))
    assert any("stream_run" in label for label in runs.asm.labels)
    check_on_rtl(dma_soc, latency, cases)


@pytest.mark.parametrize("stall", (32, 160))
def test_streamed_networks_under_back_pressure_on_the_rtl_equal_the_iss(dma_soc, stall):
    """The DRAM's back-pressure in the one model (fenn_dma.dram: stall/256 of each channel's
    cycles, the same stall function of the cycle on the ISS and the native harness): the
    Runtime's predicted cycles are still the RTL's, window by window, and the spikes the
    reference's."""
    cases = [(1, network(1, True), "sparse", 1024), (5, one_streamed_pass(5, "recurrent"), "recurrent", 8),
             (7, one_streamed_pass(7, "runs"), "runs", 8)]
    check_on_rtl(dma_soc, "ddr4", cases, stall=stall)


def check_on_rtl(dma_soc, latency: str, cases, stall: int = 0) -> None:
    """Each (seed, network, label, window) compiled, run by the Runtime (equal to the reference),
    its windows run on the RTL and on fresh ISS runs: the same state, stop and cycles."""
    cfg = machine(latency)
    if stall:
        cfg = cfg.with_(dma=type(cfg.dma)(cfg.dma.dram.with_stall(stall, seed=stall)))
    sizes = MachineSizes.from_config(cfg)
    labels, jobs, checks = [], [], []
    for seed, net, kind, window in cases:
        q = quantise(net, n_steps=STEPS)
        compiled = compile_network(q, CompileOptions(resident_registers=4, sizes=sizes, window=window))
        assert sorted({c.placement for c in q.connections.values()}) == ["dram", "vmem"]
        x = {"in": np.random.default_rng(seed).random((STEPS, net.populations["in"].size)) < 0.25}
        rt, out, windows = windows_of_run(compiled, cfg, x)
        ref = ReferenceSimulator(q, 1).run({"in": x["in"][None]})
        for k in ref.records:
            np.testing.assert_array_equal(out.records[k], ref.records[k][0], err_msg=f"seed {seed}: {k}")
        for k in ref.readouts:
            np.testing.assert_array_equal(out.readouts[k], ref.readouts[k][0], err_msg=f"seed {seed}: {k}")
        assert out.records["h.spikes"].sum() > 20
        first = len(jobs)
        for w, images in enumerate(windows):
            labels.append(f"seed {seed} ({kind}, {latency}) window {w}")
            jobs.append(images)
        checks.append((labels[first], out, range(first, len(jobs)), rt))
    programs = [Program(images={k: j[k] for k in ("imem", "dmem", "vmem")}) for j in jobs]
    iss = [iss_state(p, cfg, llm=j["llm"], dram=j["dram"], x_init=j["x"]) for p, j in zip(programs, jobs)]
    rtl = run_windows_on_rtl(jobs, cfg, dma_soc)
    failures = compare(labels, iss, rtl, fields=DMA_FIELDS)
    assert not failures, "\n".join(failures)
    for label, out, span, rt in checks:
        assert all(rtl[i]["stop"]["cause"] == "ecall" for i in span), label
        # Window by window the RTL ran what the Runtime ran, and took the cycles it predicted
        # (the Runtime counts each start's pipeline fill, as the hardware does).
        assert sum(rtl[i]["cycles"] for i in span) == out.cycles, label
        # The last window's final VMEM and DMEM are the Runtime's: its records and readouts.
        assert base64.b64decode(rtl[span[-1]]["vmem"]) == rt.machine.vmem.tobytes(), label
        assert base64.b64decode(rtl[span[-1]]["dmem"]) == rt.machine.dmem.tobytes(), label


def many_streamed_sparse(seed: int) -> Network:
    """64 inputs with six streamed sparse connections (packed weights, delays, a constant
    weight; onto 96 and 32 LIF) in one pass: past the pass's register budget, so some
    rows find their column blocks and ring base per row (codegen/streaming.py
    ColumnRegisters); and a VMEM-resident h -> o."""
    r = np.random.default_rng(seed)
    n = Network(name=f"many_sparse{seed}")
    i = n.population("in", 64, SpikeInput())
    h = n.population("h", 96, LIF(tau_mem=20, threshold=0.5, refractory=2), record=("spikes", "v"))
    o = n.population("o", 32, LIF(tau_mem=20, threshold=0.5), record=("spikes",))
    for k, (tgt, p, kind) in enumerate(((h, 0.2, "delays"), (h, 0.1, "weights"), (o, 0.3, "constant"),
                                        (o, 0.2, "delays"), (h, 0.1, "constant"), (o, 0.2, "weights"))):
        pre, post = np.nonzero(r.random((64, tgt.size)) < p)
        w = np.full(pre.size, 0.2) if kind == "constant" else r.normal(0.15, 0.3, pre.size)
        d = r.integers(0, 3, pre.size) if kind == "delays" else None
        n.connect(i, tgt, Sparse(pre, post, w, delays=d), Exponential(5) if k % 2 else Delta(),
                  placement="dram", name=f"s{k}")
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (96, 32))), Exponential(5), placement="vmem", name="h->o vmem")
    return n


@pytest.mark.parametrize("latency", LATENCIES)
def test_many_streamed_sparse_connections_on_the_rtl_equal_the_iss(dma_soc, latency):
    net = many_streamed_sparse(9)
    compiled = compile_network(quantise(net, n_steps=STEPS),
                               CompileOptions(resident_registers=4, sizes=MachineSizes.from_config(machine(latency)),
                                              window=1024))
    assert "j = the first block" in compiled.asm.listing          # rows entering inline blocks
    check_on_rtl(dma_soc, latency, [(9, net, "many sparse", 1024)])
