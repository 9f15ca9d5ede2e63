"""Why the core stopped (docs/isa.md, exceptions), as reported to the host. The causes
themselves are ``isa.causes.StopCause``, shared with the RTL."""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.isa.causes import StopCause

# The causes the ISS reports, in the order shared with the C engine, which reports causes by
# index (checked by name at import).
STOP_CAUSES: tuple[StopCause, ...] = tuple(c for c in StopCause if c.iss)


class Stop(namedtuple("Stop", "cause pc")):
    """A stop: its cause and the pc of the instruction that caused it (for
    ``max_instructions``: the pc of the next instruction to execute). An immutable
    record (a named tuple: the ISS starts without the dataclasses module)."""

    __slots__ = ()
    cause: StopCause
    pc: int

    @property
    def ok(self) -> bool:
        return self.cause is StopCause.ECALL

    def to_json(self) -> dict:
        return {"cause": self.cause.value, "pc": self.pc}

    def __str__(self) -> str:
        return f"{self.cause.value} at pc 0x{self.pc:x}"
