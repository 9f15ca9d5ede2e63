"""Interfaces of the vector unit: the issue port from the core, and the
memory ports through which the DMA and the host reach VMEM and the LLMs.

Directions are those of the initiator (the core, the DMA or host bridge);
the vector unit and the memories take them ``In`` (flipped).
"""
from __future__ import annotations

from amaranth import unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.sim.stop import StopCause

from .decoder import VectorControl


class VectorFault(enum.Enum, shape=3):
    """Why a vector instruction stopped the core (isa.md section 6)."""
    NONE = 0
    MISALIGNED_LOAD = 1
    LOAD_FAULT = 2
    MISALIGNED_STORE = 3
    STORE_FAULT = 4

    @property
    def stop_cause(self) -> StopCause | None:
        return None if self is VectorFault.NONE else StopCause(self.name.lower())


class VectorIssueSignature(wiring.Signature):
    """One vector instruction per cycle, from the core's execute stage.

    ``valid`` is high for exactly one cycle per instruction, and only for an
    instruction that will retire unless the vector unit itself faults: the
    unit commits its effects (VMEM/LLM writes, RNG advance, the register
    write one cycle later) on that cycle. ``x_rs1``/``x_rs2`` are the scalar
    operands (after the core's forwarding). Answered in the same cycle:
    ``x_result`` (the VTST mask or the VEXTRACT lane, for x[rd]) and
    ``fault`` with its cause (the instruction must then not retire; the unit
    has already suppressed all of its effects).
    """

    def __init__(self):
        super().__init__({
            "valid": Out(1),
            "ctrl": Out(VectorControl),
            "x_rs1": Out(32),
            "x_rs2": Out(32),
            "x_result": In(32),
            "fault": In(1),
            "fault_cause": In(VectorFault),
        })


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
