"""The two DMA channels and the DRAM model (docs/isa.md section 2), reference version.

The channel state lives in ``Machine.dma`` (uint64, layout in ``state.py``) so
that the C engine runs the same rules on the same state. Rules (our
definitions where docs/isa.md leaves them open; the RTL engine, rtl/dma, keeps them):

- Writing 1 to CONTROL bit 0 of an idle channel starts a transfer with the
  current SRC/DST/COUNT, latched at that moment (later register writes do not
  disturb it). Starting a busy channel is ignored. CONTROL reads as 0.
- Checked at start: both addresses 64-byte aligned, count a multiple of 64 and
  below 2^19, the VMEM range inside VMEM. A break sets status = idle |
  internal error (bit 4) at once and copies nothing.
- Otherwise status is "starting" (bit 2), then "transferring" (bit 3), then the
  bus outcome, at the cycles the DRAM timing model gives (fenn_dma.dram: the
  engine's constants and the DRAM's latency and beat width, per channel):
  idle | done (bit 7) and the copy; or, without any copy, idle | decode error
  (bit 5) when the DRAM range leaves the DRAM model, or idle | slave error
  (bit 6) when it touches an error region of the DRAM model (the answer to the
  first failing burst, in address order). A 0-byte transfer makes no bus
  access: it ends done.
- With back-pressure (``DramTiming.stall`` > 0), and for every transfer the bus answers
  with an error, the phase cycles come from stepping the engine's rules cycle by cycle
  against the DRAM model (``dma_engine.EngineTiming``: the stall function of the cycle,
  both channels together); otherwise from fenn_dma.dram's formulas (the same figures).
  Under back-pressure a start may move the other channel's phases too (the two share
  VMEM's port).
- Times are on the predicted cycle clock (``cycles``, not ``mcycle``), counted
  from the cycle the starting CSR write executes in (after a load-use stall of
  that instruction). The copy happens at completion (the source is read then,
  not at start); before each instruction, before a DMA CSR access and at every
  stop, every transfer due by then completes, in completion order (MM2S first
  on a tie). Reset status: idle (bit 1).
- Each channel counts the payload bytes it moved (``moved``, ``Machine.dma_bytes``):
  a transfer's COUNT when it completes done; an error or a 0-byte transfer adds 0.
"""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.dram import BURST_BOUNDARY, DEFAULT_PRESET, MAX_BURST, OUTSTANDING, DramTiming
from fenn_dma.isa import csrs

from .state import DMA, DMA_FIELDS, MM2S, S2MM

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    import numpy as np

# CSR number -> (channel, register name).
DMA_CSRS: dict[int, tuple[int, str]] = {
    csrs.MM2S_SRC_ADDR: (MM2S, "src"), csrs.MM2S_DST_ADDR: (MM2S, "dst"),
    csrs.MM2S_COUNT: (MM2S, "count"), csrs.MM2S_CONTROL: (MM2S, "control"),
    csrs.MM2S_STATUS: (MM2S, "status"),
    csrs.S2MM_SRC_ADDR: (S2MM, "src"), csrs.S2MM_DST_ADDR: (S2MM, "dst"),
    csrs.S2MM_COUNT: (S2MM, "count"), csrs.S2MM_CONTROL: (S2MM, "control"),
    csrs.S2MM_STATUS: (S2MM, "status"),
}
NEVER = (1 << 64) - 1


def reset_channels(slots) -> None:
    """Both channels idle, every slot else 0; ``slots``: the flat uint64 state (any sequence)."""
    for i in range(len(slots)):
        slots[i] = csrs.DMA_IDLE if i % len(DMA_FIELDS) == DMA["status"] else 0


