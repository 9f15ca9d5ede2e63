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
    ``r_data`` holds the row addressed in the cycle ``r_en`` was high."""

    def __init__(self, *, rows: int, row_bits: int):
        self.rows, self.row_bits = rows, row_bits
        super().__init__({
            "addr": Out(range(rows)),
            "r_en": Out(1),
            "r_data": In(unsigned(row_bits)),
            "w_en": Out(1),
            "w_data": Out(unsigned(row_bits)),
        })


class LanePortSignature(wiring.Signature):
    """A synchronous halfword port into the LLM of lane ``lane`` (host access)."""

    def __init__(self, *, lanes: int, halfwords: int):
        self.lanes, self.halfwords = lanes, halfwords
        super().__init__({
            "lane": Out(range(lanes)),
            "addr": Out(range(halfwords)),
            "r_en": Out(1),
            "r_data": In(16),
            "w_en": Out(1),
            "w_data": Out(16),
        })
