"""Small arithmetic helpers shared by the lane units."""
from __future__ import annotations

from amaranth import Mux, Value, signed

INT16_MIN, INT16_MAX = -32768, 32767


def saturate16(value: Value) -> Value:
    """``value`` (signed, any width) clamped to int16. A signed value is in int16 when its
    bits 15 and up all equal its sign bit: that test (a reduction of the high bits) decides,
    not a compare of the whole width against the bounds (a carry chain after the operation)."""
    if not value.shape().signed:
        raise TypeError(f"saturate16 needs a signed value, not {value.shape()!r}")
    width = len(value)
    if width <= 16:
        return wrap16(value)
    sign = value[width - 1]
    high = value[15:width - 1]
    in_range = Mux(sign, high.all(), ~high.any())
    return Mux(in_range, wrap16(value), Mux(sign, INT16_MIN, INT16_MAX))


def wrap16(value: Value) -> Value:
    return value[:16].as_signed()


def finish16(value: Value, sat: Value) -> Value:
    """Saturate when ``sat`` is high, else keep the low 16 bits."""
    return Mux(sat, saturate16(value), wrap16(value))


S16 = signed(16)
