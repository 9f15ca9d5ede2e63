"""LIF with subtractive reset ("reset by subtraction", as in ANN-to-SNN conversion
and snnTorch's ``reset_mechanism="subtract"``): a spike takes the threshold off V
instead of setting V to a reset value, so what V had above the threshold carries
over to the next step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import MembraneLeak, NeuronModel, heaviside, one_value, register, where


@register
@dataclass
class LIFSubtract(MembraneLeak, NeuronModel):
    """Leaky integrate-and-fire with subtractive reset: spike when V > threshold,
    then ``V -= threshold``."""

    tau_mem: float | np.ndarray = 20.0
    threshold: float | np.ndarray = 1.0
    bias: float | np.ndarray = 0.0          # constant input added every step

    name = "LIFSubtract"

    def validate(self, owner: str) -> None:
        self.validate_leak(owner)

    def quantise(self, q, ctx) -> None:
        self.quantise_leak(q, ctx)
        ctx.common()
        q.params["thr"] = ctx.value(self.threshold, "threshold")

    # --- float step ------------------------------------------------------------------
    def float_fire(self, V, state: dict, dt: float, spike=heaviside):
        z = spike(V - self.threshold)
        return where(z, V - self.threshold, V), z

    # --- integer step ----------------------------------------------------------------
    @classmethod
    def int_fire(cls, q, ops, V, state: dict):
        thr = ops.par["thr"]
        z = V > thr
        return ops.where(z, ops.sub(V, thr, sat=ops.sat), V), z

    # --- emitted code ------------------------------------------------------------------
    @classmethod
    def emit_fire(cls, q, em, V: str) -> str:
        z = em.scalar_keep("spike mask")
        thr = em.par("thr")
        em.op("vtlt", z, thr, V, comment="spike: V > threshold")
        below = em.vtemp("V - threshold")
        em.op("vsub_s" if q.saturate else "vsub", below, V, thr)
        em.op("vsel", V, z, below, comment="subtractive reset")
        return z

    # --- NIR ---------------------------------------------------------------------------
    def nir_metadata(self, owner: str, dt: float) -> dict:
        return {"tau_mem_ms": one_value(owner, "tau_mem", self.tau_mem),
                "threshold": one_value(owner, "threshold", self.threshold)}

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0) -> "LIFSubtract":
        if not meta:
            raise NotImplementedError("neuron model LIFSubtract reads no NIR node of other tools")
        return cls(tau_mem=float(meta["tau_mem_ms"]), threshold=float(meta["threshold"]))
