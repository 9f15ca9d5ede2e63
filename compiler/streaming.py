"""Event propagation with weights streamed from DRAM (a mixin of the code generator).

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
included, is unchanged. A DMA error (status with an error bit) jumps to a
handler that stores MM2S_STATUS and MM2S_SRC_ADDR in the control block
(``dma_status``, ``dma_src``) and stops with ``ebreak``; the runtime reports it.
"""
from __future__ import annotations

from fenn_dma.isa import csrs

DMA_OK = csrs.DMA_IDLE | csrs.DMA_DONE
DMA_ERRORS = csrs.DMA_INTERNAL_ERROR | csrs.DMA_DECODE_ERROR | csrs.DMA_SLAVE_ERROR
ERROR_LABEL = ".Ldma_error"


def _pow2(n: int) -> int | None:
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else None


class StreamingMixin:
    """Needs the code generator's ``b`` (Builder), ``x``/``v`` (register pools),
    ``q``, ``layout``, ``conn_regions``, ``dma_buffers``, ``stream_unit``, ``opt``,
    ``in_prev`` and its ``_conn_setup``, ``_conn_body``, ``_dense_row``,
    ``_sparse_columns``."""

    def _stream_setup(self, c, st: dict, xr) -> None:
        """Registers of a streamed connection that leads its DRAM row (the first of
        the dense connections fused into it, or a sparse one): the rows' base address,
        the row stride (when not a power of two), the count table (sparse)."""
        if self.stream_unit[c.name] != c.name:
            return                        # its part of the row arrives with the leader's transfer
        b = self.b
        regs = self.conn_regions[c.name]
        st["dram_base"] = xr("DRAM rows")
        b.li(st["dram_base"], self.opt.sizes.dram_base + regs["dram"].offset)
        n_pre = self.q.populations[c.source].size
        stride = regs["dram"].size // n_pre
        st["dram_stride"] = stride
        if _pow2(stride) is None:
            st["dram_stride_reg"] = xr("DRAM row stride")
            b.li(st["dram_stride_reg"], stride)
        if c.sparse:
            st["counts"] = xr("column counts")
            b.li(st["counts"], regs["counts"].offset)
            st["count_bytes"] = regs["counts"].size // n_pre
        else:
            st["dram_count"] = stride          # a dense row is transferred whole

    def _emit_streamed_group(self, src, conns) -> None:
        b, x = self.b, self.x
        xw, xend, word, wbase, idx, nxt, tmp = (x.get(n) for n in (
            "word ptr", "word end", "word", "word bit base", "spike", "next spike", "tmp"))
        buf, flip = x.get("DMA buffer"), x.get("buffer flip")
        if src.kind == "input":
            b.op("addi", xw, self.in_prev[src.name], 0)
        else:
            b.li(xw, self.layout[src.name].spikes.offset)
        self._addi(xend, xw, 4 * src.words)
        b0, b1 = self.dma_buffers
        b.li(buf, b0)
        b.li(flip, b0 ^ b1)
        states = [self._conn_setup(c) for c in conns]
        state_of = {c.name: st for c, st in zip(conns, states)}
        members: dict[str, list] = {}          # unit (leader) -> its connections, in group order
        for c in conns:
            if c.placement == "dram":
                members.setdefault(self.stream_unit[c.name], []).append(c)
        units = [(self.q.connections[u], state_of[u]) for u in members]
        counts = {st.get("dram_count") for _, st in units}
        fixed_count = None if None in counts or len(counts) > 1 else counts.pop()
        if fixed_count is not None:
            b.li(tmp, fixed_count)
            b.op("csrrw", "zero", csrs.MM2S_COUNT, tmp, comment="every streamed row of this source")
        done, loop, go = b.new_label("stream_done"), b.new_label("stream_spike"), b.new_label("stream_go")
        # first spike, and the DMA of its first streamed row
        b.op("addi", wbase, "zero", 0)
        b.op("lw", word, 0, xw)
        self._find_spike(xw, xend, word, wbase, idx, tmp, done)
        self._start_row(units[0], idx, buf, fixed_count)
        b.label(loop)
        b.op("addi", nxt, "zero", -1)
        self._find_spike(xw, xend, word, wbase, nxt, tmp, go)
        b.label(go)
        order = list(members)
        for c, st in zip(conns, states):
            if c.placement != "dram":
                self._conn_body(c, st, idx)
                continue
            unit = self.stream_unit[c.name]
            if c is members[unit][0]:
                self._wait_dma(tmp)
                pos = order.index(unit)
                other = x.get("other buffer")
                b.op("xor", other, buf, flip)
                if pos + 1 < len(units):
                    self._start_row(units[pos + 1], idx, other, fixed_count)
                else:
                    skip = b.new_label("no_next_row")
                    b.op("blt", nxt, "zero", skip)
                    self._start_row(units[0], nxt, other, fixed_count)
                    b.label(skip)
                x.put(other)
            self._streamed_body(c, state_of[unit] if c.sparse else st, idx, buf)
            if c is members[unit][-1]:
                b.op("xor", buf, buf, flip, comment="swap row buffers")
        b.op("addi", idx, nxt, 0)
        b.op("bge", idx, "zero", loop)
        b.label(done)
        for st in states:
            x.put(*st["xregs"])
            self.v.put(*st["vregs"])
        x.put(xw, xend, word, wbase, idx, nxt, tmp, buf, flip)

    def _find_spike(self, xw, xend, word, wbase, out, tmp, none_label) -> None:
        """out = index of the next spike (clearing its bit), or jump to ``none_label``
        past the last word. ``word`` holds the not yet taken bits of word ``xw``."""
        b = self.b
        have, nextw = b.new_label("have_spike"), b.new_label("next_word")
        b.op("bne", word, "zero", have)
        b.label(nextw)
        b.op("addi", xw, xw, 4)
        b.op("beq", xw, xend, none_label)
        b.op("lw", word, 0, xw)
        b.op("addi", wbase, wbase, 32)
        b.op("beq", word, "zero", nextw)
        b.label(have)
        b.op("ctz", out, word, comment="next spiking neuron")
        b.op("addi", tmp, word, -1)
        b.op("and", word, word, tmp, comment="clear its bit")
        b.op("add", out, out, wbase)

    def _start_row(self, conn_state, j: str, dst: str, fixed_count: int | None) -> None:
        """Start the MM2S transfer of row ``j`` of a streamed connection into VMEM ``dst``."""
        b, x = self.b, self.x
        c, st = conn_state
        a = x.get("DRAM address")
        sh = _pow2(st["dram_stride"])
        if sh is None:
            b.op("mul", a, j, st["dram_stride_reg"])
        else:
            b.op("slli", a, j, sh)
        b.op("add", a, a, st["dram_base"])
        b.op("csrrw", "zero", csrs.MM2S_SRC_ADDR, a)
        b.op("csrrw", "zero", csrs.MM2S_DST_ADDR, dst)
        if fixed_count is None:
            if c.sparse:
                self._column_count(st, j, a)
                b.op("slli", a, a, 6, comment="bytes of the used columns")
            else:
                b.li(a, st["dram_count"])
            b.op("csrrw", "zero", csrs.MM2S_COUNT, a)
        b.op("csrrwi", "zero", csrs.MM2S_CONTROL, 1, comment="start DMA")
        x.put(a)

    def _column_count(self, st: dict, j: str, out: str) -> None:
        b = self.b
        if st["count_bytes"] == 1:
            b.op("add", out, j, st["counts"])
            b.op("lbu", out, 0, out)
        else:
            b.op("slli", out, j, 1)
            b.op("add", out, out, st["counts"])
            b.op("lhu", out, 0, out)

    def _wait_dma(self, tmp: str) -> None:
        """Poll MM2S_STATUS until idle; an error bit jumps to the error handler."""
        b, x = self.b, self.x
        t2 = x.get("status")
        poll, ok = b.new_label("dma_wait"), b.new_label("dma_ok")
        b.label(poll)
        b.op("csrrs", tmp, csrs.MM2S_STATUS, "zero")
        b.op("xori", t2, tmp, DMA_OK)
        b.op("beq", t2, "zero", ok)
        b.op("andi", t2, tmp, DMA_ERRORS)
        b.op("beq", t2, "zero", poll, comment="still transferring")
        b.op("jal", "zero", ERROR_LABEL)
        b.label(ok)
        x.put(t2)

    def _streamed_body(self, c, st: dict, idx: str, buf: str) -> None:
        b, x = self.b, self.x
        tgt = self.q.populations[c.target]
        if c.sparse:
            col, end = x.get("column"), x.get("column end")
            self._column_count(st, idx, end)
            b.op("slli", end, end, 6)
            b.op("add", end, end, buf)
            b.op("addi", col, buf, 0)
            self._sparse_columns(c, st, col, end, tgt)
            x.put(col, end)
        else:
            row = x.get("row")
            self._addi(row, buf, self.conn_regions[c.name]["row_offset"])
            self._dense_row(c, st, row)
            x.put(row)

    def _emit_dma_error_handler(self, ctrl: dict[str, int]) -> None:
        """The shared error exit (``ctrl``: the control block's word offsets)."""
        b = self.b
        b.region = "control"
        b.label(ERROR_LABEL)
        b.op("csrrs", "t0", csrs.MM2S_STATUS, "zero")
        b.op("sw", "t0", ctrl["dma_status"], "zero", comment="DMA error: status for the host")
        b.op("csrrs", "t0", csrs.MM2S_SRC_ADDR, "zero")
        b.op("sw", "t0", ctrl["dma_src"], "zero")
        b.op("ebreak")
