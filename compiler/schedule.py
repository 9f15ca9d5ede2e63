"""The order of work inside one timestep, shared by the reference simulator and
the code generator so that both add synaptic input in the same order (which
matters once a saturating accumulator clips).

Step ``t``:

1. phase 1: every connection with latency >= 1 delivers the spikes its source
   emitted at ``t - 1``; sources in population order, one pass over each
   source's spike words, and for every spike the connections of that source in
   definition order;
2. populations in ``order`` (a topological order of the latency-0 connections):
   first their latency-0 incoming connections deliver the spikes their sources
   emitted at ``t`` (grouped by source the same way), then the population
   updates (a spike source loads its spikes of step ``t``).

A cycle of latency-0 connections has no such order and is an error.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ModelError


@dataclass(frozen=True)
class Group:
    """Connections that share a source and a pass over its spike words."""

    source: str
    connections: tuple[str, ...]


@dataclass(frozen=True)
class Schedule:
    order: tuple[str, ...]
    phase1: tuple[Group, ...]
    before_update: dict[str, tuple[Group, ...]]

    def offset(self, latency: int) -> int:
        """Steps between the delivering step and the arrival step (before the
        per-synapse delay): latency - 1 in phase 1, 0 for latency-0 connections."""
        return latency - 1 if latency >= 1 else 0


def _groups(conns: list[tuple[str, str, str, int]], pop_order: list[str]) -> tuple[Group, ...]:
    out = []
    for src in pop_order:
        names = tuple(name for name, s, _, _ in conns if s == src)
        if names:
            out.append(Group(src, names))
    return tuple(out)


def make_schedule(populations: list[str], connections: list[tuple[str, str, str, int]]) -> Schedule:
    """``populations`` in definition order; ``connections`` as (name, source, target, latency)."""
    zero = [(n, s, t, lat) for n, s, t, lat in connections if lat == 0]
    indeg = {p: 0 for p in populations}
    for _, _, t, _ in zero:
        indeg[t] += 1
    order: list[str] = []
    ready = [p for p in populations if indeg[p] == 0]
    while ready:
        p = ready.pop(0)
        order.append(p)
        for _, s, t, _ in zero:
            if s == p:
                indeg[t] -= 1
                if indeg[t] == 0:
                    ready.append(t)
        ready.sort(key=populations.index)
    if len(order) != len(populations):
        stuck = [p for p in populations if p not in order]
        cycle = _find_cycle(stuck, zero)
        raise ModelError("cycle without delay: " + " -> ".join(cycle) +
                         "; give one of these connections latency >= 1 (or a delay)")
    delayed = [c for c in connections if c[3] >= 1]
    before = {p: _groups([c for c in zero if c[2] == p], populations) for p in populations}
    return Schedule(tuple(order), _groups(delayed, populations), before)


def _find_cycle(stuck: list[str], zero) -> list[str]:
    succ = {p: [t for _, s, t, _ in zero if s == p and t in stuck] for p in stuck}
    path, seen = [stuck[0]], {stuck[0]}
    while True:
        nxt = succ[path[-1]][0]
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)
