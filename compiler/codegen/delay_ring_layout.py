"""The memory side of delay rings in VMEM (codegen/delay_ring.py has the format and the
code): which populations' rings go to VMEM, the rows of segments per source in DRAM,
their DMEM group tables and row buffers, and the error when a ring fits neither memory."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fenn_dma.arch import ROW_BYTES
from fenn_dma.isa import csrs

from ..errors import ModelError, ResourceError
from ..memory import MemoryPlan, Region
from ..quantise import LANES, QConnection, QNetwork, QPopulation, suffix

VEC = ROW_BYTES
RING_MEMORIES = ("auto", "llm", "vmem")
SEGMENTS = 31                          # weight vectors per group (a header vector before them)
GROUP_BYTES = (1 + SEGMENTS) * VEC     # 2048: a power of two (row addresses by shift)


def slot_vectors(chunks: int) -> int:
    """P: vectors per slot of a VMEM ring (the chunks rounded up to a power of two)."""
    return 1 << max(chunks - 1, 0).bit_length()


def vmem_ring_bytes(chunks: int, depth: int) -> int:
    return depth * slot_vectors(chunks) * VEC


def llm_ring_bytes(chunks: int, depth: int) -> int:
    """Bytes per lane of an LLM ring."""
    return chunks * 2 * depth


def _rings(p: QPopulation) -> int:
    return sum(g.has_ring for g in p.synapses)


def choose_ring_memory(q: QNetwork, option: str, llm_limit: int) -> dict[str, str]:
    """``{population: "llm" | "vmem"}`` for every population with a ring (module docstring)."""
    if option not in RING_MEMORIES:
        raise ModelError(f"delay_ring = {option!r}; allowed: {', '.join(map(repr, RING_MEMORIES))}")
    pops = [p for p in q.populations.values() if not p.is_input and _rings(p)]
    if option != "auto":
        return {p.name: option for p in pops}
    where = {p.name: "llm" for p in pops}
    need = {p.name: _rings(p) * llm_ring_bytes(p.chunks, p.ring_depth) for p in pops}
    for p in sorted(pops, key=lambda p: -need[p.name]):
        if sum(need[n] for n, w in where.items() if w == "llm") <= llm_limit:
            break
        where[p.name] = "vmem"
    return where


def check_vmem_fits(q: QNetwork, plan: MemoryPlan, where: dict[str, str], llm_limit: int) -> None:
    """After the VMEM rings and their row buffers are placed: a ModelError naming the ring
    that fits neither memory when VMEM overflows."""
    if plan.used["vmem"] <= plan.sizes["vmem"]:
        return
    for name in (n for n, w in where.items() if w == "vmem"):
        p = q.populations[name]
        conns = [c.name for c in q.connections.values() if c.target == name and c.mode == "ring"]
        shown = ", ".join(map(repr, conns[:4])) + (f" and {len(conns) - 4} more" if len(conns) > 4 else "")
        raise ModelError(
            f"population {name!r} ({p.size} neurons, delays up to {p.ring_depth - 1} steps: connections {shown}): "
            f"its delay ring fits neither memory: the LLM ring needs "
            f"{_rings(p) * llm_ring_bytes(p.chunks, p.ring_depth)} B per lane of {llm_limit}; the VMEM ring "
            f"{_rings(p) * vmem_ring_bytes(p.chunks, p.ring_depth)} B, and VMEM would hold {plan.used['vmem']} B "
            f"of {plan.sizes['vmem']} with it (state, row buffers); use fewer neurons or shorter delays")


@dataclass(frozen=True)
class RingPass:
    """The delivery of one pass's connections onto one VMEM ring (codegen/delay_ring.py)."""

    source: str
    target: str
    group: int                     # the target's synapse group
    connections: tuple[str, ...]   # in definition order
    rows: Region                   # DRAM: one row per source neuron, ``stride`` bytes apart
    stride: int
    counts: Region                 # DMEM: groups of SEGMENTS per row, 1 B each (a row is below 2^19 B)
    ring: Region                   # VMEM
    depth: int
    slot: int                      # P, vectors per slot
    segments: int                  # used segments over all rows


@dataclass(frozen=True)
class RingRows:
    rows: np.ndarray               # (n_pre, groups x 32, 32) int16
    groups: np.ndarray             # (n_pre,) groups per row
    segments: int


