"""Event propagation with weights streamed from DRAM (composed into codegen/propagation.py).

A source whose connections include one placed in DRAM (compiler/placement.py)
is propagated by a spike loop with one spike of look-ahead, so that the DMA of
the next row runs while the current row is accumulated. A "row" is one DRAM
transfer: the fused dense rows of the pass (compiler/placement.py), or one
sparse connection's columns::

    idx = first spike                    (ctz over the spike words)
    start DMA: row (idx, first streamed connection) -> buffer[0]
    loop:
        nxt = next spike, or -1          (the look-ahead)
        for each connection of the source, in definition order:
            VMEM-resident: deliver the row of idx as usual
            streamed:      wait for its DMA (MM2S_STATUS == idle | done, else stop)
                           start the DMA of the next (spike, streamed connection)
                           into the other buffer
                           deliver the row from this buffer; swap buffers
        idx = nxt
    while idx >= 0

Rows are therefore added in the same order as without streaming (spike by
spike, connections in definition order), so the arithmetic, saturation
included, is unchanged. When the step has exactly one such pass, its first
DMA is started earlier (``Prefetch``): where its source's spikes for it are
known (after the source's input step or update, ``prefetch_point``), so that
the DRAM latency and the first row overlap the rest of the step.

A DMA error (status with an error bit) jumps to a handler that stores
MM2S_STATUS and MM2S_SRC_ADDR in the control block (``dma_status``,
``dma_src``) and stops with ``ebreak`` (codegen/control.py); the runtime
reports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from fenn_dma.isa import csrs

from ..quantise import QConnection, QNetwork, QPopulation
from ..schedule import Group
from .control import ProgramRegisters, point_at_spike_words, wait_mm2s
from .emitter import Constants, Emitter, Scope
from .layout import CONTROL, STREAM_RUN, ProgramLayout, prefetched_pass

if TYPE_CHECKING:
    from .propagation import ConnState, Propagation


def _fixed_count(rows: "list[StreamRow]") -> int | None:
    """The bytes of every transfer of a pass when they are all the same (dense rows)."""
    counts = {r.count for r in rows}
    return None if None in counts or len(counts) > 1 else counts.pop()


@dataclass(frozen=True)
class Prefetch:
    """The one pass with streamed rows (``group``) gets its first transfer started early:
    where its source's spike words for that pass become final (after the source's input
    step or update), while the step's other work runs. ``after_first_step``: the pass
    comes before that point in a step, so the point prepares the next step's pass (and
    the window's first step starts its own)."""

    group: Group
    after_first_step: bool
    run: int = 1          # rows of consecutive spiking sources one transfer may bring (dense)


def _pow2(n: int) -> int | None:
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else None


@dataclass
class StreamRow:
    """Registers of a streamed connection that leads its DRAM row (the first of the
    dense connections fused into it, or a sparse one). A register left None (a pass
    short of scalar registers, :data:`HELD_RESERVE`) is loaded from its value where used."""

    base: str | None                  # the rows' DRAM address
    base_value: int
    stride: int                       # bytes from one source's row to the next
    stride_reg: str | None = None     # the stride, when not a power of two
    counts: str | None = None         # sparse: the DMEM table of used columns per row
    counts_value: int = 0
    count_bytes: int = 0              # sparse: bytes per entry of that table
    count: int | None = None          # dense: bytes per transfer (the whole row)


# Scalar registers a streamed pass leaves free for its loop's temporaries (spike search,
# DMA start, row delivery: at most 6 at once, plus one for a constant beyond 12 bits);
# what a connection would hold beyond that is loaded again per row (a few instructions
# against the row's ~40 cycles of DMA handling).
HELD_RESERVE = 8


