"""The DMA engine's cycle rules against the DRAM model with back-pressure (docs/dma.md
"Back-pressure"): what the ISS predicts when ``DramTiming.stall`` is not 0.

Without stalls the engine streams and fenn_dma.dram's formulas give a transfer's status
cycles; with them, a transfer's phases depend on the stall pattern cycle by cycle, so this
module steps the RTL master's rules (rtl/dma/mm2s.py, s2mm.py, arbiter.py, the FIFOs of
amaranth.lib.fifo.SyncFIFOBuffered) against the DRAM slave's (verify/native/harness.cpp
DramSlave: AR/AW taken unless stalled, R and B given when due unless stalled, W taken once
its burst's AW is) one cycle at a time, both channels together (they share VMEM's port).

Cycle numbering is the ISS's (``Machine.cycles``); the stall pattern's cycle is that less
``origin`` (the core's last start less the pipeline fill: 0 for a run from reset). A start written in cycle t makes the
channel busy from cycle t + 1; "transferring" shows from the cycle after the first R beat
taken (MM2S) or W beat sent (S2MM), idle from the cycle after the engine's done.

``EngineTiming.start(ch, t, dram_addr, count)`` (count > 0, the start's rules already checked)
brings the model to cycle t, starts the channel and runs a copy ahead until both channels
are idle: it returns ((t_xfer, t_done) of MM2S or None, the same of S2MM), for every channel
busy then (a start may move the other channel's phases by a cycle: the two take turns on
VMEM's port). Standard library only.
"""
from __future__ import annotations

import copy
from collections import deque

from fenn_dma.dram import (AR, AW, B, BURST_BOUNDARY, MAX_BURST, OUTSTANDING, R, R_FIFO_SLACK, ROW_FIFO_ROWS, W,
                           DramTiming, stall_draw)

ROW_BYTES = 64              # a VMEM row (fenn_dma.arch.ROW_BYTES; the engine moves whole rows)
RESP_OKAY, RESP_SLVERR, RESP_DECERR = 0, 2, 3
LOOKAHEAD_LIMIT = 1 << 26   # cycles a transfer may take in the model before it is a bug


class DmaTimingError(RuntimeError):
    """The engine model did not finish a transfer (a bug in the model, not in the program)."""


class _Burst:
    __slots__ = ("beats", "done", "resp", "due")

    def __init__(self, beats: int, resp: int, due: int):
        self.beats, self.done, self.resp, self.due = beats, 0, resp, due


class _State:
    """Every register of both engines, the arbiter's turn and the slave's queues."""

    def __init__(self):
        self.read_turn = 0
        self.reset_engines()

    def reset_engines(self) -> None:
        # MM2S (ReadEngine)
        self.m_busy = self.m_err = self.m_first = 0
        self.m_addr = self.m_left = self.m_inflight = self.m_reserved = 0
        self.m_arvalid = self.m_araddr = self.m_arbeats = 0
        self.m_fin = self.m_frdy = 0           # R FIFO: inner level, output register valid
        self.m_idx = self.m_out = 0
        # S2MM (WriteEngine)
        self.s_busy = self.s_err = self.s_first = 0
        self.s_rdleft = self.s_held = self.s_pending = 0
        self.s_fin = self.s_frdy = 0           # row FIFO
        self.s_awaddr = self.s_awleft = self.s_bpend = self.s_credit = 0
        self.s_awvalid = self.s_awaddr_p = self.s_awbeats_p = 0
        self.s_waddr = self.s_wleft = self.s_inburst = self.s_burstleft = self.s_j = 0
        # the DRAM slave
        self.reads: deque = deque()
        self.writes: deque = deque()
        self.responses: deque = deque()       # (due, resp)
        self.last_r = -(1 << 62)
        # phase cycles: [t_xfer, t_done] per channel (None until known)
        self.times = [[None, None], [None, None]]

    def copy(self) -> "_State":
        out = copy.copy(self)
        out.reads = deque(copy.copy(b) for b in self.reads)
        out.writes = deque(copy.copy(b) for b in self.writes)
        out.responses = deque(self.responses)
        out.times = [list(t) for t in self.times]
        return out


