"""DEEP R: training with a fixed number of active connections (Bellec, Kappel,
Maass, Legenstein 2018, "Deep Rewiring: Training very sparse deep networks", ICLR).

Every potential connection ``k`` of a rewired projection has a fixed sign
``s_k`` and a parameter ``theta_k``; it is active iff ``theta_k > 0``, with
weight ``w_k = s_k theta_k``, and dormant (``w_k = 0``) otherwise. After each
optimiser step, for the active connections::

    theta <- theta - eta dE/dtheta  - eta alpha  + sqrt(2 eta T) nu,   nu ~ N(0, 1)

(gradient step, L1 prior ``alpha``, noise at temperature ``T``); dormant
``theta`` do not move. Connections whose ``theta`` reaches ``<= 0`` become
dormant, and as many dormant connections, drawn uniformly at random (among all
dormant ones, as in the reference implementation), are activated with
``theta = epsilon``, so each projection holds exactly its budget ``K`` of
active connections after every step.

Representation: the model keeps its signed weight parameter ``w`` and a
boolean connectivity mask (``SNN.set_mask``); the forward pass uses
``w * mask``, so dormant weights are exactly 0 and receive no gradient, and
``theta = s * w``. The gradient step is the model's optimiser acting on ``w``;
because SGD and Adam are elementwise and odd in the gradient, their step on
``w`` is ``s`` times their step on ``theta`` (``dE/dtheta = s dE/dw``), so this
is the same update. ``eta`` of the prior and noise terms is the optimiser's
current learning rate of the parameter's group. The optimiser state (Adam
moments) of a connection is cleared when it changes status, so a dormant
connection receives exactly no update and a new one starts afresh.

Initialisation: signs are those of the dense random initialisation; ``K``
connections are drawn without replacement and keep ``|w|`` scaled by
``1/sqrt(connectivity)`` (so a neuron's summed input has the variance of the
dense initialisation); the others start dormant.

Delays: a dormant connection's weight is 0, so its per-synapse delay gets a
zero gradient and, with its optimiser state cleared, stays frozen until the
connection is active again (it then resumes from that value). It is
irrelevant to the network: exports see a zero weight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from fenn_dma.host.errors import ConfigError


@dataclass
class DeepRConfig:
    """``connectivity``: a fraction (0, 1] for every projection into a hidden layer
    (feed-forward and recurrent), or ``{projection: fraction}`` with projection
    names ``hidden0``, ``hidden0.rec``, ..., ``readout``."""

    connectivity: float | dict = 0.1
    temperature: float = 1e-6
    l1: float = 1e-5
    epsilon: float = 1e-12       # theta of a newly activated connection (0+)
    seed: int = 0

    def validate(self) -> None:
        if self.temperature < 0:
            raise ConfigError(f"DEEP R temperature must be >= 0, got {self.temperature}")
        if self.l1 < 0:
            raise ConfigError(f"DEEP R l1 must be >= 0, got {self.l1}")
        if not self.epsilon > 0:
            raise ConfigError(f"DEEP R epsilon must be > 0, got {self.epsilon}")


def parse_connectivity(spec) -> float | dict:
    """``0.1`` / ``"0.1"`` -> 0.1; ``"hidden0=0.1,hidden0.rec=0.05"`` -> dict; dicts pass."""
    everything = "every hidden projection"
    if isinstance(spec, (int, float)):
        return _fraction(spec, everything)
    if isinstance(spec, dict):
        return {str(k): _fraction(v, str(k)) for k, v in spec.items()}
    text = str(spec).strip()
    try:
        return _fraction(float(text), everything)
    except ValueError:
        pass
    out = {}
    for item in text.split(","):
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"DEEP R connectivity {spec!r}: expected a fraction (0.1) or "
                              "projection=fraction pairs (hidden0=0.1,hidden0.rec=0.05)")
        out[name.strip()] = _fraction(value, name.strip())
    return out


def _fraction(value, name: str) -> float:
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"DEEP R connectivity of {name}: {value!r} is not a number") from None
    if not 0.0 < c <= 1.0:
        raise ConfigError(f"DEEP R connectivity of {name} must be in (0, 1], got {c}")
    return c


@dataclass
class Projection:
    """One rewired weight matrix."""

    name: str
    layer: int
    rec: bool
    budget: int                   # K: active connections, kept exact
    sign: torch.Tensor            # +1 / -1 per potential connection, fixed
    delay: torch.Tensor | None = None     # per-synapse delay parameter (frozen while dormant)
    rewired: int = field(default=0)       # activations since the last ``take_rewired``


def projection_names(model) -> dict:
    """{name: (layer index, recurrent)} of the model's weight matrices."""
    names = model.layer_names()
    out = {}
    for li, name in enumerate(names):
        out[name] = (li, False)
        if model.has_rec[li]:
            out[f"{name}.rec"] = (li, True)
    return out


