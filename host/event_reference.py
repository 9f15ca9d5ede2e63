"""Float64 continuous-time, event-driven reference of the EventProp model (tiny networks).

Between events every neuron follows the analytic solution of

    dI/dt = -I / tau_syn,   dV/dt = -V / tau_mem + kappa I

(``V(s) = e^{-s/tau_mem} V0 + A (e^{-s/tau_syn} - e^{-s/tau_mem})``,
``A = kappa I0 / (1/tau_mem - 1/tau_syn)``); a spike arriving over a synapse adds its
weight to ``I``; a LIF neuron fires when ``V`` reaches ``threshold`` (the first root,
found by bracketing at the solution's single extremum and Brent's method to 1e-15 ms)
and is reset to 0; its spike arrives ``delay`` ms later (continuous delays) at every
target. The readout (LI) score is ``(1/T) int_0^T V dt`` (``"sum"``, integrated
analytically) or ``max_t V`` (``"max"``). :func:`fd_gradient` differentiates the loss by
central finite differences. Used only by the tests / the gradient-check table.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

ADAPT_GRID = 16                     # ALIF: V - theta sampled at span / ADAPT_GRID steps for the bracket


@dataclass
class RefLayer:
    W: np.ndarray                  # (n, n_prev)
    D: np.ndarray                  # (n, n_prev) ms
    tau_mem: float
    tau_syn: float
    kappa: float                   # gain of I on dV/dt (1/ms)
    threshold: float = 1.0
    spiking: bool = True
    Wrec: np.ndarray | None = None
    Drec: np.ndarray | None = None  # ms
    tau_adapt: float = 0.0          # ms; ALIF: threshold + beta_adapt * A, dA/dt = -A / tau_adapt, +1 per spike
    beta_adapt: float = 0.0


def _coef(L: RefLayer, I0):
    return L.kappa * I0 / (1.0 / L.tau_mem - 1.0 / L.tau_syn)


def _v(L, V0, I0, s):
    A = _coef(L, I0)
    return math.exp(-s / L.tau_mem) * V0 + A * (math.exp(-s / L.tau_syn) - math.exp(-s / L.tau_mem))


def _extremum(L, V0, I0):
    """Time s* > 0 of dV/ds = 0 (or None)."""
    A = _coef(L, I0)
    if A == 0 or A == V0:
        return None
    arg = (A * L.tau_mem) / ((A - V0) * L.tau_syn)
    if arg <= 0:
        return None
    s = math.log(arg) / (1.0 / L.tau_syn - 1.0 / L.tau_mem)
    return s if s > 0 else None


def _theta(L, A0, s):
    return L.threshold + L.beta_adapt * A0 * math.exp(-s / L.tau_adapt) if L.beta_adapt else L.threshold


def _first_crossing(L, V0, I0, span, A0=0.0):
    """First s in (0, span] with V(s) = threshold (+ beta_adapt A(s) for ALIF), or None.

    LIF: ``V`` has at most one extremum, so it and ``span`` bracket the first root. ALIF:
    the threshold decays too, so ``V - theta`` is also sampled on ``ADAPT_GRID`` points
    (a crossing and re-crossing inside one grid cell would be missed; the tiny problems'
    inter-event intervals are well under a millisecond)."""
    pts = []
    s_ext = _extremum(L, V0, I0)
    if s_ext is not None and s_ext < span:
        pts.append(s_ext)
    if L.beta_adapt and A0:
        pts += list(np.linspace(0.0, span, ADAPT_GRID + 1)[1:-1])
    pts = sorted(pts) + [span]
    lo = 0.0
    for p in pts:
        if _v(L, V0, I0, p) > _theta(L, A0, p):
            return brentq(lambda s: _v(L, V0, I0, s) - _theta(L, A0, s), lo, p, xtol=1e-15,
                          rtol=4 * np.finfo(float).eps)
        lo = p
    return None


def _integral(L, V0, I0, span):
    A = _coef(L, I0)
    em = L.tau_mem * (1 - math.exp(-span / L.tau_mem))
    es = L.tau_syn * (1 - math.exp(-span / L.tau_syn))
    return V0 * em + A * (es - em)


def simulate(layers: list, inputs: list, n_in: int, t_end: float, readout: str = "sum"):
    """One sample. ``inputs``: list of (time ms, input index). Returns (scores (C,),
    spike times per hidden layer: list of lists per neuron)."""
    V = [np.zeros(L.W.shape[0]) for L in layers]
    I = [np.zeros(L.W.shape[0]) for L in layers]
    A = [np.zeros(L.W.shape[0]) for L in layers]
    spikes = [[[] for _ in range(L.W.shape[0])] for L in layers[:-1]]
    heap, seq = [], 0

    def send(li_tgt, src, t0, W, D):
        nonlocal seq
        for i in range(W.shape[0]):
            if W[i, src] != 0.0:
                ta = t0 + D[i, src]
                if ta < t_end:
                    heapq.heappush(heap, (ta, seq, li_tgt, i, W[i, src]))
                    seq += 1

    for (ti, j) in inputs:
        send(0, j, ti, layers[0].W, layers[0].D)
    out = layers[-1]
    C = out.W.shape[0]
    acc = np.zeros(C)
    vmax = np.zeros(C)          # V(0) = 0
    t = 0.0
    while True:
        t_next = heap[0][0] if heap else t_end
        t_next = min(t_next, t_end)
        span = t_next - t
        best = None
        if span > 0:
            for li, L in enumerate(layers[:-1]):
                for n in range(L.W.shape[0]):
                    s = _first_crossing(L, V[li][n], I[li][n], span, A[li][n])
                    if s is not None and (best is None or s < best[0]):
                        best = (s, li, n)
        step = best[0] if best is not None else span
        # readout integral / max over [t, t + step]
        for c in range(C):
            if readout == "sum":
                acc[c] += _integral(out, V[-1][c], I[-1][c], step)
            else:
                cand = [step]
                se = _extremum(out, V[-1][c], I[-1][c])
                if se is not None and se < step:
                    cand.append(se)
                vmax[c] = max(vmax[c], *(_v(out, V[-1][c], I[-1][c], s) for s in cand))
        for li, L in enumerate(layers):
            for n in range(L.W.shape[0]):
                V[li][n] = _v(L, V[li][n], I[li][n], step)
                I[li][n] *= math.exp(-step / L.tau_syn)
                if L.beta_adapt:
                    A[li][n] *= math.exp(-step / L.tau_adapt)
        t += step
        if best is not None:
            _, li, n = best
            V[li][n] = 0.0
            A[li][n] += 1.0
            spikes[li][n].append(t)
            L = layers[li]
            if L.Wrec is not None:
                send(li, n, t, L.Wrec, L.Drec)
            send(li + 1, n, t, layers[li + 1].W, layers[li + 1].D)
            continue
        if t >= t_end:
            break
        while heap and heap[0][0] <= t:
            _, _, li, i, w = heapq.heappop(heap)
            I[li][i] += w
    scores = acc / t_end if readout == "sum" else vmax
    return scores, spikes


def loss(layers, samples, labels, n_in, t_end, readout="sum") -> float:
    """Mean cross-entropy of the scores over the samples."""
    tot = 0.0
    for inp, y in zip(samples, labels):
        s, _ = simulate(layers, inp, n_in, t_end, readout)
        m = s.max()
        tot += -(s[y] - m - math.log(np.exp(s - m).sum()))
    return tot / len(samples)


def fd_gradient(layers, samples, labels, n_in, t_end, readout, which: str, li: int, h: float):
    """Central finite differences of :func:`loss` w.r.t. ``layers[li].<which>`` (W, D, Wrec, Drec)."""
    base = getattr(layers[li], which)
    g = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        vals = []
        for sgn in (1, -1):
            arr = base.copy()
            arr[idx] += sgn * h
            lay = list(layers)
            lay[li] = replace(layers[li], **{which: arr})
            vals.append(loss(lay, samples, labels, n_in, t_end, readout))
        g[idx] = (vals[0] - vals[1]) / (2 * h)
    return g


# ---------------------------------------------------------------------- EventProp gradient check
def params_of(layers) -> list:
    """(name, layer index, field) of every parameter group: W, D (and Wrec, Drec) per layer."""
    out = []
    for li, L in enumerate(layers):
        tag = "readout" if not L.spiking else (f"hidden{li}" if len(layers) > 2 else "hidden")
        out += [(f"{tag} W", li, "W"), (f"{tag} D", li, "D")]
        if L.Wrec is not None:
            out += [(f"{tag} Wrec", li, "Wrec"), (f"{tag} Drec", li, "Drec")]
    return out


def tiny_problem(seed: int = 3, deep: bool = False, adaptive: bool = False):
    """A 3-3(recurrent)-2 network with continuous delays on every projection and two
    input samples (spike times on a 0.5 ms grid) over 30 ms; ``deep``: 3-3-3-2, no recurrence;
    ``adaptive``: the hidden layer is ALIF (tau_adapt 15 ms, beta_adapt 0.3)."""
    rng = np.random.default_rng(seed)
    n_in, nh, C = 3, 3, 2
    W0 = rng.uniform(0.4, 0.8, (nh, n_in))
    D0 = rng.uniform(0, 3, (nh, n_in))
    Wr = rng.uniform(-0.4, 0.4, (nh, nh))
    np.fill_diagonal(Wr, 0)
    Dr = rng.uniform(0, 2, (nh, nh))
    W1 = rng.uniform(-1, 1, (C, nh))
    D1 = rng.uniform(0, 3, (C, nh))
    layers = [RefLayer(W0, D0, 10.0, 5.0, 1.0, 1.0, True, Wr, Dr), RefLayer(W1, D1, 20.0, 5.0, 1.0, 1.0, False)]
    if adaptive:
        layers[0] = replace(layers[0], tau_adapt=15.0, beta_adapt=0.3)
    if deep:        # a second hidden layer, both feed-forward; weak enough that the grid error stays small
        r = np.random.default_rng(0)
        layers = [RefLayer(r.uniform(0.15, 0.3, (nh, n_in)), r.uniform(0, 3, (nh, n_in)), 10.0, 5.0, 1.0),
                  RefLayer(r.uniform(0.1, 0.2, (nh, nh)), r.uniform(0, 3, (nh, nh)), 10.0, 5.0, 1.0), layers[1]]
    samples = [[(1.0, 0), (2.5, 1), (4.0, 2), (6.0, 0), (8.5, 1), (12.0, 2), (14.5, 0)],
               [(0.5, 2), (3.0, 1), (5.5, 0), (9.0, 2), (11.0, 1), (15.0, 0)]]
    return dict(layers=layers, samples=samples, labels=[0, 1], n_in=n_in, t_end=30.0)


def reference_gradients(prob, readout: str, h: float = 1e-6) -> dict:
    """Finite-difference gradients of the continuous-time loss, keyed like :func:`params_of`."""
    return {name: fd_gradient(prob["layers"], prob["samples"], prob["labels"], prob["n_in"], prob["t_end"],
                              readout, which, li, h) for name, li, which in params_of(prob["layers"])}


def eventprop_gradients(prob, readout: str, dt: float):
    """EventProp's loss and gradients at step ``dt`` in the reference's units (weights of
    gain ``kappa``, delays in ms): the discrete network has weights ``w kappa / kappa(dt)``
    and delays ``d / dt`` steps (rounded in its forward pass)."""
    import torch

    from fenn_dma.host.eventprop import EventPropFunction, Population, Spec, cross_entropy
    T = int(round(prob["t_end"] / dt))
    pops, P, scale = [], [], []
    for li, L in enumerate(prob["layers"]):
        pop = Population(f"layer{li}", L.W.shape[0], L.tau_mem, L.tau_syn, L.threshold, dt, L.spiking,
                         L.Wrec is not None, 256, L.tau_adapt, L.beta_adapt)
        pops.append(pop)
        c = L.kappa / pop.kappa
        arrs = [(L.W, c), (L.D, 1 / dt)] + ([(L.Wrec, c), (L.Drec, 1 / dt)] if L.Wrec is not None else [])
        for a, s in arrs:
            P.append(torch.tensor(a * s, requires_grad=True))
            scale.append(s)
    spec = Spec(prob["n_in"], tuple(pops), readout)
    x = torch.zeros(len(prob["samples"]), T, prob["n_in"], dtype=torch.float64)
    for b, smp in enumerate(prob["samples"]):
        for (ti, j) in smp:
            x[b, int(round(ti / dt)), j] = 1
    scores, *_ = EventPropFunction.apply(spec, x, *P)
    L = cross_entropy(scores, torch.tensor(prob["labels"]))
    L.backward()
    g = {name: (p.grad * s).numpy() for (name, _, _), p, s in zip(params_of(prob["layers"]), P, scale)}
    return float(L.detach()), g


def gradient_check(dts=(0.1, 0.05, 0.02, 0.01, 0.005, 0.002), readouts=("sum", "max"), deep: bool = False,
                   adaptive: bool = False) -> list:
    """Rows (readout, dt, loss, reference loss, {param: relative error}) of EventProp against
    the finite-difference gradients of this reference; relative error = ||g - g_ref|| / ||g_ref||."""
    prob = tiny_problem(deep=deep, adaptive=adaptive)
    rows = []
    for readout in readouts:
        ref = reference_gradients(prob, readout)
        lref = loss(prob["layers"], prob["samples"], prob["labels"], prob["n_in"], prob["t_end"], readout)
        for dt in dts:
            L, g = eventprop_gradients(prob, readout, dt)
            rows.append((readout, dt, L, lref,
                         {k: float(np.linalg.norm(g[k] - ref[k]) / np.linalg.norm(ref[k])) for k in ref}))
    return rows


def main() -> None:
    """``python -m fenn_dma.host.event_reference``: print the gradient-check tables (markdown)."""
    for deep, adaptive, dts, readouts in ((False, False, (0.1, 0.05, 0.02, 0.01, 0.005, 0.002), ("sum", "max")),
                                          (True, False, (0.01, 0.005, 0.002), ("sum",)),
                                          (False, True, (0.05, 0.02, 0.01, 0.005, 0.002), ("sum", "max"))):
        names = [n for n, _, _ in params_of(tiny_problem(deep=deep)["layers"])]
        print("\n" + ("3-3-3-2 (two hidden layers)" if deep else "3-3(recurrent)-2")
              + (", ALIF hidden" if adaptive else "") + "\n")
        print("| readout | dt (ms) | loss | reference loss | " + " | ".join(names) + " |")
        print("|---" * (4 + len(names)) + "|")
        for readout, dt, L, lref, err in gradient_check(dts, readouts, deep, adaptive):
            print(f"| {readout} | {dt:g} | {L:.4f} | {lref:.4f} | "
                  + " | ".join(f"{err[n]:.2%}" for n in names) + " |", flush=True)


if __name__ == "__main__":
    main()
