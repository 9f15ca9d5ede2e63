"""Integrate-and-fire (IF): LIF without a leak. V keeps what it integrates until it
crosses the threshold; no membrane multiply (so one RNG draw fewer per chunk than
LIF under stochastic rounding)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import register
from .lif import ThresholdFire


@register
@dataclass
class IF(ThresholdFire):
    """Integrate-and-fire, no leak: ``V[t] = V[t-1] + input``; spike when V > threshold,
    then V = v_reset (held there for ``refractory`` ms)."""

    threshold: float | np.ndarray = 1.0
    v_reset: float | np.ndarray = 0.0
    refractory: float = 0.0
    bias: float | np.ndarray = 0.0          # constant input added every step

    name = "IF"

    def validate(self, owner: str) -> None:
        self.validate_spiking(owner)

    def quantise(self, q, ctx) -> None:
        ctx.common()
        self.quantise_spiking(q, ctx)

    # float_leak / int_leak / rng_draws: the base's (V unchanged, no multiply)
