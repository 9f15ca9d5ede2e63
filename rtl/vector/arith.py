"""Small arithmetic helpers shared by the lane units."""
from __future__ import annotations

from amaranth import Mux, Value, signed

INT16_MIN, INT16_MAX = -32768, 32767


def saturate16(value: Value) -> Value:
    """``value`` (signed, any width) clamped to int16."""
    return Mux(value > INT16_MAX, INT16_MAX, Mux(value < INT16_MIN, INT16_MIN, wrap16(value)))


def wrap16(value: Value) -> Value:
    return value[:16].as_signed()


def finish16(value: Value, sat: Value) -> Value:
    """Saturate when ``sat`` is high, else keep the low 16 bits."""
    return Mux(sat, saturate16(value), wrap16(value))


S16 = signed(16)
