"""NIR graphs (``nir.read`` / ``nir.NIRGraph``) -> the compiler's :class:`Network`.

The reader of the one NIR reader/writer pair (the writer is
``compiler/nir_export.py``); ``fenn_dma.host.nir_io`` reads trained networks
through it.

Mapping (docs/compiler.md, "NIR import"):

- ``Input`` -> a :class:`SpikeInput` population; ``Output`` marks the
  population that feeds it as the network's output (LI: record V and the
  readout; spiking: record spikes and count them).
- Neuron nodes -> the neuron model whose ``nir_types`` name the node's type
  (compiler/neurons/: ``LIF`` / ``IF`` / ``LI`` -> LIF / LIF with no leak / LI
  with Delta synapses; ``CubaLIF`` / ``CubaLI`` -> LIF / LI with an
  Exponential synapse), built by the model's ``from_nir``; a node with
  ``metadata["fenn_dma"]`` -> the model its ``model`` key names.
- Every path from a population through ``Affine`` / ``Linear`` (at most one
  weight matrix), ``Scale`` and ``Delay`` nodes into a neuron node becomes one
  connection; a path without a matrix is one-to-one. An ``Affine`` bias is a
  constant input current of the target.
- Discretisation: NIR's ODEs by one forward-Euler step of ``dt`` (snnTorch's
  and Norse's convention): ``alpha = 1 - dt/tau_syn``, ``beta = 1 - dt/tau_mem``,
  and the input gains ``(dt/tau_syn) w_in`` and ``(dt/tau_mem) r`` folded into
  the incoming weights (IF: ``V += r x``). Nodes written by
  ``compiler/nir_export.py`` carry ``metadata["fenn_dma"]`` with the exact
  parameters in ms (each model's ``nir_metadata``), which are used as they are.
- Order: the populations and connections (their order is part of the
  compiled program) follow the graph's nodes; a file keeps them sorted by
  name, so graphs written by ``compiler/nir_export.py`` list the order they
  were written in (graph metadata ``fenn_dma_nodes``), which is used.
- Latency: graph metadata ``latency_steps`` if present (every connection has
  that latency), else the ``latency`` argument, else 0 on feed-forward edges
  and 1 on edges that close a cycle (snnTorch's recurrent convention).
- Fixed-point formats: graph metadata ``fenn_dma_formats`` (JSON
  ``{population: {var: "sI.F"}}``, written by ``compiler/nir_export.py`` from
  the populations' declared formats, e.g. those a trained network was
  deployed with) are declared on the populations again.
- Per-synapse delays (which NIR cannot express): node metadata
  ``"fenn.delays"`` on an ``Affine``/``Linear``, an integer matrix of steps of
  the weight's shape ``(out, in)``. ``Delay`` nodes give per-channel delays in
  seconds (rounded to steps).

Anything else (convolutions, pooling, Threshold, Flatten, ...) is an error that
names the node and why.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ModelError
from .model import Delta, Dense, Exponential, Network, SpikeInput
from .neurons import model_class, models

DELAY_KEY = "fenn.delays"


def _arr(x, n=None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if n is not None and a.size == 1:
        return np.full(n, float(a.ravel()[0]))
    return a.ravel() if n is not None else a


def _size(node) -> int:
    import nir
    if isinstance(node, nir.Input):
        shape = next(iter(node.input_type.values()))
        return int(np.prod(shape))
    for attr in ("tau_mem", "tau", "r", "v_threshold"):
        if hasattr(node, attr) and getattr(node, attr) is not None:
            size = int(np.asarray(getattr(node, attr)).size)
            if size == 0:
                raise ModelError(f"NIR node of type {type(node).__name__}: its {attr} is empty (0 neurons); "
                                 "a population has at least one neuron")
            return size
    raise ModelError(f"NIR node of type {type(node).__name__} has no size")


def load_graph(path: str | Path):
    """The ``nir.NIRGraph`` in a file (``nir.read``), or a ModelError saying why not."""
    import nir
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"NIR file {path} not found")
    try:
        return nir.read(str(path))
    except Exception as exc:   # h5py / nir raise many kinds
        raise ModelError(f"{path}: not a readable NIR file ({exc})") from None


def read_nir(path: str | Path, **kw) -> Network:
    return from_nir(load_graph(path), name=Path(path).stem, **kw)


def from_nir(graph, dt: float | None = None, latency: int | None = None, readout: str = "v_sum",
             name: str = "nir") -> Network:
    """``dt``: the step in ms; None: the graph's own (see :func:`graph_dt`)."""
    import nir
    nodes, edges = _written_order(graph), [tuple(e) for e in graph.edges]
    neuron_types = tuple(getattr(nir, t) for t in _foreign_models())
    path_types = (nir.Affine, nir.Linear, nir.Scale, nir.Delay)
    for key, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ModelError(f"NIR node {key!r}: nested graphs are not supported; flatten the graph first")
        if not isinstance(node, neuron_types + path_types + (nir.Input, nir.Output)):
            raise ModelError(f"NIR node {key!r} ({type(node).__name__}) is not supported: the compiler maps "
                             f"Input, Output, Affine, Linear, Scale, Delay, {', '.join(_foreign_models())}")
    for a, b in edges:
        for k in (a, b):
            if k not in nodes:
                raise ModelError(f"NIR edge ({a!r}, {b!r}) names an unknown node {k!r}")
    gmeta = dict(graph.metadata or {})
    reduce = str(gmeta.get("readout_reduce", ""))
    if reduce in ("max", "mean"):      # written by compiler/nir_export.py
        readout = "v_max" if reduce == "max" else "v_sum"
    if "latency_steps" in gmeta:
        latency = int(gmeta["latency_steps"])
    neuron_nodes = [n for n in nodes.values() if isinstance(n, neuron_types)]
    exact = any(dict(n.metadata or {}).get("fenn_dma") for n in neuron_nodes)
    caller_dt = dt
    dt = graph_dt(graph, neuron_nodes, dt, name)
    # the step the graph's own times (Delay seconds) are written in: an exporter may write the
    # graph for a peer's fixed step (compiler/nir_export.retime), recorded as metadata "dt"
    step = dt
    if "dt" in gmeta and (exact or caller_dt is None):
        step = graph_dt(graph, [], None, name)
    net = Network(dt=dt, name=name)
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    pred: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    pops, gains, biases = {}, {}, {}
    outputs = {p for k, n in nodes.items() if isinstance(n, nir.Output) for p in pred[k]}
    for key, node in nodes.items():
        if isinstance(node, nir.Input):
            pops[key] = (SpikeInput(), _size(node))
        elif isinstance(node, neuron_types):
            neuron, syn, gain = _neuron(key, node, dt)
            pops[key] = (neuron, _size(node), syn)
            gains[key] = gain
    if not any(isinstance(p[0], SpikeInput) for p in pops.values()):
        raise ModelError("NIR graph has no Input node")
    paths = []
    for src in pops:
        for path in _paths(src, succ, nodes, pops, path_types):
            paths.append((src, path))
    inputs_first = sorted(pops, key=lambda k: not isinstance(pops[k][0], SpikeInput))
    back = _back_edges(inputs_first, [(s, p[-1]) for s, p in paths])
    # create populations in graph order
    created = {}
    for key, (neuron, size, *rest) in pops.items():
        kw = {}
        if key in outputs:
            if isinstance(neuron, SpikeInput):
                pass
            elif not neuron.spiking:
                kw = {"record": ("v",), "readout": readout if readout in ("v_sum", "v_max") else "v_sum"}
            else:
                kw = {"record": ("spikes",), "readout": "spike_count"}
        created[key] = (net.population(key, size, neuron, **kw), rest[0] if rest else None)
    merged: dict[tuple[str, str, int], list] = {}
    for src, path in paths:
        tgt = path[-1]
        if tgt not in gains:
            raise ModelError(f"NIR graph: an edge path {' -> '.join([src, *path])} ends at {tgt!r} "
                             f"({type(nodes[tgt]).__name__}), which takes no input; paths end at neuron nodes")
        tpop, syn = created[tgt]
        spop = created[src][0]
        if not spop.spiking:
            raise ModelError(f"NIR node {tgt!r}: input from {src!r}, which does not spike")
        w, (pre_d, post_d, syn_d), bias = _compose(src, path, nodes, spop.size, tpop.size)
        w = w * gains[tgt][None, :]
        d = _steps(pre_d, step)[:, None] + _steps(post_d, step)[None, :]
        if syn_d is not None:
            d = d + syn_d
        if bias is not None:
            biases[tgt] = biases.get(tgt, 0.0) + bias * gains[tgt]
        lat = latency if latency is not None else (1 if (src, tgt) in back else 0)
        merged.setdefault((src, tgt, lat), []).append((path, w, d))
    for (src, tgt, lat), branches in merged.items():
        spop, (tpop, syn) = created[src][0], created[tgt]
        nonzero = sum((w != 0).astype(int) for _, w, _ in branches)
        groups = [branches] if nonzero.max(initial=0) <= 1 else [[b] for b in branches]
        for group in groups:
            # delay branches of one projection (as compiler/nir_export.py writes them) become one
            # connection with per-synapse delays
            w = sum(b[1] for b in group)
            d = sum(np.where(b[1] != 0, b[2], 0) for b in group) if len(group) > 1 else group[0][2]
            cname = f"{src}->{tgt}" if len(groups) == 1 else f"{src}->{'->'.join(group[0][0])}"
            net.connect(spop, tpop, Dense(w, d if d.any() else None), syn, latency=lat, name=cname)
    for tgt, b in biases.items():
        neuron = created[tgt][0].neuron
        neuron.bias = np.asarray(neuron.bias, dtype=np.float64) + b
    for key, formats in _declared_formats(gmeta, net).items():
        net.populations[key].formats.update(formats)
    return net


