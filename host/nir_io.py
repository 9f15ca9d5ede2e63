"""NIR export and import of :class:`~fenn_dma.host.network.TrainedNetwork`.

NIR is read and written by the compiler's one reader/writer pair
(``compiler/nir_import.py``, ``compiler/nir_export.py``; the graph's layout is
described there and in docs/compiler.md); this module only converts between a
trained network and the compiler's model (``host/convert.py``) and keeps the
trained network's own graph metadata (``n_steps``, ``weight_format``). A file
written here reads back identical (``import_nir(path).equals(net)``), and
``fenn-dma compile network.nir`` compiles the model ``host.deploy`` deploys.

Graphs from other tools (no ``fenn_dma`` metadata) are read with the
compiler's forward-Euler convention given ``dt``: decays from the taus, and the
input gain ``(dt/tau_syn) w_in (dt/tau_mem) r`` folded into the incoming
weights; they must be a chain input -> LIF/CubaLIF layers (each optionally
self-recurrent) -> one CubaLI/LI readout, without bias currents.
"""
from __future__ import annotations

from pathlib import Path

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.nir_export import retime as _retime
from fenn_dma.compiler.nir_export import to_nir as _network_to_nir
from fenn_dma.compiler.nir_import import from_nir as _network_from_nir
from fenn_dma.compiler.nir_import import load_graph
from fenn_dma.host.convert import from_network, to_network
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import TrainedNetwork


def to_nir(net: TrainedNetwork):
    """The ``nir.NIRGraph`` of ``net``."""
    cnet = to_network(net)
    try:
        return _network_to_nir(cnet, {"n_steps": net.n_steps, "weight_format": net.weight_format or "",
                                      "rounding": str(net.metadata.get("rounding", ""))})
    except ModelError as exc:
        raise ExportError(f"NIR export: {exc}") from None


def export_nir(net: TrainedNetwork, path: str | Path, step_s: float | None = None) -> None:
    """``step_s``: write the graph for a peer simulating at that step (seconds), e.g.
    ``SNNTORCH_DT`` for snnTorch's importer (compiler/nir_export.retime)."""
    import nir
    graph = to_nir(net)
    if step_s is not None:
        try:
            graph = _retime(graph, step_s)
        except ModelError as exc:
            raise ExportError(f"NIR export: {exc}") from None
    nir.write(str(path), graph)


def from_nir(graph, dt: float | None = None) -> TrainedNetwork:
    """The trained network of a graph; ``dt`` (ms) is used when nodes carry no metadata."""
    try:
        cnet = _network_from_nir(graph, dt=dt, name="nir")
    except ModelError as exc:
        raise ExportError(f"NIR import: {exc}") from None
    meta = dict(graph.metadata or {})
    extra = {"rounding": str(meta["rounding"])} if meta.get("rounding") else {}
    return from_network(cnet, int(meta.get("n_steps", 0)), str(meta.get("weight_format", "") or "") or None, extra)


def import_nir(path: str | Path, dt: float | None = None) -> TrainedNetwork:
    try:
        graph = load_graph(path)
    except ModelError as exc:
        raise ExportError(str(exc)) from None
    return from_nir(graph, dt)
