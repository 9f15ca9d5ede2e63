"""The DMA engine's wiring signatures, from the initiator's side (``.flip()`` or
``In(...)`` at the target), as rtl/bus.py does for the buses."""
from __future__ import annotations

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import DmaConfig

CSR_ADDR_BITS = 12
HOST_WORD_BITS = 4       # word offsets of the DMA block in the host's control window (hostmap.DMA_*)


def csr_port_signature() -> wiring.Signature:
    """The core's CSR access: ``addr`` is the CSR number; ``r_data`` is combinational
    (0 for a number that is not the DMA's); ``w_en`` writes ``w_data`` at the clock edge."""
    return wiring.Signature({
        "addr": Out(CSR_ADDR_BITS), "r_data": In(32), "w_en": Out(1), "w_data": Out(32),
    })


def host_port_signature() -> wiring.Signature:
    """The host's access through the AXI4-Lite window: ``addr`` the word offset in the DMA
    block, ``r_data`` combinational (the SoC registers it), byte writes under ``w_strb``."""
    return wiring.Signature({
        "addr": Out(HOST_WORD_BITS), "r_data": In(32), "w_en": Out(1), "w_data": Out(32), "w_strb": Out(4),
    })


def command_layout(config: DmaConfig) -> data.StructLayout:
    """One transfer as the channel registers latch it: DRAM byte address, first VMEM row, rows."""
    return data.StructLayout({
        "dram": config.addr_bits,
        "row": range(config.vmem_rows),
        "rows": range(config.max_rows + 1),
    })


def channel_signature(config: DmaConfig) -> wiring.Signature:
    """Channel registers -> data engine. ``cmd`` is taken while the engine is idle;
    ``first``: the first data beat moved on the bus (R accepted / W sent), a pulse;
    ``done``: the transfer ended (a pulse) with the bus response ``resp`` (OKAY, or the
    first SLVERR/DECERR)."""
    return wiring.Signature({
        "cmd": Out(stream.Signature(command_layout(config))),
        "first": In(1), "done": In(1), "resp": In(2),
    })


def row_write_signature(config: DmaConfig) -> stream.Signature:
    """A whole VMEM row to write (MM2S -> VMEM)."""
    return stream.Signature(data.StructLayout({"row": range(config.vmem_rows), "data": 8 * config.row_bytes}))


def row_read_signature(config: DmaConfig) -> wiring.Signature:
    """A VMEM row read (S2MM <- VMEM): ``req`` names the row; ``data`` holds it in the
    cycle after the request was taken, when ``data_valid`` is high (no back-pressure:
    the reader reserves room first)."""
    return wiring.Signature({
        "req": Out(stream.Signature(range(config.vmem_rows))),
        "data": In(8 * config.row_bytes), "data_valid": In(1),
    })
