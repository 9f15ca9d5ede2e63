"""Adaptive LIF (ALIF): LIF with a threshold that grows with every spike."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..fixedpoint import FixedFormat, format_for_range
from .base import exp_decay, one_value, positive, register
from .lif import LIF, _zeros

DEFAULT_A_FORMAT = FixedFormat(8, 7)     # FeNN's


@register
@dataclass
class ALIF(LIF):
    """LIF with an adaptive threshold: threshold + beta * A, A decays with tau_adapt
    and grows by 1 per spike."""

    tau_adapt: float | np.ndarray = 2000.0
    beta: float | np.ndarray = 0.0174

    name = "ALIF"
    float_vars = ("A",)

    def validate(self, owner: str) -> None:
        super().validate(owner)
        positive(owner, "tau_adapt", self.tau_adapt)

    # --- quantisation -------------------------------------------------------------
    def quantise(self, q, ctx) -> None:
        """A in its declared/ranged/measured format (default s8.7); beta in the format
        that makes ``A * beta >> badapt_shift`` land in V's format."""
        super().quantise(q, ctx)
        owner, v = ctx.owner, q.v_fmt
        q.a_fmt = ctx.format("A", lambda: DEFAULT_A_FORMAT)
        if q.a_fmt.frac_bits > 14 or q.a_fmt.max_value < 1.0:
            raise ModelError(f"{owner}: A format {q.a_fmt} cannot hold the increment 1.0 per spike")
        q.params["rho"] = ctx.decay(self.tau_adapt, "tau_adapt")
        b = ctx.per_neuron(self.beta, "beta")
        try:
            bfmt = format_for_range(min(b.min(), 0.0), max(b.max(), 0.0))
        except Exception as exc:
            raise ModelError(f"{owner}: beta: {exc}") from None
        fb = min(bfmt.frac_bits, v.frac_bits + 15 - q.a_fmt.frac_bits)
        shift = q.a_fmt.frac_bits + fb - v.frac_bits
        if fb < 0 or shift < 0:
            raise ModelError(f"{owner}: beta = {b.max():g} with A {q.a_fmt} and V {v} needs a multiply "
                             f"shift of {shift}; allowed 0..15 (pick formats with A.frac <= V.frac + 15)")
        q.params["badapt"] = ctx.quant(b, FixedFormat(15 - fb, fb), "beta")
        q.badapt_shift = shift

    @classmethod
    def formats(cls, q) -> dict[str, str]:
        return {"A": str(q.a_fmt), "beta": f"A*beta>>{q.badapt_shift}"}

    @classmethod
    def state_vars(cls, q) -> tuple[str, ...]:
        return ("A",) + super().state_vars(q)

    @classmethod
    def rng_draws(cls, q) -> tuple[str, ...]:
        return ("beta", "badapt", "rho")

    # --- float step ------------------------------------------------------------------
    def float_init(self, shape, like=None) -> dict:
        return {"A": _zeros(shape, like), **super().float_init(shape, like)}

    def float_threshold(self, state: dict, dt: float):
        return self.threshold + self.beta * state["A"]

    def float_adapt(self, state: dict, z, dt: float) -> None:
        state["A"] = exp_decay(dt, self.tau_adapt) * state["A"] + z

    # --- integer step ----------------------------------------------------------------
    @classmethod
    def int_threshold(cls, q, ops, state: dict):
        return ops.add(ops.par["thr"], ops.mul(state["A"], "badapt", q.badapt_shift))

    @classmethod
    def int_adapt(cls, q, ops, state: dict, z) -> None:
        A = ops.mul(state["A"], "rho")
        state["A"] = ops.where(z, ops.add(A, ops.const(1 << q.a_fmt.frac_bits)), A)

    # --- emitted code ------------------------------------------------------------------
    @classmethod
    def constants(cls, q) -> list[tuple[str, int]]:
        return super().constants(q) + [("oneA", 1 << q.a_fmt.frac_bits)]

    @classmethod
    def emit_threshold(cls, q, em, thr: str, regs: dict) -> str:
        A = regs["A"] = em.load("A")
        t = em.vtemp("threshold")
        em.mul(t, A, em.par("badapt"), q.badapt_shift)
        em.add(t, t, thr)
        return t

    @classmethod
    def emit_adapt(cls, q, em, z: str, regs: dict) -> None:
        A = regs["A"]
        em.mul(A, A, em.par("rho"))
        t = em.vtemp("A+1")
        em.add(t, A, em.const("oneA"))
        em.op("vsel", A, z, t)
        em.store(A, "A")

    # --- NIR ---------------------------------------------------------------------------
    nir_types = ()          # other tools' graphs have no ALIF node

    def nir_metadata(self, owner: str, dt: float) -> dict:
        return {**super().nir_metadata(owner, dt), "tau_adapt_ms": one_value(owner, "tau_adapt", self.tau_adapt),
                "beta_adapt": one_value(owner, "beta", self.beta)}

    @classmethod
    def nir_parameters(cls, meta: dict, dt: float) -> dict:
        return dict(tau_adapt=float(meta["tau_adapt_ms"]), beta=float(meta["beta_adapt"]),
                    **super().nir_parameters(meta, dt))
