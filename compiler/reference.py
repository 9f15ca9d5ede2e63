"""Bit-exact numpy reference of a quantised network, vectorised across samples.

This is the oracle the compiled program is tested against and a fast way to
measure the accuracy of the quantised network. Every lane operation is the
one of ``fenn_dma.sim.lanes``; under stochastic rounding the per-lane
Xoroshiro32++ stream is advanced in exactly the order the program's
multiplies run (population order, then 32-neuron chunk, then the multiplies
of ``QPopulation.multiplies()``), so lane ``i % 32`` of neuron ``i`` sees the
same random numbers as on the machine. The stream does not depend on the
data, so every sample (which the runtime starts from the same seed) shares it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC, ROUND_TRUNC
from fenn_dma.sim import lanes as L

from .errors import ModelError
from .neurons import IntOps
from .quantise import DECAY_SHIFT, LANES, QConnection, QNetwork, QPopulation, suffix

I16_MIN, I16_MAX = -32768, 32767


@dataclass
class PopState:
    V: np.ndarray | None = None
    I: dict[int, np.ndarray] = field(default_factory=dict)   # per exponential synapse group
    # the neuron model's own state (QPopulation.state_vars(): e.g. A, rc), (B, Npad) int16
    vars: dict[str, np.ndarray] = field(default_factory=dict)
    readout: np.ndarray | None = None
    # input accumulators per (synapse group, "direct" | "ring"): (B, Npad) or (B, depth, Npad)
    acc: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    spikes: np.ndarray | None = None    # (B, size) bool, latest step


@dataclass
class RunResult:
    """``records[pop.var]``: (B, steps, size) (int16 V, bool spikes);
    ``readouts[pop]``: (B, size) int16."""

    records: dict[str, np.ndarray] = field(default_factory=dict)
    readouts: dict[str, np.ndarray] = field(default_factory=dict)


def readout_round(qnet: QNetwork) -> int:
    """Rounding of the v_sum shift: truncate, else nearest (stochastic would
    consume RNG outputs for nothing)."""
    return ROUND_TRUNC if qnet.rounding == "truncate" else ROUND_NEAREST


class ReferenceSimulator:
    """``observer(pop, state)``, if given, is called after every update of a neuron
    population (its :class:`PopState` at the end of the step; e.g.
    ``compiler.saturation`` counts the values at the int16 rails). It must not
    change the state."""

    def __init__(self, qnet: QNetwork, batch: int = 1, observer=None):
        self.q = qnet
        self.batch = batch
        self.observer = observer
        self.reset()

    def reset(self) -> None:
        B = self.batch
        self.t = 0
        self.s0 = self.q.rng_seed[0].copy()
        self.s1 = self.q.rng_seed[1].copy()
        self.state: dict[str, PopState] = {}
        for p in self.q.populations.values():
            z = lambda: np.zeros((B, p.padded), np.int16)  # noqa: E731
            s = PopState(spikes=np.zeros((B, p.size), bool))
            if not p.is_input:
                s.V = z()
                if p.initial_v is not None:
                    s.V[:, :p.size] = p.initial_v
                s.I = {k: z() for k in p.exp_groups}
                s.vars = {name: z() for name in p.state_vars()}
                if p.readout == "v_max":
                    s.readout = np.full((B, p.padded), I16_MIN, np.int16)
                elif p.readout:
                    s.readout = z()
                for k, g in enumerate(p.synapses):
                    if g.has_direct:
                        s.acc[(k, "direct")] = z()
                    if g.has_ring:
                        s.acc[(k, "ring")] = np.zeros((B, p.ring_depth, p.padded), np.int16)
            self.state[p.name] = s

    # --- stochastic rounding stream -------------------------------------------
    def _rng_outputs(self, pop: QPopulation) -> dict[str, np.ndarray]:
        """The RNG output each multiply of ``pop`` sees, as (padded,) uint16 per multiply."""
        ops = pop.multiplies()
        drawn = self._rng_users(pop, ops)
        if not drawn:
            return {op: None for op in ops}
        out = {op: np.zeros(pop.padded, np.uint16) for op in drawn}
        for c in range(pop.chunks):
            for op in drawn:
                o, self.s0, self.s1 = L.rng_next(self.s0, self.s1)
                out[op][c * LANES:(c + 1) * LANES] = o
        return {op: out.get(op) for op in ops}

    def _rng_users(self, pop: QPopulation, ops: tuple[str, ...]) -> tuple[str, ...]:
        """The draws of ``ops`` that advance the RNG under this rounding, in order:
        all under stochastic rounding, else only the model's vrng samples."""
        if self.q.round_code == ROUND_STOCHASTIC:
            return ops
        samples = set(pop.model.rng_samples(pop)) if not pop.is_input else set()
        return tuple(op for op in ops if op in samples)

    # --- synaptic input ---------------------------------------------------------
    def _deliver(self, pop: QPopulation, groups, spikes_of) -> None:
        """Add the weights of every spike of ``groups`` (in schedule order) to
        ``pop``'s accumulators, saturating as the program's vadd_s does."""
        st = self.state[pop.name]
        jobs = []   # (conn, spikes (B, n_pre))
        for g in groups:
            for name in g.connections:
                c = self.q.connections[name]
                if c.target == pop.name:
                    jobs.append((c, spikes_of(g.source)))
        if not jobs:
            return
        for key in st.acc:
            mine = [(c, s) for c, s in jobs if (c.group, c.mode) == key]
            if not mine:
                continue
            acc = st.acc[key]
            pos = np.zeros(acc.shape, np.int64)
            neg = np.zeros(acc.shape, np.int64)
            for c, s in mine:
                p, n = self._contributions(c, pop, s)
                pos += p
                neg += n
            base = acc.astype(np.int64)
            safe = (base + pos <= I16_MAX) & (base + neg >= I16_MIN)
            ok = safe.reshape(self.batch, -1).all(axis=1)
            exact = (base + pos + neg)
            new = acc.copy()
            new[ok] = exact[ok].astype(np.int16)
            for b in np.nonzero(~ok)[0]:
                new[b] = self._sequential(pop, acc[b], groups, spikes_of, key, b)
            st.acc[key] = new

    def _slots(self, c: QConnection, pop: QPopulation, rows) -> np.ndarray:
        """Ring slot of each synapse of source rows ``rows`` (only those: a full
        (n_pre, n_post) array per step would dominate the run time of large networks)."""
        return (self.t + c.offset + c.delays[rows]) % pop.ring_depth

    def _contributions(self, c: QConnection, pop: QPopulation, s: np.ndarray):
        """Exact positive and negative parts of what ``s`` adds to the accumulator."""
        B = self.batch
        w = c.weights
        if c.mode == "direct":
            sf = s.astype(np.int64)
            pos = np.zeros((B, pop.padded), np.int64)
            neg = np.zeros((B, pop.padded), np.int64)
            pos[:, :pop.size] = sf @ np.maximum(w, 0)
            neg[:, :pop.size] = sf @ np.minimum(w, 0)
            return pos, neg
        depth, npad, n = pop.ring_depth, pop.padded, pop.size
        bs, js = np.nonzero(s)
        idx = ((bs[:, None] * depth + self._slots(c, pop, js)) * npad + np.arange(n)[None, :]).ravel()
        vals = w[js].ravel()
        size = B * depth * npad
        pos = np.bincount(idx, np.maximum(vals, 0), size).astype(np.int64).reshape(B, depth, npad)
        neg = np.bincount(idx, np.minimum(vals, 0), size).astype(np.int64).reshape(B, depth, npad)
        return pos, neg

    def _sequential(self, pop, acc_b, groups, spikes_of, key, b):
        """One sample's accumulator, adding spike by spike in program order."""
        acc = acc_b.copy()
        n = pop.size
        cols = np.arange(n)
        for g in groups:
            conns = [self.q.connections[nm] for nm in g.connections]
            conns = [c for c in conns if c.target == pop.name and (c.group, c.mode) == key]
            if not conns:
                continue
            for j in np.nonzero(spikes_of(g.source)[b])[0]:
                for c in conns:
                    if key[1] == "direct":
                        acc[:n] = L.vadd(acc[:n], c.weights[j], sat=True)
                    else:
                        sl = self._slots(c, pop, j)
                        acc[sl, cols] = L.vadd(acc[sl, cols], c.weights[j], sat=True)
        return acc

    # --- neuron update ------------------------------------------------------------
    def _input(self, pop: QPopulation, k: int) -> np.ndarray | None:
        """Synapse group ``k``'s input of this step (direct + ring slot, saturating),
        clearing what it reads; None when the group has no accumulator."""
        st = self.state[pop.name]
        total = None
        if (k, "direct") in st.acc:
            total = st.acc[(k, "direct")]
            st.acc[(k, "direct")] = np.zeros_like(total)
        if (k, "ring") in st.acc:
            ring = st.acc[(k, "ring")]
            slot = self.t % pop.ring_depth
            r = ring[:, slot].copy()
            ring[:, slot] = 0
            total = L.vadd(total, r, sat=True) if total is not None else r
        return total

    def _update(self, pop: QPopulation) -> np.ndarray:
        st = self.state[pop.name]
        rnd = self.q.round_code
        sat = pop.saturate
        rng = self._rng_outputs(pop)
        par = {k: np.pad(v, (0, pop.padded - pop.size)).astype(np.int16) for k, v in pop.params.items()}
        inp = {k: self._input(pop, k) for k in range(len(pop.synapses))}

        ops = IntOps(par, rnd, sat, rng, DECAY_SHIFT)
        model = pop.model

        for k in pop.exp_groups:
            st.I[k] = ops.mul(st.I[k], f"alpha{suffix(k)}")
            if inp[k] is not None:
                st.I[k] = L.vadd(st.I[k], inp[k], sat=sat)
            if k == pop.bias_group:
                st.I[k] = L.vadd(st.I[k], par["bias"], sat=sat)
                st.I[k] = model.int_input(pop, ops, st.I[k])
        st.V = model.int_leak(pop, ops, st.V)
        for k in pop.exp_groups:
            st.V = L.vadd(st.V, st.I[k], sat=sat)
        for k, g in enumerate(pop.synapses):
            if g.kind == "delta" and inp[k] is not None:
                st.V = L.vadd(st.V, inp[k], sat=sat)
        if pop.bias_group is None:
            st.V = L.vadd(st.V, par["bias"], sat=sat)
            st.V = model.int_input(pop, ops, st.V)
        st.V, z = model.int_fire(pop, ops, st.V, st.vars)
        if pop.readout == "v_sum":
            term = L.vsrai(st.V, pop.readout_shift, readout_round(self.q)) if pop.readout_shift else st.V
            st.readout = L.vadd(st.readout, term, sat=True)
        elif pop.readout == "v_max":
            st.readout = np.where(st.V > st.readout, st.V, st.readout)
        elif pop.readout == "spike_count":
            st.readout = np.where(z, L.vadd(st.readout, np.int16(1), sat=True), st.readout)
        return z[:, :pop.size] if z is not None else None

    # --- running ------------------------------------------------------------------
    def step(self, inputs: dict[str, np.ndarray]) -> None:
        """One timestep; ``inputs[name]``: (B, size) bool spikes of each spike source."""
        q = self.q
        prev = {name: s.spikes for name, s in self.state.items()}
        cur = dict(prev)
        pending = {p: [] for p in q.populations}
        for g in q.schedule.phase1:
            pending_targets = {q.connections[n].target for n in g.connections}
            for t in pending_targets:
                pending[t].append(g)
        for name in q.schedule.order:
            pop = q.populations[name]
            if pending[name]:
                self._deliver(pop, pending[name], lambda s: prev[s])
            if q.schedule.before_update[name]:
                self._deliver(pop, q.schedule.before_update[name], lambda s: cur[s])
            if pop.is_input:
                cur[name] = np.asarray(inputs[name], bool).reshape(self.batch, pop.size)
            else:
                z = self._update(pop)
                if z is not None:
                    cur[name] = z
                if self.observer is not None:
                    self.observer(pop, self.state[name])
            self.state[name].spikes = cur[name]
        self.t += 1

    def run(self, inputs: dict[str, np.ndarray], steps: int | None = None) -> RunResult:
        """``inputs[name]``: (B, T, size) spikes of every spike source; runs ``steps``
        (default T) steps from the current state and returns the records and readouts."""
        q = self.q
        srcs = [p for p in q.populations.values() if p.is_input]
        for p in srcs:
            if p.name not in inputs:
                raise ModelError(f"no input spikes for spike source {p.name!r}")
            a = np.asarray(inputs[p.name])
            if a.ndim != 3 or a.shape[0] != self.batch or a.shape[2] != p.size:
                raise ModelError(f"inputs[{p.name!r}] has shape {a.shape}, expected "
                                 f"({self.batch}, steps, {p.size})")
        if steps is None:
            steps = min(np.shape(inputs[p.name])[1] for p in srcs) if srcs else 0
        res = RunResult()
        rec = {(p.name, var): [] for p in q.populations.values() for var in p.record}
        for k in range(steps):
            self.step({p.name: np.asarray(inputs[p.name])[:, k] for p in srcs})
            for (name, var) in rec:
                s = self.state[name]
                n = q.populations[name].recorded(var)
                rec[(name, var)].append(s.spikes[:, :n].copy() if var == "spikes" else s.V[:, :n].copy())
        for (name, var), vals in rec.items():
            n = q.populations[name].recorded(var)
            empty = np.zeros((self.batch, 0, n), bool if var == "spikes" else np.int16)
            res.records[f"{name}.{var}"] = np.stack(vals, axis=1) if vals else empty
        for p in q.populations.values():
            if p.readout:
                res.readouts[p.name] = self.state[p.name].readout[:, :p.size].copy()
        return res
