"""Weights streamed from DRAM by the MM2S DMA: same results as VMEM-resident
weights and as the reference, networks larger than VMEM, DMA errors reported."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, compile_network
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.model import LIF, Delta, Dense, Exponential, Network, Sparse, SpikeInput
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime, RunError
from fenn_dma.isa import csrs
from fenn_dma.isa.assembler import assemble
from fenn_dma.sim import MachineConfig


def _net(placements, seed=1):
    """Dense (direct, and with delays), sparse with delays, two sources, two synapse
    types; ``placements`` for the four connections."""
    r = np.random.default_rng(seed)
    n = Network()
    i = n.population("in", 70, SpikeInput())
    h = n.population("h", 100, LIF(tau_mem=20, threshold=0.5, refractory=2), record=("spikes", "v"))
    o = n.population("o", 40, LIF(tau_mem=20, threshold=0.5), record=("spikes",))
    n.connect(i, h, Dense(r.normal(0.1, 0.3, (70, 100))), Exponential(5), placement=placements[0])
    pre, post = np.nonzero(r.random((100, 100)) < 0.2)
    n.connect(h, h, Sparse(pre, post, r.normal(0, 0.2, pre.size), delays=r.integers(0, 3, pre.size)),
              Exponential(10), placement=placements[1])
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (100, 40)), delays=r.integers(0, 4, (100, 40))), Delta(),
              placement=placements[2])
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (100, 40))), Exponential(5), placement=placements[3], name="h->o 2")
    return n


@pytest.mark.parametrize("rounding,resident", [("nearest", 0), ("stochastic", 12)])
def test_streamed_and_resident_weights_give_identical_results(run_pair, rounding, resident):
    opts = CompileOptions(resident_registers=resident, window=16)
    runs = {}
    for label, pl in (("vmem", ["vmem"] * 4), ("dram", ["dram"] * 4), ("mixed", ["dram", "vmem", "dram", "vmem"])):
        q, compiled, ref, got = run_pair(_net(pl), steps=40, rate=0.2, rounding=rounding, options=opts)
        for k in ref.records:
            np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=f"{label}: {k}")
        assert [c.placement for c in q.connections.values()] == pl
        runs[label] = (got, compiled)
    for label in ("dram", "mixed"):
        for k, rec in runs["vmem"][0].records.items():
            np.testing.assert_array_equal(runs[label][0].records[k], rec, err_msg=f"{label}: {k}")
    dram = runs["dram"][1]
    assert dram.io["dram_regions"]["h->o+h->o 2.rows"][2] == ["h->o", "h->o 2"]     # one transfer per spike for both
    assert "dram" in dram.images and dram.plan.used["vmem"] < runs["vmem"][1].plan.used["vmem"]
    assert f"csrrwi zero, {csrs.MM2S_CONTROL}, 1" in dram.asm.listing
    assert runs["vmem"][0].records["h.spikes"].sum() > 200


def test_network_larger_than_vmem_streams_and_runs_exactly(tmp_path, make_inputs):
    """700 x 1000 dense weights (1.4 MB) used to be a VMEM overflow on the 512 KiB
    KV260 profile; "auto" placement now streams them from DRAM."""
    r = np.random.default_rng(2)
    net = Network()
    i = net.population("in", 700, SpikeInput())
    h = net.population("h", 1000, LIF(tau_mem=20, threshold=1.0), record=("spikes",))
    net.connect(i, h, Dense(r.normal(0.02, 0.1, (700, 1000))), Exponential(5))
    net.connect(h, h, Dense(r.normal(0.0, 0.05, (1000, 1000))), Exponential(5))
    program, q = compile_model(net, n_steps=30)
    assert program.plan.used["vmem"] <= 512 * 1024
    assert program.metadata["connections"]["in->h"]["placement"] == "dram"
    program.save(tmp_path / "big.fenn")
    loaded = load(tmp_path / "big.fenn")
    assert loaded.images["dram"] == program.images["dram"]
    assert assemble(loaded.listing, "listing.s").images["imem"] == loaded.images["imem"]
    x = make_inputs(net, 30, 0.03, 3)
    got = Runtime(loaded).run({"in": x["in"][0]})
    ref = ReferenceSimulator(q, 1).run(x)
    np.testing.assert_array_equal(got.records["h.spikes"], ref.records["h.spikes"][0])
    assert ref.records["h.spikes"].sum() > 100


def test_dma_error_is_reported_by_the_runtime():
    q = quantise(_net(["dram", "vmem", "vmem", "vmem"]))
    compiled = compile_network(q)
    start, size, conns = compiled.io["dram_regions"]["in->h.rows"]
    assert conns == ["in->h"]
    row = size // 70
    bad = MachineConfig(dram_size=1 << 20, dram_error_regions=((start + 5 * row, start + 6 * row),))
    x = np.zeros((10, 70), bool)
    x[3, [1, 5, 9]] = True
    rt = Runtime(compiled, config=bad)
    with pytest.raises(RunError, match=r"DMA error streaming weights from DRAM address 0x[0-9a-f]{8} "
                                       r"\(connection 'in->h'\): MM2S status 0x42.*slave error.*ebreak"):
        rt.run({"in": x})
    ok = Runtime(compiled, config=MachineConfig(dram_size=1 << 20))
    x[3, 5] = False
    ok.run({"in": x})                  # the same program without the failing row runs
    with pytest.raises(RunError, match="does not fit the machine's DRAM"):
        Runtime(compiled, config=MachineConfig(dram_size=1024))


@pytest.mark.parametrize("unroll", [1, 3, 8])
def test_unrolled_dense_accumulation_with_remainders(run_pair, unroll):
    """11 chunks of VMEM accumulators: a remainder block and whole iterations, from VMEM
    rows and from streamed rows."""
    r = np.random.default_rng(4)
    n = Network()
    i = n.population("in", 40, SpikeInput())
    h = n.population("h", 340, LIF(tau_mem=10, threshold=0.6), record=("spikes", "v"))
    n.connect(i, h, Dense(r.normal(0.1, 0.3, (40, 340))), Exponential(5), placement="dram")
    n.connect(h, h, Dense(r.normal(0.0, 0.05, (340, 340))), Exponential(5), placement="vmem")
    opts = CompileOptions(resident_registers=0, unroll=unroll)
    q, compiled, ref, got = run_pair(n, steps=25, rate=0.3, options=opts)
    for k in ref.records:
        np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=k)
    assert ref.records["h.spikes"].sum() > 50


@pytest.mark.parametrize("targets,refractory", [(2400, 0), (1000, 2), (3200, 0)])
def test_long_streamed_rows_step_their_pointers(run_pair, targets, refractory):
    """Streamed dense rows (VMEM accumulators) of 75 / 32 chunks (one block) and 100 chunks
    (a remainder block and a loop of 32-chunk blocks), whose offsets pass the 12-bit
    immediate range and are stepped: the same results as the reference and as
    VMEM-resident weights (another state stride with a refractory counter)."""
    from fenn_dma.compiler.codegen.propagation import STREAM_WHOLE
    r = np.random.default_rng(7)
    w = r.normal(0.05, 0.3, (40, targets))
    runs = {}
    for pl in ("dram", "vmem"):
        n = Network()
        i = n.population("in", 40, SpikeInput())
        h = n.population("h", targets, LIF(tau_mem=10, threshold=0.6, refractory=refractory),
                         record=("spikes", "v"))
        n.connect(i, h, Dense(w), Exponential(5), placement=pl)
        q, compiled, ref, got = run_pair(n, steps=12, rate=0.3, options=CompileOptions(resident_registers=0))
        for k in ref.records:
            np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=f"{pl}: {k}")
        runs[pl] = got
        if pl == "dram":
            assert compiled.plan.region("h.state").size // q.populations["h"].chunks < 2048
            assert ("Lchunks" in compiled.asm.listing) == (q.populations["h"].chunks > STREAM_WHOLE)
    for k, rec in runs["vmem"].records.items():
        np.testing.assert_array_equal(runs["dram"].records[k], rec, err_msg=k)
    assert runs["vmem"].records["h.spikes"].sum() > 100


def _sparse_rows(shape: str, r: np.random.Generator) -> tuple[int, np.ndarray]:
    """(sources, targets) masks of the streamed sparse tests. ``short``: rows of 0 to 7
    columns (each count), ring row 0 of many lanes used (unused lanes' words address it too); ``long``:
    row j has exactly j columns (0 to 69: every entry block, and the 32-column run taken
    once, twice and three times), lane 0 the fullest, the other lanes random below it."""
    if shape == "short":
        n_in, n_h = 48, 300
        dense_rows = r.random(n_in) < 0.5
        mask = r.random((n_in, n_h)) < np.where(dense_rows, 0.25, 0.03)[:, None]
        mask[:, :32] |= r.random((n_in, 32)) < 0.5
        mask[5] = False                                   # an empty row
        mask[6] = np.arange(n_h) == 40                    # a row of one column
        return n_h, mask
    n_in, rows = 70, 70
    n_h = 32 * rows
    depth = np.arange(n_h) // 32                          # each target's row in its lane
    mask = (depth[None, :] < np.arange(n_in)[:, None]) & (r.random((n_in, n_h)) < 0.5)
    mask[:, ::32] = depth[None, ::32] < np.arange(n_in)[:, None]
    return n_h, mask


@pytest.mark.parametrize("kind,shape", [("weights", "short"), ("delays", "short"), ("constant", "short"),
                                        ("weights", "long"), ("delays", "long"), ("constant", "long")])
def test_streamed_sparse_rows_in_column_blocks(run_pair, kind, shape):
    """Streamed sparse rows entering the connection's column blocks at every block (rows of
    0 to 32 columns), and rows longer than the 32-block run (it runs again per 32 further
    columns); packed words (unused lanes addressing ring row 0 beside real synapses to it),
    with delays, or a constant weight (unused lanes skipped): the same results as the
    reference and as VMEM-resident columns."""
    from fenn_dma.compiler.codegen.propagation import STREAM_COLUMNS
    r = np.random.default_rng(11)
    n_h, mask = _sparse_rows(shape, r)
    n_in = mask.shape[0]
    pre, post = np.nonzero(mask)
    w = np.full(pre.size, 0.3 if shape == "short" else 0.05) if kind == "constant" \
        else r.normal(0.1, 0.4 if shape == "short" else 0.06, pre.size)
    d = r.integers(0, 3, pre.size) if kind == "delays" else None
    runs = {}
    for pl in ("dram", "vmem"):
        n = Network()
        i = n.population("in", n_in, SpikeInput())
        h = n.population("h", n_h, LIF(tau_mem=10, threshold=0.6), record=("spikes", "v"))
        n.connect(i, h, Sparse(pre, post, w, delays=d), Exponential(5), placement=pl)
        q, compiled, ref, got = run_pair(n, steps=15, rate=0.4, options=CompileOptions(resident_registers=0))
        for k in ref.records:
            np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=f"{pl}: {k}")
        runs[pl] = got
        assert (q.connections["in->h"].constant_weight is not None) == (kind == "constant")
        if pl == "dram":
            labels = compiled.asm.labels
            assert any("column_more" in lab for lab in labels) == (shape == "long")
            assert sum(lab.startswith(".Lcolumn_block_") for lab in labels) == min(mask_columns(mask).max(), STREAM_COLUMNS) - 1
    counts = mask_columns(mask)
    if shape == "short":
        assert set(counts) == set(range(counts.max() + 1)) and counts.max() < STREAM_COLUMNS
    else:
        assert set(counts) == set(range(n_in))
    for k, rec in runs["vmem"].records.items():
        np.testing.assert_array_equal(runs["dram"].records[k], rec, err_msg=k)
    assert runs["vmem"].records["h.spikes"].sum() > 100


def mask_columns(mask: np.ndarray) -> np.ndarray:
    """ELL columns per source row: its fullest lane's synapses."""
    n_in, n_h = mask.shape
    pre, post = np.nonzero(mask)
    return np.bincount(pre * 32 + post % 32, minlength=n_in * 32).reshape(n_in, 32).max(axis=1)


