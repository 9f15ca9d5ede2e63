"""Stop causes as the RTL reports them (STATUS.cause, docs/rtl.md), and their
names in the ISS's state dump."""
from __future__ import annotations

import enum


class RtlCause(enum.IntEnum):
    NONE = 0
    ECALL = 1
    EBREAK = 2
    ILLEGAL_INSTRUCTION = 3
    MISALIGNED_FETCH = 4
    FETCH_FAULT = 5
    MISALIGNED_LOAD = 6
    LOAD_FAULT = 7
    MISALIGNED_STORE = 8
    STORE_FAULT = 9
    HALTED = 10          # the host stopped the core
