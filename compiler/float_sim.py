"""Float64 simulation of a model (the same discrete dynamics and schedule as the
fixed-point reference, without quantisation): used to measure value ranges for
choosing formats, and as the "float" side of accuracy comparisons."""
from __future__ import annotations

import numpy as np

from .model import ALIF, LI, Exponential, Network, SpikeInput
from .schedule import make_schedule


def simulate_float(net: Network, inputs: dict[str, np.ndarray], steps: int | None = None):
    """``inputs[name]`` (B, T, size) -> (records, ranges): ``records[pop]`` is a dict
    of (B, T, size) arrays ``V``, ``I``, ``A``, ``spikes``; ``ranges[pop][var] = (min, max)``."""
    sched = make_schedule(list(net.populations),
                          [(c.name, c.source.name, c.target.name, c.latency) for c in net.connections.values()])
    B = next(iter(inputs.values())).shape[0] if inputs else 1
    T = steps if steps is not None else min(np.shape(a)[1] for a in inputs.values())
    pops = net.populations
    dense = {c.name: c.dense_arrays() for c in net.connections.values()}
    maxoff = max([int(d.max(initial=0)) + max(c.latency, 1) for c in net.connections.values()
                  for d in [dense[c.name][1]]] + [1])
    ring = {p: np.zeros((B, maxoff + 1, pops[p].size)) for p in pops}
    st = {p: {k: np.zeros((B, pops[p].size)) for k in ("V", "I", "A", "rc")} for p in pops}
    spikes = {p: np.zeros((B, pops[p].size)) for p in pops}
    rec = {p: {k: [] for k in ("V", "I", "A", "spikes")} for p in pops}
    D = maxoff + 1

    def deliver(c, s, t):
        w, d, _ = dense[c.name]
        off = c.latency - 1 if c.latency >= 1 else 0
        for dv in np.unique(d):
            wd = np.where(d == dv, w, 0.0)
            ring[c.target.name][:, (t + off + dv) % D] += s @ wd

    for t in range(T):
        prev = dict(spikes)
        for g in sched.phase1:
            for n in g.connections:
                deliver(net.connections[n], prev[g.source], t)
        for name in sched.order:
            for g in sched.before_update[name]:
                for n in g.connections:
                    deliver(net.connections[n], spikes[g.source], t)
            pop = pops[name]
            nrn = pop.neuron
            if isinstance(nrn, SpikeInput):
                spikes[name] = np.asarray(inputs[name][:, t], np.float64)
                rec[name]["spikes"].append(spikes[name])
                continue
            s = st[name]
            inp = ring[name][:, t % D].copy()
            ring[name][:, t % D] = 0
            beta = np.exp(-net.dt / np.asarray(nrn.tau_mem, np.float64))
            syn = [c.synapse for c in net.incoming(pop)]
            if syn and isinstance(syn[0], Exponential):
                s["I"] = np.exp(-net.dt / syn[0].tau) * s["I"] + inp + nrn.bias
                s["V"] = beta * s["V"] + s["I"]
            else:
                s["V"] = beta * s["V"] + inp + nrn.bias
            if not isinstance(nrn, LI):
                ref = int(round(nrn.refractory / net.dt))
                if ref > 0:
                    s["rc"] = s["rc"] - 1
                    s["V"] = np.where(s["rc"] >= 0, 0.0, s["V"])
                thr = nrn.threshold + (nrn.beta * s["A"] if isinstance(nrn, ALIF) else 0.0)
                z = s["V"] > thr
                s["V"] = np.where(z, nrn.v_reset, s["V"])
                if ref > 0:
                    s["rc"] = np.where(z, ref, s["rc"])
                if isinstance(nrn, ALIF):
                    s["A"] = np.exp(-net.dt / np.asarray(nrn.tau_adapt)) * s["A"] + z
                spikes[name] = z.astype(np.float64)
                rec[name]["spikes"].append(spikes[name])
            for k in ("V", "I", "A"):
                rec[name][k].append(s[k].copy())
    records = {p: {k: np.stack(v, 1) for k, v in r.items() if v} for p, r in rec.items()}
    ranges = {p: {k: (float(a.min()), float(a.max())) for k, a in r.items() if k != "spikes"}
              for p, r in records.items()}
    for p, r in ranges.items():
        if "I" in r and "V" in r:   # I shares V's format
            r["V"] = (min(r["V"][0], r["I"][0]), max(r["V"][1], r["I"][1]))
    return records, ranges


def measure_ranges(net: Network, inputs: dict[str, np.ndarray], steps: int | None = None):
    """Value ranges ``{pop: {"V": (lo, hi), "A": ...}}`` on sample inputs, for ``quantise(measured=...)``."""
    return simulate_float(net, inputs, steps)[1]