def _plan(addr: int, left: int, beat: int) -> int:
    """rtl/dma/bursts.py: min(left, 16, beats to the next 4 KiB boundary)."""
    if not left:
        return 0
    return min(left, MAX_BURST, (BURST_BOUNDARY - addr % BURST_BOUNDARY) // beat)


class EngineTiming:
    """The engine and the DRAM slave of one machine, cycle by cycle. ``response(addr, nbytes)``:
    the DRAM's answer to a burst (RESP_OKAY, RESP_SLVERR or RESP_DECERR)."""

    def __init__(self, dram: DramTiming, response, read_turn: int = 0, origin: int = 0):
        self.dram, self.response, self.origin = dram, response, origin
        self.beat = dram.beat_bytes
        self.k = ROW_BYTES // dram.beat_bytes
        self.cap = OUTSTANDING * MAX_BURST + R_FIFO_SLACK
        self.state = _State()
        self.state.read_turn = read_turn
        self.next = None          # the next cycle to step (None: the engines idle, any cycle)

    def idle(self, st: _State | None = None) -> bool:
        st = st or self.state
        return not st.m_busy and not st.s_busy

    def busy(self, ch: int) -> bool:
        """Whether the model has ``ch`` busy at the cycle it has reached (its last start's)."""
        return bool(self.state.m_busy if ch == 0 else self.state.s_busy)

    def read_turn(self) -> int:
        return self.state.read_turn

    def advance_to(self, t: int) -> bool:
        """Step the model through cycle ``t`` (it stops stepping once idle); False if it is already
        past ``t`` (the machine's clock went back: a reset), and then nothing changes."""
        if self.next is not None and self.next > t + 1:
            return False
        st = self.state
        if self.next is not None:
            while self.next <= t and not self.idle():
                self._step(st, self.next)
                self.next += 1
        self.next = t + 1
        return True

    def start(self, ch: int, t: int, dram_addr: int, count: int):
        st = self.state
        if not self.advance_to(t) or self.idle():
            # nothing in flight (or the machine was reset): a fresh engine, the arbiter's turn kept
            turn = st.read_turn
            st.reset_engines()
            st.read_turn = turn
            self.next = t + 1
        rows = count // ROW_BYTES
        if ch == 0:
            if st.m_busy:
                raise DmaTimingError("MM2S started while the model has it busy")
            st.m_busy, st.m_err, st.m_first, st.m_idx = 1, 0, 0, 0
            st.m_addr, st.m_left = dram_addr, rows * self.k
        else:
            if st.s_busy:
                raise DmaTimingError("S2MM started while the model has it busy")
            st.s_busy, st.s_err, st.s_first = 1, 0, 0
            st.s_rdleft = rows
            st.s_awaddr = st.s_waddr = dram_addr
            st.s_awleft = st.s_wleft = rows * self.k
        st.times[ch] = [None, None]
        ahead = st.copy()
        c = self.next
        end = c + LOOKAHEAD_LIMIT
        while not self.idle(ahead):
            if c >= end:
                raise DmaTimingError(f"the DMA model did not finish a transfer in {LOOKAHEAD_LIMIT} cycles")
            self._step(ahead, c)
            c += 1
        busy = (st.m_busy, st.s_busy)
        return tuple(tuple(ahead.times[k]) if busy[k] else None for k in (0, 1))

    # ---- one cycle: the combinational logic from the registers, then the edge ----
    def _step(self, st: _State, c: int) -> None:
        dram = self.dram
        stall, seed = dram.stall, dram.seed
        beat_bytes, k = self.beat, self.k
        sc = c - self.origin           # the stall pattern's cycle: from the core's start

        def stalled(channel: int) -> bool:
            return stall != 0 and stall_draw(seed, channel, sc) < stall

        # -- the slave's outputs for cycle c
        arready = not stalled(AR)
        awready = not stalled(AW)
        aw_hs = st.s_awvalid and awready
        wready = (bool(st.writes) or aw_hs) and not stalled(W)
        rvalid = False
        if st.reads:
            head = st.reads[0]
            due = st.last_r + 1 if head.done else max(head.due, st.last_r + 1)
            rvalid = c >= due and not stalled(R)
        bvalid = bool(st.responses) and c >= st.responses[0][0] and not stalled(B)
        bresp = st.responses[0][1] if bvalid else RESP_OKAY

        # -- MM2S combinational
        m_beat = st.m_busy and rvalid
        rresp = rlast = 0
        if m_beat:
            head = st.reads[0]
            rresp, rlast = head.resp, head.done + 1 == head.beats
        m_last = m_beat and rlast
        pbeats = _plan(st.m_addr, st.m_left, beat_bytes)
        m_load = (st.m_busy and not st.m_err and pbeats and st.m_inflight - m_last < OUTSTANDING
                  and st.m_reserved + pbeats <= self.cap and (not st.m_arvalid or arready))
        push = m_beat and not st.m_err and rresp == RESP_OKAY
        discard = m_beat and not push
        completes = st.m_idx == k - 1

        # -- S2MM combinational, the arbiter
        w_finished = st.s_err and not st.s_awvalid and st.s_credit == 0 and not st.s_inburst
        rd_valid = st.s_busy and st.s_rdleft and st.s_held < ROW_FIFO_ROWS and not w_finished
        grant_w = st.m_out and (not rd_valid or not st.read_turn)
        grant_r = rd_valid and not grant_w
        take = st.m_frdy and (not completes or not st.m_out or grant_w)
        m_done = st.m_busy and st.m_reserved == 0 and not st.m_out and (st.m_err or st.m_left == 0)

        s_pbeats = _plan(st.s_awaddr, st.s_awleft, beat_bytes)
        s_load = (st.s_busy and not st.s_err and s_pbeats and st.s_bpend < OUTSTANDING
                  and (not st.s_awvalid or awready))
        cur = st.s_burstleft if st.s_inburst else _plan(st.s_waddr, st.s_wleft, beat_bytes)
        wvalid = st.s_busy and st.s_frdy and (st.s_inburst or (st.s_wleft and st.s_credit))
        w_beat = wvalid and wready
        starts = not st.s_inburst
        row_end = st.s_j == k - 1
        pop = w_beat and row_end
        b_beat = st.s_busy and bvalid
        s_done = (st.s_busy and st.s_bpend == 0 and not st.s_awvalid
                  and ((st.s_awleft == 0 and st.s_wleft == 0) or (w_finished and not st.s_pending)))

        # -- the edge: the slave
        lat = dram.latency
        if st.m_arvalid and arready:
            st.reads.append(_Burst(st.m_arbeats, self.response(st.m_araddr, st.m_arbeats * beat_bytes), c + lat))
        if rvalid:
            head = st.reads[0]
            head.done += 1
            st.last_r = c
            if head.done == head.beats:
                st.reads.popleft()
        if aw_hs:
            st.writes.append(_Burst(st.s_awbeats_p, self.response(st.s_awaddr_p, st.s_awbeats_p * beat_bytes), 0))
        if w_beat:
            head = st.writes[0]
            head.done += 1
            if head.done == head.beats:
                st.responses.append((c + lat, head.resp))
                st.writes.popleft()
        if bvalid:
            st.responses.popleft()

        # -- the edge: the arbiter
        if grant_w:
            st.read_turn = 1
        elif grant_r:
            st.read_turn = 0

        # -- the edge: MM2S
        if m_load:
            st.m_arvalid, st.m_araddr, st.m_arbeats = 1, st.m_addr, pbeats
            st.m_addr += pbeats * beat_bytes
            st.m_left -= pbeats
        elif arready:
            st.m_arvalid = 0
        if m_beat and rresp != RESP_OKAY and not st.m_err:
            st.m_err = rresp
        if m_beat and not st.m_first:
            st.m_first = 1
            st.times[0][0] = c + 1
        st.m_fin, st.m_frdy = _buffered_fifo_edge(st.m_fin, st.m_frdy, push, take)
        if grant_w:
            st.m_out = 0
        if take:
            if completes:
                st.m_out, st.m_idx = 1, 0
            else:
                st.m_idx += 1
        st.m_inflight += (1 if m_load else 0) - (1 if m_last else 0)
        st.m_reserved += (pbeats if m_load else 0) - (1 if take else 0) - (1 if discard else 0)
        if m_done:
            st.m_busy, st.m_idx = 0, 0
            st.times[0][1] = c + 1

        # -- the edge: S2MM
        st.s_fin, st.s_frdy = _buffered_fifo_edge(st.s_fin, st.s_frdy, st.s_pending, pop)   # w_en = data_valid
        st.s_pending = 1 if grant_r else 0
        if grant_r:
            st.s_rdleft -= 1
        st.s_held += (1 if grant_r else 0) - (1 if pop else 0)
        if s_load:
            st.s_awvalid, st.s_awaddr_p, st.s_awbeats_p = 1, st.s_awaddr, s_pbeats
            st.s_awaddr += s_pbeats * beat_bytes
            st.s_awleft -= s_pbeats
        elif awready:
            st.s_awvalid = 0
        if w_beat:
            st.s_waddr += beat_bytes
            st.s_wleft -= 1
            st.s_inburst = 1 if cur != 1 else 0
            st.s_burstleft = cur - 1
            st.s_j = 0 if row_end else st.s_j + 1
        st.s_credit += (1 if s_load else 0) - (1 if (w_beat and starts) else 0)
        if w_beat and not st.s_first:
            st.s_first = 1
            st.times[1][0] = c + 1
        if b_beat and bresp != RESP_OKAY and not st.s_err:
            st.s_err = bresp
        st.s_bpend += (1 if s_load else 0) - (1 if b_beat else 0)
        if s_done:
            st.s_busy = st.s_inburst = st.s_held = st.s_j = 0
            if st.s_err:                         # flush: the row FIFO emptied
                st.s_fin = st.s_frdy = 0
            st.times[1][1] = c + 1


def _buffered_fifo_edge(level: int, ready: int, push, pop) -> tuple[int, int]:
    """One edge of a buffered FIFO (amaranth.lib.fifo.SyncFIFOBuffered: an inner FIFO of
    ``level`` entries and an output register, ``ready`` when it holds one): the inner FIFO
    moves its head into the output register when that is empty or popped."""
    inner_read = level and (not ready or pop)
    level += (1 if push else 0) - (1 if inner_read else 0)
    if inner_read:
        ready = 1
    elif pop:
        ready = 0
    return level, ready
