"""Build-time parameters of the DMA engine (docs/dma.md), from the machine
description, and its measured streaming constants."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.arch import DEFAULT_SPEC, ROW_BYTES, MachineSpec
from fenn_dma.errors import FennError
from fenn_dma.isa import csrs

AXI_MAX_BURST = 16          # beats: AXI4 INCR bursts are kept to 16 beats (AXI3-compatible, HP ports)
AXI_BOUNDARY = 4096         # bytes: no burst crosses a 4 KiB boundary (AXI4 rule)

# Streaming timing against a slave that accepts AR/AW at once, gives the first R beat L cycles
# after the AR handshake and then one beat a cycle, and answers B L cycles after a burst's last
# W beat (docs/dma.md "Timing"). For a transfer of `beats` = count / beat_bytes beats started by
# a CSR/host write in cycle t, a read of the status first shows idle|done in cycle
#   MM2S: t + A_R + L + beats - 1        S2MM: t + A_W + beats + L
# for every alignment, count and 4 KiB crossing, as long as L <= DmaConfig.streaming_latency
# (measured by tests/rtl_dma's streaming_timing_is_the_contracts, which fails if the RTL changes them).
# STATUS shows "transferring" (instead of "starting") from cycle
#   MM2S: t + S_R + L (the cycle after the first R beat)    S2MM: t + S_W (after the first W beat)
# A transfer of 0 bytes moves nothing: done in cycle t + A_ZERO (never "transferring").
# The constants live in fenn_dma.dram (S_R, S_W there: A_R_FIRST, A_W_FIRST), the one timing
# model the ISS and the native harness's DRAM share.
from fenn_dma.dram import A_R, A_W, A_ZERO  # noqa: E402,F401
from fenn_dma.dram import A_R_FIRST as S_R  # noqa: E402,F401
from fenn_dma.dram import A_W_FIRST as S_W  # noqa: E402,F401


READ_FIFO_SLACK = 4         # beats (see DmaConfig.read_fifo_beats)


class DmaConfigError(FennError):
    """DMA parameters that cannot be built."""


@dataclass(frozen=True)
class DmaConfig:
    """``data_bits``: the AXI4 data width (a power of two from 32 to the row width);
    ``outstanding``: read bursts in flight (the R FIFO holds ``outstanding * max_burst``
    beats) and write bursts awaiting B; ``vmem_rows``: rows of VMEM (the range check)."""

    vmem_rows: int = DEFAULT_SPEC.vmem_size // ROW_BYTES
    data_bits: int = 128
    outstanding: int = 8
    max_burst: int = AXI_MAX_BURST
    row_bytes: int = ROW_BYTES
    addr_bits: int = 32

    def __post_init__(self) -> None:
        row_bits = 8 * self.row_bytes
        if self.data_bits < 32 or self.data_bits & (self.data_bits - 1) or self.data_bits > row_bits:
            raise DmaConfigError(f"DmaConfig.data_bits = {self.data_bits}: must be a power of two from 32 "
                                 f"to the row width ({row_bits} bits)")
        if not 1 <= self.max_burst <= AXI_MAX_BURST:
            raise DmaConfigError(f"DmaConfig.max_burst = {self.max_burst}: must be 1..{AXI_MAX_BURST} beats")
        if not 1 <= self.outstanding <= 64:
            raise DmaConfigError(f"DmaConfig.outstanding = {self.outstanding}: must be 1..64 bursts")
        if self.vmem_rows < 1:
            raise DmaConfigError(f"DmaConfig.vmem_rows = {self.vmem_rows}: VMEM needs at least one row")
        if self.addr_bits != 32:
            raise DmaConfigError(f"DmaConfig.addr_bits = {self.addr_bits}: DRAM addresses are 32-bit (isa.md)")

    @property
    def beat_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def beats_per_row(self) -> int:
        return self.row_bytes // self.beat_bytes

    @property
    def max_rows(self) -> int:
        """Rows of the longest transfer (count below DMA_MAX_COUNT)."""
        return (csrs.DMA_MAX_COUNT - csrs.DMA_ALIGN) // self.row_bytes

    @property
    def max_beats(self) -> int:
        return self.max_rows * self.beats_per_row

    @property
    def read_fifo_beats(self) -> int:
        """The R FIFO: every beat of ``outstanding`` full bursts, plus the few beats that sit
        between the FIFO and the packer, so that reservations never hold back the next AR
        while the bursts in flight still cover the latency."""
        return self.outstanding * self.max_burst + READ_FIFO_SLACK

    @property
    def streaming_latency(self) -> int:
        """The largest slave latency at which transfers stream without bubbles: the bursts
        in flight (``outstanding``) must cover it even with a short burst before a 4 KiB
        boundary and the first, short one among them."""
        return (self.outstanding - 2) * self.max_burst

    @property
    def vmem_bytes(self) -> int:
        return self.vmem_rows * self.row_bytes

    @classmethod
    def from_spec(cls, spec: MachineSpec, *, data_bits: int = 128) -> "DmaConfig":
        if not spec.dma:
            raise DmaConfigError(f"machine {spec.name!r} has no DMA (dma = False)")
        return cls(vmem_rows=spec.vmem_rows, data_bits=data_bits)
