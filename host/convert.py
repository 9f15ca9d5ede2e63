"""A trained network <-> the compiler's model, directly (no NIR in between).

``to_network``: :class:`TrainedNetwork` -> ``compiler.model.Network`` (what
``host.deploy`` quantises and compiles, and what ``host.nir_io`` writes through
the compiler's NIR writer). ``from_network``: a ``Network`` that is a chain
input -> hidden (LIF/ALIF, optionally self-recurrent) -> LI readout ->
:class:`TrainedNetwork` (what ``host.nir_io`` makes of a graph the compiler's
NIR reader read).

``to_network`` gives exactly the model that ``fenn-dma compile network.nir``
reads from the exported file (``from_nir(to_nir(to_network(net)))`` equals
it): every connection has one step of latency, weights are ``(n_pre, n_post)``
with ``-0.0`` read as ``0.0``, the delays of a projection with several delay
values are 0 on its zero-weight synapses (they are a zero in every delay
branch of the file), and each population's outgoing connections come in the
order of the NIR node names the writer gives them (the reader's order).

Fixed-point formats: ``net.metadata["formats"]`` (what the trainer recorded,
``{population: V format, "population.A": A format}``; :func:`format_key`)
become the populations' declared ``formats`` in the compiler's model, which the
quantiser uses as they are and the NIR writer keeps in the file;
``from_network`` records a model's declared formats back into the metadata.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.nir_export import base_name, branch_names
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork

INPUT = "input"
REDUCE_READOUT = {"max": "v_max", "mean": "v_sum"}


def _projection(weights: np.ndarray, delays: np.ndarray | None) -> Dense:
    """``weights``/``delays`` (out, in) as the reader builds them from the delay branches."""
    w = np.ascontiguousarray(weights.T) + 0.0          # the branches' sum: -0.0 reads as 0.0
    if delays is None:
        return Dense(w, None)
    d = np.ascontiguousarray(delays.T)
    if len(np.unique(d)) > 1:                          # a zero weight is 0 in every branch
        d = np.where(w != 0, d, 0)
    return Dense(w, d if d.any() else None)


def format_key(population: str, var: str) -> str:
    """The key of a format in ``TrainedNetwork.metadata["formats"]``: the population's
    name for its V, ``"population.VAR"`` for another state variable (``A``)."""
    return population if var == "V" else f"{population}.{var}"


def apply_formats(cnet: Network, formats: dict) -> None:
    """Declare ``formats`` (keys of :func:`format_key`) on ``cnet``'s populations."""
    for key, fmt in formats.items():
        name, _, var = (key, "", "V") if key in cnet.populations or "." not in key else key.rpartition(".")
        if name not in cnet.populations or not var:
            raise ExportError(f"format {key!r}: {name!r} is not a population of the network; "
                              f"populations: {', '.join(cnet.populations)} (keys: 'population' for V, "
                              "'population.A' for an ALIF's A)")
        cnet.populations[name].formats[var] = str(fmt)


def declared_formats(cnet: Network) -> dict:
    """The formats declared on ``cnet``'s populations, keyed as :func:`format_key`."""
    return {format_key(p.name, var): fmt for p in cnet.populations.values() for var, fmt in p.formats.items()}


def to_network(net: TrainedNetwork, name: str = "trained", formats: dict | None = None) -> Network:
    """The compiler's model of ``net`` (see the module docstring); ``formats``
    (default: ``net.metadata["formats"]``) are declared on its populations."""
    dts = sorted({float(layer.neuron.dt) for layer in net.layers})
    if len(dts) > 1:
        raise ExportError(f"the compiler cannot map this network: layers disagree on dt {dts} ms")
    dt = dts[0] if dts else 1.0
    try:
        cnet = Network(dt=dt, name=name)
        pops = {INPUT: cnet.population(INPUT, net.n_inputs, SpikeInput())}
        last = len(net.layers) - 1
        for i, layer in enumerate(net.layers):
            kw = {"record": ("v",), "readout": REDUCE_READOUT[net.readout_reduce]} if i == last else {}
            pops[layer.name] = cnet.population(layer.name, layer.size, layer.neuron.unit, **kw)
        # per source (in population order): the connections in the order of their NIR node names
        pending = []
        sources = [INPUT] + [layer.name for layer in net.layers]
        for i, layer in enumerate(net.layers):
            syn = Exponential(float(layer.neuron.tau_syn))
            src = sources[i]
            ff = (src, layer.name, _projection(layer.weights, layer.delays), syn)
            pending.append((i, _first_node(layer.name, src, layer.delays), ff))
            if layer.weights_rec is not None:
                rec = (layer.name, layer.name, _projection(layer.weights_rec, None), syn)
                pending.append((i + 1, _first_node(layer.name, layer.name, None), rec))
        for _, _, (src, tgt, dense, syn) in sorted(pending, key=lambda p: p[:2]):
            cnet.connect(pops[src], pops[tgt], dense, syn, latency=1, name=f"{src}->{tgt}")
    except ModelError as exc:
        raise ExportError(f"the compiler cannot map this network: {exc}") from None
    apply_formats(cnet, formats if formats is not None else net.metadata.get("formats", {}))
    return cnet