def _one_streamed_pass(case: str) -> Network:
    """Networks whose step has exactly one pass with streamed rows: over the input (before
    the point its next rows are known), over a recurrent population (idem), a latency-0 pass
    after its source's update, a sparse one."""
    r = np.random.default_rng(3)
    n = Network()
    i = n.population("in", 50, SpikeInput())
    h = n.population("h", 120, LIF(tau_mem=10, threshold=0.5), record=("spikes", "v"))
    o = n.population("o", 40, LIF(tau_mem=10, threshold=0.5), record=("spikes",))
    pl = {"input": ("dram", "vmem", "vmem"), "recurrent": ("vmem", "dram", "vmem"),
          "latency0": ("vmem", "vmem", "dram"), "sparse": ("vmem", "dram", "vmem")}[case]
    n.connect(i, h, Dense(r.normal(0.1, 0.3, (50, 120))), Exponential(5), placement=pl[0])
    if case == "sparse":
        pre, post = np.nonzero(r.random((120, 120)) < 0.2)
        n.connect(h, h, Sparse(pre, post, r.normal(0, 0.2, pre.size)), Exponential(10), placement=pl[1])
    else:
        n.connect(h, h, Dense(r.normal(0.0, 0.1, (120, 120))), Exponential(10), placement=pl[1])
    n.connect(h, o, Dense(r.normal(0.1, 0.3, (120, 40))), Exponential(5), latency=0, placement=pl[2])
    return n


