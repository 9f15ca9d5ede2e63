"""Float64 simulation of a model (the same discrete dynamics and schedule as the
fixed-point reference, without quantisation): used to measure value ranges for
choosing formats, and as the "float" side of accuracy comparisons."""
from __future__ import annotations

import numpy as np

from .model import Network
from .quantise import synapse_groups
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
    groups = {p: synapse_groups(net.incoming(pops[p])) for p in pops}
    group_of = {c.name: groups[c.target.name].index(
        (c.synapse.kind, float(c.synapse.tau) if c.synapse.kind == "exp" else None))
        for c in net.connections.values()}
    ring = {p: np.zeros((max(len(groups[p]), 1), B, maxoff + 1, pops[p].size)) for p in pops}
    st = {p: {"V": np.zeros((B, pops[p].size))} for p in pops}
    model_state = {p: {} if pops[p].is_input else pops[p].neuron.float_init((B, pops[p].size)) for p in pops}
    for p in pops:
        st[p]["I"] = np.zeros((max(len(groups[p]), 1), B, pops[p].size))
        if pops[p].initial_v is not None:
            st[p]["V"][:] = pops[p].initial_v
    spikes = {p: np.zeros((B, pops[p].size)) for p in pops}
    rec = {p: {k: [] for k in ("V", "I", "spikes") + ((pops[p].neuron.float_vars) if not pops[p].is_input
                                                         else ())} for p in pops}
    D = maxoff + 1
    i_range: dict[str, tuple[float, float]] = {}     # over every synapse group's current

    def deliver(c, s, t):
        w, d, _ = dense[c.name]
        off = c.latency - 1 if c.latency >= 1 else 0
        _deliver_rows(ring[c.target.name][group_of[c.name]], s, w, d, (t + off) % D)

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
            if pop.is_input:
                spikes[name] = np.asarray(inputs[name][:, t], np.float64)
                rec[name]["spikes"].append(spikes[name])
                continue
            s = st[name]
            inp = ring[name][:, :, t % D].copy()
            ring[name][:, :, t % D] = 0
            exp = [k for k, (kind, _) in enumerate(groups[name]) if kind == "exp"]
            bias = getattr(nrn, "bias", 0.0)
            extra = nrn.float_input(model_state[name], s["V"].shape, net.dt)    # the model's own input
            extra = 0.0 if extra is None else extra
            for k in exp:      # the bias (and the model's input) go to the first exponential current, else to V
                s["I"][k] = np.exp(-net.dt / groups[name][k][1]) * s["I"][k] + inp[k] + \
                    (bias + extra if k == exp[0] else 0)
            s["V"] = nrn.float_leak(s["V"], net.dt) + sum(s["I"][k] for k in exp) + (0.0 if exp else bias + extra)
            for k, (kind, _) in enumerate(groups[name]):
                if kind == "delta":
                    s["V"] = s["V"] + inp[k]
            ms = model_state[name]
            s["V"], z = nrn.float_fire(s["V"], ms, net.dt)
            if z is not None:
                spikes[name] = np.asarray(z, np.float64)
                rec[name]["spikes"].append(spikes[name])
            rec[name]["V"].append(s["V"].copy())
            for k in nrn.float_vars:
                rec[name][k].append(np.array(ms[k], np.float64))
            rec[name]["I"].append(s["I"].sum(axis=0))
            lo, hi = i_range.get(name, (0.0, 0.0))
            i_range[name] = (min(lo, float(s["I"].min())), max(hi, float(s["I"].max())))
    records = {p: {k: np.stack(v, 1) for k, v in r.items() if v} for p, r in rec.items()}
    ranges = {p: {k: (float(a.min()), float(a.max())) for k, a in r.items() if k != "spikes"}
              for p, r in records.items()}
    for p, r in ranges.items():
        if p in i_range:
            r["I"] = i_range[p]
        if "I" in r and "V" in r:   # every current I<k> shares V's format
            r["V"] = (min(r["V"][0], r["I"][0]), max(r["V"][1], r["I"][1]))
    return records, ranges


def _deliver_rows(ring: np.ndarray, s: np.ndarray, w: np.ndarray, d: np.ndarray, base: int) -> None:
    """Add the weight rows of the sources that spike (``s`` (B, n_pre), 0/1 or
    weights) to ``ring`` (B, D, n_post) at slot ``base + delay``. Only the rows of
    spiking sources are touched, so a step costs its spikes, not n_pre x n_post x delays."""
    bs, js = np.nonzero(s)
    if not bs.size:
        return
    D, n = ring.shape[1], ring.shape[2]
    slots = (base + d[js]) % D                                      # (spikes, n_post)
    idx = (bs[:, None] * D + slots) * n + np.arange(n)[None, :]
    vals = s[bs, js][:, None] * w[js]
    ring += np.bincount(idx.ravel(), vals.ravel(), ring.size).reshape(ring.shape)


def measure_ranges(net: Network, inputs: dict[str, np.ndarray], steps: int | None = None):
    """Value ranges ``{pop: {"V": (lo, hi), "A": ...}}`` on sample inputs, for ``quantise(measured=...)``."""
    return simulate_float(net, inputs, steps)[1]
