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
normalisation: dV/dt just before the spike) are kept, in per-neuron buffers of
``max_spikes`` entries; a neuron firing more often is a :class:`SpikeBufferOverflow`
naming the population. The readout keeps its running sum (or max and argmax).

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
INPUT_CHUNK = 32           # forward: the input projection in GEMMs of this many steps (memory B x 32 x n)


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
    max_spikes: int = 64           # spike buffer entries per neuron per sample
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


def _events(s):
    """(sample, neuron, value) of the non-zero entries of a (B, n) spike tensor, or None."""
    if s is None:
        return None
    b_i, n_i = s.nonzero(as_tuple=True)
    if b_i.numel() == 0:
        return None
    return b_i, n_i, s[b_i, n_i]


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


def forward_events(spec: Spec, x: torch.Tensor, params, record: bool = False):
    """The discrete forward pass without autograd. ``x (B, T, n_in)`` 0/1 spikes.

    Returns ``(scores (B, C), counts [per hidden (B, n)], saved)``; ``saved`` holds the
    spike buffers (times, Vdot-), the readout argmax and the rounded delays; with
    ``record`` also ``saved["spikes"]`` (dense hidden spike trains) and ``saved["v_out"]``.
    """
    B, T, _ = x.shape
    lp = _layer_params(spec, params)
    dev, dt_ = x.device, x.dtype
    layers = []
    for p, (W, D, Wr, Dr) in zip(spec.pops, lp):
        Dr_ff, Dr_rec = _round_delays(D), _round_delays(Dr)
        g_ff = [(d, _masked(W, m)) for d, m in _groups(W, Dr_ff)]
        g_rec = [(d, _masked(Wr, m)) for d, m in _groups(Wr, Dr_rec)] if p.recurrent else []
        R = max([d for d, _ in g_ff] + [d for d, _ in g_rec]) + 2
        layers.append(dict(p=p, g_ff=g_ff, g_rec=g_rec, R=R, Dff=Dr_ff, Drec=Dr_rec,
                           buf=torch.zeros(R, B, p.size, dtype=dt_, device=dev),
                           I=torch.zeros(B, p.size, dtype=dt_, device=dev),
                           V=torch.zeros(B, p.size, dtype=dt_, device=dev),
                           A=torch.zeros(B, p.size, dtype=dt_, device=dev) if p.adaptive else None))
    bufs = []
    for L in layers[:-1]:
        p = L["p"]
        bufs.append(dict(times=torch.full((B, p.size, p.max_spikes), -1, dtype=torch.int32, device=dev),
                         vdot=torch.zeros(B, p.size, p.max_spikes, dtype=dt_, device=dev),
                         vplus=torch.zeros(B, p.size, p.max_spikes, dtype=dt_, device=dev) if p.adaptive else None,
                         count=torch.zeros(B, p.size, dtype=torch.int64, device=dev)))
    C = spec.pops[-1].size
    vsum = torch.zeros(B, C, dtype=dt_, device=dev)
    vmax = torch.full((B, C), -math.inf, dtype=dt_, device=dev)
    amax = torch.zeros(B, C, dtype=torch.int64, device=dev)
    rec_spk = [torch.zeros(B, T, L["p"].size, dtype=dt_, device=dev) for L in layers[:-1]] if record else None
    v_out = torch.zeros(B, T, C, dtype=dt_, device=dev) if record else None
    for t in range(T):
        src = x[:, t]
        for li, L in enumerate(layers):
            p = L["p"]
            slot = t % L["R"]
            L["I"] = p.alpha * L["I"] + L["buf"][slot]
            L["buf"][slot].zero_()
            V = p.beta * L["V"] + L["I"]
            z = None
            if p.spiking:
                theta = p.threshold + p.beta_adapt * L["A"] if p.adaptive else p.threshold
                zb = V > theta
                if bool(zb.any()):
                    b_i, n_i = zb.nonzero(as_tuple=True)
                    sb = bufs[li]
                    k = sb["count"][b_i, n_i].clamp(max=p.max_spikes - 1)
                    sb["times"][b_i, n_i, k] = t
                    kI = p.kappa * L["I"][b_i, n_i]
                    if p.adaptive:           # d(V - theta)/dt before the spike, and dV/dt after it
                        A_ = L["A"][b_i, n_i]
                        sb["vdot"][b_i, n_i, k] = (kI - (p.threshold + p.beta_adapt * A_) / p.tau_mem
                                                   + p.beta_adapt * A_ / p.tau_adapt)
                        sb["vplus"][b_i, n_i, k] = kI
                    else:
                        sb["vdot"][b_i, n_i, k] = kI - p.threshold / p.tau_mem
                    sb["count"][b_i, n_i] += 1
                    V = V.masked_fill(zb, 0.0)
                    z = zb.to(dt_)
                    if record:
                        rec_spk[li][:, t] = z
                if p.adaptive:
                    L["A"] = p.rho * L["A"] + (zb.to(dt_) if z is not None else 0.0)
            else:
                vsum += V
                better = V > vmax
                vmax = torch.where(better, V, vmax)
                amax = torch.where(better, torch.full_like(amax, t), amax)
                if record:
                    v_out[:, t] = V
            L["V"] = V
            if li == 0:                                 # the input: dense, so GEMMs of INPUT_CHUNK steps
                if t % INPUT_CHUNK == 0:
                    chunk = [x[:, t:t + INPUT_CHUNK] @ Wd.T for _, Wd in L["g_ff"]]
                for (d, _), P in zip(L["g_ff"], chunk):
                    if t + 1 + d < T:
                        L["buf"][(t + 1 + d) % L["R"]] += P[:, t % INPUT_CHUNK]
            for s_, grp in (() if li == 0 else ((src, L["g_ff"]),)) + ((z, L["g_rec"]),):
                ev = _events(s_)
                if ev is None:
                    continue
                b_i, n_i, v_i = ev                      # only the spikes: O(spikes x targets) per step
                for d, Wd in grp:
                    if t + 1 + d < T:
                        L["buf"][(t + 1 + d) % L["R"]].index_put_((b_i,), v_i[:, None] * Wd[:, n_i].T,
                                                                  accumulate=True)
            src = z
    for L, sb in zip(layers[:-1], bufs):
        worst = int(sb["count"].max()) if sb["count"].numel() else 0
        if worst > L["p"].max_spikes:
            exc = SpikeBufferOverflow(
                f"population {L['p'].name}: a neuron fired {worst} spikes in one sample but its EventProp "
                f"spike buffer holds {L['p'].max_spikes}; raise max_spikes (Population.max_spikes, "
                f"fenn-dma train --max-spikes) or lower the firing rate (spike-count regularisation)")
            exc.population, exc.worst = L["p"].name, worst
            raise exc
    scores = vsum / T if spec.readout == "sum" else vmax
    saved = dict(bufs=bufs, amax=amax, Dff=[L["Dff"] for L in layers], Drec=[L["Drec"] for L in layers],
                 R=[L["R"] for L in layers])
    if record:
        saved["spikes"], saved["v_out"] = rec_spk, v_out
    return scores, [sb["count"].to(dt_) for sb in bufs], saved