@pytest.mark.parametrize("case,after_first_step", [("input", True), ("recurrent", True),
                                                   ("latency0", False), ("sparse", True)])
def test_the_one_streamed_pass_is_prefetched_across_steps_and_windows(run_pair, make_inputs, case,
                                                                     after_first_step):
    """The first transfer of the one streamed pass starts where its source's spikes are
    known (codegen/streaming.py ``Prefetch``): the same results, over windows of 7 steps
    (a window's last step prefetches nothing, its first starts its own), and the DMA moves
    exactly the rows the spikes imply (no transfer that the next pass does not use)."""
    net = _one_streamed_pass(case)
    q, compiled, ref, got = run_pair(net, steps=30, rate=0.3, seed=0, options=CompileOptions(window=7))
    for k in ref.records:
        np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=k)
    assert got.calls == 5
    (c,) = [c for c in q.connections.values() if c.placement == "dram"]
    assert f"{c.source} prefetch" in compiled.asm.regions
    assert any("prefetched" in label for label in compiled.asm.labels) == after_first_step
    # MM2S bytes, independently: a row (or its used columns) per delivered spike
    spikes = make_inputs(net, 30, 0.3, 0)["in"][0] if c.source == "in" else got.records["h.spikes"]
    delivered = spikes[:30 - c.latency].sum(axis=0).astype(np.int64)
    if c.sparse:
        from fenn_dma.compiler.sparse_layout import ell_layout
        per_row = 64 * ell_layout(c, q.populations[c.target]).counts
    else:
        ((_, size, _),) = compiled.io["dram_regions"].values()
        per_row = size // q.populations[c.source].size
    assert got.dma_mm2s_bytes == int((delivered * per_row).sum())
    assert ref.records["h.spikes"].sum() > 100