class ColumnRegisters:
    """The registers of the column blocks (codegen/propagation.py ``ColumnBlocks``), one
    set per pass shared by its streamed sparse connections: a row's blocks run to their
    end before the next row's (of any connection) start, so none of them lives across
    rows. Taken from the pass's connection scope on first use. Also the pass's budget of
    the registers a connection holds (:meth:`spare`), its connections (``conns``) set up
    in order, :meth:`next` after each."""

    def __init__(self, scope: Scope, conns: list[QConnection] = ()):
        self.scope = scope
        self.conns = list(conns)
        self.set_up = 0
        self._x: dict[str, str] = {}
        self._v: dict[str, str] = {}

    def next(self) -> None:
        self.set_up += 1

    def spare(self, n: int = 1) -> bool:
        """Whether the connection being set up may hold ``n`` registers for the whole pass:
        :data:`HELD_RESERVE` stay free beyond those it and the later connections surely
        take (the column-block sizes (at most 3) and the columns end and row end not yet
        taken, 2 per VMEM connection: row base, ring base or stride)."""
        rest = self.conns[self.set_up:]
        sparse = sum(c.sparse and c.placement == "dram" for c in rest)
        pending = min(3, sparse) + 2 * sum(c.placement != "dram" for c in rest)
        if sparse:
            pending += ("columns end" not in self._x) + ("row end" not in self._x)
        return self.scope.em.scalars_free >= HELD_RESERVE + pending + n

    def x(self, role: str) -> str:
        if role not in self._x:
            self._x[role] = self.scope.x(f"streamed sparse {role}")
        return self._x[role]

    def v(self, role: str) -> str:
        if role not in self._v:
            self._v[role] = self.scope.v(f"streamed sparse {role}")
        return self._v[role]


def _held(em: Emitter, xr: Callable[[str], str], name: str, value: int, hold: bool) -> str | None:
    """A register of the connection holding ``value``, or None (``hold`` false: the pass is short)."""
    if not hold:
        return None
    r = xr(name)
    em.li(r, value)
    return r


