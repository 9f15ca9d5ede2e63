"""Why the core stopped (isa.md section 6), as reported to the host."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class StopCause(str, Enum):
    """Stop causes; the value is the name used in JSON and by the RTL harness."""

    ECALL = "ecall"
    EBREAK = "ebreak"
    MISALIGNED_FETCH = "misaligned_fetch"
    FETCH_FAULT = "fetch_fault"
    ILLEGAL_INSTRUCTION = "illegal_instruction"
    MISALIGNED_LOAD = "misaligned_load"
    LOAD_FAULT = "load_fault"
    MISALIGNED_STORE = "misaligned_store"
    STORE_FAULT = "store_fault"
    RAW_HAZARD = "raw_hazard"
    MAX_INSTRUCTIONS = "max_instructions"

    def __str__(self) -> str:
        return self.value


# Order shared with the C engine, which reports causes by index (checked by name at import).
STOP_CAUSES: tuple[StopCause, ...] = tuple(StopCause)


@dataclass(frozen=True)
class Stop:
    """A stop: its cause and the pc of the instruction that caused it (for
    ``max_instructions``: the pc of the next instruction to execute)."""

    cause: StopCause
    pc: int

    @property
    def ok(self) -> bool:
        return self.cause is StopCause.ECALL

    def to_json(self) -> dict:
        return {"cause": self.cause.value, "pc": self.pc}

    def __str__(self) -> str:
        return f"{self.cause.value} at pc 0x{self.pc:x}"