class DmaModel(namedtuple("DmaModel", "dram", defaults=(DramTiming.preset(DEFAULT_PRESET),))):
    """The ISS's DMA timing: the DRAM's (``fenn_dma.dram.DramTiming``; by default the
    realistic DDR4 preset) with the engine's measured constants (fenn_dma.dram). An
    immutable record (a named tuple, like CycleModel)."""

    __slots__ = ()
    dram: DramTiming

    def __new__(cls, *args, **kwargs) -> "DmaModel":
        self = super().__new__(cls, *args, **kwargs)
        if not isinstance(self.dram, DramTiming):
            raise ValueError(f"DmaModel.dram = {self.dram!r}: must be a fenn_dma.dram.DramTiming")
        return self

    @classmethod
    def preset(cls, name: str) -> "DmaModel":
        return cls(DramTiming.preset(name))

    def cycles(self, ch: int, count: int, error: bool = False, beats: int | None = None) -> tuple[int, int]:
        """(cycles to "transferring", cycles to the final status) of a transfer on channel ``ch``;
        ``error``: the bus answers it with an error after ``beats`` beats (default all)."""
        if ch == MM2S:
            return self.dram.mm2s_cycles(count, error, beats)
        return self.dram.s2mm_cycles(count, error, beats)

    def as_params(self) -> tuple[int, ...]:
        """For the C engine, derived from ``cycles`` (linear in the beats): per channel (MM2S,
        S2MM) the offset to "transferring", to done and to a bus error's end, each less the
        beats; then the 0-byte offset, the beat width and the bursts' rule (fenn_dma.dram)."""
        one = self.dram.beat_bytes           # one beat
        out: list[int] = []
        for ch in (MM2S, S2MM):
            first, done = self.cycles(ch, one)
            out += [first, done - 1, self.cycles(ch, one, error=True)[1] - 1]
        return (*out, self.cycles(MM2S, 0)[1], one, MAX_BURST, BURST_BOUNDARY, OUTSTANDING)