class Streaming:
    """Passes over a source whose connections include DRAM-placed ones. ``deliver``
    (the propagation) sets up each connection and delivers the rows."""

    def __init__(self, em: Emitter, q: QNetwork, layout: ProgramLayout, regs: ProgramRegisters,
                 dram_base: int, deliver: "Propagation"):
        self.em, self.q, self.layout, self.regs = em, q, layout, regs
        self.dram_base = dram_base
        self.deliver = deliver
        self.prefetch = self._plan_prefetch()

    def _plan_prefetch(self) -> Prefetch | None:
        """A :class:`Prefetch` when exactly one pass of the step streams rows (layout.py
        ``prefetched_pass``), with the rows one transfer of it may bring."""
        pf = prefetched_pass(self.q)
        if pf is None:
            return None
        g, first = pf
        units = {self.layout.connections[c].stream_unit for c in g.connections
                 if self.q.connections[c].placement == "dram"}
        run = 1
        if len(units) == 1:
            (u,) = units
            c = self.q.connections[u]
            if not c.sparse:
                row = self.layout.connections[u].dram.size // self.q.populations[c.source].size
                run = min(STREAM_RUN, self.layout.plan.region("dma_buffer0").size // row)
        return Prefetch(g, first, run)

    def prefetch_point(self, name: str) -> None:
        """After population ``name``'s input step or update: start the prefetched pass's
        first transfer if ``name`` is its source (and the pass runs again in this window)."""
        pf = self.prefetch
        if pf is None or pf.group.source != name:
            return
        em = self.em
        src = self.q.populations[name]
        c = next(self.q.connections[n] for n in pf.group.connections
                 if self.q.connections[n].placement == "dram"
                 and self.layout.connections[n].stream_unit == n)
        em.region = f"{name} prefetch"
        with em.scope() as t:
            xw, xend, word, wbase, idx, tmp, buf = (t.x(n) for n in (
                "word ptr", "word end", "word", "word bit base", "spike", "tmp", "DMA buffer"))
            skip = em.new_label("no_prefetch")
            if pf.after_first_step:
                em.op("addi", tmp, self.regs.steps_left, -1)
                em.op("beq", tmp, "zero", skip, comment="the window's last step: no next pass")
            if src.is_input:
                em.op("addi", xw, self.regs.in_prev[name], 0, comment="the next pass's words")
            else:
                em.li(xw, self.layout.populations[name].spikes.offset)
            em.addi(xend, xw, 4 * src.words)
            em.op("addi", wbase, "zero", 0)
            em.op("lw", word, 0, xw)
            with em.scope() as cs:
                run = cs.x("run") if pf.run > 1 else None
                if run is None:
                    self._find_spike(xw, xend, word, wbase, idx, tmp, skip)
                else:
                    self._find_run(xw, xend, word, wbase, idx, run, tmp, skip, pf.run)
                row = self.setup(c, lambda n: cs.x(f"{c.name} {n}"), True)
                em.li(buf, self.layout.dma_buffers[0])
                if run is None:
                    self._start_row(c, row, idx, buf, None)   # COUNT too: the pass may write it once
                else:
                    self._start_run(row, idx, run, buf)
            em.label(skip)

    def held(self, c: QConnection) -> int:
        """Registers connection ``c`` holds through its pass when it may (:meth:`setup`,
        and a sparse one's column-block entry)."""
        cl = self.layout.connections[c.name]
        if cl.stream_unit != c.name:
            return 0
        stride = cl.dram.size // self.q.populations[c.source].size
        return 1 + (_pow2(stride) is None) + 2 * c.sparse

    def setup(self, c: QConnection, xr: Callable[[str], str], hold: bool) -> StreamRow | None:
        """The row registers of a leader (``xr(name)``: a register of the connection's
        scope; ``hold`` false: none, their values loaded where used); None for a dense
        connection whose part of the row arrives with the leader's transfer."""
        cl = self.layout.connections[c.name]
        if cl.stream_unit != c.name:
            return None
        em = self.em
        base = self.dram_base + cl.dram.offset
        n_pre = self.q.populations[c.source].size
        stride = cl.dram.size // n_pre
        row = StreamRow(_held(em, xr, "DRAM rows", base, hold), base, stride)
        if _pow2(stride) is None:
            row.stride_reg = _held(em, xr, "DRAM row stride", stride, hold)
        if c.sparse:
            row.counts_value = cl.counts.offset
            row.counts = _held(em, xr, "column counts", row.counts_value, hold)
            row.count_bytes = cl.counts.size // n_pre
        else:
            row.count = stride                 # a dense row is transferred whole
        return row

    def emit_pass(self, group: Group, src: QPopulation, conns: list[QConnection], shared: Constants) -> None:
        em = self.em
        with em.scope() as t:
            xw, xend, word, wbase, idx, nxt, tmp = (t.x(n) for n in (
                "word ptr", "word end", "word", "word bit base", "spike", "next spike", "tmp"))
            buf, flip = t.x("DMA buffer"), t.x("buffer flip")
            point_at_spike_words(em, self.regs, self.layout, src, xw, xend)
            b0, b1 = self.layout.dma_buffers
            em.li(buf, b0)
            em.li(flip, b0 ^ b1)
            with em.scope() as cs:
                columns = ColumnRegisters(cs, conns)    # one set for the pass's streamed sparse rows
                states = [self.deliver.setup(c, cs, shared, columns) for c in conns]
                self._loop(group, conns, states, xw, xend, word, wbase, idx, nxt, tmp, buf, flip)

    def _loop(self, group, conns, states, xw, xend, word, wbase, idx, nxt, tmp, buf, flip) -> None:
        em = self.em
        unit_of = {c.name: self.layout.connections[c.name].stream_unit for c in conns}
        state_of = {c.name: st for c, st in zip(conns, states)}
        members: dict[str, list] = {}          # unit (leader) -> its connections, in group order
        for c in conns:
            if c.placement == "dram":
                members.setdefault(unit_of[c.name], []).append(c)
        units = [(self.q.connections[u], state_of[u]) for u in members]
        pf = self.prefetch
        if pf is not None and pf.group == group and pf.run > 1:
            self._run_loop(conns, states, units[0][1].stream, pf, xw, xend, word, wbase, idx, nxt, tmp, buf, flip)
            return
        fixed_count = _fixed_count([st.stream for _, st in units])
        if fixed_count is not None:
            em.li(tmp, fixed_count)
            em.op("csrrw", "zero", csrs.MM2S_COUNT, tmp, comment="every streamed row of this source")
        done, loop, go = em.new_label("stream_done"), em.new_label("stream_spike"), em.new_label("stream_go")
        # first spike, and the DMA of its first streamed row
        em.op("addi", wbase, "zero", 0)
        em.op("lw", word, 0, xw)
        self._find_spike(xw, xend, word, wbase, idx, tmp, done)
        if pf is not None and pf.group == group:
            if pf.after_first_step:          # the previous step's prefetch point started it
                skip = em.new_label("prefetched")
                em.op("lw", tmp, CONTROL.steps, "zero")
                em.op("bne", tmp, self.regs.steps_left, skip, comment="not the window's first step: started")
                self._start_row(units[0][0], units[0][1].stream, idx, buf, fixed_count)
                em.label(skip)
        else:
            self._start_row(units[0][0], units[0][1].stream, idx, buf, fixed_count)
        em.label(loop)
        em.op("addi", nxt, "zero", -1)
        self._find_spike(xw, xend, word, wbase, nxt, tmp, go)
        em.label(go)
        order = list(members)
        for c, st in zip(conns, states):
            if c.placement != "dram":
                self.deliver.body(c, st, idx)
                continue
            unit = unit_of[c.name]
            if c is members[unit][0]:
                self._wait_dma(tmp)
                pos = order.index(unit)
                with em.scope() as t:
                    other = t.x("other buffer")
                    em.op("xor", other, buf, flip)
                    if pos + 1 < len(units):
                        self._start_row(units[pos + 1][0], units[pos + 1][1].stream, idx, other, fixed_count)
                    else:
                        skip = em.new_label("no_next_row")
                        em.op("blt", nxt, "zero", skip)
                        self._start_row(units[0][0], units[0][1].stream, nxt, other, fixed_count)
                        em.label(skip)
            self._streamed_body(c, state_of[unit] if c.sparse else st, idx, buf)
            if c is members[unit][-1]:
                em.op("xor", buf, buf, flip, comment="swap row buffers")
        em.op("addi", idx, nxt, 0)
        em.op("bge", idx, "zero", loop)
        em.label(done)

    def _run_loop(self, conns, states, row: StreamRow, pf: Prefetch, xw, xend, word, wbase, idx, nxt, tmp,
                  buf, flip) -> None:
        """The prefetched pass of one dense DRAM row per spike, its sources taken in runs
        of up to ``pf.run`` spiking one after the other in a spike word (``_find_run``):
        one transfer per run (rows next to each other in DRAM and in the buffer), so the
        DRAM latency is paid once per run; the run's rows are delivered one by one in
        spike order, every connection of the pass for each, as in :meth:`_loop`."""
        em = self.em
        with em.scope() as t:
            m, nm, rowp = t.x("run"), t.x("next run"), t.x("row in run")
            done, loop, go, inner = (em.new_label(n) for n in ("stream_done", "stream_run", "stream_go",
                                                                  "stream_row"))
            em.op("addi", wbase, "zero", 0)
            em.op("lw", word, 0, xw)
            self._find_run(xw, xend, word, wbase, idx, m, tmp, done, pf.run)
            if pf.after_first_step:              # the previous step's prefetch point started it
                skip = em.new_label("prefetched")
                em.op("lw", tmp, CONTROL.steps, "zero")
                em.op("bne", tmp, self.regs.steps_left, skip, comment="not the window's first step: started")
                self._start_run(row, idx, m, buf)
                em.label(skip)
            em.label(loop)
            em.op("addi", nxt, "zero", -1)
            self._find_run(xw, xend, word, wbase, nxt, nm, tmp, go, pf.run)
            em.label(go)
            self._wait_dma(tmp)
            with em.scope() as t2:
                other = t2.x("other buffer")
                skip = em.new_label("no_next_run")
                em.op("xor", other, buf, flip)
                em.op("blt", nxt, "zero", skip)
                self._start_run(row, nxt, nm, other)
                em.label(skip)
            em.op("addi", rowp, buf, 0)
            em.label(inner)
            for c, st in zip(conns, states):
                if c.placement != "dram":
                    self.deliver.body(c, st, idx)
                    continue
                with em.scope() as t2:
                    r = t2.x("row")
                    em.addi(r, rowp, self.layout.connections[c.name].row_offset)
                    self.deliver.dense_row(c, st, r, streamed=True)
            em.addi(rowp, rowp, row.stride)
            em.op("addi", idx, idx, 1)
            em.op("addi", m, m, -1)
            em.op("bne", m, "zero", inner, comment="the run's next row")
            em.op("xor", buf, buf, flip, comment="swap row buffers")
            em.op("addi", idx, nxt, 0)
            em.op("addi", m, nm, 0)
            em.op("bge", idx, "zero", loop)
            em.label(done)

    def _find_run(self, xw, xend, word, wbase, out, run, tmp, none_label, most: int) -> None:
        """As :meth:`_find_spike`, and ``run`` = how many sources from ``out`` on spike one
        after the other in its word (at most ``most``, below 32), their bits cleared."""
        em = self.em
        capped = em.new_label("run_capped")
        self._skip_empty_words(xw, xend, word, wbase, none_label)
        em.op("ctz", out, word, comment="next spiking neuron")
        em.op("srl", tmp, word, out)
        em.op("xori", tmp, tmp, -1)
        em.op("ctz", run, tmp, comment="and those spiking after it")
        em.op("addi", tmp, run, -most)
        em.op("blt", tmp, "zero", capped)
        em.op("addi", run, "zero", most)
        em.label(capped)
        em.op("addi", tmp, "zero", 1)
        em.op("sll", tmp, tmp, run)
        em.op("addi", tmp, tmp, -1)
        em.op("sll", tmp, tmp, out)
        em.op("xor", word, word, tmp, comment="clear their bits")
        em.op("add", out, out, wbase)

    def _start_run(self, row: StreamRow, j: str, m: str, dst: str) -> None:
        """Start the MM2S transfer of the ``m`` dense rows from source ``j`` on into VMEM ``dst``."""
        em = self.em
        with em.scope() as t:
            a = t.x("DRAM address")
            self._row_offset(row, j, a)
            self._add_base(row, a)
            em.op("csrrw", "zero", csrs.MM2S_SRC_ADDR, a)
            em.op("csrrw", "zero", csrs.MM2S_DST_ADDR, dst)
            self._row_offset(row, m, a)
            em.op("csrrw", "zero", csrs.MM2S_COUNT, a, comment="the run's rows")
            em.op("csrrwi", "zero", csrs.MM2S_CONTROL, 1, comment="start DMA")

    def _find_spike(self, xw, xend, word, wbase, out, tmp, none_label) -> None:
        """out = index of the next spike (clearing its bit), or jump to ``none_label``
        past the last word. ``word`` holds the not yet taken bits of word ``xw``."""
        em = self.em
        self._skip_empty_words(xw, xend, word, wbase, none_label)
        em.op("ctz", out, word, comment="next spiking neuron")
        em.op("addi", tmp, word, -1)
        em.op("and", word, word, tmp, comment="clear its bit")
        em.op("add", out, out, wbase)

    def _skip_empty_words(self, xw, xend, word, wbase, none_label) -> None:
        """Until ``word`` (the not yet taken bits of word ``xw``) has a bit: the next words,
        or jump to ``none_label`` past the last."""
        em = self.em
        have, nextw = em.new_label("have_spike"), em.new_label("next_word")
        em.op("bne", word, "zero", have)
        em.label(nextw)
        em.op("addi", xw, xw, 4)
        em.op("beq", xw, xend, none_label)
        em.op("lw", word, 0, xw)
        em.op("addi", wbase, wbase, 32)
        em.op("beq", word, "zero", nextw)
        em.label(have)

    def _start_row(self, c: QConnection, row: StreamRow, j: str, dst: str, fixed_count: int | None) -> None:
        """Start the MM2S transfer of row ``j`` of a streamed connection into VMEM ``dst``."""
        em = self.em
        with em.scope() as t:
            a = t.x("DRAM address")
            self._row_offset(row, j, a)
            self._add_base(row, a)
            em.op("csrrw", "zero", csrs.MM2S_SRC_ADDR, a)
            em.op("csrrw", "zero", csrs.MM2S_DST_ADDR, dst)
            if fixed_count is None:
                if c.sparse:
                    self._column_count(row, j, a)
                    em.op("slli", a, a, 6, comment="bytes of the used columns")
                else:
                    em.li(a, row.count)
                em.op("csrrw", "zero", csrs.MM2S_COUNT, a)
            em.op("csrrwi", "zero", csrs.MM2S_CONTROL, 1, comment="start DMA")

    def _row_offset(self, row: StreamRow, j: str, out: str) -> None:
        """out = j * the row stride."""
        em = self.em
        sh = _pow2(row.stride)
        if sh is not None:
            em.op("slli", out, j, sh)
            return
        if row.stride_reg is None:
            em.li(out, row.stride)
        em.op("mul", out, j, out if row.stride_reg is None else row.stride_reg)

    def _add_base(self, row: StreamRow, a: str) -> None:
        if row.base is None:
            self.em.addi(a, a, row.base_value)
        else:
            self.em.op("add", a, a, row.base)

    def _column_count(self, row: StreamRow, j: str, out: str) -> None:
        em = self.em
        if row.count_bytes == 1:
            if row.counts is None:
                em.addi(out, j, row.counts_value)
            else:
                em.op("add", out, j, row.counts)
            em.op("lbu", out, 0, out)
        else:
            em.op("slli", out, j, 1)
            if row.counts is None:
                em.addi(out, out, row.counts_value)
            else:
                em.op("add", out, out, row.counts)
            em.op("lhu", out, 0, out)

    def _wait_dma(self, tmp: str) -> None:
        """Poll MM2S_STATUS until idle; an error bit jumps to the error handler (codegen/control.py)."""
        wait_mm2s(self.em, tmp)

    def _streamed_body(self, c: QConnection, st: "ConnState", idx: str, buf: str) -> None:
        em = self.em
        with em.scope() as t:
            if c.sparse:
                n = t.x("columns")
                self._column_count(st.stream, idx, n)
                self.deliver.sparse_stream_row(c, st, n, buf)
            else:
                row = t.x("row")
                em.addi(row, buf, self.layout.connections[c.name].row_offset)
                self.deliver.dense_row(c, st, row, streamed=True)