def ring_rows(conns: list[QConnection], tgt: QPopulation) -> RingRows:
    """The DRAM rows of ``conns`` (one source, one ring of ``tgt``; module docstring)."""
    D, P = tgt.ring_depth, slot_vectors(tgt.chunks)
    if D * P > 32768:
        raise ModelError(f"population {tgt.name!r}: a VMEM ring of {D} slots x {P} vectors has cells beyond the "
                         "16-bit segment header (at most 32768)")
    n_pre = conns[0].exists.shape[0]
    parts = []
    for o, c in enumerate(conns):
        j, i = np.nonzero(c.exists & (c.weights != 0))
        parts.append((j, np.full(j.size, o), c.offset + c.delays[j, i], i, c.weights[j, i]))
    J, O, R, I, W = (np.concatenate(x).astype(np.int64) for x in zip(*parts))
    h = R * P + I // LANES
    key = (J * len(conns) + O) * (D * P) + h          # rows, then connections in order
    uniq, inv = np.unique(key, return_inverse=True)
    seg_row = uniq // (len(conns) * D * P)
    first = np.searchsorted(seg_row, seg_row, side="left")
    rank = np.arange(uniq.size) - first
    per_row = np.bincount(seg_row, minlength=n_pre)
    groups = -(-per_row // SEGMENTS)
    G = max(int(groups.max(initial=0)), 1)
    rows = np.zeros((n_pre, G * 32, LANES), np.int16)
    rows[seg_row, (rank // SEGMENTS) * 32, rank % SEGMENTS] = uniq % (D * P)
    r = rank[inv]
    rows[J, (r // SEGMENTS) * 32 + 1 + r % SEGMENTS, I % LANES] = W
    return RingRows(rows, groups, int(uniq.size))


def plan_rings(q: QNetwork, plan: MemoryPlan, ring_base: dict[str, dict[int, int]]) -> tuple:
    """DRAM rows, DMEM group tables and the two VMEM row buffers of every connection onto a
    VMEM ring (``ring_base``: population -> group -> VMEM ring offset). Returns
    (passes, buffers, dram_data, dmem_data)."""
    passes, dram_data, dmem_data = [], [], []
    groups = list(q.schedule.phase1) + [g for n in q.schedule.order for g in q.schedule.before_update[n]]
    longest = 0
    todo = []
    for g in groups:
        keys: dict[tuple[str, int], list[QConnection]] = {}
        for name in g.connections:
            c = q.connections[name]
            if c.mode == "ring" and c.target in ring_base:
                keys.setdefault((c.target, c.group), []).append(c)
        for (target, k), conns in keys.items():
            tgt = q.populations[target]
            rr = ring_rows(conns, tgt)
            stride = rr.rows.shape[1] * VEC
            if stride >= csrs.DMA_MAX_COUNT:
                raise ResourceError(f"connections {[c.name for c in conns]}: a ring row of {stride} bytes exceeds "
                                    f"the DMA's largest transfer ({csrs.DMA_MAX_COUNT - 64} bytes)")
            longest = max(longest, int(rr.groups.max(initial=0)) * GROUP_BYTES)
            todo.append((g, target, k, conns, rr, stride))
    if not todo:
        return (), None, (), ()
    size = max(longest, VEC)
    b0 = plan.place("vmem", "ring_buffer0", size, align=VEC, note="ring row (ping)").offset
    b1 = plan.place("vmem", "ring_buffer1", size, align=VEC, note="ring row (pong)").offset
    for g, target, k, conns, rr, stride in todo:
        names = tuple(c.name for c in conns)
        label = "+".join(names)
        rows = plan.place("dram", f"{label}.ring_rows", rr.rows.nbytes, align=VEC,
                          note=f"{rr.rows.shape[0]} rows x {stride} B: {rr.segments} segments onto "
                               f"{target}.vring{suffix(k)}")
        dram_data.append((rows.offset, rr.rows.astype("<i2").tobytes()))
        table = rr.groups.astype("<u1")            # < 256: stride < DMA_MAX_COUNT = 256 groups
        counts = plan.place("dmem", f"{label}.ring_groups", table.nbytes, note="segment groups per row")
        dmem_data.append((counts.offset, table.tobytes()))
        tgt = q.populations[target]
        ring = plan.region(f"{target}.vring{suffix(k)}")
        passes.append(RingPass(g.source, target, k, names, rows, stride, counts, ring, tgt.ring_depth,
                               slot_vectors(tgt.chunks), rr.segments))
        for c in conns:
            c.placement = "dram"
    return tuple(passes), (b0, b1), tuple(dram_data), tuple(dmem_data)