class DmaChannels:
    """Reference logic of both channels over the machine's arrays."""

    def __init__(self, state: np.ndarray, model: DmaModel, vmem: np.ndarray, dram: np.ndarray,
                 dram_base: int, error_regions: np.ndarray):
        self.state, self.model = state, model
        self.vmem, self.dram, self.dram_base = vmem, dram, dram_base
        self.error_regions = error_regions  # (n, 2) uint64: [start, end) absolute DRAM addresses
        self._engine = None                 # dma_engine.EngineTiming under back-pressure (persistent)
        # The ISS cycle the stall pattern counts from: the core's last start less the pipeline
        # fill (Machine.run sets it at a start after a stop), as the hardware counts each start's.
        self.cycle_origin = 0

    def reset(self) -> None:
        reset_channels(self.state.reshape(-1))

    def read(self, ch: int, reg: str, now: int) -> int:
        s = self.state[ch]
        if reg == "control":
            return 0
        if reg == "status":
            if s[DMA["busy"]]:
                return csrs.DMA_STARTING if now < int(s[DMA["t_xfer"]]) else csrs.DMA_TRANSFERRING
            return int(s[DMA["status"]])
        return int(s[DMA[reg]])

    def write(self, ch: int, reg: str, value: int, now: int) -> None:
        s = self.state[ch]
        if reg == "status":
            return
        if reg != "control":
            s[DMA[reg]] = value & 0xFFFFFFFF
            return
        if not value & 1 or s[DMA["busy"]]:
            return
        src, dst, count = (int(s[DMA[k]]) for k in ("src", "dst", "count"))
        dram_addr, vmem_addr = (src, dst) if ch == MM2S else (dst, src)
        if (src % csrs.DMA_ALIGN or dst % csrs.DMA_ALIGN or count % csrs.DMA_ALIGN
                or count >= csrs.DMA_MAX_COUNT or vmem_addr + count > self.vmem.size):
            s[DMA["status"]] = csrs.DMA_IDLE | csrs.DMA_INTERNAL_ERROR
            return
        s[DMA["cur_src"]], s[DMA["cur_dst"]], s[DMA["cur_count"]] = src, dst, count
        s[DMA["result"]] = self._bus_result(dram_addr, count) if count else csrs.DMA_DONE
        error = int(s[DMA["result"]]) != csrs.DMA_DONE
        beats = None
        if error:
            # The first failing burst's answer is the transfer's (a range may leave the window
            # after crossing an error region).
            failing, addr, n = self._failing_burst(dram_addr, count)
            s[DMA["result"]] = self._bus_result(addr, n * self.model.dram.beat_bytes)
            beats = self.model.dram.error_beats(dram_addr, count, failing)
        to_xfer, to_done = self.model.cycles(ch, count, error, beats)
        s[DMA["t_xfer"]] = now + to_xfer
        s[DMA["t_done"]] = now + to_done
        s[DMA["busy"]] = 1
        if count and (error or self.model.dram.stall):
            self.timed_start(ch, now)

    def timed_start(self, ch: int, now: int) -> None:
        """The phase cycles of the transfer just started on ``ch`` in cycle ``now`` (and, under
        back-pressure, the other channel's if it is busy) from the engine's cycle rules
        (dma_engine.EngineTiming). The C engine calls this too (sim/_fastiss.c), on the same state."""
        from .dma_engine import RESP_DECERR, RESP_OKAY, RESP_SLVERR, EngineTiming
        codes = {csrs.DMA_DONE: RESP_OKAY, csrs.DMA_SLAVE_ERROR: RESP_SLVERR, csrs.DMA_DECODE_ERROR: RESP_DECERR}

        def response(addr: int, nbytes: int) -> int:
            return codes[self._bus_result(addr, nbytes)]

        s = self.state[ch]
        dram = self.model.dram
        dram_addr = int(s[DMA["cur_src"]] if ch == MM2S else s[DMA["cur_dst"]])
        count = int(s[DMA["cur_count"]])
        other = 1 - ch
        other_busy = bool(self.state[other, DMA["busy"]])
        engine = self._engine
        if not dram.stall:
            engine = EngineTiming(dram, response)           # a bus error without stalls: this channel alone
        elif (engine is None or engine.origin != self.cycle_origin or not engine.advance_to(now - 1)
              or other_busy != engine.busy(other)):
            # nothing of the model in flight, or it lost track (a reset, a restored state): start afresh
            engine = self._engine = EngineTiming(dram, response, read_turn=engine.read_turn() if engine else 0,
                                                 origin=self.cycle_origin)
        times = engine.start(ch, now, dram_addr, count)
        for k in ((ch, other) if dram.stall else (ch,)):
            if times[k] is not None and self.state[k, DMA["busy"]]:
                self.state[k, DMA["t_xfer"]], self.state[k, DMA["t_done"]] = times[k]

    def _bus_result(self, dram_addr: int, count: int) -> int:
        lo, hi = dram_addr, dram_addr + count
        if lo < self.dram_base or hi > self.dram_base + self.dram.size:
            return csrs.DMA_DECODE_ERROR
        for start, end in self.error_regions:
            if lo < int(end) and int(start) < hi:
                return csrs.DMA_SLAVE_ERROR
        return csrs.DMA_DONE

    def _failing_burst(self, dram_addr: int, count: int) -> tuple[int, int, int]:
        """(index, address, beats) of the first burst the DRAM model answers with an error."""
        for k, (addr, beats) in enumerate(self.model.dram.bursts(dram_addr, count)):
            if self._bus_result(addr, beats * self.model.dram.beat_bytes) != csrs.DMA_DONE:
                return k, addr, beats
        raise AssertionError("a bus error without a failing burst")

    def next_event(self) -> int:
        times = [int(s[DMA["t_done"]]) for s in self.state if s[DMA["busy"]]]
        return min(times, default=NEVER)

    def advance(self, now: int) -> None:
        """Complete every transfer due by cycle ``now``, earliest first (MM2S first on a tie)."""
        while True:
            due = [ch for ch in (MM2S, S2MM)
                   if self.state[ch, DMA["busy"]] and int(self.state[ch, DMA["t_done"]]) <= now]
            if not due:
                return
            ch = min(due, key=lambda c: (int(self.state[c, DMA["t_done"]]), c))
            self._complete(ch)

    def _complete(self, ch: int) -> None:
        s = self.state[ch]
        result = int(s[DMA["result"]])
        if result == csrs.DMA_DONE:
            src, dst, n = int(s[DMA["cur_src"]]), int(s[DMA["cur_dst"]]), int(s[DMA["cur_count"]])
            if ch == MM2S:
                d = src - self.dram_base
                self.vmem[dst:dst + n] = self.dram[d:d + n]
            else:
                d = dst - self.dram_base
                self.dram[d:d + n] = self.vmem[src:src + n]
            s[DMA["moved"]] += n
        s[DMA["status"]] = csrs.DMA_IDLE | result
        s[DMA["busy"]] = 0