def _declared_formats(gmeta: dict, net: Network) -> dict:
    """{population: {var: format}} of graph metadata ``fenn_dma_formats``, checked."""
    import json
    from .nir_export import FORMATS_KEY
    text = gmeta.get(FORMATS_KEY)
    if text is None:
        return {}
    try:
        formats = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        formats = None
    if not isinstance(formats, dict) or not all(
            isinstance(v, dict) and all(isinstance(f, str) for f in v.values()) for v in formats.values()):
        raise ModelError(f"NIR graph metadata {FORMATS_KEY!r} = {str(text)[:80]!r} is not the JSON object "
                         '{population: {variable: "sI.F"}} the writer gives')
    unknown = sorted(set(formats) - set(net.populations))
    if unknown:
        raise ModelError(f"NIR graph metadata {FORMATS_KEY!r} names population(s) {', '.join(map(repr, unknown))} "
                         f"that the graph does not have; populations: {', '.join(net.populations)}")
    return formats


def graph_dt(graph, neuron_nodes, dt: float | None, name: str = "nir") -> float:
    """The step (ms) a graph is simulated at, first found of: the ``dt_ms`` of
    nodes written by compiler/nir_export.py (exact); ``dt`` (the caller's);
    graph metadata ``dt`` in seconds (written by our exporter; peers may add
    it); the one ``dt = tau / r`` that every neuron node satisfies, with some
    ``r != 1`` (snnTorch's exporter writes ``r = tau / dt`` with its fixed
    dt = 1e-4 s). Else a ModelError: NIR itself has no time step."""
    metas = [dict(n.metadata or {}) for n in neuron_nodes]
    dts = {float(m["dt_ms"]) for m in metas if m.get("fenn_dma") and "dt_ms" in m}
    if len(dts) > 1:
        raise ModelError(f"NIR graph {name!r}: nodes disagree on dt_ms {sorted(dts)}")
    if dts:
        return dts.pop()
    if dt is not None:
        return float(dt)
    meta_dt = (graph.metadata or {}).get("dt")
    if meta_dt is not None:
        value = float(np.asarray(meta_dt, dtype=np.float64).ravel()[0]) * 1e3
        if not np.isfinite(value) or value <= 0:
            raise ModelError(f"NIR graph {name!r}: metadata dt = {meta_dt!r} s is not a positive number")
        return value
    implied = []
    for node in neuron_nodes:
        tau = getattr(node, "tau_mem", getattr(node, "tau", None))
        r = getattr(node, "r", None)
        if tau is None or r is None:
            continue
        tau, r = np.asarray(tau, np.float64).ravel(), np.asarray(r, np.float64).ravel()
        if tau.size and r.size and np.all(r > 0) and np.all(np.isfinite(tau / r)):
            implied.append((tau / r, bool(np.any(np.abs(r - 1) > 1e-9))))
    if implied and any(not_one for _, not_one in implied):
        values = np.concatenate([v for v, _ in implied])
        if np.allclose(values, values[0], rtol=1e-5, atol=0) and values[0] > 0:
            return float(f"{float(values[0]) * 1e3:.6g}")      # exporters write float32 parameters
    raise ModelError(f"NIR graph {name!r} does not say its time step: no fenn_dma metadata, no graph metadata "
                     "'dt', and no single dt with r = tau / dt on every neuron node (snnTorch's convention); "
                     "pass it: `fenn-dma compile --dt MS` or from_nir(graph, dt=MS)")