def _first_node(target: str, source: str, delays) -> str:
    rec = source == target
    names = branch_names(base_name(target, source, 1), rec, np.zeros(1) if delays is None else delays)
    return min(dn or lin for _, lin, dn in names)


def _params(pop, synapse, dt: float) -> NeuronParams:
    owner = f"population {pop.name!r}"
    neuron = pop.neuron
    if np.any(np.asarray(getattr(neuron, "bias", 0.0)) != 0):
        raise ExportError(f"{owner}: non-zero bias (an Affine bias or a v_leak) is not supported "
                          "(no bias currents in a trained network)")
    if np.any(np.asarray(getattr(neuron, "v_reset", 0.0)) != 0):
        raise ExportError(f"{owner}: v_reset {neuron.v_reset!r}; a trained network resets V to 0")
    tau_syn = float(synapse.tau) if isinstance(synapse, Exponential) else 1e-6 * dt
    return NeuronParams.of_unit(neuron, tau_syn, dt, owner)


def from_network(cnet: Network, n_steps: int = 0, weight_format: str | None = None,
                 metadata: dict | None = None) -> TrainedNetwork:
    """The trained network of a chain ``cnet`` (see the module docstring; its declared
    formats go to ``metadata["formats"]``). Every
    projection of a trained network has one step of latency; ``cnet``'s latencies
    are not checked (a snnTorch graph's feed-forward edges have none)."""
    inputs = [p for p in cnet.populations.values() if p.is_input]
    if len(inputs) != 1:
        raise ExportError(f"a trained network has exactly one input, found {len(inputs)} spike sources")
    order, cur = [], inputs[0]
    while True:
        nxt = []
        for c in cnet.outgoing(cur):
            if c.target is not cur and c.target not in nxt:
                nxt.append(c.target)
        if not nxt:
            break
        if len(nxt) > 1:
            raise ExportError(f"population {cur.name!r} feeds several populations "
                              f"{[p.name for p in nxt]}; only a chain of layers is supported")
        cur = nxt[0]
        if cur in order:
            break
        order.append(cur)
    if not order:
        raise ExportError("no neuron population is reachable from the input")
    layers, prev = [], inputs[0]
    for pop in order:
        incoming = cnet.incoming(pop)
        ff = [c for c in incoming if c.source is prev]
        rec = [c for c in incoming if c.source is pop]
        other = [c.name for c in incoming if c.source is not prev and c.source is not pop]
        if other:
            raise ExportError(f"population {pop.name!r}: inputs {other} do not come from the previous "
                              f"layer {prev.name!r}")
        if not ff:
            raise ExportError(f"population {pop.name!r}: no weights from the previous layer {prev.name!r}")
        if len(ff) > 1 or len(rec) > 1:
            raise ExportError(f"population {pop.name!r}: {len(ff) + len(rec)} projections "
                              f"{[c.name for c in ff + rec]}; a synapse appears in two delay branches")
        synapses = {c.synapse for c in incoming}
        if len(synapses) > 1:
            raise ExportError(f"population {pop.name!r}: inputs through different synapses")
        w, d, _ = ff[0].dense_arrays()
        weights = np.ascontiguousarray(w.T)
        delays = np.ascontiguousarray(np.where(w != 0, d, 0).T)
        w_rec = None
        if rec:
            wr, dr, _ = rec[0].dense_arrays()
            if np.any(dr != 0):
                raise ExportError(f"connection {rec[0].name!r}: recurrent delays are not supported")
            w_rec = np.ascontiguousarray(wr.T)
        layers.append(Layer(pop.name, _params(pop, synapses.pop(), cnet.dt), weights, delays, w_rec))
        prev = pop
    last = order[-1]
    if last.neuron.spiking:
        raise ExportError(f"the network ends in {last.name} ({last.kind}); "
                          "the last population must be a non-spiking CubaLI/LI readout")
    reduce = "max" if last.readout == "v_max" else "mean"
    meta = dict(metadata or {})
    if declared_formats(cnet):
        meta["formats"] = declared_formats(cnet)
    return TrainedNetwork(inputs[0].size, layers, int(n_steps), reduce, weight_format or None, meta)
