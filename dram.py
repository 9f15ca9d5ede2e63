"""The one DRAM timing model (docs/dma.md "Timing"): what the ISS predicts
(sim/dma.py and its C twin sim/_fastiss.c), what the native RTL harness's AXI4
slave does (verify/native/harness.cpp) and what the benchmarks report.

The DRAM, as an AXI4 slave: it accepts AR and AW at once; it gives a read burst's
first R beat ``latency`` cycles after the AR handshake and then one beat a cycle
(a burst's beats follow the previous burst's without a gap); it answers B
``latency`` cycles after a write burst's last W beat. A beat is ``beat_bytes``
(the port's width: 16 bytes for the KV260's 128-bit HP port).

Against that slave the DMA engine streams without bubbles (rtl/dma), so a
transfer of ``beats`` beats started by a CSR (or host) write in cycle t has its
status read as "starting", then "transferring", then idle|done from these cycles
(L = latency):

    MM2S  transferring from t + A_R_FIRST + L     idle|done from t + A_R + L + beats - 1
    S2MM  transferring from t + A_W_FIRST         idle|done from t + A_W + beats + L
    0 bytes (either channel, no bus traffic): starting, idle|done from t + A_ZERO

A bus error (a burst answered DECERR or SLVERR) ends the transfer once every
burst already issued has been answered, and the first failing burst's answer
(in address order) is the transfer's. The engine keeps up to OUTSTANDING bursts
ahead: after the first failing burst it has issued at most OUTSTANDING - 1 more,
and issues no others, so the transfer ends as one of ``error_beats`` beats with
A_R_ERROR / A_W_ERROR in place of A_R / A_W (measured exact on the RTL for
failing transfers of 1 to 32 bursts, with short bursts before 4 KiB boundaries:
tests/rtl_dma/test_dma_diff_timing.py).

Back-pressure (optional, part of the model): with ``stall`` = s (0 none, else 1..255),
in each cycle c each of the five AXI4 channels ch (AR, R, AW, W, B) is stalled when
``stall_draw(seed, ch, c) < s`` (a pure function of the seed, the channel and the
cycle: a counter-based hash, see ``stall_draw``). A stalled cycle holds ARREADY,
AWREADY or WREADY low, or holds back an R beat or a B that is due (the slave's rule
for each, cycle by cycle, is verify/native/harness.cpp's DramSlave and
verify/cocotb_dram.py's ModelDram). The cycle is the ISS's: the predicted cycle clock
(``Machine.cycles``, which counts from reset with the pipeline fill); the harnesses
number their edges so from the core's start. With stalls the formulas above no longer
hold; the ISS then steps the engine's rules cycle by cycle against the stall function
from each transfer's start (sim/dma_engine.py), the same figures at ``stall`` = 0.

The engine's constants are measured on the RTL SoC (tests/rtl_dma) and kept only
here. Standard library only: every layer may import this module.
"""
from __future__ import annotations

import math
from collections import namedtuple

from fenn_dma.errors import FennError

# --- The engine's fixed overheads in cycles (rtl/dma; calibrated on the RTL SoC) ------------
# Counted from the cycle the ISS charges to the starting CSR write (a status read k cycles later
# is the ISS's instruction k cycles later: tests/rtl_dma/test_dma_diff_timing.py).
A_R = 7           # MM2S: done from t + A_R + L + beats - 1
A_R_FIRST = 3     # MM2S: "transferring" from t + A_R_FIRST + L
A_R_ERROR = 4     # MM2S answered with a bus error: idle|error from t + A_R_ERROR + L + beats - 1
A_W = 5           # S2MM: done from t + A_W + beats + L
A_W_FIRST = 5     # S2MM: "transferring" from t + A_W_FIRST
A_W_ERROR = 5     # S2MM answered with a bus error: idle|error from t + A_W_ERROR + beats + L
A_ZERO = 2        # a 0-byte transfer: done from t + A_ZERO

