"""EventProp: exact event-based gradients of spiking networks (Wunderlich & Pehle,
Sci. Rep. 11:12829, 2021), for weights and per-synapse delays, as mlGeNN computes them.

Model (the same discrete dynamics as ``host/network.py``, so a network trained here
exports and deploys unchanged). Per population, ``alpha = exp(-dt/tau_syn)``,
``beta = exp(-dt/tau_mem)``, per step ``t``::

    I[t] = alpha I[t-1] + (arrivals into slot t)
    V[t] = beta V[t-1] + I[t];   LIF: z[t] = V[t] > threshold, V[t] = 0 where z[t]

A spike emitted at step ``s`` over a synapse of delay ``D`` steps arrives in slot
``s + 1 + D`` (the project's one step of latency). This is the *exact* per-step
integration of the continuous model

    dI/dt = -I / tau_syn  (+ w at each arrival),   dV/dt = -V / tau_mem + kappa I

sampled at ``t dt``, with ``kappa = (1/tau_mem - 1/tau_syn) / (alpha - beta)`` (so that
a unit jump of ``I`` raises ``V`` by exactly 1 one step later) and a spike arriving at
time ``(s + D) dt``. Delays are continuous parameters in steps, rounded (to nearest)
in the forward pass.

Forward pass: only the spike times (step) of every hidden neuron and, per spike,
``Vdot- = kappa I - threshold / tau_mem`` (the "I - V" value of mlGeNN in this
normalisation: dV/dt just before the spike) are kept, as one event list per block of
``CHUNK`` steps, at most ``max_spikes`` per neuron and sample (the memory grows with the
spikes, not with T); a neuron firing more often is a :class:`SpikeBufferOverflow`
naming the population. The readout keeps its running sum (or max and argmax).
Both passes run in blocks of ``CHUNK`` steps: what is linear in a block (projections,
the jumps' feed-forward ``G``, weight and delay gradients) is one GEMM per delay value,
and per step only the neuron (adjoint) update and the recurrent GEMM remain.

Backward pass, reverse time, all layers together, adjoints ``lam_V`` (dL/dV after the
reset) / ``lam_U`` (dL/dV before it) / ``lam_I``::

    lam_V[t] = g[t] + beta lam_U[t+1]          g = dL/dV[t] of the readout loss
    lam_U[t] = lam_V[t]                        no spike at t
             = (Vdot+ lam_V[t] - G) / Vdot-    spike at t (jump condition), Vdot+ = kappa I
    lam_I[t] = lam_U[t] + alpha lam_I[t+1]
    G        = sum over the spike's arrivals a (slot t_a, weight w) of
               w (lam_I[t_a] / tau_syn - kappa lam_U[t_a])     (= dL/d t_arrival)
    dL/dw    = sum over arrivals of lam_I[t_a]
    dL/dd    = sum over arrivals of w (lam_I[t_a] / tau_syn - kappa lam_U[t_a]) dt   (d in steps)

The linear part is the exact discrete adjoint of the forward (readout weights and all
sub-threshold paths agree with autograd to rounding); the jump is the continuous-time
one, so the hidden gradients are those of the continuous model as ``dt -> 0`` (checked
against ``host/event_reference.py``; docs/training.md has the table).

Spike-count regularisation: the function returns each hidden population's spike
counts; a loss term on them (e.g. :func:`spike_count_penalty`) enters the backward pass
as mlGeNN does, as ``G -= dL/dcount`` at every spike of that neuron (the exact gradient
of a count is zero almost everywhere; this is the usual heuristic).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fenn_dma.host.errors import ConfigError
from fenn_dma.host.snn import SpikeFn

READOUTS = ("sum", "max")
VDOT_FLOOR = 1e-3          # Vdot- is clamped to >= VDOT_FLOOR * threshold / tau_mem
CHUNK = 64                 # both passes run in blocks of this many steps (buffers B x (64 + max delay) x n)


class SpikeBufferOverflow(ConfigError):
    """A neuron fired more spikes in one sample than its EventProp spike buffer holds
    (``population``: its name, ``worst``: the busiest neuron's count)."""


@dataclass(frozen=True)
class Population:
    """One population's static parameters (times in ms)."""

    name: str
    size: int
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    threshold: float = 1.0
    dt: float = 1.0
    spiking: bool = True           # False: the LI readout
    recurrent: bool = False
    max_spikes: int = 64           # bound on the spikes kept per neuron per sample
    tau_adapt: float = 0.0         # ms; ALIF (with beta_adapt != 0): threshold + beta_adapt * A
    beta_adapt: float = 0.0

    def __post_init__(self):
        if self.tau_mem <= 0 or self.tau_syn <= 0 or self.dt <= 0:
            raise ConfigError(f"population {self.name}: tau_mem, tau_syn and dt must be > 0 ms")
        if self.max_spikes < 1:
            raise ConfigError(f"population {self.name}: max_spikes must be >= 1, got {self.max_spikes}")
        if self.beta_adapt != 0 and (self.tau_adapt <= 0 or not self.spiking):
            raise ConfigError(f"population {self.name}: adaptation (beta_adapt {self.beta_adapt}) needs a spiking "
                              f"population and tau_adapt > 0 ms, got {self.tau_adapt}")

    @property
    def adaptive(self) -> bool:
        """ALIF: the threshold rises by ``beta_adapt`` per unit of ``A`` (decay ``rho``, +1 per spike)."""
        return self.beta_adapt != 0

    @property
    def rho(self) -> float:
        return math.exp(-self.dt / self.tau_adapt) if self.adaptive else 0.0

    @property
    def alpha(self) -> float:
        return math.exp(-self.dt / self.tau_syn)

    @property
    def beta(self) -> float:
        return math.exp(-self.dt / self.tau_mem)

    @property
    def kappa(self) -> float:
        """Gain of the continuous model whose exact per-step solution is the discrete one."""
        a, b = self.alpha, self.beta
        if abs(self.tau_mem - self.tau_syn) < 1e-12 * self.tau_mem:
            return math.exp(self.dt / self.tau_mem) / self.dt
        return (1.0 / self.tau_mem - 1.0 / self.tau_syn) / (a - b)


@dataclass(frozen=True)
class Spec:
    """The network: populations (hidden..., readout) and the readout reduction."""

    n_inputs: int
    pops: tuple
    readout: str = "sum"           # "sum": scores = mean_t V (the project's "mean"); "max": max_t V

    def __post_init__(self):
        if self.readout not in READOUTS:
            raise ConfigError(f"EventProp readout {self.readout!r}; allowed: {', '.join(READOUTS)}")
        if not self.pops or self.pops[-1].spiking or any(not p.spiking for p in self.pops[:-1]):
            raise ConfigError("EventProp needs spiking hidden populations and a non-spiking readout last")
        if self.pops[-1].recurrent:
            raise ConfigError(f"population {self.pops[-1].name}: the readout cannot be recurrent")


def _round_delays(D: torch.Tensor | None) -> torch.Tensor | None:
    if D is None:
        return None
    return torch.round(D.detach()).clamp(min=0).to(torch.int64)


def _groups(W: torch.Tensor, Dr: torch.Tensor | None):
    """[(delay, mask or None)] of a projection (mask None: every synapse has that delay)."""
    if Dr is None or Dr.numel() == 0:
        return [(0, None)]
    vals = torch.unique(Dr).tolist()
    if len(vals) == 1:
        return [(int(vals[0]), None)]
    return [(int(d), (Dr == d).to(W.dtype)) for d in vals]


def _masked(W, mask):
    return W if mask is None else W * mask


def _layer_params(spec: Spec, params):
    """Split the flat parameter list: per population (W, D, Wrec, Drec) (missing: None)."""
    out, k = [], 0
    for p in spec.pops:
        W, D = params[k], params[k + 1]
        k += 2
        Wr = Dr = None
        if p.recurrent:
            Wr, Dr = params[k], params[k + 1]
            k += 2
        out.append((W, None if D.numel() == 0 else D, Wr, None if Dr is None or Dr.numel() == 0 else Dr))
    return out


def _chunks(T: int):
    """The passes' time blocks ``[(t0, t1)]`` of ``CHUNK`` steps (the last one shorter)."""
    return [(t0, min(t0 + CHUNK, T)) for t0 in range(0, T, CHUNK)]


def _time_major(x: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
    """``x[:, t0:t1]`` as a ``((t1 - t0) B, n)`` matrix, step-major (one row per (step, sample))."""
    return x[:, t0:t1].transpose(0, 1).reshape((t1 - t0) * x.shape[0], x.shape[2])


def _overflow(p: Population, worst: int) -> SpikeBufferOverflow:
    exc = SpikeBufferOverflow(
        f"population {p.name}: a neuron fired {worst} spikes in one sample but its EventProp "
        f"spike buffer holds {p.max_spikes}; raise max_spikes (Population.max_spikes, "
        f"fenn-dma train --max-spikes) or lower the firing rate (spike-count regularisation)")
    exc.population, exc.worst = p.name, worst
    return exc


def forward_events(spec: Spec, x: torch.Tensor, params, record: bool = False):
    """The discrete forward pass without autograd. ``x (B, T, n_in)`` 0/1 spikes.

    Time runs in blocks of ``CHUNK`` steps, layer after layer (a layer's input in a block
    comes from spikes of earlier steps, so the previous layer's whole block is known): the
    feed-forward projection of a block is one GEMM per delay value into the layer's
    arrival buffer (``CHUNK + max delay + 1`` steps); per step only the neuron update (and
    the recurrent GEMM) runs. At the end of a block its spikes become events (flat index
    in the block, ``Vdot-``), the only per-spike record kept.

    Returns ``(scores (B, C), counts [per hidden (B, n)], saved)``; ``saved`` holds the
    spike events of every block, the readout argmax and the rounded delays; with
    ``record`` also ``saved["spikes"]`` (dense hidden spike trains) and ``saved["v_out"]``.
    """
    B, T, _ = x.shape
    lp = _layer_params(spec, params)
    dev, dt_ = x.device, x.dtype

    def zeros(*shape):
        return torch.zeros(*shape, dtype=dt_, device=dev)

    layers = []
    for p, (W, D, Wr, Dr) in zip(spec.pops, lp):
        Dr_ff, Dr_rec = _round_delays(D), _round_delays(Dr)
        g_ff = [(d, _masked(W, m)) for d, m in _groups(W, Dr_ff)]
        g_rec = [(d, _masked(Wr, m)) for d, m in _groups(Wr, Dr_rec)] if p.recurrent else []
        R = max(d for d, _ in g_ff + g_rec) + 1
        n = p.size
        L = dict(p=p, g_ff=g_ff, g_rec=g_rec, R=R, Dff=Dr_ff, Drec=Dr_rec, arr=zeros(CHUNK + R, B, n),
                 I=zeros(CHUNK + 1, B, n))              # I[k + 1]: step t0 + k; I[0] the block's carry
        if p.spiking:
            L.update(V=zeros(B, n), Z=zeros(CHUNK, B, n), count=zeros(B, n), events=[], full=False,
                     A=zeros(CHUNK + 1, B, n) if p.adaptive else None)     # A[k]: A[t - 1], the threshold's
        else:
            L.update(V=zeros(CHUNK + 1, B, n))
        layers.append(L)
    C = spec.pops[-1].size
    vsum = zeros(B, C)
    vmax = torch.full((B, C), -math.inf, dtype=dt_, device=dev)
    amax = torch.zeros(B, C, dtype=torch.int64, device=dev)
    rec_spk = [zeros(B, T, L["p"].size) for L in layers[:-1]] if record else None
    v_out = zeros(B, T, C) if record else None
    for t0, t1 in _chunks(T):
        c = t1 - t0
        src = _time_major(x, t0, t1)
        for li, L in enumerate(layers):
            p, arr, I = L["p"], L["arr"], L["I"]
            n = p.size
            for d, Wd in L["g_ff"]:
                arr[1 + d:1 + d + c].view(c * B, n).addmm_(src, Wd.T)
            if p.spiking:
                V, Z, A = L["V"], L["Z"], L["A"]
                for k in range(c):
                    torch.add(arr[k], I[k], alpha=p.alpha, out=I[k + 1])
                    torch.add(I[k + 1], V, alpha=p.beta, out=V)
                    if p.adaptive:
                        zb = V > A[k] * p.beta_adapt + p.threshold
                        torch.mul(A[k], p.rho, out=A[k + 1]).add_(zb)
                    else:
                        zb = V > p.threshold
                    V.masked_fill_(zb, 0.0)
                    Z[k].copy_(zb)
                    for d, Wd in L["g_rec"]:
                        arr[k + 1 + d].addmm_(Z[k], Wd.T)
                Zc = Z[:c]
                L["count"] += Zc.sum(0)
                if not L["full"] and float(L["count"].max()) > p.max_spikes:
                    L["full"], L["events"] = True, None          # it will raise: keep counting only
                ev = None
                if not L["full"]:
                    idx = Zc.reshape(-1).nonzero().squeeze(1)
                    if idx.numel():
                        kI = p.kappa * I[1:c + 1].reshape(-1)[idx]
                        if p.adaptive:           # d(V - theta)/dt before the spike, and dV/dt after it
                            A_ = A[:c].reshape(-1)[idx]
                            ev = (idx, kI - (p.threshold + p.beta_adapt * A_) / p.tau_mem
                                  + p.beta_adapt * A_ / p.tau_adapt, kI)
                        else:
                            ev = (idx, kI - p.threshold / p.tau_mem, None)
                    L["events"].append(ev)
                if record:
                    rec_spk[li][:, t0:t1] = Zc.transpose(0, 1)
                if p.adaptive:
                    A[0].copy_(A[c])
                src = Zc.reshape(c * B, n)
            else:
                V = L["V"]
                for k in range(c):
                    torch.add(arr[k], I[k], alpha=p.alpha, out=I[k + 1])
                    torch.add(I[k + 1], V[k], alpha=p.beta, out=V[k + 1])
                Vk = V[1:c + 1]
                vsum += Vk.sum(0)
                m, at = Vk.max(0)                     # the first maximum, as a strict > scan keeps
                better = m > vmax
                vmax = torch.where(better, m, vmax)
                amax = torch.where(better, at + t0, amax)
                if record:
                    v_out[:, t0:t1] = Vk.transpose(0, 1)
                V[0].copy_(V[c])
            I[0].copy_(I[c])
            R = L["R"]
            arr[:R] = arr[c:c + R].clone()
            arr[R:].zero_()
    for L in layers[:-1]:
        worst = int(L["count"].max()) if L["count"].numel() else 0
        if worst > L["p"].max_spikes:
            raise _overflow(L["p"], worst)
    scores = vsum / T if spec.readout == "sum" else vmax
    saved = dict(events=[L["events"] for L in layers[:-1]], amax=amax, Dff=[L["Dff"] for L in layers],
                 Drec=[L["Drec"] for L in layers], R=[L["R"] for L in layers])
    if record:
        saved["spikes"], saved["v_out"] = rec_spk, v_out
    return scores, [L["count"] for L in layers[:-1]], saved


def backward_events(spec: Spec, x, params, saved, grad_scores, grad_counts, need_delays=None):
    """Reverse-time adjoint pass; returns the gradients of the flat parameter list
    (``need_delays``: per population (ff, rec) whether the delay gradient is wanted; default all).

    Blocks of ``CHUNK`` steps in reverse, layers from the readout down (a jump at step t
    reads its targets' adjoints at t + 1 + d only, so the layer above's whole block is known):
    per layer, buffers of ``CHUNK + max delay + 1`` steps of ``lam_I``, ``lam_U`` and
    ``Q = lam_I / tau_syn - kappa lam_U`` (the arrival-time derivative); a block's spikes
    scattered into dense ``(CHUNK, B, n)`` tensors; the feed-forward part of the jumps'
    ``G``, and the weight and delay gradients, one GEMM per delay value and block; per step
    only the adjoint update (and the recurrent GEMM where the step has spikes).
    """
    B, T, _ = x.shape
    lp = _layer_params(spec, params)
    dev, dt_ = x.device, x.dtype
    nL = len(spec.pops)

    def zeros(*shape):
        return torch.zeros(*shape, dtype=dt_, device=dev)

    grads = []
    for (W, D, Wr, Dr) in lp:
        grads.append([torch.zeros_like(W), None if D is None else torch.zeros_like(D),
                      None if Wr is None else torch.zeros_like(Wr), None if Dr is None else torch.zeros_like(Dr)])
    R = saved["R"]
    LI = [zeros(CHUNK + R[i], B, p.size) for i, p in enumerate(spec.pops)]   # index j: step t0 + j
    LU = [zeros(CHUNK + R[i], B, p.size) for i, p in enumerate(spec.pops)]
    Q = [zeros(CHUNK + R[i], B, p.size) for i, p in enumerate(spec.pops)]
    hid = spec.pops[:-1]
    spk = [zeros(CHUNK, B, p.size) for p in hid]
    vdm = [zeros(CHUNK, B, p.size) for p in hid]
    vdp = [zeros(CHUNK, B, p.size) for p in hid]
    Gc = [zeros(CHUNK, B, p.size) for p in hid]
    lamA = [zeros(B, p.size) if p.adaptive else None for p in hid]
    gc = [None if g is None else g.to(dt_) for g in grad_counts]
    projs = []   # (target layer, source layer or -1 for input, W, D or None, rounded D, grad slot)
    for i, (W, D, Wr, Dr) in enumerate(lp):
        projs.append((i, i - 1, W, D, saved["Dff"][i], 0))
        if spec.pops[i].recurrent:
            projs.append((i, i, Wr, Dr, saved["Drec"][i], 2))
    groups = [[(d, m, _masked(W, m)) for d, m in _groups(W, Dround)] for (_, _, W, _, Dround, _) in projs]
    rec_groups = {tgt: grp for (tgt, src, *_), grp in zip(projs, groups) if src == tgt}
    need = {(tgt, gslot): True if need_delays is None else bool(need_delays[tgt][gslot // 2])
            for (tgt, _, _, _, _, gslot) in projs}
    gout = grad_scores.to(dt_)
    amax = saved["amax"]
    chunks = _chunks(T)
    for ci in range(len(chunks) - 1, -1, -1):
        t0, t1 = chunks[ci]
        c = t1 - t0
        if ci < len(chunks) - 1:                          # the later block's first steps move up
            for i in range(nL):
                for buf in (LI[i], LU[i], Q[i]):
                    buf[CHUNK:CHUNK + R[i]] = buf[:R[i]].clone()
        has = []
        for i, p in enumerate(hid):
            s, vm, vp = spk[i][:c], vdm[i][:c], vdp[i][:c]
            s.zero_()
            vm.fill_(1.0)
            vp.zero_()
            ev = saved["events"][i][ci]
            if ev is not None:
                idx, vdot, vplus = ev
                s.view(-1)[idx] = 1.0
                vm.view(-1)[idx] = vdot.clamp(min=VDOT_FLOOR * p.threshold / p.tau_mem)
                vp.view(-1)[idx] = vplus if p.adaptive else vdot + p.threshold / p.tau_mem
                has.append(s.reshape(c, -1).any(1).tolist())
            else:
                has.append([False] * c)
            if gc[i] is not None:
                torch.mul(s, gc[i], out=Gc[i][:c]).neg_()
            else:
                Gc[i][:c].zero_()
        for i in range(nL - 1, -1, -1):
            p = spec.pops[i]
            LIb, LUb, Qb = LI[i], LU[i], Q[i]
            if not p.spiking:
                if spec.readout == "sum":
                    g = (gout / T).expand(c, B, p.size)
                else:
                    steps = torch.arange(t0, t1, device=dev).view(c, 1, 1)
                    g = gout * (amax.unsqueeze(0) == steps).to(dt_)
                for k in range(c - 1, -1, -1):
                    torch.add(g[k], LUb[k + 1], alpha=p.beta, out=LUb[k])
                    torch.add(LUb[k], LIb[k + 1], alpha=p.alpha, out=LIb[k])
            else:
                s, vm, vp, G, hk = spk[i], vdm[i], vdp[i], Gc[i], has[i]
                sb = s[:c] > 0
                rgrp = rec_groups.get(i, [])
                lA = lamA[i]
                for k in range(c - 1, -1, -1):
                    lamV = torch.mul(LUb[k + 1], p.beta, out=LUb[k])
                    if hk[k]:
                        Gk = G[k]
                        for d, _, Wd in rgrp:        # the recurrent targets' Q at t + 1 + d
                            Gk = torch.addmm(Gk, Qb[k + 1 + d], Wd)
                        num = torch.addcmul(-Gk, vp[k], lamV)
                        if p.adaptive:           # lA = dL/dA[t] (after this step's jump)
                            num.sub_(lA, alpha=1.0 / p.tau_adapt)
                        LUb[k] = torch.where(sb[k], num / vm[k], lamV)
                        if p.adaptive:           # dL/dA[t-1]: decay, and the threshold's share of this spike
                            lA.mul_(p.rho).addcmul_(LUb[k], s[k], value=-p.beta_adapt)
                    elif p.adaptive:
                        lA.mul_(p.rho)
                    torch.add(LUb[k], LIb[k + 1], alpha=p.alpha, out=LIb[k])
                    if rgrp:
                        torch.add(LIb[k] / p.tau_syn, LUb[k], alpha=-p.kappa, out=Qb[k])
            if not (p.spiking and p.recurrent):
                torch.add(LIb[:c] / p.tau_syn, LUb[:c], alpha=-p.kappa, out=Qb[:c])
            # this layer's block is done: the G of its sources' spikes, and the gradients of its inputs
            for (tgt, src, W, D, Dround, gslot), grp in zip(projs, groups):
                if tgt != i:
                    continue
                S = _time_major(x, t0, t1) if src < 0 else spk[src][:c].reshape(c * B, -1)
                want_d = D is not None and need[(tgt, gslot)]
                for d, m, Wd in grp:
                    lI = LIb[1 + d:1 + d + c].reshape(c * B, p.size)
                    gW = lI.T @ S
                    grads[tgt][gslot] += gW if m is None else gW * m
                    if want_d or (0 <= src < tgt):
                        q = Qb[1 + d:1 + d + c].reshape(c * B, p.size)
                        if want_d:
                            grads[tgt][gslot + 1] += (q.T @ S) * Wd * p.dt
                        if 0 <= src < tgt:       # feed-forward: the source's jumps read it
                            Gc[src][:c].view(c * B, -1).addmm_(q, Wd)
    flat = []
    for p, g in zip(spec.pops, grads):
        flat += [g[0], g[1]]
        if p.recurrent:
            flat += [g[2], g[3]]
    return flat


class EventPropFunction(torch.autograd.Function):
    """``scores, *counts = EventPropFunction.apply(spec, x, *params)``; params per
    population ``W, D`` (+ ``Wrec, Drec`` if recurrent); a delay given as an empty tensor
    means none (all 0)."""

    @staticmethod
    def forward(ctx, spec, x, *params):
        with torch.no_grad():
            scores, counts, saved = forward_events(spec, x, params)
        ctx.spec, ctx.saved = spec, saved
        ctx.save_for_backward(x, *params)
        return (scores, *counts)

    @staticmethod
    def backward(ctx, grad_scores, *grad_counts):
        x, *params = ctx.saved_tensors
        with torch.no_grad():
            need, k = [], 0
            for p in ctx.spec.pops:
                n_ = 4 if p.recurrent else 2
                flags = ctx.needs_input_grad[2 + k:2 + k + n_]
                need.append((flags[1], flags[3] if p.recurrent else False))
                k += n_
            flat = backward_events(ctx.spec, x, params, ctx.saved, grad_scores, list(grad_counts), need)
        out = []
        for prm, g, need in zip(params, flat, ctx.needs_input_grad[2:]):
            out.append(g if (need and g is not None) else None)
        return (None, None, *out)


def cross_entropy(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the readout scores (max or time-average of V)."""
    return F.cross_entropy(scores, labels)


def spike_count_penalty(counts, strength: float, target: float) -> torch.Tensor:
    """``strength/2 * mean over samples and neurons of (count - target)^2`` per hidden population, summed."""
    if strength == 0:
        return counts[0].new_zeros(()) if counts else torch.zeros(())
    return sum(0.5 * strength * ((c - target) ** 2).mean() for c in counts)


def dense_forward(spec: Spec, x: torch.Tensor, params, surrogate=None):
    """A plain torch forward of the same network (every state at every step, autograd).

    ``surrogate``: None -> spikes are a step with no gradient (only the linear paths
    are differentiated: exact for the readout weights); a float ``k`` -> the spike's
    backward is the fast-sigmoid surrogate ``1 / (1 + k |V - threshold|)^2`` (BPTT).
    Returns scores, per-hidden spike trains ``(B, T, n)``, readout ``V (B, T, C)``.
    """
    B, T, _ = x.shape
    lp = _layer_params(spec, params)
    inp = x
    trains = []
    for p, (W, D, Wr, Dr) in zip(spec.pops, lp):
        Dff = _round_delays(D)
        ff = torch.zeros(B, T, p.size, dtype=x.dtype, device=x.device)
        for d, m in _groups(W, Dff):
            Wd = _masked(W, m)
            if 1 + d < T:
                ff = ff + F.pad(inp[:, :T - 1 - d] @ Wd.T, (0, 0, 1 + d, 0))
        rec = [(d, _masked(Wr, m)) for d, m in _groups(Wr, _round_delays(Dr))] if p.recurrent else []
        I = torch.zeros(B, p.size, dtype=x.dtype, device=x.device)
        V = torch.zeros_like(I)
        A = torch.zeros_like(I)
        outs = []
        for t in range(T):
            a = ff[:, t]
            for d, Wd in rec:
                s = t - 1 - d
                if s >= 0:
                    a = a + outs[s] @ Wd.T
            I = p.alpha * I + a
            V = p.beta * V + I
            if p.spiking:
                theta = p.threshold + p.beta_adapt * A if p.adaptive else p.threshold
                hard = (V > theta).to(x.dtype)
                if surrogate is None:
                    z = hard
                else:
                    z = SpikeFn.apply(V - theta, float(surrogate))
                V = V * (1 - hard) if surrogate is None else V * (1 - z.detach())
                if p.adaptive:
                    A = p.rho * A + z
                outs.append(z)
            else:
                outs.append(V)
        seq = torch.stack(outs, 1)
        if p.spiking:
            trains.append(seq)
        inp = seq
    scores = inp.mean(1) if spec.readout == "sum" else inp.max(1).values
    return scores, trains, inp


class EventPropSNN(torch.nn.Module):
    """Input -> LIF (or ALIF: ``beta_adapt != 0``) hidden layers (optionally recurrent) -> LI readout,
    trained by EventProp.

    ``delays``: learn per-synapse delays (steps, in ``[0, max_delay]``) on the
    feed-forward projections (and the recurrent ones with ``rec_delays``).
    """

    def __init__(self, n_inputs: int, hidden: list, n_out: int, *, tau_mem=20.0, tau_syn=5.0,
                 threshold=1.0, dt=1.0, recurrent=False, readout="sum", delays=False, rec_delays=False,
                 max_delay=0, max_spikes=64, tau_mem_out=None, tau_syn_out=None, seed=0,
                 dtype=torch.float32, tau_adapt=0.0, beta_adapt=0.0):
        super().__init__()
        pops = [Population(f"hidden{i}", n, tau_mem, tau_syn, threshold, dt, True, recurrent, max_spikes,
                           tau_adapt, beta_adapt) for i, n in enumerate(hidden)]
        pops.append(Population("readout", n_out, tau_mem_out or tau_mem, tau_syn_out or tau_syn, 1.0, dt,
                               False, False, max_spikes))
        self.spec = Spec(n_inputs, tuple(pops), readout)
        self.max_delay = int(max_delay)
        gen = torch.Generator().manual_seed(seed)
        self.weights = torch.nn.ParameterList()
        self.delays = torch.nn.ParameterList()
        self.rec_weights = torch.nn.ParameterList()
        self.rec_delays = torch.nn.ParameterList()
        prev = n_inputs
        for p in pops:
            scale = 1.0 / math.sqrt(prev)
            self.weights.append(torch.nn.Parameter(torch.randn(p.size, prev, generator=gen, dtype=dtype) * scale))
            d = (torch.rand(p.size, prev, generator=gen, dtype=dtype) * max_delay) if delays and max_delay > 0 \
                else torch.zeros(p.size, prev, dtype=dtype)
            self.delays.append(torch.nn.Parameter(d, requires_grad=bool(delays and max_delay > 0)))
            if p.recurrent:
                self.rec_weights.append(torch.nn.Parameter(
                    torch.randn(p.size, p.size, generator=gen, dtype=dtype) * (0.5 / math.sqrt(p.size))))
                dr = (torch.rand(p.size, p.size, generator=gen, dtype=dtype) * max_delay) \
                    if rec_delays and max_delay > 0 else torch.zeros(p.size, p.size, dtype=dtype)
                self.rec_delays.append(torch.nn.Parameter(dr, requires_grad=bool(rec_delays and max_delay > 0)))
            prev = p.size

    def params(self) -> list:
        out, r = [], 0
        for i, p in enumerate(self.spec.pops):
            out += [self.weights[i], self.delays[i]]
            if p.recurrent:
                out += [self.rec_weights[r], self.rec_delays[r]]
                r += 1
        return out

    def forward(self, x: torch.Tensor):
        """``x (B, T, n_in)`` -> ``(scores (B, C), [spike counts (B, n) per hidden population])``."""
        scores, *counts = EventPropFunction.apply(self.spec, x.to(self.weights[0].dtype), *self.params())
        return scores, list(counts)

    @torch.no_grad()
    def clamp_delays(self) -> None:
        for d in list(self.delays) + list(self.rec_delays):
            if d.requires_grad:
                d.clamp_(0, self.max_delay)

    def to_trained(self, n_steps: int = 0, metadata: dict | None = None):
        """The framework-free :class:`~fenn_dma.host.network.TrainedNetwork` (delays rounded)."""
        from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork
        layers, r = [], 0
        for i, p in enumerate(self.spec.pops):
            model = ("ALIF" if p.adaptive else "LIF") if p.spiking else "LI"
            np_ = NeuronParams(model, p.tau_mem, p.tau_syn, p.threshold, p.dt, 0, p.tau_adapt if p.adaptive else 0.0,
                               p.beta_adapt)
            wr = None
            if p.recurrent:
                if bool((torch.round(self.rec_delays[r].detach()) > 0).any()):
                    raise ConfigError(f"population {p.name}: recurrent delays cannot be exported "
                                      "(TrainedNetwork has none); train without rec_delays")
                wr = self.rec_weights[r].detach().double().cpu().numpy()
                r += 1
            d = _round_delays(self.delays[i]).cpu().numpy()
            layers.append(Layer(p.name, np_, self.weights[i].detach().double().cpu().numpy(), d, wr))
        return TrainedNetwork(self.spec.n_inputs, layers, n_steps, "mean" if self.spec.readout == "sum" else "max",
                              metadata={"method": "eventprop", **(metadata or {})})


__all__ = ["Population", "Spec", "EventPropFunction", "EventPropSNN", "SpikeBufferOverflow", "forward_events",
           "backward_events", "dense_forward", "cross_entropy", "spike_count_penalty"]
