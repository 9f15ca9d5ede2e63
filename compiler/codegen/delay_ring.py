"""Delay rings in VMEM: delayed input for populations whose LLM ring does not fit.

The LLM ring (codegen/propagation.py) holds ``chunks x 2 x depth`` bytes of each
lane's 2 KiB, so it bounds a population with 32-step delays to 1024 neurons. A
VMEM ring holds the same accumulators as whole vectors: slot ``s`` (of ``depth``,
a power of two) of chunk ``c`` is the vector at ``ring + 64 (s P + c)``, ``P`` the
chunks rounded up to a power of two, so the slot of any cell is one ``and``.

Rows (one per source neuron, in DRAM, streamed into two VMEM buffers): the
synapses of the pass's connections onto one ring, in segments of (connection,
arrival offset r = latency - 1 + delay, target chunk), connections in definition
order; each segment is one vector of the weights of that chunk's targets with
that offset. Segments come in groups of ``SEGMENTS``::

    [header: h_0 .. h_30, 0] [weights 0] ... [weights 30]      (2048 B)
    h = r P + c          cell (t + r) mod depth, chunk c:  ((h + (t mod depth) P) & (depth P - 1)) * 64

A row is padded to whole groups with empty segments (h = 0, weights 0: adding
zero changes no cell); a DMEM table gives the groups of each row (rows without
any skip their spike). Every spike adds its segments cell by cell with ``vadd_s``
in connection order and each cell at most once per connection, so the
saturating sums are those of the LLM ring (the reference model's order,
compiler/reference.py: the ring accumulator is the same, only its memory differs).

Choice (``CompileOptions.delay_ring``): "llm", "vmem", or "auto" (the default):
the LLM while every ring fits it, else the largest populations' rings move to
VMEM until the rest fit. A ring that fits neither is a ModelError naming the
population, its connections and both sizes.
"""
from __future__ import annotations

from fenn_dma.isa import csrs

from ..quantise import QConnection, QNetwork
from ..schedule import Group
from .control import ProgramRegisters, point_at_spike_words, wait_mm2s
from .delay_ring_layout import GROUP_BYTES, SEGMENTS, VEC, RingPass
from .emitter import Emitter
from .layout import ProgramLayout

PASS_SCALARS = 23     # a pass's 16 registers, the delivery's 5, one temporary, and one to spare


def _pow2(n: int) -> int | None:
    return n.bit_length() - 1 if n > 0 and n & (n - 1) == 0 else None