def test_a_streamed_row_longer_than_one_dma_transfer_is_refused():
    """A streamed sparse row (its fullest lane's columns, 64 bytes each) or a fused dense row
    of DMA_MAX_COUNT bytes or more cannot be one transfer: a ResourceError naming the
    connections and the largest transfer; one column less is placed."""
    from fenn_dma.compiler.errors import ResourceError
    from fenn_dma.compiler.placement import PlacementRequest, choose_placements
    longest = csrs.DMA_MAX_COUNT - 64
    ok = [PlacementRequest("in->h", "dram", 64 * 10, longest, "in|delayed", sparse=True)]
    assert choose_placements(ok, 1 << 20) == {"in->h": "dram"}
    too_long = [PlacementRequest("in->h", "dram", 64 * 10, longest + 64, "in|delayed", sparse=True),
                PlacementRequest("h->o", "dram", 64, 64, "h|delayed")]
    with pytest.raises(ResourceError, match=r"connections \['in->h', 'h->o'\]: a streamed row of 524288 bytes "
                                            r"exceeds the DMA's largest transfer \(524224 bytes\)"):
        choose_placements(too_long, 1 << 20)


def test_the_prefetched_dense_pass_takes_runs_of_spiking_sources_in_one_transfer():
    """The one streamed pass, one fused dense row per spike (384 bytes: the stride is not a
    power of two), takes sources spiking one after the other in a spike word in runs of up
    to STREAM_RUN rows per transfer: whole words spiking, runs up to bit 31 and from bit 0
    of the next word, runs longer than STREAM_RUN, lone spikes; a VMEM connection of the same
    pass still delivered spike by spike. The same results as the reference and as VMEM
    weights, windows of 5 steps, and the DMA moves exactly the delivered rows."""
    from fenn_dma.compiler.codegen.layout import STREAM_RUN
    r = np.random.default_rng(5)
    steps = 20
    x = r.random((steps, 70)) < 0.3
    x[0] = True                                  # every word whole
    x[1] = False
    x[1, list(range(0, 10)) + list(range(25, 41))] = True    # runs across the word boundary
    x[2] = False
    x[2, ::2] = True                             # lone spikes
    x[3, :] = False
    x[3, 31] = x[3, 32] = True
    w_h, w_o = r.normal(0.05, 0.2, (70, 100)), r.normal(0.05, 0.2, (70, 40))
    pre, post = np.nonzero(r.random((70, 40)) < 0.2)
    w_s = r.normal(0.1, 0.2, pre.size)
    runs = {}
    for pl in ("dram", "vmem"):
        n = Network()
        i = n.population("in", 70, SpikeInput())
        h = n.population("h", 100, LIF(tau_mem=10, threshold=0.8), record=("spikes", "v"))
        o = n.population("o", 40, LIF(tau_mem=10, threshold=0.8), record=("spikes",))
        n.connect(i, h, Dense(w_h), Exponential(5), placement=pl)
        n.connect(i, o, Dense(w_o), Exponential(5), placement=pl)
        n.connect(i, o, Sparse(pre, post, w_s), Exponential(5), placement="vmem", name="in->o sparse")
        q = quantise(n, n_steps=steps)
        compiled = compile_network(q, CompileOptions(window=5))
        got = Runtime(compiled).run({"in": x})
        ref = ReferenceSimulator(q, 1).run({"in": x[None]})
        for k in ref.records:
            np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=f"{pl}: {k}")
        runs[pl] = got
        if pl == "dram":
            assert any("stream_run" in lab for lab in compiled.asm.labels)
            assert f"up to {STREAM_RUN} of 384 B" in compiled.plan.region("dma_buffer0").note
            assert got.dma_mm2s_bytes == 384 * int(x[:steps - 1].sum())     # latency 1: the last step's wait
    for k, rec in runs["vmem"].records.items():
        np.testing.assert_array_equal(runs["dram"].records[k], rec, err_msg=k)
    assert runs["vmem"].records["h.spikes"].sum() > 50


