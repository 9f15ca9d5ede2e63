"""The compiler's :class:`Network` -> a NIR graph (``nir.NIRGraph``; ``nir.write``).

The writer of the one NIR reader/writer pair (the reader is
``compiler/nir_import.py``); ``fenn_dma.host.nir_io`` writes trained networks
through it. ``from_nir(to_nir(net))`` gives ``net`` back (docs/compiler.md,
"NIR export"), and a graph written here reads back in the order and with the
values ``fenn-dma compile graph.nir`` then compiles.

Graph written: the spike source is an ``Input``; every other population is a
``CubaLIF`` / ``CubaLI`` (Exponential synapse) or ``LIF`` / ``LI`` (Delta
synapse) with ``metadata["fenn_dma"]`` holding the exact parameters (ms, steps)
the reader uses as they are. Each connection is one ``Linear`` per distinct
delay value ``k`` of the projection (weights of the synapses with that delay,
others 0), preceded by a ``Delay`` of ``k dt`` seconds when ``k > 0`` (NIR's
Delay is per channel, so per-synapse delays become parallel branches whose
outputs sum at the target). Readout populations feed ``Output`` nodes. Graph
metadata: ``fenn_dma_format``, ``readout_reduce`` (``v_max``: "max",
``v_sum``: "mean"), ``latency_steps`` (one latency for every connection) and
whatever the caller adds (the host adds ``n_steps``, ``weight_format``).

Parameters follow snnTorch's discrete-time convention (a forward-Euler step of
``dt`` reproduces the decays exactly): ``tau_syn = dt / (1 - alpha)``,
``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt``, ``w_in = tau_syn / dt``
(seconds), ``v_leak = 0``, ``v_reset = 0``; so other tools read the graph with
the same dynamics.

Not expressible (an error that names the population or connection): several
spike sources, different latencies, different synapses into one population,
per-neuron parameter values, a bias, ``v_reset`` other than 0, ``initial_v``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ModelError
from .model import ALIF, LI, LIF, Connection, Delta, Exponential, Network

FORMAT = 1
REDUCE = {"v_max": "max", "v_sum": "mean"}


def _scalar(value, owner: str, what: str) -> float:
    a = np.asarray(value, dtype=np.float64).ravel()
    if a.size > 1 and not np.all(a == a[0]):
        raise ModelError(f"{owner}: per-neuron {what} values differ; a NIR file written here holds "
                         "one value per population")
    return float(a[0])


def base_name(target: str, source: str, n_feedforward: int) -> str:
    """The node-name stem of a connection's branches: ``T.rec`` for a recurrent
    one, ``T`` for a population's only other input, ``T.source`` otherwise."""
    if source == target:
        return f"{target}.rec"
    return target if n_feedforward == 1 else f"{target}.{source}"


def branch_names(base: str, recurrent: bool, delays) -> list[tuple[int, str, str | None]]:
    """``(k, Linear name, Delay name or None)`` per distinct delay value ``k``.
    A recurrent connection without delays is one ``Linear`` named ``base``."""
    ks = [int(k) for k in np.unique(np.asarray(delays))] or [0]
    if recurrent and ks == [0]:
        return [(0, base, None)]
    return [(k, f"{base}.w{k}", f"{base}.delay{k}" if k > 0 else None) for k in ks]


