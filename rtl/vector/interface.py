"""Memory ports through which the vector unit, the DMA and the host reach
VMEM and the LLMs. (The issue port from the core is rtl/vector_if.py.)

Directions are those of the initiator; the memories take them ``In``.
"""
from __future__ import annotations

from amaranth import unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class RowPortSignature(wiring.Signature):
    """A synchronous port of whole VMEM rows (one vector, 64 bytes by default):
    ``r_data`` holds the row addressed in the cycle ``r_en`` was high.
    ``w_en`` has one bit per byte when ``byte_writes``, else one bit."""

    def __init__(self, *, rows: int, row_bits: int, byte_writes: bool = False):
        self.rows, self.row_bits, self.byte_writes = rows, row_bits, byte_writes
        super().__init__({
            "addr": Out(range(rows)),
            "r_en": Out(1),
            "r_data": In(unsigned(row_bits)),
            "w_en": Out(row_bits // 8 if byte_writes else 1),
            "w_data": Out(unsigned(row_bits)),
        })


class LanePortSignature(wiring.Signature):
    """A synchronous port to the LLM of lane ``lane``, one 32-bit word (two
    halfwords) at word address ``addr``, with a write enable per byte."""

    def __init__(self, *, lanes: int, words: int):
        self.lanes, self.words = lanes, words
        super().__init__({
            "lane": Out(range(lanes)),
            "addr": Out(range(words)),
            "r_en": Out(1),
            "r_data": In(32),
            "w_en": Out(4),
            "w_data": Out(32),
        })