# --- The engine's AXI4 bursts (rtl/dma/config.py builds with these) ------------------------
MAX_BURST = 16            # beats in one INCR burst (AXI3-compatible, the KV260's HP ports)
BURST_BOUNDARY = 4096     # bytes: no burst crosses a 4 KiB boundary (AXI4 rule)
OUTSTANDING = 8           # read bursts in flight (the streaming rule holds for L <= (8 - 1) * 16)
R_FIFO_SLACK = 4          # MM2S R FIFO: OUTSTANDING * MAX_BURST + 4 beats (rtl/dma/config.py READ_FIFO_SLACK)
ROW_FIFO_ROWS = 4         # S2MM rows read ahead (rtl/dma/s2mm.py ROW_FIFO_ROWS)

# --- Back-pressure: the five AXI4 channels, in stall_draw's numbering -----------------------
AR, R, AW, W, B = range(5)
STALL_CHANNELS = ("AR", "R", "AW", "W", "B")
STALL_LEVELS = 256        # stall is out of 256: 0 none, 255 the most
M32 = 0xFFFFFFFF


def _fmix32(x: int) -> int:
    """MurmurHash3's 32-bit finaliser (a bijection of 32-bit words)."""
    x ^= x >> 16
    x = x * 0x85EBCA6B & M32
    x ^= x >> 13
    x = x * 0xC2B2AE35 & M32
    return x ^ x >> 16


def stall_draw(seed: int, channel: int, cycle: int) -> int:
    """0..255, a pure function of (seed, channel, cycle): ``fmix32(((cycle * 5 + channel) mod 2^32)
    xor fmix32(seed)) >> 24``, where fmix32 is MurmurHash3's finaliser and the cycle is taken mod
    2^32. The channel is stalled in that cycle when the draw is below the stall level. The same
    function is in verify/native/harness.cpp (``stall_draw``); test vector: tests/sim."""
    return _fmix32(((cycle * 5 + channel) & M32) ^ _fmix32(seed & M32)) >> 24

# --- The named latencies --------------------------------------------------------------------
CLOCK_MHZ = 175.0         # FeNN-DMA's clock on the KV260 (boards/kv260/project.py TARGET_MHZ)
DDR4_LATENCY_NS = 300.0   # first-beat latency of the KV260's DDR4 through the PS's HP port, about


class DramTimingError(FennError):
    """A DRAM timing model that cannot be (bad latency, beat width, stall level, seed or preset name)."""


