"""Leaky integrate-and-fire (LIF)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .base import MembraneLeak, NeuronModel, heaviside, one_value, per_neuron, register, where


def _zeros(shape, like=None):
    if like is not None and type(like).__module__.split(".")[0] == "torch":
        import torch
        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    return np.zeros(shape)


class ThresholdFire(NeuronModel):
    """What models that spike like LIF share (not registered; no fields of its own):
    attributes ``threshold``, ``v_reset``, ``refractory`` (ms) and ``bias``. While
    refractory, V is held at v_reset; a spike when V > threshold (+ the adaptive part
    of ``float_threshold``/``int_threshold``) resets V to v_reset and starts the
    refractory count. Subclasses add the leak (or none) and any adaptation."""

    def validate_spiking(self, owner: str) -> None:
        if self.refractory < 0:
            raise ModelError(f"{owner}: refractory must be >= 0 ms, got {self.refractory}")

    # --- quantisation -------------------------------------------------------------
    def quantise_spiking(self, q, ctx) -> None:
        """Threshold, reset and refractory period."""
        q.params["thr"] = ctx.value(self.threshold, "threshold")
        q.params["reset"] = ctx.value(self.v_reset, "v_reset")
        q.refractory = int(round(self.refractory / ctx.dt))
        if q.refractory > 32767:
            raise ModelError(f"{ctx.owner}: refractory period of {q.refractory} steps exceeds 32767")

    @classmethod
    def state_vars(cls, q) -> tuple[str, ...]:
        return ("rc",) if q.refractory > 0 else ()

    # --- float step ------------------------------------------------------------------
    def float_init(self, shape, like=None) -> dict:
        return {"rc": _zeros(shape, like)}

    def float_threshold(self, state: dict, dt: float):
        return self.threshold + 0.0

    def float_adapt(self, state: dict, z, dt: float) -> None:
        """After the spike: adaptation (none here)."""

    def float_fire(self, V, state: dict, dt: float, spike=heaviside):
        ref = int(round(self.refractory / dt))
        if ref > 0:
            state["rc"] = state["rc"] - 1
            V = where(state["rc"] >= 0, self.v_reset, V)     # held at v_reset
        z = spike(V - self.float_threshold(state, dt))
        V = where(z, self.v_reset, V)
        if ref > 0:
            state["rc"] = where(z, ref, state["rc"])
        self.float_adapt(state, z, dt)
        return V, z

    # --- integer step ----------------------------------------------------------------
    @classmethod
    def int_threshold(cls, q, ops, state: dict):
        return ops.par["thr"]

    @classmethod
    def int_adapt(cls, q, ops, state: dict, z) -> None:
        """After the spike: adaptation (none here)."""

    @classmethod
    def int_fire(cls, q, ops, V, state: dict):
        reset = ops.par["reset"]
        if q.refractory > 0:
            state["rc"] = ops.sub(state["rc"], ops.const(1))
            V = ops.where(state["rc"] >= 0, reset, V)          # held at v_reset
        z = V > cls.int_threshold(q, ops, state)
        V = ops.where(z, reset, V)
        if q.refractory > 0:
            state["rc"] = ops.where(z, ops.const(q.refractory), state["rc"])
        cls.int_adapt(q, ops, state, z)
        return V, z

    # --- emitted code ------------------------------------------------------------------
    @classmethod
    def constants(cls, q) -> list[tuple[str, int]]:
        return [("one", 1), ("R", q.refractory)] if q.refractory > 0 else []

    @classmethod
    def emit_threshold(cls, q, em, thr: str, regs: dict) -> str:
        """The register holding this chunk's threshold (``regs``: passed on to
        ``emit_adapt``)."""
        return thr

    @classmethod
    def emit_adapt(cls, q, em, z: str, regs: dict) -> None:
        """After the spike (mask ``z``): adaptation (none here)."""

    @classmethod
    def emit_fire(cls, q, em, V: str) -> str:
        z = em.scalar_keep("spike mask")
        rc = None
        if q.refractory > 0:
            rc = em.load("rc")
            with em.scalar("refractory mask") as held:
                em.op("vsub_s", rc, rc, em.const("one"))
                em.op("vtge", held, rc, em.zero, comment="refractory: rc >= 0")
                em.op("vsel", V, held, em.par("reset"), comment="held at v_reset")
        regs: dict = {}
        thr = cls.emit_threshold(q, em, em.par("thr"), regs)
        em.op("vtlt", z, thr, V, comment="spike: V > threshold")
        em.op("vsel", V, z, em.par("reset"))
        if rc is not None:
            em.op("vsel", rc, z, em.const("R"))
            em.store(rc, "rc")
        cls.emit_adapt(q, em, z, regs)
        return z

    # --- NIR ---------------------------------------------------------------------------
    def nir_metadata(self, owner: str, dt: float) -> dict:
        if np.any(np.asarray(self.v_reset) != 0):
            raise ModelError(f"{owner}: v_reset = {self.v_reset!r}; a NIR file written here resets to 0")
        return {"threshold": one_value(owner, "threshold", self.threshold),
                "refractory": int(round(float(self.refractory) / dt))}

    @classmethod
    def nir_parameters(cls, meta: dict, dt: float) -> dict:
        """Constructor arguments from a node's fenn_dma metadata."""
        return dict(threshold=float(meta["threshold"]), refractory=float(meta.get("refractory", 0)) * dt)

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0):
        if not meta:
            raise NotImplementedError(f"neuron model {cls.name} reads no NIR node of other tools")
        return cls(**cls.nir_parameters(meta, dt))


@register
@dataclass
class LIF(MembraneLeak, ThresholdFire):
    """Leaky integrate-and-fire. ``refractory`` in ms (rounded to steps)."""

    tau_mem: float | np.ndarray = 20.0
    threshold: float | np.ndarray = 1.0
    v_reset: float | np.ndarray = 0.0
    refractory: float = 0.0
    bias: float | np.ndarray = 0.0          # constant input added every step

    name = "LIF"

    def validate(self, owner: str) -> None:
        self.validate_leak(owner)
        self.validate_spiking(owner)

    def quantise(self, q, ctx) -> None:
        self.quantise_leak(q, ctx)
        ctx.common()
        self.quantise_spiking(q, ctx)

    # --- NIR ---------------------------------------------------------------------------
    nir_types = ("LIF", "IF", "CubaLIF")        # NIR's IF: an LIF without leak (tau_mem = inf)

    def nir_metadata(self, owner: str, dt: float) -> dict:
        return {"tau_mem_ms": one_value(owner, "tau_mem", self.tau_mem), **super().nir_metadata(owner, dt)}

    @classmethod
    def nir_parameters(cls, meta: dict, dt: float) -> dict:
        return dict(tau_mem=float(meta["tau_mem_ms"]), **super().nir_parameters(meta, dt))

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0) -> "LIF":
        if meta:
            return super().from_nir(node, meta, dt)
        n = np.asarray(tau_mem).size
        v_reset = per_neuron(node.v_reset, n) if getattr(node, "v_reset", None) is not None else 0.0
        return cls(tau_mem=tau_mem, threshold=per_neuron(node.v_threshold, n), v_reset=v_reset, bias=bias)