class DelayRing:
    """The passes onto VMEM rings, emitted after the rest of their schedule group's pass
    (whose streamed rows are then done with the MM2S channel)."""

    def __init__(self, em: Emitter, q: QNetwork, layout: ProgramLayout, regs: ProgramRegisters, dram_base: int):
        self.em, self.q, self.layout, self.regs = em, q, layout, regs
        self.dram_base = dram_base

    def _passes(self, g: Group) -> list[RingPass]:
        return [rp for rp in self.layout.delay_rings
                if rp.source == g.source and set(rp.connections) <= set(g.connections)]

    def scalars(self, g: Group) -> int:
        """Scalar registers a pass of ``g`` onto VMEM rings takes at most (0: none)."""
        return PASS_SCALARS if self._passes(g) else 0

    def others(self, g: Group, conns: list[QConnection]) -> list[QConnection]:
        """The connections of ``g`` that are not delivered onto a VMEM ring."""
        mine = {n for rp in self._passes(g) for n in rp.connections}
        return [c for c in conns if c.name not in mine]

    def emit_group(self, g: Group) -> None:
        for rp in self._passes(g):
            self._emit_pass(rp)

    def _emit_pass(self, rp: RingPass) -> None:
        """Spike loop with one spike of look-ahead: the next row's DMA runs while this
        row's segments are added (as codegen/streaming.py)."""
        em = self.em
        src = self.q.populations[rp.source]
        em.region = "input propagation" if src.is_input else f"{src.name} propagation"
        with em.scope() as t:
            xw, xend, word, wbase, idx, nxt, tmp = (t.x(n) for n in (
                "word ptr", "word end", "word", "word bit base", "spike", "next spike", "tmp"))
            buf, flip, base, counts = t.x("ring row buffer"), t.x("buffer flip"), t.x("ring rows"), t.x("groups")
            tc, mask, rbase = t.x("slot of t"), t.x("ring mask"), t.x("ring base")
            stride = None if _pow2(rp.stride) is not None else t.x("ring row stride")
            point_at_spike_words(em, self.regs, self.layout, src, xw, xend)
            b0, b1 = self.layout.ring_buffers
            em.li(buf, b0)
            em.li(flip, b0 ^ b1)
            em.li(base, self.dram_base + rp.rows.offset)
            em.li(counts, rp.counts.offset)
            if stride is not None:
                em.li(stride, rp.stride)
            em.op("andi", tc, self.regs.t, rp.depth - 1)
            em.op("slli", tc, tc, _pow2(rp.slot), comment="(t mod depth) P")
            em.li(mask, rp.depth * rp.slot - 1)
            em.li(rbase, rp.ring.offset)
            vtc, vmask = t.v("slot of t"), t.v("ring mask")
            em.op("vfill", vtc, tc)
            em.op("vfill", vmask, mask)
            done, loop, go = em.new_label("vring_done"), em.new_label("vring_spike"), em.new_label("vring_go")
            em.op("addi", wbase, "zero", 0)
            em.op("lw", word, 0, xw)
            self._find_spike(rp, xw, xend, word, wbase, idx, tmp, counts, done)
            self._start_row(rp, idx, buf, base, counts, stride)
            em.label(loop)
            em.op("addi", nxt, "zero", -1)
            self._find_spike(rp, xw, xend, word, wbase, nxt, tmp, counts, go)
            em.label(go)
            self._wait_dma(tmp)
            skip = em.new_label("vring_last")
            em.op("blt", nxt, "zero", skip)
            with em.scope() as t2:
                other = t2.x("other buffer")
                em.op("xor", other, buf, flip)
                self._start_row(rp, nxt, other, base, counts, stride)
            em.label(skip)
            self._deliver(rp, idx, buf, counts, vtc, vmask, rbase)
            em.op("xor", buf, buf, flip, comment="swap row buffers")
            em.op("addi", idx, nxt, 0)
            em.op("bge", idx, "zero", loop)
            em.label(done)

    def _groups(self, rp: RingPass, j: str, counts: str, out: str) -> None:
        self.em.op("add", out, j, counts)
        self.em.op("lbu", out, 0, out)

    def _find_spike(self, rp, xw, xend, word, wbase, out, tmp, counts, none_label) -> None:
        """out = the next spiking source with a non-empty row (its bit cleared), or jump to
        ``none_label``; ``word`` holds the not yet taken bits of word ``xw``."""
        em = self.em
        again, have, nextw = em.new_label("vring_find"), em.new_label("vring_have"), em.new_label("vring_word")
        em.label(again)
        em.op("bne", word, "zero", have)
        em.label(nextw)
        em.op("addi", xw, xw, 4)
        em.op("beq", xw, xend, none_label)
        em.op("lw", word, 0, xw)
        em.op("addi", wbase, wbase, 32)
        em.op("beq", word, "zero", nextw)
        em.label(have)
        em.op("ctz", out, word, comment="next spiking neuron")
        em.op("addi", tmp, word, -1)
        em.op("and", word, word, tmp, comment="clear its bit")
        em.op("add", out, out, wbase)
        self._groups(rp, out, counts, tmp)
        em.op("beq", tmp, "zero", again, comment="no synapse onto this ring")

    def _start_row(self, rp: RingPass, j: str, dst: str, base: str, counts: str, stride: str | None) -> None:
        em = self.em
        with em.scope() as t:
            a = t.x("DRAM address")
            sh = _pow2(rp.stride)
            if sh is None:
                em.op("mul", a, j, stride)
            else:
                em.op("slli", a, j, sh)
            em.op("add", a, a, base)
            em.op("csrrw", "zero", csrs.MM2S_SRC_ADDR, a)
            em.op("csrrw", "zero", csrs.MM2S_DST_ADDR, dst)
            self._groups(rp, j, counts, a)
            em.op("slli", a, a, _pow2(GROUP_BYTES), comment="bytes of the row's groups")
            em.op("csrrw", "zero", csrs.MM2S_COUNT, a)
            em.op("csrrwi", "zero", csrs.MM2S_CONTROL, 1, comment="start DMA")

    def _wait_dma(self, tmp: str) -> None:
        """Poll MM2S_STATUS until idle; an error bit jumps to the error handler (codegen/control.py)."""
        wait_mm2s(self.em, tmp, 'vring_dma')

    def _deliver(self, rp: RingPass, idx: str, buf: str, counts: str, vtc: str, vmask: str, rbase: str) -> None:
        """Add the segments of the row in ``buf`` (spike ``idx``) to their cells: a group's
        headers become cell indices ((h + (t mod depth) P) & mask) as one vector, then per
        segment 7 instructions, the next cell's address computed while this one's
        accumulator loads; each cell is stored before the next segment loads (a cell
        may recur in the next segment, from the next connection)."""
        em = self.em
        with em.scope() as t:
            seg, end = t.x("segment"), t.x("row end")
            h, a = t.x("header"), (t.x("cell a"), t.x("cell b"))
            H, acc, w = t.v("headers"), t.v("cell"), (t.v("weights a"), t.v("weights b"))
            self._groups(rp, idx, counts, end)
            em.op("slli", end, end, _pow2(GROUP_BYTES))
            em.op("add", end, end, buf)
            em.op("addi", seg, buf, 0)
            lab = em.new_label("vring_group")

            def address(k: int) -> None:
                em.op("slli", a[k % 2], h, _pow2(VEC))
                em.op("add", a[k % 2], a[k % 2], rbase)

            em.label(lab)
            em.op("vloadv", H, 0, seg)
            em.op("vloadv", w[0], VEC, seg)
            em.op("vadd", H, H, vtc)
            em.op("vand", H, H, vmask, comment="cells (t + r) mod depth, chunk")
            em.op("vextract", h, H, 0)
            address(0)
            for k in range(SEGMENTS):
                em.op("vloadv", acc, 0, a[k % 2])
                if k + 1 < SEGMENTS:
                    em.op("vextract", h, H, k + 1)
                else:
                    em.op("addi", seg, seg, GROUP_BYTES // 2)
                em.op("vadd_s", acc, acc, w[k % 2])
                em.op("vstorev", acc, 0, a[k % 2])
                if k + 1 < SEGMENTS:
                    em.op("vloadv", w[(k + 1) % 2], VEC * (k + 2), seg)
                    address(k + 1)
            em.op("addi", seg, seg, GROUP_BYTES // 2)
            em.op("bne", seg, end, lab)