class DramTiming(namedtuple("DramTiming", "latency beat_bytes stall seed", defaults=(16, 0, 1))):
    """``latency``: cycles from an AR handshake to the burst's first R beat, and from a
    write burst's last W beat to its B; ``beat_bytes``: bytes a beat (the port width);
    ``stall``: back-pressure, each channel stalled ``stall``/256 of the cycles (0 none);
    ``seed``: the stall pattern's (``stall_draw``).
    An immutable record (a named tuple: `fenn-dma sim` starts without the dataclasses module)."""

    __slots__ = ()
    latency: int
    beat_bytes: int
    stall: int
    seed: int

    def __new__(cls, *args, **kwargs) -> "DramTiming":
        self = super().__new__(cls, *args, **kwargs)
        self._validate()
        return self

    def _validate(self) -> None:
        if isinstance(self.latency, bool) or not isinstance(self.latency, int) or self.latency < 1:
            raise DramTimingError(f"DramTiming.latency = {self.latency!r}: must be a whole number of cycles >= 1")
        bb = self.beat_bytes
        if isinstance(bb, bool) or not isinstance(bb, int) or bb < 4 or bb > 64 or bb & (bb - 1):
            raise DramTimingError(f"DramTiming.beat_bytes = {bb!r}: must be a power of two from 4 to 64 "
                                  "(a 32- to 512-bit port)")
        st = self.stall
        if isinstance(st, bool) or not isinstance(st, int) or not 0 <= st < STALL_LEVELS:
            raise DramTimingError(f"DramTiming.stall = {st!r}: back-pressure is a whole number 0..255 "
                                  "(/256 of the cycles each channel is stalled; 0 none)")
        sd = self.seed
        if isinstance(sd, bool) or not isinstance(sd, int) or not 0 <= sd <= M32:
            raise DramTimingError(f"DramTiming.seed = {sd!r}: the stall pattern's seed is a 32-bit unsigned "
                                  "whole number")
        if self.latency > (OUTSTANDING - 1) * MAX_BURST:
            raise DramTimingError(f"DramTiming.latency = {self.latency}: the engine streams without bubbles "
                                  f"only up to {(OUTSTANDING - 1) * MAX_BURST} cycles "
                                  f"({OUTSTANDING} bursts of {MAX_BURST} beats in flight)")

    @classmethod
    def preset(cls, name: str) -> "DramTiming":
        """One of ``PRESETS`` by name."""
        try:
            return PRESETS[name]
        except KeyError:
            raise DramTimingError(f"unknown DRAM timing {name!r}; choose one of {', '.join(PRESETS)}") from None

    def with_stall(self, stall: int, seed: int | None = None) -> "DramTiming":
        """This timing with back-pressure ``stall`` (/256) and, if given, another seed."""
        return self._replace(stall=stall, seed=self.seed if seed is None else seed)._checked()

    def _checked(self) -> "DramTiming":
        self._validate()
        return self

    def stalled(self, channel: int, cycle: int) -> bool:
        """Whether ``channel`` (AR, R, AW, W, B) is stalled in ISS cycle ``cycle``."""
        return bool(self.stall) and stall_draw(self.seed, channel, cycle) < self.stall

    @property
    def peak_bytes_per_cycle(self) -> int:
        return self.beat_bytes

    def beats(self, count: int) -> int:
        """Beats of a transfer of ``count`` bytes (whole beats: counts are multiples of 64)."""
        return -(-count // self.beat_bytes)

    def mm2s_cycles(self, count: int, error: bool = False, beats: int | None = None) -> tuple[int, int]:
        """(first "transferring" cycle, first idle cycle) of an MM2S transfer of ``count``
        bytes, counted from its start write's cycle; ``error``: the bus answers it with one,
        after ``beats`` beats moved (default all: ``error_beats``)."""
        if count == 0:
            return A_ZERO, A_ZERO
        moved = self.beats(count) if beats is None else beats
        return A_R_FIRST + self.latency, (A_R_ERROR if error else A_R) + self.latency + moved - 1

    def s2mm_cycles(self, count: int, error: bool = False, beats: int | None = None) -> tuple[int, int]:
        """The same for an S2MM transfer."""
        if count == 0:
            return A_ZERO, A_ZERO
        moved = self.beats(count) if beats is None else beats
        return A_W_FIRST, (A_W_ERROR if error else A_W) + moved + self.latency

    def bursts(self, addr: int, count: int) -> list[tuple[int, int]]:
        """The engine's AXI4 bursts of a transfer: (address, beats), at most MAX_BURST beats,
        none across a BURST_BOUNDARY (rtl/dma/bursts.py)."""
        out, left = [], self.beats(count)
        while left:
            n = min(left, MAX_BURST, (BURST_BOUNDARY - addr % BURST_BOUNDARY) // self.beat_bytes)
            out.append((addr, n))
            addr += n * self.beat_bytes
            left -= n
        return out

    def error_beats(self, addr: int, count: int, failing: int) -> int:
        """Beats the bus still moves in a transfer whose burst number ``failing`` (from 0) is the
        first answered with an error: the engine has issued up to OUTSTANDING - 1 bursts after
        it, and issues no more (every issued burst is answered in full)."""
        return sum(n for _, n in self.bursts(addr, count)[:failing + OUTSTANDING])

    def describe(self) -> str:
        stalls = f", back-pressure {self.stall}/256 (seed {self.seed})" if self.stall else ""
        return (f"latency {self.latency} cycles ({self.latency * 1000 / CLOCK_MHZ:.0f} ns at {CLOCK_MHZ:g} MHz), "
                f"{self.beat_bytes} bytes a beat{stalls}")


# "short": an on-chip RAM or a test slave; "ddr4": the KV260's DDR4, 300 ns at 175 MHz, rounded up.
PRESETS: dict[str, DramTiming] = {
    "short": DramTiming(latency=4),
    "ddr4": DramTiming(latency=math.ceil(DDR4_LATENCY_NS * CLOCK_MHZ / 1000)),     # 52.5 -> 53 cycles
}
DEFAULT_PRESET = "ddr4"
