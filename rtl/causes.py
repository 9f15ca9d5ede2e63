"""Stop causes as the RTL reports them (STATUS.cause, docs/rtl.md): the numeric
view of ``isa.causes.StopCause`` (same member names, its ``code``s) as an
Amaranth-compatible shape. ``StopCause.from_code(n)`` names a STATUS.cause value."""
from __future__ import annotations

import enum

from fenn_dma.isa.causes import StopCause

RtlCause = enum.IntEnum("RtlCause", [(c.name, c.code) for c in sorted(
    (c for c in StopCause if c.code is not None), key=lambda c: c.code)])
RtlCause.__module__ = __name__
