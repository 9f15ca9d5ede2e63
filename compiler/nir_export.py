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
metadata: ``fenn_dma_format``, ``dt`` (seconds: the step the graph's times are
written for; :func:`retime` writes it for another), ``readout_reduce`` (``v_max``: "max",
``v_sum``: "mean"), ``latency_steps`` (one latency for every connection),
``fenn_dma_nodes`` (the node names in the order written, as JSON: a file
keeps its nodes sorted by name, and the order of populations and
connections is part of the compiled program), ``fenn_dma_formats`` (the
populations' declared fixed-point formats, ``{population: {var: "sI.F"}}``
as JSON, when any) and whatever the caller adds (the host adds ``n_steps``,
``weight_format``, ``rounding``).

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

import json
from pathlib import Path

import numpy as np

from .errors import ModelError
from .model import Connection, Delta, Exponential, Network

FORMAT = 1
ORDER_KEY = "fenn_dma_nodes"     # graph metadata: the node names in the order written (JSON list)
FORMATS_KEY = "fenn_dma_formats"  # graph metadata: declared formats, {population: {var: "sI.F"}} (JSON)
REDUCE = {"v_max": "max", "v_sum": "mean"}


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


# the metadata keys of format 1 (every model writes them; a model's own values replace these)
_LEGACY = {"threshold": 1.0, "refractory": 0, "tau_adapt_ms": 0.0, "beta_adapt": 0.0}


def neuron_node(neuron, size: int, dt: float, tau_syn: float | None, owner: str):
    """The NIR node of ``size`` neurons of the unit ``neuron`` (its ``to_nir``)."""
    import nir
    if np.any(np.asarray(getattr(neuron, "bias", 0.0)) != 0):
        raise ModelError(f"{owner}: a bias current cannot be written to NIR here")
    try:
        own = neuron.nir_metadata(owner, dt)
    except NotImplementedError as exc:
        raise ModelError(f"{owner}: {exc}") from None
    tau_mem = float(own.get("tau_mem_ms", np.inf))          # none: no leak (NIR's IF)
    meta = {"fenn_dma": 1, "model": neuron.name, "tau_mem_ms": tau_mem,
            "tau_syn_ms": 0.0 if tau_syn is None else float(tau_syn), "threshold": 1.0, "dt_ms": dt}
    meta.update({k: v for k, v in _LEGACY.items() if k not in meta})
    meta.update(own)
    threshold = np.full(size, float(meta["threshold"]))
    if np.isinf(tau_mem):
        if tau_syn is not None or not neuron.spiking:
            raise ModelError(f"{owner}: {neuron.name} has no leak, and NIR's only node without one is IF "
                             "(spiking, Delta synapse); with an Exponential synapse it cannot be written")
        return nir.IF(r=np.ones(size), v_threshold=threshold, v_reset=np.zeros(size), metadata=meta)
    dt_s = dt * 1e-3
    beta = float(np.exp(-dt / tau_mem))
    tm = np.full(size, dt_s / (1 - beta))
    if tau_syn is not None:
        alpha = float(np.exp(-dt / tau_syn))
        ts = np.full(size, dt_s / (1 - alpha))
        common = dict(tau_syn=ts, tau_mem=tm, r=tm / dt_s, v_leak=np.zeros(size), w_in=ts / dt_s, metadata=meta)
        if not neuron.spiking:
            return nir.CubaLI(**common)
        return nir.CubaLIF(v_threshold=threshold, v_reset=np.zeros(size), **common)
    common = dict(tau=tm, r=tm / dt_s, v_leak=np.zeros(size), metadata=meta)
    if not neuron.spiking:
        return nir.LI(**common)
    return nir.LIF(v_threshold=threshold, v_reset=np.zeros(size), **common)


