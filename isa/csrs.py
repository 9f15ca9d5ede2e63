"""CSR names and numbers (docs/isa.md section 2)."""
from __future__ import annotations

import enum


class Csr(enum.IntEnum):
    """The CSRs: the value is the number; ``asm_name`` the assembler's name (lower case),
    ``access`` "RW", "R" or "W", ``doc`` what it holds."""

    MCOUNTINHIBIT = (0x320, "RW", "bit 0 stops mcycle, bit 2 stops minstret; reset 0b101")
    MCYCLE = (0xB00, "R", "cycles while not inhibited, low word")
    MINSTRET = (0xB02, "R", "retired instructions while not inhibited, low word")
    MCYCLEH = (0xB80, "R", "cycles, high word")
    MINSTRETH = (0xB82, "R", "retired instructions, high word")
    MHARTID = (0xF14, "R", "core index")
    MM2S_SRC_ADDR = (0xBC0, "RW", "DMA read channel: source address in DRAM")
    MM2S_DST_ADDR = (0xBC1, "RW", "DMA read channel: destination byte address in VMEM")
    MM2S_COUNT = (0xBC2, "RW", "DMA read channel: bytes to copy")
    MM2S_CONTROL = (0xBC3, "W", "DMA read channel: write 1 to bit 0 to start")
    MM2S_STATUS = (0xFC0, "R", "DMA read channel status")
    S2MM_SRC_ADDR = (0xBD0, "RW", "DMA write channel: source byte address in VMEM")
    S2MM_DST_ADDR = (0xBD1, "RW", "DMA write channel: destination address in DRAM")
    S2MM_COUNT = (0xBD2, "RW", "DMA write channel: bytes to copy")
    S2MM_CONTROL = (0xBD3, "W", "DMA write channel: write 1 to bit 0 to start")
    S2MM_STATUS = (0xFD0, "R", "DMA write channel status")

    access: str
    doc: str

    def __new__(cls, number: int, access: str, doc: str):
        obj = int.__new__(cls, number)
        obj._value_ = number
        obj.access = access
        obj.doc = doc
        return obj

    @property
    def number(self) -> int:
        return int(self)

    @property
    def asm_name(self) -> str:
        return self.name.lower()


CSRS: tuple[Csr, ...] = tuple(Csr)
CSR_BY_NAME: dict[str, Csr] = {c.asm_name: c for c in CSRS}
CSR_BY_NUMBER: dict[int, Csr] = {c.number: c for c in CSRS}

# The members as module names too (csrs.MCYCLE, ...), for code that switches on numbers.
globals().update(Csr.__members__)

MCOUNTINHIBIT_RESET = 0b101

# DMA status bits (same for both channels).
DMA_IDLE, DMA_STARTING, DMA_TRANSFERRING = 1 << 1, 1 << 2, 1 << 3
DMA_INTERNAL_ERROR, DMA_DECODE_ERROR, DMA_SLAVE_ERROR, DMA_DONE = 1 << 4, 1 << 5, 1 << 6, 1 << 7
DMA_MAX_COUNT = 1 << 19
DMA_ALIGN = 64


def csr_name(number: int) -> str:
    """Symbolic name where the CSR is known, else the number in hex (as GNU objdump)."""
    csr = CSR_BY_NUMBER.get(number)
    return csr.asm_name if csr else f"0x{number:03x}"
