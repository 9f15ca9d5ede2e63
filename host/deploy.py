"""A trained network as the compiler deploys it: the compiler's model (built
directly, ``host.convert.to_network``: the model ``fenn-dma compile network.nir``
reads from the exported NIR file), its fixed-point
plan (``compiler.quantise``) and its accuracy on the compiler's bit-exact
reference simulator (``compiler.reference``).

The plan's V formats (and ALIF A formats) come from value ranges measured on
sample inputs (``compiler.float_sim.measure_ranges``) unless given; once chosen
they are recorded in ``TrainedNetwork.metadata["formats"]`` (``{population:
V format, "population.A": A format}``) so that QAT, the reference and later
compilations use the same ones.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.float_sim import measure_ranges
from fenn_dma.compiler.model import Network
from fenn_dma.compiler.quantise import QNetwork, quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.host.convert import to_network
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import TrainedNetwork

INPUT = "input"


def compiler_network(net: TrainedNetwork, formats: dict | None = None) -> Network:
    """The compiler's model of ``net``; ``formats`` ({population: "sI.F"} for V,
    {"population.A": "sI.F"} for an ALIF's A; default ``net.metadata["formats"]``)
    fixes those formats."""
    cnet = to_network(net)
    for key, fmt in (formats if formats is not None else net.metadata.get("formats", {})).items():
        name, var = (key[:-2], "A") if key.endswith(".A") else (key, "V")
        if name not in cnet.populations:
            raise ExportError(f"format given for unknown population {name!r}; "
                              f"populations: {', '.join(cnet.populations)}")
        cnet.populations[name].formats[var] = fmt
    return cnet


def plan(net: TrainedNetwork, samples: np.ndarray | None = None, rounding: str = "nearest",
         formats: dict | None = None, seed: int = 1) -> QNetwork:
    """The compiler's fixed-point plan of ``net``. Without recorded or given
    formats, V ranges are measured on ``samples`` (B, T, n_in) spikes."""
    cnet = compiler_network(net, formats)
    fixed = formats if formats is not None else net.metadata.get("formats")
    measured = None
    if not fixed and samples is not None:
        measured = measure_ranges(cnet, {INPUT: np.asarray(samples, dtype=np.float64)})
    try:
        return quantise(cnet, rounding=rounding, seed=seed, n_steps=max(net.n_steps, 1), measured=measured)
    except ModelError as exc:
        raise ExportError(f"fixed-point plan: {exc}") from None


def formats_of(qnet: QNetwork) -> dict:
    """{population: V format, "population.A": A format (ALIF)} of a plan (to record
    in the network's metadata)."""
    out = {p.name: str(p.v_fmt) for p in qnet.populations.values() if p.v_fmt is not None}
    out.update({f"{p.name}.A": str(p.a_fmt) for p in qnet.populations.values() if p.a_fmt is not None})
    return out


def readout_population(qnet: QNetwork) -> str:
    names = [p.name for p in qnet.populations.values() if p.readout]
    if len(names) != 1:
        raise ExportError(f"expected one readout population, found {names}")
    return names[0]


def run_reference(qnet: QNetwork, spikes: np.ndarray, batch: int = 500) -> np.ndarray:
    """Integer readouts (B, C) of the compiler's bit-exact reference on ``spikes`` (B, T, n_in)."""
    x = np.asarray(spikes) > 0
    name = readout_population(qnet)
    out = []
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        sim = ReferenceSimulator(qnet, batch=len(chunk))
        out.append(sim.run({INPUT: chunk}).readouts[name].astype(np.int64))
    return np.concatenate(out) if out else np.zeros((0, qnet.populations[name].size), np.int64)


def accuracy(qnet: QNetwork, spikes: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    """Test accuracy of the deployed network (argmax of the reference's readouts)."""
    scores = run_reference(qnet, spikes, batch)
    return float(np.mean(scores.argmax(1) == np.asarray(labels))) if len(scores) else 0.0
