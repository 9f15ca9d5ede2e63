"""Spike propagation: one pass over a source's spike words per schedule group
(compiler/schedule.py) delivering each of its connections to the target's
accumulators: register-resident or VMEM accumulators (dense, undelayed), or the
target's LLM ring buffer (delays, latency; dense rows with a parallel row of
``2 * delay``, or sparse packed ELL columns). A pass whose connections include
one with weights in DRAM is emitted by codegen/streaming.py, which calls back
into this module for the delivery of each row.

Adding a kind of propagation: a field set in :meth:`Propagation.setup` for the
registers and constants it needs (in :class:`ConnState`), and a delivery in
:meth:`Propagation.body` (VMEM rows) / :meth:`Propagation.dense_row` /
:meth:`Propagation.sparse_stream_row` (rows streamed from DRAM come through these).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..quantise import LANES, QConnection, QNetwork, QPopulation, suffix
from ..schedule import Group
from .control import ProgramRegisters, point_at_spike_words
from .delay_ring import DelayRing
from .emitter import Constants, Emitter, Scope
from .layout import VEC, PopLayout, ProgramLayout
from .streaming import ColumnRegisters, Streaming, StreamRow


@dataclass
class ConnState:
    """The registers and constants of one connection during a pass over its source's spikes."""

    row: str | None = None            # row base: VMEM dense rows, or the DMEM column-start table (sparse)
    word_step: int = 0                # row base advance per spike word (the bit loop)
    stride: str | None = None         # row stride register (dense, when not a power of two)
    time: str | None = None           # vector 2 (t + offset) (ring of depth > 1)
    ring: str | None = None           # scalar: the target's ring base (LLM)
    ring_value: int | None = None     # that base when not held (streamed sparse, pass short of registers)
    weight: str | None = None         # vector: the connection's one weight (sparse, constant weight)
    weight_mask: str | None = None    # vector: the weight bits of a packed word (sparse)
    row_mask: str | None = None       # vector: the ring row bits of a packed word (sparse, depth > 1)
    delay_offset: str | None = None   # scalar: bytes from a weight row to its delay row (dense ring)
    stream: StreamRow | None = None   # the leader of a DRAM row (codegen/streaming.py)
    columns: "ColumnBlocks | None" = None  # a streamed sparse row's straight-line code (:meth:`Propagation._column_blocks`)


# Chunks per loop iteration of a streamed dense row (VMEM accumulators): about 2/STREAM_BLOCK
# cycles of loop overhead per 32 synapses, against the DMA's 4 at the 128-bit port.
STREAM_BLOCK = 32
# Chunks of a streamed dense row up to which it is one block, no loop (about 4 instructions
# a chunk of code).
STREAM_WHOLE = 96
# Columns of a streamed sparse row that one straight-line run of column blocks takes (a
# power of two; a block addresses its word from the run's end with a 12-bit offset).
STREAM_COLUMNS = 32


@dataclass
class ColumnBlocks:
    """The straight-line code of a streamed sparse connection: one block per column,
    the last block first, entered ``n`` blocks before the end by a computed jump for a
    row of ``n`` columns (rows longer than ``count``: the first ``n mod count`` columns,
    then the whole run again per ``count`` further columns). Emitted once per pass:
    out of line at the pass's start when the connection holds ``entry`` (the address
    past the last block), else at the row's delivery, which jumps over them and so
    finds their address (one ``jal`` and one ``addi`` more per row, no register held)."""

    entry: str | None             # scalar: the address past the last block (None: blocks inline)
    end: str                      # scalar: the end of the columns the run takes (DMA buffer)
    size: str                     # scalar: bytes of one block
    words: tuple[str, ...]        # vector: the column's packed words (two in turn, constant weight)
    done: str                     # label: where the run returns to
    count: int                    # blocks
    emit: Callable[[], None]      # the blocks' code, from the first block to the return(s)
    length: int                   # bytes of that code before its returns (S * count)
    row_end: str | None = None    # scalar: the row's end (rows longer than ``count``)
    ring: tuple[str, int] | None = None   # (the pass's ring base register, this target's base) to set per row


