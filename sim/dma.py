"""The two DMA channels and the DRAM model (docs/isa.md section 2), reference version.

The channel state lives in ``Machine.dma`` (uint64, layout in ``state.py``) so
that the C engine runs the same rules on the same state. Rules (our
definitions where docs/isa.md leaves them open):

- Writing 1 to CONTROL bit 0 of an idle channel starts a transfer with the
  current SRC/DST/COUNT, latched at that moment (later register writes do not
  disturb it). Starting a busy channel is ignored. CONTROL reads as 0.
- Checked at start: both addresses 64-byte aligned, count a multiple of 64 and
  below 2^19, the VMEM range inside VMEM. A break sets status = idle |
  internal error (bit 4) at once and copies nothing.
- Otherwise status is "starting" (bit 2) for ``setup_cycles`` cycles, then
  "transferring" (bit 3) for ceil(count / bytes_per_cycle) cycles, then the
  bus outcome: idle | done (bit 7) and the copy; or, without any copy, idle |
  decode error (bit 5) when the DRAM range leaves the DRAM model, or idle |
  slave error (bit 6) when it touches an error region of the DRAM model.
- Times are on the predicted cycle clock (``cycles``, not ``mcycle``): a
  transfer started by an instruction executing at cycle t completes at
  t + setup + ceil(count / bytes_per_cycle). The copy happens at completion
  (the source is read then, not at start); before each instruction and at
  every stop, every transfer due by the current cycle completes, in
  completion order (MM2S first on a tie). Reset status: idle (bit 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fenn_dma.isa import csrs

from .state import DMA, MM2S, S2MM

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


@dataclass(frozen=True)
class DmaModel:
    """Latency of a transfer: ``setup_cycles`` (descriptor fetch, first AXI
    address phase) plus ``count / bytes_per_cycle`` (a 128-bit AXI port by default)."""

    setup_cycles: int = 16
    bytes_per_cycle: int = 16

    def __post_init__(self) -> None:
        if self.setup_cycles < 0 or self.bytes_per_cycle < 1:
            raise ValueError("DmaModel needs setup_cycles >= 0 and bytes_per_cycle >= 1")

    def transfer_cycles(self, count: int) -> int:
        return -(-count // self.bytes_per_cycle)


class DmaChannels:
    """Reference logic of both channels over the machine's arrays."""

    def __init__(self, state: np.ndarray, model: DmaModel, vmem: np.ndarray, dram: np.ndarray,
                 dram_base: int, error_regions: np.ndarray):
        self.state, self.model = state, model
        self.vmem, self.dram, self.dram_base = vmem, dram, dram_base
        self.error_regions = error_regions  # (n, 2) uint64: [start, end) absolute DRAM addresses

    def reset(self) -> None:
        self.state[:] = 0
        self.state[:, DMA["status"]] = csrs.DMA_IDLE

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
        s[DMA["result"]] = self._bus_result(dram_addr, count)
        s[DMA["t_xfer"]] = now + self.model.setup_cycles
        s[DMA["t_done"]] = now + self.model.setup_cycles + self.model.transfer_cycles(count)
        s[DMA["busy"]] = 1

    def _bus_result(self, dram_addr: int, count: int) -> int:
        lo, hi = dram_addr, dram_addr + count
        if lo < self.dram_base or hi > self.dram_base + self.dram.size:
            return csrs.DMA_DECODE_ERROR
        for start, end in self.error_regions:
            if lo < int(end) and int(start) < hi:
                return csrs.DMA_SLAVE_ERROR
        return csrs.DMA_DONE

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
        s[DMA["status"]] = csrs.DMA_IDLE | result
        s[DMA["busy"]] = 0
