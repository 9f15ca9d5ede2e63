"""Lane arithmetic of the vector unit (docs/isa.md section 4-5), in numpy.

One definition of every lane operation, shared by the reference ISS (on
32-lane rows) and the compiler's reference simulator (on arrays of any shape).
Inputs are int16 arrays (or anything castable); results are int16 arrays.
Products and sums are formed exactly in int64 before rounding and wrap/sat.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC, ROUND_TRUNC

INT16_MIN, INT16_MAX = -32768, 32767
LANES = 32


def wrap16(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype(np.int16)


def sat16(x) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64), INT16_MIN, INT16_MAX).astype(np.int16)


def finish(x, sat: bool) -> np.ndarray:
    return sat16(x) if sat else wrap16(x)


def _i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int16).astype(np.int64)


def rounding_addend(shift: int, rnd: int, rng_out=None) -> np.ndarray | int:
    """The r of docs/isa.md: 0 (truncate), 1 << (shift-1) (nearest), RNG & mask (stochastic).
    With shift = 0 rounding adds nothing."""
    if shift == 0 or rnd == ROUND_TRUNC:
        return 0
    if rnd == ROUND_NEAREST:
        return 1 << (shift - 1)
    if rnd == ROUND_STOCHASTIC:
        if rng_out is None:
            raise ValueError("stochastic rounding needs the RNG output")
        return np.asarray(rng_out, dtype=np.uint16).astype(np.int64) & ((1 << shift) - 1)
    raise ValueError(f"rounding mode {rnd} is illegal")


def vadd(a, b, sat=False):
    return finish(_i64(a) + _i64(b), sat)


def vsub(a, b, sat=False):
    return finish(_i64(a) - _i64(b), sat)


def vand(a, b, sat=False):
    return (np.asarray(a, dtype=np.int16) & np.asarray(b, dtype=np.int16)).astype(np.int16)


def vsll(a, amounts, sat=False):
    """rs1 * 2**amount, amount = low 5 bits of each rs2 lane; wrap gives 0 for >= 16."""
    amt = _i64(amounts) & 31
    return finish(_i64(a) << amt, sat)


def vsra(a, amounts, sat=False):
    """floor(rs1 / 2**amount), amount = low 5 bits of each rs2 lane."""
    amt = _i64(amounts) & 31
    return finish(_i64(a) >> amt, sat)


def vmul(a, b, shift: int, rnd: int = ROUND_TRUNC, sat: bool = False, rng_out=None):
    r = rounding_addend(shift, rnd, rng_out)
    return finish((_i64(a) * _i64(b) + r) >> shift, sat)


def vslli(a, shift: int):
    return wrap16(_i64(a) << shift)


def vsrai(a, shift: int, rnd: int = ROUND_TRUNC, rng_out=None):
    r = rounding_addend(shift, rnd, rng_out)
    return wrap16((_i64(a) + r) >> shift)


COMPARE = {
    "vteq": np.equal,
    "vtne": np.not_equal,
    "vtlt": np.less,
    "vtge": np.greater_equal,
}


def vtst(op: str, a, b) -> int:
    """32-bit mask, bit i = the comparison in lane i (of a 32-lane row)."""
    bits = COMPARE[op](np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16))
    return int(np.packbits(bits.astype(np.uint8), bitorder="little").view("<u4")[0])


def mask_lanes(mask: int, lanes: int = LANES) -> np.ndarray:
    """Boolean lane vector from a scalar mask (bit i -> lane i)."""
    return ((int(mask) >> np.arange(lanes)) & 1).astype(bool)


def vfill_value(x: int) -> int:
    """{x[31], x[14:0]} as a signed 16-bit value."""
    x &= 0xFFFFFFFF
    v = ((x >> 16) & 0x8000) | (x & 0x7FFF)
    return v - 0x10000 if v & 0x8000 else v


def vandadd(a, x: int, bits: int):
    return wrap16((_i64(a) & ((1 << bits) - 1)) + (int(x) & 0xFFFF))


# --- Xoroshiro32++ (docs/isa.md section 5), per lane, 16-bit arithmetic ---------

def _rol16(x: np.ndarray, k: int) -> np.ndarray:
    return ((x << k) | (x >> (16 - k))) & 0xFFFF


def rng_next(s0, s1):
    """One advance of every lane: returns (output, new s0, new s1), all uint16."""
    a = np.asarray(s0, dtype=np.uint16).astype(np.uint32)
    b = np.asarray(s1, dtype=np.uint16).astype(np.uint32)
    out = (_rol16((a + b) & 0xFFFF, 9) + a) & 0xFFFF
    b = b ^ a
    a = _rol16(a, 13) ^ b ^ ((b << 5) & 0xFFFF)
    b = _rol16(b, 10)
    return out.astype(np.uint16), a.astype(np.uint16), b.astype(np.uint16)


def vrng_value(out) -> np.ndarray:
    """VRNG lane value: RNG output >> 1 (logical), in [0, 32767]."""
    return (np.asarray(out, dtype=np.uint16) >> 1).astype(np.int16)
