"""Leaky integrator (LI): a readout that never spikes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import MembraneLeak, NeuronModel, one_value, register


@register
@dataclass
class LI(MembraneLeak, NeuronModel):
    """Leaky integrator readout (never spikes)."""

    tau_mem: float | np.ndarray = 20.0
    bias: float | np.ndarray = 0.0

    name = "LI"
    spiking = False

    def validate(self, owner: str) -> None:
        self.validate_leak(owner)

    def quantise(self, q, ctx) -> None:
        self.quantise_leak(q, ctx)
        ctx.common()

    # --- NIR ---------------------------------------------------------------------------
    nir_types = ("LI", "CubaLI")

    def nir_metadata(self, owner: str, dt: float) -> dict:
        return {"tau_mem_ms": one_value(owner, "tau_mem", self.tau_mem)}

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0) -> "LI":
        if meta:
            return cls(tau_mem=float(meta["tau_mem_ms"]))
        return cls(tau_mem=tau_mem, bias=bias)
