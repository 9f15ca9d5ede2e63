"""NIR export and import of :class:`~fenn_dma.host.network.TrainedNetwork`.

Graph written (``nir`` package, ``nir.write``): ``input`` (Input) ->
per layer ``L``: one ``nir.Linear`` per distinct delay value ``k`` of the
projection (weights of the synapses with that delay, others 0), preceded by a
``nir.Delay`` of ``k * dt`` seconds when ``k > 0`` (NIR's Delay is per
channel, so per-synapse delays become parallel delay + linear branches whose
outputs sum at ``L``); ``L`` itself is a ``CubaLIF`` (hidden) or ``CubaLI``
(readout); a recurrent projection is ``L -> L.rec (Linear) -> L``; finally
``output`` (Output).

Parameters follow snnTorch's discrete-time convention (a forward-Euler step
of ``dt`` reproduces the decays exactly): ``tau_syn = dt / (1 - alpha)``,
``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt``, ``w_in = tau_syn / dt``
(seconds), ``v_leak = 0``, ``v_reset = 0``. Node metadata keeps the exact
physical values (ms, refractory steps, ALIF parameters), so a file written
here reads back identical. Graphs from other tools (no metadata) are read with
the same convention given ``dt``: decays from the taus, and the input gain
``(dt/tau_syn) w_in (dt/tau_mem) r`` folded into the incoming weights.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork


def _full(x, n):
    return np.full(n, float(x))


def to_nir(net: TrainedNetwork):
    import nir

    dt_s = net.dt * 1e-3
    nodes = {"input": nir.Input(input_type={"input": np.array([net.n_inputs])})}
    edges = []
    prev = "input"
    for li, layer in enumerate(net.layers):
        p = layer.neuron
        n = layer.size
        meta = {"fenn_dma": 1, "model": p.model, "tau_mem_ms": p.tau_mem, "tau_syn_ms": p.tau_syn,
                "threshold": p.threshold, "dt_ms": p.dt, "refractory": p.refractory,
                "tau_adapt_ms": p.tau_adapt, "beta_adapt": p.beta_adapt}
        tau_syn = _full(dt_s / (1 - p.alpha), n)
        tau_mem = _full(dt_s / (1 - p.beta), n)
        common = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt_s, v_leak=np.zeros(n),
                      w_in=tau_syn / dt_s, metadata=meta)
        if p.model == "LI":
            nodes[layer.name] = nir.CubaLI(**common)
        else:
            nodes[layer.name] = nir.CubaLIF(v_threshold=_full(p.threshold, n), v_reset=np.zeros(n), **common)
        for k in np.unique(layer.delays):
            w = np.where(layer.delays == k, layer.weights, 0.0)
            lin = f"{layer.name}.w{k}"
            nodes[lin] = nir.Linear(weight=w)
            if k > 0:
                dn = f"{layer.name}.delay{k}"
                nodes[dn] = nir.Delay(delay=np.full(layer.weights.shape[1], k * dt_s))
                edges += [(prev, dn), (dn, lin)]
            else:
                edges.append((prev, lin))
            edges.append((lin, layer.name))
        if layer.weights_rec is not None:
            nodes[f"{layer.name}.rec"] = nir.Linear(weight=layer.weights_rec)
            edges += [(layer.name, f"{layer.name}.rec"), (f"{layer.name}.rec", layer.name)]
        prev = layer.name
    nodes["output"] = nir.Output(output_type={"output": np.array([net.layers[-1].size])})
    edges.append((prev, "output"))
    meta = {"fenn_dma_format": 1, "n_steps": net.n_steps, "readout_reduce": net.readout_reduce,
            "weight_format": net.weight_format or "", "latency_steps": 1}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(net: TrainedNetwork, path: str | Path) -> None:
    import nir
    nir.write(str(path), to_nir(net))


def _scalar(a, what, name):
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size and not np.allclose(a, a[0]):
        raise ExportError(f"NIR node {name}: per-neuron {what} values differ; only one value per population is supported")
    return float(a[0]) if a.size else 0.0


def from_nir(graph, dt: float = 1.0) -> TrainedNetwork:
    """Read a feed-forward (+ self-recurrent) chain of CubaLIF/LIF layers ending
    in a CubaLI/LI readout. ``dt`` (ms) is used when nodes carry no metadata."""
    import nir

    nodes, edges = graph.nodes, list(graph.edges)
    preds: dict = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    succs: dict = {}
    for a, b in edges:
        succs.setdefault(a, []).append(b)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ExportError(f"NIR graph needs exactly one Input node, found {len(inputs)}")
    neuron_types = (nir.CubaLIF, nir.LIF, nir.CubaLI, nir.LI)
    n_in = int(np.prod(nodes[inputs[0]].input_type["input"])) if "input" in nodes[inputs[0]].input_type \
        else int(np.prod(next(iter(nodes[inputs[0]].input_type.values()))))

    def downstream_neurons(src):
        """Neuron nodes reached from ``src`` through Linear/Affine/Delay nodes (not itself)."""
        found, stack = [], list(succs.get(src, []))
        while stack:
            k = stack.pop()
            if isinstance(nodes[k], neuron_types):
                if k != src and k not in found:
                    found.append(k)
            elif isinstance(nodes[k], (nir.Linear, nir.Affine, nir.Delay)):
                stack += succs.get(k, [])
        return found

    order, cur = [], inputs[0]
    while True:
        nxt = downstream_neurons(cur)
        if not nxt:
            break
        if len(nxt) > 1:
            raise ExportError(f"NIR node {cur} feeds several populations {nxt}; only a chain of layers is supported")
        cur = nxt[0]
        if cur in order:
            break
        order.append(cur)
    if not order:
        raise ExportError("NIR graph has no neuron (CubaLIF/LIF/CubaLI/LI) node reachable from its Input")
    gmeta = graph.metadata or {}
    sizes = {inputs[0]: n_in}
    layers = []
    prev = inputs[0]
    for name in order:
        node = nodes[name]
        meta = node.metadata or {}
        if meta.get("fenn_dma"):
            p = NeuronParams(str(meta["model"]), float(meta["tau_mem_ms"]), float(meta["tau_syn_ms"]),
                             float(meta["threshold"]), float(meta["dt_ms"]), int(meta["refractory"]),
                             float(meta["tau_adapt_ms"]), float(meta["beta_adapt"]))
            gain = 1.0
        else:
            p, gain = _foreign_params(node, name, dt)
        # incoming projections
        w_in = w_rec = None
        delays = None
        for lin in preds.get(name, []):
            lnode = nodes[lin]
            if not isinstance(lnode, (nir.Linear, nir.Affine)):
                raise ExportError(f"NIR node {name}: input from {type(lnode).__name__} {lin}; expected Linear/Affine")
            if isinstance(lnode, nir.Affine) and np.any(np.asarray(lnode.bias) != 0):
                raise ExportError(f"NIR node {lin}: non-zero Affine bias is not supported (no bias currents)")
            w = np.asarray(lnode.weight, dtype=np.float64) * gain
            src = preds.get(lin, [])
            if len(src) != 1:
                raise ExportError(f"NIR node {lin}: needs exactly one input, has {len(src)}")
            src = src[0]
            k = 0
            if isinstance(nodes[src], nir.Delay):
                dsec = np.asarray(nodes[src].delay, dtype=np.float64).ravel()
                ks = np.floor(dsec / (p.dt * 1e-3) + 0.5).astype(np.int64)
                if ks.size and not np.all(ks == ks[0]):
                    raise ExportError(f"NIR Delay {src}: per-channel delays differ; write one Delay per value")
                k = int(ks[0]) if ks.size else 0
                src = preds.get(src, [None])[0]
            if src == name:
                w_rec = w if w_rec is None else w_rec + w
                continue
            if src != prev:
                raise ExportError(f"NIR node {name}: input from {src}, expected the previous layer {prev}")
            if w_in is None:
                w_in = np.zeros_like(w)
                delays = np.zeros(w.shape, dtype=np.int64)
            if np.any((w != 0) & (w_in != 0)):
                raise ExportError(f"NIR node {name}: a synapse appears in two delay branches")
            delays = np.where(w != 0, k, delays)
            w_in = w_in + w
        if w_in is None:
            raise ExportError(f"NIR node {name}: no weights from the previous layer {prev}")
        layers.append(Layer(name, p, w_in, delays, w_rec))
        sizes[name] = w_in.shape[0]
        prev = name
    if layers[-1].neuron.model != "LI":
        raise ExportError(f"NIR graph ends in {layers[-1].name} ({layers[-1].neuron.model}); "
                          "the last population must be a non-spiking CubaLI/LI readout")
    wf = gmeta.get("weight_format", "") or None
    return TrainedNetwork(n_in, layers, int(gmeta.get("n_steps", 0)),
                          str(gmeta.get("readout_reduce", "mean")), wf if wf else None)


def _foreign_params(node, name, dt):
    import nir

    dt_s = dt * 1e-3
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        tsyn = _scalar(node.tau_syn, "tau_syn", name)
        tmem = _scalar(node.tau_mem, "tau_mem", name)
        gain = (dt_s / tsyn) * _scalar(node.w_in, "w_in", name) * (dt_s / tmem) * _scalar(node.r, "r", name)
        alpha = 1 - dt_s / tsyn
    else:
        tmem = _scalar(node.tau, "tau", name)
        gain = (dt_s / tmem) * _scalar(node.r, "r", name)
        alpha = 0.0
    beta = 1 - dt_s / tmem
    if not (0 <= alpha < 1 and 0 < beta < 1):
        raise ExportError(f"NIR node {name}: time constants shorter than dt={dt} ms cannot be simulated")
    if _scalar(node.v_leak, "v_leak", name) != 0:
        raise ExportError(f"NIR node {name}: non-zero v_leak is not supported")
    tau_syn_ms = -dt / np.log(alpha) if alpha > 0 else 1e-6 * dt
    tau_mem_ms = -dt / np.log(beta)
    if isinstance(node, (nir.CubaLI, nir.LI)):
        return NeuronParams("LI", tau_mem_ms, tau_syn_ms, 1.0, dt), gain
    return NeuronParams("LIF", tau_mem_ms, tau_syn_ms, _scalar(node.v_threshold, "v_threshold", name), dt), gain


def import_nir(path: str | Path, dt: float = 1.0) -> TrainedNetwork:
    import nir

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"NIR file {path} not found")
    return from_nir(nir.read(str(path)), dt)