class DeepR:
    """Applies DEEP R to the chosen projections of an :class:`~fenn_dma.host.snn.SNN`.
    Call :meth:`step` after every optimiser step."""

    def __init__(self, model, cfg: DeepRConfig):
        cfg.validate()
        self.model = model
        self.cfg = cfg
        self.gen = torch.Generator().manual_seed(cfg.seed)
        available = projection_names(model)
        conn = parse_connectivity(cfg.connectivity)
        if isinstance(conn, float):
            conn = {n: conn for n in available if not n.startswith(model.layer_names()[-1])}
        unknown = sorted(set(conn) - set(available))
        if unknown:
            raise ConfigError(f"DEEP R: unknown projection(s) {unknown}; allowed: {', '.join(available)}")
        self.projections: list[Projection] = []
        with torch.no_grad():
            for name, c in conn.items():
                li, rec = available[name]
                w = self._param(li, rec)
                n = w.numel()
                budget = max(1, min(n, int(round(c * n))))
                sign = torch.where(w >= 0, 1.0, -1.0).to(w)
                active = torch.zeros(n, dtype=torch.bool)
                active[torch.randperm(n, generator=self.gen)[:budget]] = True
                active = active.view_as(w).to(w.device)
                w.copy_(torch.where(active, w / math.sqrt(budget / n), torch.zeros_like(w)))
                model.set_mask(li, rec, active)
                delay = model.d[li] if (not rec and model.cfg.delay_mode == "synapse") else None
                self.projections.append(Projection(name, li, rec, budget, sign, delay))

    def _param(self, li: int, rec: bool) -> torch.nn.Parameter:
        return self.model.w_rec[li] if rec else self.model.w[li]

    def active(self) -> dict:
        """{projection: number of active connections}."""
        return {p.name: int(self.model.mask(p.layer, p.rec).sum()) for p in self.projections}

    def budgets(self) -> dict:
        return {p.name: p.budget for p in self.projections}

    def take_rewired(self) -> dict:
        """{projection: connections activated since the last call}."""
        out = {p.name: p.rewired for p in self.projections}
        for p in self.projections:
            p.rewired = 0
        return out

    @torch.no_grad()
    def step(self, optimizer: torch.optim.Optimizer | None = None, lr: float | None = None) -> None:
        """Prior, noise, pruning and rewiring after the optimiser's gradient step.
        ``eta`` is ``lr`` if given, else the optimiser's learning rate of the weight."""
        for p in self.projections:
            w = self._param(p.layer, p.rec)
            was = self.model.mask(p.layer, p.rec)
            eta = lr if lr is not None else _group_lr(optimizer, w)
            theta = p.sign * w
            noise = torch.randn(w.shape, generator=self.gen, dtype=w.dtype).to(w.device)
            theta = torch.where(was, theta - eta * self.cfg.l1
                                + math.sqrt(2.0 * eta * self.cfg.temperature) * noise, theta)
            alive = was & (theta > 0)
            missing = p.budget - int(alive.sum())
            if missing > 0:
                dormant = torch.nonzero(~alive.flatten()).flatten().cpu()
                pick = dormant[torch.randperm(len(dormant), generator=self.gen)[:missing]].to(w.device)
                alive.view(-1)[pick] = True
                theta.view(-1)[pick] = self.cfg.epsilon
                p.rewired += missing
            w.copy_(torch.where(alive, p.sign * theta, torch.zeros_like(w)))
            changed = alive != was
            was.copy_(alive)
            if optimizer is not None and bool(changed.any()):
                _clear_state(optimizer, w, changed)
                if p.delay is not None:
                    _clear_state(optimizer, p.delay, changed)


def _group_lr(optimizer, param) -> float:
    if optimizer is None:
        raise ConfigError("DeepR.step needs the optimiser or an explicit lr")
    for g in optimizer.param_groups:
        if any(q is param for q in g["params"]):
            return float(g["lr"])
    raise ConfigError("DEEP R: the rewired weight is not in the optimiser")


def _clear_state(optimizer, param, where: torch.Tensor) -> None:
    """Zero the per-element optimiser state (Adam moments, momentum) of ``param`` at ``where``."""
    for v in optimizer.state.get(param, {}).values():
        if torch.is_tensor(v) and v.shape == param.shape:
            v.masked_fill_(where, 0)
