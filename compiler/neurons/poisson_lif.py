"""LIF with independent Poisson input generated on the core (a background such
as the cortical microcircuit's K_ext inputs at nu_bg each, NEST's
``poisson_generator`` onto every neuron): no host traffic and no synapses.

Per step and neuron the number of input spikes N ~ Poisson(lambda), lambda =
``poisson_rate`` (Hz) x dt, is drawn by inverse CDF from one ``vrng`` value u
(15 bits, uniform in [0, 32768)): N = #{k >= 1 : u < th_k}, th_k =
round(P(N >= k) 32768), with as many levels k as have th_k > 0 for some
neuron (at most ``MAX_LEVELS``). Each adds ``poisson_weight`` (V's format) to
the bias's current (the first exponential one, else V), saturating, level by
level: ``vtlt`` / ``vadd_s`` / ``vsel`` per level, 3 instructions and one
parameter load per chunk. The draw is one RNG advance per chunk, between the
synapse decays and the leak (``rng_draws``: "poisson", "beta"; after the leak
when the input goes onto V), under every rounding. The float simulation draws N from numpy (``float_seed``), the
distribution the thresholds quantise.

Bias dither (``dither_bias``, on by default): the bias b (V's format) is added
to the current every step, so its rounding error r (|r| <= 1/2 LSB) shifts the
steady V by r / ((1 - alpha)(1 - beta)) LSB: about 0.5 mV at dt = 0.1 ms,
tau_syn 0.5 ms, tau_m 10 ms in s6.9 (measured on the microcircuit). With the
dither, sign(r) LSB is added with probability |r| (u >= 32768 - round(|r|
32768), the top of the same uniform whose bottom holds the Poisson levels, so
the two never coincide while P(N >= 1) + |r| < 1): exact on average, 1 LSB of
noise per step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fenn_dma.sim import lanes as L

from ..errors import ModelError
from .base import register
from .lif import LIF

RNG_LEVELS = 1 << 15        # vrng values: [0, 32767]
MAX_LEVELS = 16


def _levels(lam: np.ndarray) -> np.ndarray:
    """(levels, n) thresholds th_k = round(P(N >= k) 32768) for k = 1.. while any is > 0."""
    out = []
    pmf = np.exp(-lam)                        # P(N = 0)
    cdf = pmf.copy()
    for k in range(1, MAX_LEVELS + 2):
        th = np.minimum(np.round((1.0 - cdf) * RNG_LEVELS), RNG_LEVELS - 1).astype(np.int64)
        if not th.any():
            return np.array(out, np.int64).reshape(len(out), lam.size)
        if k > MAX_LEVELS:
            raise ModelError(f"poisson_rate gives up to {lam.max():.3g} input spikes per step; more than "
                             f"{MAX_LEVELS} levels of the per-step count are needed (use a smaller dt or rate)")
        out.append(th)
        pmf = pmf * lam / k
        cdf = cdf + pmf
    raise AssertionError("unreachable")


@register
@dataclass
class PoissonLIF(LIF):
    """LIF plus per-neuron Poisson input: ``poisson_rate`` (Hz, total over the
    neuron's inputs) spikes of ``poisson_weight`` each; both scalars or per-neuron."""

    poisson_rate: float | np.ndarray = 0.0
    poisson_weight: float | np.ndarray = 0.0
    float_seed: int = 0                     # numpy seed of float_sim's draws
    # the bias's rounding error r (|r| <= 1/2 LSB) added back as +-1 LSB with probability |r|
    # per step, from the top of the same uniform (unbiased in time; see the module docstring)
    dither_bias: bool = True

    name = "PoissonLIF"

    def validate(self, owner: str) -> None:
        super().validate(owner)
        r = np.asarray(self.poisson_rate, np.float64)
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise ModelError(f"{owner}: poisson_rate must be finite and >= 0 Hz")

    def quantise(self, q, ctx) -> None:
        super().quantise(q, ctx)
        lam = ctx.per_neuron(self.poisson_rate, "poisson_rate") * ctx.dt * 1e-3
        th = _levels(lam)
        q.params["pois_w"] = ctx.value(self.poisson_weight, "poisson_weight")
        for k, row in enumerate(th):
            q.params[f"pois_th{k + 1}"] = row
        q.extra["poisson_levels"] = len(th)
        q.extra["dither"] = False
        if self.dither_bias:
            exact = ctx.per_neuron(getattr(self, "bias", 0.0), "bias") * q.v_fmt.scale
            r = exact - q.params["bias"]                            # in [-1/2, 1/2] LSB
            p = np.round(np.abs(r) * RNG_LEVELS).astype(np.int64)
            if p.any():
                q.params["dith_w"] = np.where(p > 0, np.sign(r), 0).astype(np.int64)
                q.params["dith_th"] = RNG_LEVELS - p            # u >= this: probability |r|
                q.extra["dither"] = True

    @staticmethod
    def draws(q) -> bool:
        """Whether the update reads the RNG (Poisson levels or a bias dither)."""
        return bool(q.extra.get("poisson_levels") or q.extra.get("dither"))

    @classmethod
    def rng_draws(cls, q) -> tuple[str, ...]:
        # onto the current: drawn before the leak; onto V (no exponential synapse): after it
        leak = super().rng_draws(q)
        if not cls.draws(q):
            return leak
        return ("poisson",) + leak if q.bias_group is not None else leak + ("poisson",)

    @classmethod
    def rng_samples(cls, q) -> tuple[str, ...]:
        return ("poisson",) if cls.draws(q) else ()

    # --- float step ---------------------------------------------------------------
    def float_init(self, shape, like=None) -> dict:
        return {**super().float_init(shape, like), "poisson_rng": np.random.default_rng(self.float_seed)}

    def float_input(self, state: dict, shape, dt: float):
        lam = np.broadcast_to(np.asarray(self.poisson_rate, np.float64) * dt * 1e-3, shape)
        return state["poisson_rng"].poisson(lam) * np.asarray(self.poisson_weight, np.float64)

    # --- integer step -------------------------------------------------------------
    @classmethod
    def int_input(cls, q, ops, x):
        if not cls.draws(q):
            return x
        u = L.vrng_value(ops.rng["poisson"])
        w = ops.par["pois_w"]
        for k in range(q.extra["poisson_levels"]):
            x = ops.where(u < ops.par[f"pois_th{k + 1}"], ops.add(x, w), x)
        if q.extra["dither"]:
            x = ops.where(u >= ops.par["dith_th"], ops.add(x, ops.par["dith_w"]), x)
        return x

    # --- emitted code -------------------------------------------------------------
    @classmethod
    def emit_input(cls, q, em, x: str) -> None:
        if not cls.draws(q):
            return
        u = em.tmp("poisson u")
        em.op("vrng", u, comment="Poisson input: one uniform per lane")
        w = em.par("pois_w")
        s = em.tmp("x + poisson w")
        th = em.tmp("poisson threshold")          # one register for every level's threshold
        for k in range(q.extra["poisson_levels"]):
            with em.scalar(f"poisson level {k + 1}") as m:
                em.op("vtlt", m, u, em.par_into(f"pois_th{k + 1}", th), comment=f"u < P(N >= {k + 1})")
                em.add(s, x, w)
                em.op("vsel", x, m, s)
        if q.extra["dither"]:
            with em.scalar("bias dither") as m:
                em.op("vtge", m, u, em.par_into("dith_th", th), comment="u >= 1 - |bias rounding error|")
                em.add(s, x, em.par_into("dith_w", th))
                em.op("vsel", x, m, s)

    # NIR: written as its LIF while the Poisson input is off (NIR has no node for it);
    # no other tool's node reads as PoissonLIF
    nir_types = ()

    def nir_metadata(self, owner: str, dt: float) -> dict:
        if np.any(np.asarray(self.poisson_rate) != 0):
            raise ModelError(f"{owner}: a PoissonLIF's on-core Poisson input has no NIR form")
        return super().nir_metadata(owner, dt)