def _neuron_node(pop, synapse, dt: float):
    import nir
    n = pop.size
    neuron = pop.neuron
    owner = f"population {pop.name!r}"
    if np.any(np.asarray(neuron.bias) != 0):
        raise ModelError(f"{owner}: a bias current cannot be written to NIR here")
    if pop.initial_v is not None:
        raise ModelError(f"{owner}: initial_v cannot be written to NIR")
    dt_s = dt * 1e-3
    tau_mem = _scalar(neuron.tau_mem, owner, "tau_mem")
    beta = float(np.exp(-dt / tau_mem))
    if isinstance(neuron, LIF):
        if np.any(np.asarray(neuron.v_reset) != 0):
            raise ModelError(f"{owner}: v_reset = {neuron.v_reset!r}; a NIR file written here resets to 0")
        threshold = _scalar(neuron.threshold, owner, "threshold")
        refractory = int(round(float(neuron.refractory) / dt))
    else:
        threshold, refractory = 1.0, 0
    adaptive = isinstance(neuron, ALIF)
    tau_syn = float(synapse.tau) if isinstance(synapse, Exponential) else 0.0
    meta = {"fenn_dma": 1, "model": neuron.kind, "tau_mem_ms": tau_mem, "tau_syn_ms": tau_syn,
            "threshold": threshold, "dt_ms": dt, "refractory": refractory,
            "tau_adapt_ms": _scalar(neuron.tau_adapt, owner, "tau_adapt") if adaptive else 0.0,
            "beta_adapt": _scalar(neuron.beta, owner, "beta") if adaptive else 0.0}
    tm = np.full(n, dt_s / (1 - beta))
    if isinstance(synapse, Exponential):
        alpha = float(np.exp(-dt / tau_syn))
        ts = np.full(n, dt_s / (1 - alpha))
        common = dict(tau_syn=ts, tau_mem=tm, r=tm / dt_s, v_leak=np.zeros(n), w_in=ts / dt_s, metadata=meta)
        if isinstance(neuron, LI):
            return nir.CubaLI(**common)
        return nir.CubaLIF(v_threshold=np.full(n, threshold), v_reset=np.zeros(n), **common)
    common = dict(tau=tm, r=tm / dt_s, v_leak=np.zeros(n), metadata=meta)
    if isinstance(neuron, LI):
        return nir.LI(**common)
    return nir.LIF(v_threshold=np.full(n, threshold), v_reset=np.zeros(n), **common)


def _arrays(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """(weights (out, in), delays (out, in) steps) of a connection; absent synapses weigh 0."""
    w, d, _ = conn.dense_arrays()
    return np.ascontiguousarray(w.T), np.ascontiguousarray(d.T)


def to_nir(net: Network, metadata: dict | None = None):
    """The graph of ``net``; ``metadata`` is added to the graph's metadata."""
    import nir
    inputs = [p for p in net.populations.values() if p.kind == "input"]
    if len(inputs) != 1:
        raise ModelError(f"network {net.name!r}: NIR export needs exactly one spike source, found "
                         f"{len(inputs)}")
    latencies = {c.latency for c in net.connections.values()}
    if len(latencies) > 1:
        raise ModelError(f"network {net.name!r}: connections have latencies {sorted(latencies)}; "
                         "a NIR file written here holds one latency for all")
    dt_s = net.dt * 1e-3
    nodes, edges, outputs = {}, [], []
    for pop in net.populations.values():
        if pop.kind == "input":
            nodes[pop.name] = nir.Input(input_type={"input": np.array([pop.size])})
            continue
        incoming = net.incoming(pop)
        synapses = {c.synapse for c in incoming}
        if len(synapses) > 1:
            raise ModelError(f"population {pop.name!r}: inputs through different synapses "
                             f"({', '.join(sorted(map(repr, synapses)))}); NIR has one per neuron node")
        nodes[pop.name] = _neuron_node(pop, synapses.pop() if synapses else Delta(), net.dt)
        n_ff = sum(c.source is not pop for c in incoming)
        for conn in incoming:
            w, d = _arrays(conn)
            src = conn.source.name
            rec = conn.source is pop
            for k, lin, dn in branch_names(base_name(pop.name, src, n_ff), rec, d):
                nodes[lin] = nir.Linear(weight=np.where(d == k, w, 0.0))
                if dn is not None:
                    nodes[dn] = nir.Delay(delay=np.full(w.shape[1], k * dt_s))
                    edges += [(src, dn), (dn, lin)]
                else:
                    edges.append((src, lin))
                edges.append((lin, pop.name))
        if pop.readout is not None:
            outputs.append(pop)
    if not outputs:
        raise ModelError(f"network {net.name!r}: no readout population to write as the NIR Output")
    reduces = {REDUCE[p.readout] for p in outputs if p.readout in REDUCE}
    if len(reduces) > 1:
        raise ModelError(f"network {net.name!r}: V readouts {sorted(reduces)} differ; "
                         "a NIR file written here holds one")
    for i, pop in enumerate(outputs):
        name = "output" if i == 0 else f"output.{pop.name}"
        nodes[name] = nir.Output(output_type={"output": np.array([pop.size])})
        edges.append((pop.name, name))
    meta = {"fenn_dma_format": FORMAT, **(metadata or {})}
    if reduces:
        meta["readout_reduce"] = reduces.pop()
    meta["latency_steps"] = latencies.pop() if latencies else 1
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(net: Network, path: str | Path, metadata: dict | None = None) -> None:
    import nir
    nir.write(str(path), to_nir(net, metadata))