def _written_order(graph) -> dict:
    """The graph's nodes, in the order ``compiler/nir_export.py`` wrote them when
    the graph says so (metadata ``fenn_dma_nodes``; a file keeps its nodes sorted
    by name), else as they come."""
    import json
    order = (graph.metadata or {}).get("fenn_dma_nodes")
    if isinstance(order, str):
        try:
            names = json.loads(order)
        except ValueError:
            names = None
        if isinstance(names, list) and sorted(names) == sorted(graph.nodes):
            return {k: graph.nodes[k] for k in names}
    return graph.nodes


def _foreign_models() -> dict:
    """{NIR node type name: neuron model} for graphs without fenn_dma metadata (each
    model's ``nir_types``; the first registered model wins)."""
    out = {}
    for cls in models().values():
        for t in cls.nir_types:
            out.setdefault(t, cls)
    return out


def _neuron(key, node, dt):
    import nir
    meta = dict(node.metadata or {})
    n = _size(node)
    where = f"NIR node {key!r} ({type(node).__name__})"
    if meta.get("fenn_dma"):
        try:
            cls = model_class(str(meta.get("model", "LIF")))
        except ModelError as exc:
            raise ModelError(f"{where}: {exc}") from None
        syn = Exponential(float(meta["tau_syn_ms"])) if isinstance(node, (nir.CubaLIF, nir.CubaLI)) else Delta()
        try:
            return cls.from_nir(node, meta, dt), syn, np.ones(n)
        except NotImplementedError as exc:
            raise ModelError(f"{where}: {exc}") from None

    def euler_tau(tau_s, label):
        tau_ms = _arr(tau_s, n) * 1e3
        if not np.all(tau_ms > 0):
            bad = tau_ms[~(tau_ms > 0)][0] / 1e3
            raise ModelError(f"{where}: {label} = {bad:g} s: a time constant must be positive (seconds)")
        if np.any(tau_ms <= dt):
            raise ModelError(f"{where}: {label} = {tau_ms.min() / 1e3:g} s is not longer than dt = {dt} ms; "
                             "forward Euler cannot simulate it (pass a smaller dt)")
        decay = 1.0 - dt / tau_ms
        return -dt / np.log(decay), dt / tau_ms       # equivalent exact tau (ms), dt/tau

    v_leak = _arr(getattr(node, "v_leak", 0.0), n)
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        tsyn, ksyn = euler_tau(node.tau_syn, "tau_syn")
        if np.any(np.abs(tsyn - tsyn[0]) > 1e-9 * np.abs(tsyn[0])):
            raise ModelError(f"{where}: per-neuron tau_syn values differ; one synaptic tau per population")
        tmem, kmem = euler_tau(node.tau_mem, "tau_mem")
        if np.any(v_leak != 0):
            raise ModelError(f"{where}: non-zero v_leak is not supported on current-based neurons")
        gain = ksyn * _arr(node.w_in, n) * kmem * _arr(node.r, n)
        syn = Exponential(float(tsyn[0]))
        bias = 0.0
    elif isinstance(node, nir.IF):
        tmem, gain, syn, bias = np.full(n, np.inf), _arr(node.r, n), Delta(), 0.0
    else:
        tmem, kmem = euler_tau(node.tau, "tau")
        gain = kmem * _arr(node.r, n)
        syn = Delta()
        bias = kmem * v_leak
    cls = next(c for t, c in _foreign_models().items() if isinstance(node, getattr(nir, t)))
    return cls.from_nir(node, {}, dt, tau_mem=tmem, bias=bias), syn, gain