def _bits(stride: int) -> int | None:
    return stride.bit_length() - 1 if stride & (stride - 1) == 0 else None


class Propagation:
    def __init__(self, em: Emitter, q: QNetwork, layout: ProgramLayout, regs: ProgramRegisters,
                 unroll: int, dram_base: int):
        self.em, self.q, self.layout, self.regs = em, q, layout, regs
        self.unroll = unroll
        self.streaming = Streaming(em, q, layout, regs, dram_base, self) if layout.dma_buffers else None
        self.rings = DelayRing(em, q, layout, regs, dram_base) if layout.delay_rings else None

    def emit_group(self, g: Group) -> None:
        """One pass over the spike words of ``g.source`` delivering every connection of ``g``.
        Record pointers (live through the whole step) are spilled to DMEM around a pass
        that may need their registers."""
        em = self.em
        conns = [self.q.connections[n] for n in g.connections]
        # streamed sparse rows also hold their column blocks' entry, end, size and row end
        blocks = sum(4 for c in conns if c.sparse and c.placement == "dram")
        need = max(14 + 4 * len(conns) + blocks, self.rings.scalars(g) if self.rings is not None else 0)
        spill = [(f"{key} record pointer", reg) for key, reg in self.regs.records.items()] \
            if em.scalars_free < need else []
        base = self.layout.plan.region("spill").offset
        for k, (_, reg) in enumerate(spill):
            em.op("sw", reg, base + 4 * k, "zero", comment="spill during the pass")
        with em.lent(spill):
            rest = conns if self.rings is None else self.rings.others(g, conns)
            if rest:
                self._emit_pass(g, rest)
            if self.rings is not None:      # VMEM delay rings: after the pass's streamed rows (MM2S free)
                self.rings.emit_group(g)
        for k, (_, reg) in enumerate(spill):
            em.op("lw", reg, base + 4 * k, "zero")

    def _emit_pass(self, g: Group, conns: list[QConnection]) -> None:
        em, q = self.em, self.q
        src = q.populations[g.source]
        em.region = "input propagation" if src.is_input else f"{src.name} propagation"
        # constants of the pass, one register per value, shared by its connections
        # (scalar registers are the scarce resource of passes with many)
        with em.scope() as shared_scope:
            shared = Constants(shared_scope)
            if any(c.placement == "dram" for c in conns):
                self.streaming.emit_pass(g, src, conns, shared)
                return
            with em.scope() as t:
                xw, xend, word, idx, tmp = (t.x(n) for n in ("word ptr", "word end", "word", "index", "tmp"))
                point_at_spike_words(em, self.regs, self.layout, src, xw, xend)
                with em.scope() as cs:
                    states = [self.setup(c, cs, shared) for c in conns]
                    loop, skip, bits = em.new_label("word"), em.new_label("next_word"), em.new_label("spike")
                    em.label(loop)
                    em.op("lw", word, 0, xw)
                    em.op("beq", word, "zero", skip)
                    em.label(bits)
                    em.op("ctz", idx, word, comment="next spiking neuron in this word")
                    for c, st in zip(conns, states):
                        self.body(c, st, idx)
                    em.op("addi", tmp, word, -1)
                    em.op("and", word, word, tmp, comment="clear lowest set bit")
                    em.op("bne", word, "zero", bits)
                    em.label(skip)
                    em.op("addi", xw, xw, 4)
                    for c, st in zip(conns, states):
                        em.addi(st.row, st.row, st.word_step)
                    em.op("bne", xw, xend, loop)

    def setup(self, c: QConnection, scope: Scope, shared: Constants,
              columns: ColumnRegisters | None = None) -> ConnState:
        """Registers (from ``scope``) and constants (``shared``, the pass's) of one connection;
        ``columns``: the pass's registers of streamed sparse rows (:class:`ColumnRegisters`)."""
        em = self.em
        tgt = self.q.populations[c.target]
        cl = self.layout.connections[c.name]
        st = ConnState()

        def xr(name):
            return scope.x(f"{c.name} {name}")

        columns = columns or ColumnRegisters(scope)
        hold = c.placement == "dram" and columns.spare(self.streaming.held(c))
        if c.placement == "dram":
            st.stream = self.streaming.setup(c, xr, hold)     # rows come from the DMA buffer
        elif c.sparse:
            st.row = xr("row base")
            em.li(st.row, cl.rows.offset)
            st.word_step = 4 * LANES
        else:
            st.row = xr("row base")
            em.li(st.row, cl.weights.offset)
            st.word_step = LANES * tgt.padded * 2
            stride = tgt.padded * 2
            if _bits(stride) is None:
                st.stride = shared.x(stride, f"row stride {stride}", stride)
        if c.mode == "ring":
            lay = self.layout.populations[tgt.name]
            D = tgt.ring_depth
            if D > 1:
                st.time = shared.v(("2(t+offset)", c.offset), f"2(t+offset) {c.offset}",
                                   lambda r: self._fill_time(r, c.offset))
            if not (c.sparse and c.constant_weight is not None):
                base = lay.ring_base[c.group]
                if c.sparse and c.placement == "dram" and base not in shared.x_regs \
                        and not columns.spare():
                    st.ring_value = base          # loaded per row (:meth:`sparse_stream_row`)
                else:
                    st.ring = shared.x(base, f"ring base {base}", base)
            if c.sparse and c.constant_weight is not None:
                st.weight = shared.v(("weight", c.constant_weight), f"weight {c.constant_weight}",
                                     lambda r: em.op("vlui", r, c.constant_weight & 0xFFFF,
                                                     comment="the connection's one weight"))
            elif c.sparse:
                hi = (~((1 << c.index_bits) - 1)) & 0xFFFF
                st.weight_mask = shared.v(("mask", hi), f"mask {hi}",
                                          lambda r: em.op("vlui", r, hi, comment="weight mask"))
                if D > 1:
                    lo = ((1 << c.index_bits) - 1) & ~(2 * D - 1)
                    st.row_mask = shared.v(("mask", lo), f"mask {lo}",
                                           lambda r: em.op("vlui", r, lo, comment="row mask"))
            else:
                doff = tgt.padded * 2 if c.placement == "dram" else cl.delays.offset - cl.weights.offset
                st.delay_offset = shared.x(doff, f"delay row offset {doff}", doff)
        if c.placement == "dram" and c.sparse:
            st.columns = self._column_blocks(c, st, scope, shared, columns, hold)
        columns.next()
        return st

    def _fill_time(self, r: str, offset: int) -> None:
        em = self.em
        with em.scope() as t:
            tmp = t.x("tmp")
            em.addi(tmp, self.regs.t, offset)
            em.op("slli", tmp, tmp, 1)
            em.op("vfill", r, tmp)

    def _row_address(self, c: QConnection, st: ConnState, idx: str, out: str) -> None:
        em = self.em
        stride = self.q.populations[c.target].padded * 2
        sh = _bits(stride)
        if sh is None:
            em.op("mul", out, idx, st.stride)
        else:
            em.op("slli", out, idx, sh)
        em.op("add", out, out, st.row)

    def body(self, c: QConnection, st: ConnState, idx: str) -> None:
        """Deliver the row of spiking neuron ``idx`` (its weights in VMEM)."""
        tgt = self.q.populations[c.target]
        if c.sparse:
            self._sparse_body(c, st, idx, tgt)
            return
        with self.em.scope() as t:
            row = t.x("row")
            self._row_address(c, st, idx, row)
            self.dense_row(c, st, row)

    def dense_row(self, c: QConnection, st: ConnState, row: str, streamed: bool = False) -> None:
        """Add the dense row at VMEM address ``row`` (advanced by the loops) to the
        target's accumulator; ``streamed``: the row is a DMA buffer (VMEM accumulators
        then take the long-block loop, :meth:`_dense_stream_accumulate`)."""
        em = self.em
        tgt = self.q.populations[c.target]
        lay = self.layout.populations[tgt.name]
        resident = self.regs.resident[tgt.name]
        if streamed and c.mode == "direct" and c.group not in resident and lay.stride < 2048:
            self._dense_stream_accumulate(c, row, lay, tgt)
        elif c.mode == "direct" and c.group in resident:
            with em.scope() as t:
                w = [t.v("weight a"), t.v("weight b")]
                for k, acc in enumerate(resident[c.group]):
                    em.op("vloadv", w[k % 2], VEC * k, row)
                    em.op("vadd_s", acc, acc, w[k % 2])
        elif c.mode == "direct":
            self._dense_vmem_accumulate(c, row, lay, tgt)
        else:
            D = tgt.ring_depth
            with em.scope() as t:
                vw, vd, va, vacc = t.v("weight"), t.v("delay"), t.v("address"), t.v("acc")
                drow, xb, end = t.x("delay row"), t.x("ring row"), t.x("row end")
                em.op("add", drow, row, st.delay_offset)
                em.op("addi", xb, st.ring, 0)
                em.addi(end, row, tgt.padded * 2)
                lab = em.new_label("chunk")
                em.label(lab)
                em.op("vloadv", vw, 0, row)
                em.op("vloadv", vd, 0, drow)
                em.op("addi", row, row, VEC)
                if D > 1:
                    em.op("vadd", vd, vd, st.time)
                em.op("vandadd", va, vd, xb, (2 * D - 1).bit_length(), comment="slot (t+offset+d) mod D")
                em.op("vloadl", vacc, 0, va)
                em.op("addi", drow, drow, VEC)
                em.op("vadd_s", vacc, vacc, vw)
                em.op("vstorel", vacc, 0, va)
                em.addi(xb, xb, 2 * D)
                em.op("bne", row, end, lab)

    def _dense_vmem_accumulate(self, c: QConnection, row: str, lay: PopLayout, tgt: QPopulation) -> None:
        """acc[k] += row[k] for every chunk k, accumulators in VMEM (state stride apart):
        4 instructions per 32 synapses, unrolled ``unroll`` times, two register
        pairs in turn so that no add follows the load it reads."""
        em = self.em
        stride = lay.stride
        U = max(1, min(self.unroll, tgt.chunks, 2048 // stride, 32))
        with em.scope() as t:
            w, a = (t.v("weight a"), t.v("weight b")), (t.v("acc a"), t.v("acc b"))
            ptr, end = t.x("acc ptr"), t.x("row end")
            em.li(ptr, lay.state.offset + lay.offsets[f"acc{suffix(c.group)}"])
            em.addi(end, row, tgt.padded * 2)

            def block(n: int) -> None:
                def load(k):
                    em.op("vloadv", w[k % 2], VEC * k, row)
                    em.op("vloadv", a[k % 2], stride * k, ptr)

                def add_store(k):
                    em.op("vadd_s", a[k % 2], a[k % 2], w[k % 2])
                    em.op("vstorev", a[k % 2], stride * k, ptr)

                load(0)
                for k in range(1, n):
                    load(k)
                    add_store(k - 1)
                em.op("addi", row, row, VEC * n)
                add_store(n - 1)
                em.addi(ptr, ptr, stride * n)

            rest = tgt.chunks % U
            if rest:
                block(rest)
            if tgt.chunks >= U:
                lab = em.new_label("chunks")
                em.label(lab)
                block(U)
                em.op("bne", row, end, lab)

    def _dense_stream_accumulate(self, c: QConnection, row: str, lay: PopLayout, tgt: QPopulation) -> None:
        """acc[k] += row[k] as :meth:`_dense_vmem_accumulate` (same instructions per chunk,
        same order, so the same results), as one block up to ``STREAM_WHOLE`` chunks, else
        in blocks of ``STREAM_BLOCK``: a streamed row is added about as fast as the DMA
        brings it, 4 cycles per 32 synapses, so the loop's overhead per block (and the
        immediate range's pointer steps, an ``addi`` when the next offset would pass
        2047) must stay well under that."""
        em = self.em
        stride = lay.stride
        U = min(STREAM_BLOCK, tgt.chunks)
        whole = tgt.chunks <= STREAM_WHOLE
        with em.scope() as t:
            w, a = (t.v("weight a"), t.v("weight b")), (t.v("acc a"), t.v("acc b"))
            ptr = t.x("acc ptr")
            em.li(ptr, lay.state.offset + lay.offsets[f"acc{suffix(c.group)}"])

            def block(n: int, last: bool = False) -> None:
                moved = {row: 0, ptr: 0}             # bytes each pointer has advanced in this block

                def at(reg: str, offset: int, keep: int) -> int:
                    """``offset`` (from the block's start) as an immediate on ``reg``, stepping
                    ``reg`` to ``keep`` (the previous chunk's offset, which fitted: the step
                    fits too) when it would not fit."""
                    if offset - moved[reg] > 2047:
                        em.op("addi", reg, reg, keep - moved[reg])
                        moved[reg] = keep
                    return offset - moved[reg]

                def load(k):
                    em.op("vloadv", w[k % 2], at(row, VEC * k, VEC * max(k - 1, 0)), row)
                    em.op("vloadv", a[k % 2], at(ptr, stride * k, stride * max(k - 1, 0)), ptr)

                def add_store(k):
                    em.op("vadd_s", a[k % 2], a[k % 2], w[k % 2])
                    em.op("vstorev", a[k % 2], at(ptr, stride * k, stride * k), ptr)

                load(0)
                for k in range(1, n):
                    load(k)
                    add_store(k - 1)
                if not last:
                    em.addi(row, row, VEC * n - moved[row])
                add_store(n - 1)
                if not last:
                    em.addi(ptr, ptr, stride * n - moved[ptr])

            if whole:
                block(tgt.chunks, last=True)
                return
            end = t.x("row end")
            em.addi(end, row, tgt.padded * 2)
            rest = tgt.chunks % U
            if rest:
                block(rest)
            if tgt.chunks >= U:
                lab = em.new_label("chunks")
                em.label(lab)
                block(U)
                em.op("bne", row, end, lab)

    def _sparse_body(self, c: QConnection, st: ConnState, idx: str, tgt: QPopulation) -> None:
        em = self.em
        with em.scope() as t:
            ent, col, end = t.x("row entry"), t.x("column"), t.x("column end")
            em.op("slli", ent, idx, 2)
            em.op("add", ent, ent, st.row)
            em.op("lw", col, 0, ent)
            em.op("lw", end, 4, ent)
            self.sparse_columns(c, st, col, end, tgt)

    def sparse_columns(self, c: QConnection, st: ConnState, col: str, end: str, tgt: QPopulation) -> None:
        """Deliver the packed ELL columns at VMEM [col, end) (``col`` advances)."""
        em = self.em
        D = tgt.ring_depth
        done, lab = em.new_label("row_done"), em.new_label("column")
        em.op("beq", col, end, done)
        if c.constant_weight is not None:
            # words are LLM addresses (unused lanes -1: skipped), the weight a register;
            # two columns per iteration so that no add follows the load it reads
            with em.scope() as t:
                p, a = (t.v("address a"), t.v("address b")), (t.v("acc a"), t.v("acc b"))
                odd = em.new_label("last_column")
                em.label(lab)
                em.op("vloadv", p[0], 0, col)
                em.op("addi", col, col, VEC)
                em.op("vloadl", a[0], 0, p[0])
                em.op("beq", col, end, odd)
                em.op("vloadv", p[1], 0, col)
                em.op("vadd_s", a[0], a[0], st.weight)
                em.op("addi", col, col, VEC)
                em.op("vloadl", a[1], 0, p[1])
                em.op("vstorel", a[0], 0, p[0])
                em.op("vadd_s", a[1], a[1], st.weight)
                em.op("vstorel", a[1], 0, p[1])
                em.op("bne", col, end, lab)
                em.op("jal", "zero", done)
                em.label(odd)
                em.op("vadd_s", a[0], a[0], st.weight)
                em.op("vstorel", a[0], 0, p[0])
                em.label(done)
            return
        with em.scope() as t:
            vp, va, vacc, vw = t.v("packed"), t.v("address"), t.v("acc"), t.v("weight")
            em.label(lab)
            em.op("vloadv", vp, 0, col)
            em.op("addi", col, col, VEC)
            self._column_address(c, st, vp, va, D)
            em.op("vloadl", vacc, 0, va)
            em.op("vand", vw, vp, st.weight_mask, comment="weight bits")
            em.op("vadd_s", vacc, vacc, vw)
            em.op("vstorel", vacc, 0, va)
            em.op("bne", col, end, lab)
            em.label(done)

    def _column_address(self, c: QConnection, st: ConnState, vp: str, va: str, D: int) -> None:
        """va = the LLM address of each lane's target (ring slot included) from packed word vp."""
        em = self.em
        if D > 1:
            with em.scope() as t2:
                vr = t2.v("row part")
                em.op("vadd", va, vp, st.time)
                em.op("vandadd", va, va, st.ring, (2 * D - 1).bit_length(), comment="slot (t+offset+d) mod D")
                em.op("vand", vr, vp, st.row_mask)
                em.op("vadd", va, va, vr)
        else:
            em.op("vandadd", va, vp, st.ring, c.index_bits, comment="target address in the lane")

    def _column_blocks(self, c: QConnection, st: ConnState, scope: Scope, shared: Constants,
                       regs: ColumnRegisters, hold: bool) -> ColumnBlocks | None:
        """The column blocks of a streamed sparse connection (registers from ``regs``, the
        pass's), emitted here (out of line, jumped over; the jump sets ``entry``) while
        the pass has scalar registers to spare (``hold``, :meth:`setup`),
        else at the row (:meth:`sparse_stream_row`); None when no row has a column.

        Each block delivers one column (its packed word already in a register) and loads
        the next one's word: 6 instructions a column with packed words, 4 with a constant
        weight, 9 with a ring of depth > 1; no loop overhead, no load-use nop (each load's
        slot holds the block's next independent instruction). Columns are delivered in
        order, each column's store before the next one's load (an unused lane's word 0
        adds 0 to ring row 0, which a real synapse of that lane may also address), so the
        LLM sees the order of :meth:`sparse_columns`."""
        em = self.em
        cl = self.layout.connections[c.name]
        K = cl.dram.size // self.q.populations[c.source].size // VEC
        if K == 0:
            return None
        R = min(K, STREAM_COLUMNS)
        const = c.constant_weight is not None
        D = self.q.populations[c.target].ring_depth

        words = (regs.v("word a"), regs.v("word b")) if const else (regs.v("word a"),)
        acc = regs.v("acc")
        addr, weight = (None, None) if const else (regs.v("address"), regs.v("weight"))
        end = regs.x("columns end")
        entry = scope.x(f"{c.name} column entry") if hold else None
        row_end = regs.x("row end") if K > R else None
        ring = st.ring if st.ring_value is None else regs.x("ring base")

        def block(r: int) -> list[tuple]:
            """Block ``r`` from the end: its column's word is at -VEC (r + 1) from ``end``."""
            nxt = [] if r == 0 else [("vloadv", words[(r - 1) % len(words)], -VEC * r, end)]
            if const:
                w = words[r % 2]
                slot = nxt or [("addi", "zero", "zero", 0)]          # the load-use slot
                return [("vloadl", acc, 0, w)] + slot + [("vadd_s", acc, acc, st.weight), ("vstorel", acc, 0, w)]
            w = words[0]
            if D > 1:
                address = [("vadd", addr, w, st.time),
                           ("vandadd", addr, addr, ring, (2 * D - 1).bit_length()),
                           ("vand", weight, w, st.row_mask), ("vadd", addr, addr, weight)]
            else:
                address = [("vandadd", addr, w, ring, c.index_bits)]
            return address + [("vloadl", acc, 0, addr), ("vand", weight, w, st.weight_mask)] + nxt \
                + [("vadd_s", acc, acc, weight), ("vstorel", acc, 0, addr)]

        S = 4 * len(block(1 if R > 1 else 0))
        size = shared.x(("column block", S), f"column block {S}", S)
        done, start = em.new_label("columns_done"), em.new_label("column_run")

        def emit() -> None:
            for r in range(R - 1, -1, -1):
                em.label(start if r == R - 1 else em.new_label("column_block"))
                for op in block(r):
                    em.op(*op)
            if row_end is not None:
                em.label(em.new_label("column_more"))
                em.op("beq", end, row_end, done)
                em.op("addi", end, end, VEC * R // 2)
                em.op("addi", end, end, VEC * R // 2)
                em.op("vloadv", words[(R - 1) % len(words)], -VEC * R, end, comment="the next run's first word")
                em.op("jal", "zero", start)
            else:
                for _ in range((S - 4 * len(block(0))) // 4 + 1):        # a row of 0 columns enters at the last
                    em.label(em.new_label("column_return"))
                    em.op("jal", "zero", done)

        if entry is not None:
            over = em.new_label("column_blocks")
            em.label(em.new_label("column_jump"))
            em.op("jal", entry, over, comment="entry = the first block (the code below runs per row)")
            emit()
            em.label(over)
            em.op("addi", entry, entry, S * R, comment="past the last block")
        return ColumnBlocks(entry, end, size, words, done, R, emit, S * R, row_end,
                            None if st.ring_value is None else (ring, st.ring_value))

    def sparse_stream_row(self, c: QConnection, st: ConnState, n: str, buf: str) -> None:
        """Deliver the streamed sparse row of ``n`` columns (a register, overwritten) in
        DMA buffer ``buf``: load its first word, jump to the ``n``-th block from the end of
        the connection's column blocks; they return to ``done``."""
        em = self.em
        tab = st.columns
        if tab is None:
            return
        R = tab.count
        with em.scope() as t:
            j = t.x("block entry")
            for w in tab.words:
                em.op("vloadv", w, 0, buf, comment="the row's first word")
            if tab.ring is not None:
                em.li(*tab.ring, comment="the target's ring base")
            if tab.row_end is not None:
                em.op("beq", n, "zero", tab.done)
                em.op("slli", j, n, 6)
                em.op("add", tab.row_end, buf, j)
                em.op("addi", n, n, -1)
                em.op("andi", n, n, R - 1)
                em.op("addi", n, n, 1, comment="columns of the first run")
            em.op("slli", j, n, 6)
            em.op("add", tab.end, buf, j)
            if tab.entry is not None:
                em.op("mul", j, n, tab.size)
                em.op("sub", j, tab.entry, j)
            else:
                over = em.new_label("column_blocks")
                em.op("mul", n, n, tab.size)
                em.op("jal", j, over, comment="j = the first block (the blocks are below)")
                tab.emit()
                em.label(over)
                em.addi(j, j, tab.length)
                em.op("sub", j, j, n)
            em.op("jalr", "zero", 0, j, comment="the row's first column block")
            em.label(tab.done)
