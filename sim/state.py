"""Layout of the machine's scalar state arrays, shared with the C engine.

Both engines work on the same numpy buffers. The scalar state that is not a
register file or a memory lives in two uint64 arrays whose slots are named
here; the C engine exports its own list of names and ``fast`` checks, at
import, that the two agree (so the layout is written down once, here).
"""
from __future__ import annotations

# Machine.core: one uint64 per slot.
CORE_FIELDS: tuple[str, ...] = (
    "pc",             # next instruction's byte address
    "instret",        # instructions retired since reset (not inhibited; ecall/ebreak excluded)
    "cycles",         # predicted cycles since reset (starts at CycleModel.pipeline_fill)
    "mcycle",         # CSR counter (advances while mcountinhibit bit 0 is clear)
    "minstret",       # CSR counter (advances while mcountinhibit bit 2 is clear)
    "mcountinhibit",  # bits 0 and 2 only
    "vload_dest",     # vector register written by the previous instruction if it was VLOADV/VLOADL, else 32
    "xload_dest",     # scalar register written by the previous instruction if it was a scalar load, else 0
)
CORE = {name: i for i, name in enumerate(CORE_FIELDS)}
NO_VLOAD = 32

# Machine.dma: one row per channel, one uint64 per slot.
MM2S, S2MM = 0, 1
CHANNEL_NAMES = ("mm2s", "s2mm")
DMA_FIELDS: tuple[str, ...] = (
    "src",        # SRC_ADDR register
    "dst",        # DST_ADDR register
    "count",      # COUNT register
    "status",     # status while not busy (idle | done or error bit)
    "busy",       # 1 while a transfer is in flight
    "t_xfer",     # cycle at which the in-flight transfer leaves "starting"
    "t_done",     # cycle at which it completes
    "cur_src",    # the in-flight transfer's parameters, latched at start
    "cur_dst",
    "cur_count",
    "result",     # status bit it ends with: DMA_DONE, DMA_DECODE_ERROR or DMA_SLAVE_ERROR
    "moved",      # payload bytes of the transfers completed done since reset (MM2S: read from DRAM,
                  # S2MM: written to DRAM); a transfer ending in an error moves nothing
)
DMA = {name: i for i, name in enumerate(DMA_FIELDS)}
