"""Fixed-point formats and the quantisation rules shared by the compiler,
its reference simulator and quantisation-aware training.

A format ``sI.F`` is a signed 16-bit (or narrower) two's-complement number with
``I`` integer bits and ``F`` fraction bits (``1 + I + F`` bits in all), as in
FeNN's "V s6.9" or "decay s1.14". Real value = integer / 2**F.

Rounding of a real value to a format (``quantize``) is defined once here:
``nearest`` rounds half up
(floor(x * 2**F + 0.5)), which is what the vector unit's round-to-nearest
(``+ 1 << (shift-1)`` then arithmetic shift) does; ``truncate`` is floor.
Out-of-range values saturate to the format's limits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

ROUNDINGS = ("truncate", "nearest", "stochastic")

_FORMAT_RE = re.compile(r"^s(\d+)\.(\d+)$")


class FixedPointError(ValueError):
    """A format string or value that cannot be represented."""


@dataclass(frozen=True)
class FixedFormat:
    """Signed fixed-point format with ``int_bits`` integer and ``frac_bits`` fraction bits."""

    int_bits: int
    frac_bits: int

    def __post_init__(self) -> None:
        if self.int_bits < 0 or self.frac_bits < 0 or self.width > 16:
            raise FixedPointError(
                f"fixed-point format s{self.int_bits}.{self.frac_bits} needs "
                f"{self.width} bits; the vector lanes hold at most 16 (1 sign + int + frac)")

    @classmethod
    def parse(cls, text: str) -> "FixedFormat":
        """Parse ``"s6.9"``-style notation."""
        m = _FORMAT_RE.match(text.strip())
        if not m:
            raise FixedPointError(f"bad fixed-point format {text!r}: expected 'sI.F', e.g. 's6.9'")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def width(self) -> int:
        return 1 + self.int_bits + self.frac_bits

    @property
    def scale(self) -> int:
        return 1 << self.frac_bits

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def min_value(self) -> float:
        return self.min_int / self.scale

    @property
    def max_value(self) -> float:
        return self.max_int / self.scale

    def __str__(self) -> str:
        return f"s{self.int_bits}.{self.frac_bits}"

    def to_float(self, q):
        return np.asarray(q, dtype=np.float64) / self.scale


DECAY_FORMAT = FixedFormat(1, 14)   # exp(-dt/tau) decays
DECAY_SHIFT = 14                    # the shift of a multiply by a decay


def quantize(x, fmt: FixedFormat, rounding: str = "nearest", rng: np.random.Generator | None = None):
    """Real values -> saturated integers of ``fmt`` (an int64 numpy array).

    ``stochastic`` adds uniform noise in [0, 1) ulp before flooring and needs ``rng``.
    """
    scaled = np.asarray(x, dtype=np.float64) * fmt.scale
    if rounding == "truncate":
        q = np.floor(scaled)
    elif rounding == "nearest":
        q = np.floor(scaled + 0.5)
    elif rounding == "stochastic":
        if rng is None:
            raise FixedPointError("stochastic quantisation needs a numpy Generator (rng=...)")
        q = np.floor(scaled + rng.random(scaled.shape))
    else:
        raise FixedPointError(f"unknown rounding {rounding!r}; allowed: {', '.join(ROUNDINGS)}")
    return np.clip(q, fmt.min_int, fmt.max_int).astype(np.int64)


def fits(x, fmt: FixedFormat) -> bool:
    """True when every real value lies within the format's range."""
    a = np.asarray(x, dtype=np.float64)
    return bool(np.all((a >= fmt.min_value) & (a <= fmt.max_value)))


def format_for_range(lo: float, hi: float, width: int = 16) -> FixedFormat:
    """The format of ``width`` bits with the most fraction bits that holds [lo, hi]."""
    bound = max(abs(lo), abs(hi), 1e-30)
    for frac in range(width - 1, -1, -1):
        fmt = FixedFormat(width - 1 - frac, frac)
        if fmt.min_value <= lo and hi <= fmt.max_value:
            return fmt
    raise FixedPointError(f"range [{lo}, {hi}] (|x| up to {bound}) does not fit in {width} bits")