def _many_streamed_sparse(placement: str) -> Network:
    """One source with seven streamed sparse connections (packed weights, delays, a
    constant weight, rows longer than a 32-block run, two to one target) beside a
    streamed dense one and a VMEM-resident sparse one: more than the pass's scalar
    registers could hold column blocks and row registers for."""
    r = np.random.default_rng(21)
    n = Network()
    i = n.population("in", 70, SpikeInput())
    long_n, long_mask = _sparse_rows("long", r)
    specs = [(300, 0.1, "weights"), (200, 0.2, "delays"), (150, 0.3, "constant"), (long_n, None, "weights"),
             (90, 0.3, "weights"), (120, 0.2, "delays"), (120, 0.1, "weights")]
    targets = {}
    for k, (size, p, kind) in enumerate(specs):
        name = "h5" if k == 6 else f"h{k}"           # the last two share a target
        if name not in targets:
            targets[name] = n.population(name, size, LIF(tau_mem=10, threshold=0.6),
                                         record=("spikes", "v") if k < 4 else ("spikes",))
        mask = long_mask if p is None else r.random((70, size)) < p
        pre, post = np.nonzero(mask)
        w = np.full(pre.size, 0.3) if kind == "constant" else r.normal(0.1, 0.06 if p is None else 0.4, pre.size)
        d = r.integers(0, 3, pre.size) if kind == "delays" else None
        n.connect(i, targets[name], Sparse(pre, post, w, delays=d), Exponential(5) if k % 2 else Delta(),
                  placement=placement, name=f"s{k}")
    n.connect(i, targets["h0"], Dense(r.normal(0, 0.2, (70, 300))), Delta(), placement=placement, name="dense")
    pre, post = np.nonzero(r.random((70, 90)) < 0.2)
    n.connect(i, targets["h4"], Sparse(pre, post, r.normal(0, 0.3, pre.size)), Delta(), placement="vmem",
              name="resident")
    return n


@pytest.mark.parametrize("rounding,resident", [("nearest", 0), ("stochastic", 8)])
def test_many_streamed_sparse_connections_from_one_source(run_pair, rounding, resident):
    """Seven streamed sparse connections in one pass (more than can hold their column-block
    entry and row registers: they find them per row, codegen/streaming.py
    ``ColumnRegisters``): bit-exact with the reference and with VMEM-resident weights."""
    opts = CompileOptions(resident_registers=resident, window=8)
    runs = {}
    for pl in ("dram", "vmem"):
        q, compiled, ref, got = run_pair(_many_streamed_sparse(pl), steps=16, rate=0.3, rounding=rounding,
                                         options=opts)
        for k in ref.records:
            np.testing.assert_array_equal(got.records[k], ref.records[k][0], err_msg=f"{pl}: {k}")
        runs[pl] = (got, compiled)
    listing = runs["dram"][1].asm.listing
    assert listing.count("j = the first block") >= 4             # rows finding their blocks per row
    assert "the target's ring base" in listing                   # and their target's ring
    for k, rec in runs["vmem"][0].records.items():
        np.testing.assert_array_equal(runs["dram"][0].records[k], rec, err_msg=k)
    assert all(runs["vmem"][0].records[f"h{k}.spikes"].sum() > 20 for k in range(6))
