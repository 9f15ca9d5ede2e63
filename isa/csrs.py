"""CSR names and numbers (isa.md section 2)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Csr:
    name: str
    number: int
    access: str  # "RW", "R" or "W"
    doc: str


CSRS: tuple[Csr, ...] = (
    Csr("mcountinhibit", 0x320, "RW", "bit 0 stops mcycle, bit 2 stops minstret; reset 0b101"),
    Csr("mcycle", 0xB00, "R", "cycles while not inhibited, low word"),
    Csr("minstret", 0xB02, "R", "retired instructions while not inhibited, low word"),
    Csr("mcycleh", 0xB80, "R", "cycles, high word"),
    Csr("minstreth", 0xB82, "R", "retired instructions, high word"),
    Csr("mhartid", 0xF14, "R", "core index"),
    Csr("mm2s_src_addr", 0xBC0, "RW", "DMA read channel: source address in DRAM"),
    Csr("mm2s_dst_addr", 0xBC1, "RW", "DMA read channel: destination byte address in VMEM"),
    Csr("mm2s_count", 0xBC2, "RW", "DMA read channel: bytes to copy"),
    Csr("mm2s_control", 0xBC3, "W", "DMA read channel: write 1 to bit 0 to start"),
    Csr("mm2s_status", 0xFC0, "R", "DMA read channel status"),
    Csr("s2mm_src_addr", 0xBD0, "RW", "DMA write channel: source byte address in VMEM"),
    Csr("s2mm_dst_addr", 0xBD1, "RW", "DMA write channel: destination address in DRAM"),
    Csr("s2mm_count", 0xBD2, "RW", "DMA write channel: bytes to copy"),
    Csr("s2mm_control", 0xBD3, "W", "DMA write channel: write 1 to bit 0 to start"),
    Csr("s2mm_status", 0xFD0, "R", "DMA write channel status"),
)

CSR_BY_NAME: dict[str, Csr] = {c.name: c for c in CSRS}
CSR_BY_NUMBER: dict[int, Csr] = {c.number: c for c in CSRS}

# Plain numbers, for code that switches on them (ISS, RTL).
MCOUNTINHIBIT = 0x320
MCYCLE, MCYCLEH, MINSTRET, MINSTRETH = 0xB00, 0xB80, 0xB02, 0xB82
MHARTID = 0xF14
MM2S_SRC_ADDR, MM2S_DST_ADDR, MM2S_COUNT, MM2S_CONTROL, MM2S_STATUS = 0xBC0, 0xBC1, 0xBC2, 0xBC3, 0xFC0
S2MM_SRC_ADDR, S2MM_DST_ADDR, S2MM_COUNT, S2MM_CONTROL, S2MM_STATUS = 0xBD0, 0xBD1, 0xBD2, 0xBD3, 0xFD0
MCOUNTINHIBIT_RESET = 0b101

# DMA status bits (same for both channels).
DMA_IDLE, DMA_STARTING, DMA_TRANSFERRING = 1 << 1, 1 << 2, 1 << 3
DMA_INTERNAL_ERROR, DMA_DECODE_ERROR, DMA_SLAVE_ERROR, DMA_DONE = 1 << 4, 1 << 5, 1 << 6, 1 << 7
DMA_MAX_COUNT = 1 << 19
DMA_ALIGN = 64


def csr_name(number: int) -> str:
    """Symbolic name where the CSR is known, else the number in hex (as GNU objdump)."""
    csr = CSR_BY_NUMBER.get(number)
    return csr.name if csr else f"0x{number:03x}"
