"""Why a run stopped: one enum for the ISS, the C engine, the RTL and the host.

``value`` is the cause's name (the JSON state of both backends, the C
engine's list); ``code`` is the number the RTL reports in STATUS.cause
(docs/rtl.md), None for the causes only the ISS reports; ``iss`` says whether
the ISS can report it. The RTL's Amaranth shape (rtl/causes.py) and the ISS's
list in C order (sim/stop.py) are derived from this enum.
"""
from __future__ import annotations

import enum


class StopCause(str, enum.Enum):
    # The ISS's causes first, in the order of the C engine's CAUSE_LIST (checked by name at import).
    ECALL = ("ecall", 1, True)
    EBREAK = ("ebreak", 2, True)
    MISALIGNED_FETCH = ("misaligned_fetch", 4, True)
    FETCH_FAULT = ("fetch_fault", 5, True)
    ILLEGAL_INSTRUCTION = ("illegal_instruction", 3, True)
    MISALIGNED_LOAD = ("misaligned_load", 6, True)
    LOAD_FAULT = ("load_fault", 7, True)
    MISALIGNED_STORE = ("misaligned_store", 8, True)
    STORE_FAULT = ("store_fault", 9, True)
    RAW_HAZARD = ("raw_hazard", None, True)              # the load-use rule broken (the RTL need not detect it)
    MAX_INSTRUCTIONS = ("max_instructions", None, True)  # the ISS's instruction limit
    # The RTL's own.
    NONE = ("none", 0, False)                            # not stopped (yet)
    HALTED = ("max_cycles", 10, False)                   # the host halted the core (at the harness's cycle limit)

    code: int | None
    iss: bool

    def __new__(cls, name: str, code: int | None, iss: bool):
        obj = str.__new__(cls, name)
        obj._value_ = name
        obj.code = code
        obj.iss = iss
        return obj

    def __str__(self) -> str:
        return self.value

    @classmethod
    def from_code(cls, code: int) -> "StopCause":
        """The cause of an RTL STATUS.cause number."""
        for c in cls:
            if c.code == code:
                return c
        raise ValueError(f"no stop cause has RTL code {code}")


CAUSE_BITS = 4   # width of STATUS.cause
assert len({c.code for c in StopCause if c.code is not None}) == sum(c.code is not None for c in StopCause)
assert all(c.code is None or 0 <= c.code < 1 << CAUSE_BITS for c in StopCause)