def _paths(src, succ, nodes, pops, path_types):
    """Every chain src -> (Affine|Linear|Scale|Delay)* -> neuron node."""
    out, stack = [], [[s] for s in succ[src]]
    while stack:
        path = stack.pop()
        k = path[-1]
        if k in pops:
            out.append(path[:-1] + [k])
            continue
        node = nodes[k]
        if isinstance(node, path_types):
            if len(path) > 16:
                raise ModelError(f"NIR path from {src!r} through {path[:4]}... is longer than 16 nodes")
            stack.extend(path + [n] for n in succ[k])
    return sorted(out)


def _compose(src, path, nodes, n_pre, n_post):
    """(weights (n_pre, n_post), delays steps or None, bias (n_post,) or None) of a path."""
    import nir
    where = f"NIR path {src} -> {' -> '.join(path)}"
    mats = [k for k in path[:-1] if isinstance(nodes[k], (nir.Affine, nir.Linear))]
    if len(mats) > 1:
        raise ModelError(f"{where}: two weight matrices in a row ({mats}); the compiler maps one per connection")
    pre_scale, post_scale = np.ones(n_pre), np.ones(n_post)
    pre_delay, post_delay = np.zeros(n_pre), np.zeros(n_post)
    w = None
    bias = None
    syn_delays = None
    after = False
    for k in path[:-1]:
        node = nodes[k]
        size = n_post if after else n_pre
        if isinstance(node, (nir.Affine, nir.Linear)):
            wt = np.asarray(node.weight, dtype=np.float64)
            if wt.shape != (n_post, n_pre):
                raise ModelError(f"NIR node {k!r}: weight shape {wt.shape}, expected (out, in) = ({n_post}, {n_pre})")
            w = wt.T.copy()
            if isinstance(node, nir.Affine) and node.bias is not None and np.any(np.asarray(node.bias) != 0):
                bias = _arr(node.bias, n_post)
            meta = dict(node.metadata or {})
            if DELAY_KEY in meta:
                dm = np.asarray(meta[DELAY_KEY])
                if dm.shape != wt.shape:
                    raise ModelError(f"NIR node {k!r}: metadata {DELAY_KEY!r} has shape {dm.shape}, "
                                     f"expected the weight's {wt.shape}")
                if np.any(dm < 0) or np.any(dm != np.round(dm)):
                    raise ModelError(f"NIR node {k!r}: {DELAY_KEY!r} must hold integer steps >= 0")
                syn_delays = dm.T.astype(np.int64)
            after = True
        elif isinstance(node, nir.Scale):
            s = _arr(node.scale, size)
            if s.size != size:
                raise ModelError(f"NIR node {k!r}: Scale of {s.size} channels on a {size}-channel signal")
            if after:
                post_scale = post_scale * s
                bias = None if bias is None else bias * s
            else:
                pre_scale = pre_scale * s
        elif isinstance(node, nir.Delay):
            d = _arr(node.delay, size)
            if d.size != size:
                raise ModelError(f"NIR node {k!r}: Delay of {d.size} channels on a {size}-channel signal")
            if after:
                if bias is not None:
                    raise ModelError(f"NIR node {k!r}: a Delay after an Affine with bias is not supported")
                post_delay = post_delay + d
            else:
                pre_delay = pre_delay + d
    if w is None:
        if n_pre != n_post:
            raise ModelError(f"{where}: a path without weights joins {n_pre} to {n_post} channels")
        w = np.eye(n_pre)
    w = pre_scale[:, None] * w * post_scale[None, :]
    return w, (pre_delay, post_delay, syn_delays), bias


def _steps(seconds: np.ndarray, dt: float) -> np.ndarray:
    steps = np.asarray(seconds, dtype=np.float64) * 1e3 / dt
    r = np.floor(steps + 0.5)
    if np.any(np.abs(steps - r) > 1e-6 * np.maximum(1.0, np.abs(steps))):
        raise ModelError(f"NIR Delay of {seconds.max():g} s is not a whole number of dt = {dt} ms steps")
    return r.astype(np.int64)


def _back_edges(order: list[str], pairs) -> set[tuple[str, str]]:
    """Edges (src, tgt) that close a cycle in a depth-first walk from the inputs."""
    succ: dict[str, list[str]] = {k: [] for k in order}
    for s, t in pairs:
        if t not in succ[s]:
            succ[s].append(t)
    back, state = set(), {}

    def visit(u):
        state[u] = 1
        for v in succ[u]:
            if state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                visit(v)
        state[u] = 2

    for u in order:
        if u not in state:
            visit(u)
    return back