def _arrays(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    """(weights (out, in), delays (out, in) steps) of a connection; absent synapses weigh 0."""
    w, d, _ = conn.dense_arrays()
    return np.ascontiguousarray(w.T), np.ascontiguousarray(d.T)


def to_nir(net: Network, metadata: dict | None = None):
    """The graph of ``net``; ``metadata`` is added to the graph's metadata."""
    import nir
    inputs = [p for p in net.populations.values() if p.is_input]
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
        if pop.is_input:
            nodes[pop.name] = nir.Input(input_type={"input": np.array([pop.size])})
            continue
        incoming = net.incoming(pop)
        synapses = {c.synapse for c in incoming}
        if len(synapses) > 1:
            raise ModelError(f"population {pop.name!r}: inputs through different synapses "
                             f"({', '.join(sorted(map(repr, synapses)))}); NIR has one per neuron node")
        if pop.initial_v is not None:
            raise ModelError(f"population {pop.name!r}: initial_v cannot be written to NIR")
        syn = synapses.pop() if synapses else Delta()
        nodes[pop.name] = pop.neuron.to_nir(pop.size, net.dt, syn.tau if isinstance(syn, Exponential) else None,
                                            f"population {pop.name!r}")
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
    meta = {"fenn_dma_format": FORMAT, "dt": dt_s, **(metadata or {})}
    if reduces:
        meta["readout_reduce"] = reduces.pop()
    meta["latency_steps"] = latencies.pop() if latencies else 1
    meta[ORDER_KEY] = json.dumps(list(nodes))      # a file keeps its nodes by name; the reader restores this
    formats = {p.name: dict(p.formats) for p in net.populations.values() if p.formats}
    if formats:                                    # e.g. the ones a trained network was deployed with
        meta[FORMATS_KEY] = json.dumps(formats)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def retime(graph, step_s: float):
    """The same graph written for a simulator whose step is ``step_s`` seconds:
    every time constant and delay scaled by ``step_s / dt`` (``r`` and ``w_in``,
    ratios of times, are unchanged), so a forward-Euler step of ``step_s``
    gives the decays and delays in steps that ``dt`` gives. snnTorch's importer
    assumes dt = 1e-4 s whatever the graph says (``SNNTORCH_DT``). Graph
    metadata ``dt`` records the step written; the nodes' ``fenn_dma``
    metadata keeps the exact parameters at the network's own ``dt_ms``."""
    import nir
    step_s = float(step_s)
    if not np.isfinite(step_s) or step_s <= 0:
        raise ModelError(f"NIR step {step_s!r} s: must be a positive number of seconds")
    meta = dict(graph.metadata or {})
    scale = step_s / float(meta["dt"])
    for node in graph.nodes.values():
        for field in ("tau", "tau_mem", "tau_syn"):
            if isinstance(node, (nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI)) and hasattr(node, field):
                setattr(node, field, np.asarray(getattr(node, field), np.float64) * scale)
        if isinstance(node, nir.Delay):
            node.delay = np.asarray(node.delay, np.float64) * scale
    meta["dt"] = step_s
    graph.metadata = meta
    return graph


def unit_r(graph):
    """The same graph with ``r = 1`` on every LIF / LI node, ``r`` folded into
    the weights of the ``Linear`` nodes feeding it (each feeds only that node, as
    :func:`to_nir` writes them): for importers that ignore ``r`` (Norse 1.1's
    ``LIFBoxCell`` / ``LIBoxCell``, whose input gain is dt/tau). CubaLIF/CubaLI
    keep theirs (``r`` and ``w_in`` meet at the synapse there)."""
    import nir
    for key, node in graph.nodes.items():
        if not isinstance(node, (nir.LIF, nir.LI)):
            continue
        r = np.asarray(node.r, np.float64)
        for a, b in graph.edges:
            if b != key:
                continue
            lin = graph.nodes[a]
            if not isinstance(lin, nir.Linear) or any(x == a and y != key for x, y in graph.edges):
                raise ModelError(f"NIR node {key!r}: r can be folded only into Linear nodes that feed it alone")
            lin.weight = np.asarray(lin.weight, np.float64) * r[:, None]
        node.r = np.ones_like(r)
    return graph


SNNTORCH_DT = 1e-4     # seconds: snnTorch 1.0's import_from_nir / export_to_nir fixed step


def write_nir(net: Network, path: str | Path, metadata: dict | None = None, step_s: float | None = None) -> None:
    """``step_s``: write the graph for a simulator with that step (see :func:`retime`)."""
    import nir
    graph = to_nir(net, metadata)
    nir.write(str(path), graph if step_s is None else retime(graph, step_s))