def backward_events(spec: Spec, x, params, saved, grad_scores, grad_counts, need_delays=None):
    """Reverse-time adjoint pass; returns the gradients of the flat parameter list
    (``need_delays``: per population (ff, rec) whether the delay gradient is wanted; default all)."""
    B, T, _ = x.shape
    lp = _layer_params(spec, params)
    dev, dt_ = x.device, x.dtype
    nL = len(spec.pops)
    grads = []
    for (W, D, Wr, Dr) in lp:
        grads.append([torch.zeros_like(W), None if D is None else torch.zeros_like(D),
                      None if Wr is None else torch.zeros_like(Wr), None if Dr is None else torch.zeros_like(Dr)])
    R = saved["R"]
    ringI = [torch.zeros(R[i], B, p.size, dtype=dt_, device=dev) for i, p in enumerate(spec.pops)]
    ringU = [torch.zeros(R[i], B, p.size, dtype=dt_, device=dev) for i, p in enumerate(spec.pops)]
    lamU = [torch.zeros(B, p.size, dtype=dt_, device=dev) for p in spec.pops]
    lamI = [torch.zeros(B, p.size, dtype=dt_, device=dev) for p in spec.pops]
    lamA = [torch.zeros(B, p.size, dtype=dt_, device=dev) if p.adaptive else None for p in spec.pops]
    bufs = saved["bufs"]
    ptr = [sb["count"].clamp(max=p.max_spikes) - 1 for sb, p in zip(bufs, spec.pops)]
    gc = [None if g is None else g.to(dt_) for g in grad_counts]
    projs = []   # (target layer, source layer or -1 for input, W, D or None, rounded D, grad slot)
    for i, (W, D, Wr, Dr) in enumerate(lp):
        projs.append((i, i - 1, W, D, saved["Dff"][i], 0))
        if spec.pops[i].recurrent:
            projs.append((i, i, Wr, Dr, saved["Drec"][i], 2))
    groups = [[(d, m, _masked(W, m)) for d, m in _groups(W, Dround)] for (_, _, W, _, Dround, _) in projs]
    need = {(tgt, gslot): True if need_delays is None else bool(need_delays[tgt][gslot // 2])
            for (tgt, _, _, _, _, gslot) in projs}
    gout = grad_scores.to(dt_)
    amax = saved["amax"]
    for t in range(T - 1, -1, -1):
        spk, vdm, vdp = [], [], []
        for i in range(nL - 1):
            p, sb = spec.pops[i], bufs[i]
            q = ptr[i].clamp(min=0).unsqueeze(-1)
            hit = (ptr[i] >= 0) & (sb["times"].gather(2, q).squeeze(-1) == t)
            ptr[i] = ptr[i] - hit.to(ptr[i].dtype)
            spk.append(hit.to(dt_))
            vm = sb["vdot"].gather(2, q).squeeze(-1)
            vdp.append(sb["vplus"].gather(2, q).squeeze(-1) if p.adaptive else vm + p.threshold / p.tau_mem)
            vdm.append(vm.clamp(min=VDOT_FLOOR * p.threshold / p.tau_mem))
        G = [torch.zeros(B, p.size, dtype=dt_, device=dev) for p in spec.pops[:-1]]
        for i in range(nL - 1):
            if gc[i] is not None:
                G[i] = G[i] - gc[i] * spk[i]
        for (tgt, src, W, D, Dround, gslot), grp in zip(projs, groups):
            ev = _events(x[:, t] if src < 0 else spk[src])
            if ev is None:
                continue
            b_i, n_i, v_i = ev                          # the spikes at t: (sample, source neuron, value)
            pt = spec.pops[tgt]
            for d, m, Wd in grp:
                slot = t + 1 + d
                if slot >= T:
                    continue
                LI = ringI[tgt][slot % R[tgt]][b_i]                                        # (spikes, n_tgt)
                LU = ringU[tgt][slot % R[tgt]]
                cW = (LI * v_i[:, None]).T
                grads[tgt][gslot].index_add_(1, n_i, cW if m is None else cW * m[:, n_i])
                want_d = D is not None and need[(tgt, gslot)]
                if not want_d and src < 0:
                    continue                    # no delay gradient, no spike time to move: dL/dw only
                Q = LI / pt.tau_syn - pt.kappa * LU[b_i]
                Wn = Wd[:, n_i]
                if want_d:
                    grads[tgt][gslot + 1].index_add_(1, n_i, (Q * v_i[:, None]).T * Wn * pt.dt)
                if src >= 0:
                    G[src].index_put_((b_i, n_i), v_i * (Q * Wn.T).sum(1), accumulate=True)
        for i, p in enumerate(spec.pops):
            if p.spiking:
                lamV = p.beta * lamU[i]
                num = vdp[i] * lamV - G[i]
                if p.adaptive:                  # lamA[i] = dL/dA[t] (after this step's jump)
                    num = num - lamA[i] / p.tau_adapt
                lamUi = torch.where(spk[i] > 0, num / vdm[i], lamV)
                if p.adaptive:                  # dL/dA[t-1]: decay, and the threshold's share of this spike
                    lamA[i] = p.rho * lamA[i] - p.beta_adapt * lamUi * spk[i]
            else:
                g = gout / T if spec.readout == "sum" else gout * (amax == t).to(dt_)
                lamUi = g + p.beta * lamU[i]
            lamIi = lamUi + p.alpha * lamI[i]
            lamU[i], lamI[i] = lamUi, lamIi
            ringU[i][t % R[i]] = lamUi
            ringI[i][t % R[i]] = lamIi
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
