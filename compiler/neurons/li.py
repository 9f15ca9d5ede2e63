"""Leaky integrator (LI): a readout that never spikes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import NeuronModel, exp_decay, one_value, positive, register


@register
@dataclass
class LI(NeuronModel):
    """Leaky integrator readout (never spikes)."""

    tau_mem: float | np.ndarray = 20.0
    bias: float | np.ndarray = 0.0

    name = "LI"
    spiking = False

    def validate(self, owner: str) -> None:
        positive(owner, "tau_mem", self.tau_mem)

    def quantise(self, q, ctx) -> None:
        q.params["beta"] = ctx.decay(self.tau_mem, "tau_mem")
        ctx.common()

    @classmethod
    def rng_draws(cls, q) -> tuple[str, ...]:
        return ("beta",)

    def float_leak(self, V, dt: float):
        return exp_decay(dt, self.tau_mem) * V

    @classmethod
    def int_leak(cls, q, ops, V):
        return ops.mul(V, "beta")

    @classmethod
    def emit_leak(cls, q, em, V: str) -> None:
        em.mul(V, V, em.par("beta"))

    # --- NIR ---------------------------------------------------------------------------
    nir_types = ("LI", "CubaLI")

    def nir_metadata(self, owner: str, dt: float) -> dict:
        return {"tau_mem_ms": one_value(owner, "tau_mem", self.tau_mem)}

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0) -> "LI":
        if meta:
            return cls(tau_mem=float(meta["tau_mem_ms"]))
        return cls(tau_mem=tau_mem, bias=bias)
