"""A trained network as the compiler deploys it: the compiler's model (built
directly, ``host.convert.to_network``: the model ``fenn-dma compile network.nir``
reads from the exported NIR file), its fixed-point
plan (``compiler.quantise``) and its accuracy on the compiler's bit-exact
reference simulator (``compiler.reference``).

The plan's V formats (and ALIF A formats) come from value ranges measured on
sample inputs (``compiler.quantise.calibrate``) unless given; once chosen
they are recorded in ``TrainedNetwork.metadata["formats"]`` (``{population:
V format, "population.A": A format}``) so that QAT, the reference and later
compilations use the same ones.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import Network
from fenn_dma.compiler.quantise import QNetwork, calibrate, quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.host.convert import to_network
from fenn_dma.host.errors import DatasetError, ExportError
from fenn_dma.host.network import TrainedNetwork

INPUT = "input"
NETWORK_FILE = "network.npz"      # what `fenn-dma train --out RUN` writes the trained network to
CALIBRATION_DATASETS = ("yinyang", "digits")   # built in (no files): a calibration spec can name them
CALIBRATION_SAMPLES = 512         # samples of a calibration spec that gives no count (the trainer's qat_samples)


def compiler_network(net: TrainedNetwork, formats: dict | None = None) -> Network:
    """The compiler's model of ``net``; ``formats`` ({population: "sI.F"} for V,
    {"population.A": "sI.F"} for an ALIF's A; default ``net.metadata["formats"]``)
    fixes those formats."""
    return to_network(net, formats=formats)


def plan(net: TrainedNetwork, samples: np.ndarray | None = None, rounding: str | None = None,
         formats: dict | None = None, seed: int = 1) -> QNetwork:
    """The compiler's fixed-point plan of ``net``. Without recorded or given
    formats, V ranges are measured on ``samples`` (B, T, n_in) spikes.
    ``rounding``: default the one recorded (``metadata["rounding"]``), else nearest."""
    cnet = compiler_network(net, formats)
    fixed = formats if formats is not None else net.metadata.get("formats")
    measured = None
    if not fixed and samples is not None:
        try:
            measured = calibrate(cnet, {INPUT: samples})
        except ModelError as exc:
            raise ExportError(f"calibration samples: {exc}") from None
    try:
        return quantise(cnet, rounding=rounding or recorded_rounding(net), seed=seed,
                        n_steps=max(net.n_steps, 1), measured=measured)
    except ModelError as exc:
        raise ExportError(f"fixed-point plan: {exc}") from None


def recorded_rounding(net: TrainedNetwork) -> str:
    """The rounding the network was trained (and planned) with: ``metadata["rounding"]``, else nearest."""
    return str(net.metadata.get("rounding") or "nearest")


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


def trained_network_path(path: str | Path) -> Path | None:
    """The ``network.npz`` that ``path`` names: the file itself or a run folder's;
    None when ``path`` is neither (a model file). A folder without one is an error."""
    p = Path(path)
    if p.is_dir():
        if not (p / NETWORK_FILE).is_file():
            raise ExportError(f"{p}: a folder, but not a training run folder (no {NETWORK_FILE} in it); "
                              f"give a run folder of `fenn-dma train --out`, its {NETWORK_FILE}, a .nir graph "
                              "or a model .py")
        return p / NETWORK_FILE
    if p.suffix == ".npz":
        if not p.is_file():
            raise ExportError(f"{p}: no such file (a trained network is the {NETWORK_FILE} of a training run folder)")
        return p
    return None


def load_trained(path: str | Path) -> TrainedNetwork:
    """The trained network of a run folder or its ``network.npz``."""
    p = trained_network_path(path)
    if p is None:
        raise ExportError(f"{path}: not a trained network; give a run folder of `fenn-dma train --out` "
                          f"or its {NETWORK_FILE}")
    try:
        return TrainedNetwork.load(p)
    except ExportError as exc:
        raise ExportError(f"{exc}; a trained network is the {NETWORK_FILE} that `fenn-dma train` writes") from None


def parse_calibration(spec: str) -> tuple[str, str, int | None]:
    """``NAME[:SPLIT[:N]]`` -> (name, split, n): a built-in data set
    (:data:`CALIBRATION_DATASETS`), its split (default train) and the first ``N``
    samples (default :data:`CALIBRATION_SAMPLES`; ``all``: every one)."""
    parts = spec.split(":")
    name = parts[0].strip().lower()
    form = (f"calibration spec {spec!r}: expected NAME[:SPLIT[:N]] with NAME one of "
            f"{', '.join(CALIBRATION_DATASETS)}, SPLIT train, val or test, N a sample count or 'all' "
            "(e.g. yinyang:train:512), or an .npz of spikes")
    if len(parts) > 3 or name not in CALIBRATION_DATASETS:
        raise DatasetError(form)
    split = parts[1].strip().lower() if len(parts) > 1 and parts[1].strip() else "train"
    if split not in ("train", "val", "test"):
        raise DatasetError(form)
    n: int | None = CALIBRATION_SAMPLES
    if len(parts) == 3:
        text = parts[2].strip().lower()
        if text == "all":
            n = None
        else:
            try:
                n = int(text)
            except ValueError:
                raise DatasetError(form) from None
            if n < 1:
                raise DatasetError(f"calibration spec {spec!r}: N must be >= 1, got {n}")
    return name, split, n


def calibration_inputs(spec: str, n_steps: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(spikes (B, T, n_in) bool, labels (B,), the spec with the count it used) of a
    calibration spec (:func:`parse_calibration`), encoded with ``n_steps`` steps
    (default the data set's)."""
    from fenn_dma.host.datasets import load_dataset
    name, split, n = parse_calibration(spec)
    bundle = load_dataset(name, **({"n_steps": int(n_steps)} if n_steps else {}))
    data = bundle.splits[split]
    total = len(data)
    if n is not None and n > total:
        raise DatasetError(f"calibration spec {spec!r}: the {name} {split} split holds {total} samples, {n} asked")
    n = total if n is None else n
    return data.spikes[:n].numpy() > 0, data.labels[:n].numpy(), f"{name}:{split}:{n}"


def deployment(model, calibrate: str | None = None, dt: float | None = None, steps: int | None = None):
    """What ``fenn-dma compile MODEL --calibrate SPEC`` compiles, as a
    ``compiler.compile_cli.Deployment`` (compile it with ``compile_cli.build_program``):
    ``model`` a run folder, its ``network.npz``, a :class:`TrainedNetwork`, a ``.nir``
    or a model ``.py``; ``calibrate`` a data set spec (:func:`parse_calibration`) or a
    spikes ``.npz``; ``steps``: the steps to encode a data set with when the model
    records none."""
    from fenn_dma.compiler import compile_cli

    if isinstance(model, TrainedNetwork):
        dep = _trained_deployment(model, "TrainedNetwork")
    else:
        path = trained_network_path(model)
        if path is not None:
            where = f"run folder {model} ({path.name})" if Path(model).is_dir() else str(path)
            dep = _trained_deployment(load_trained(path), where)
        elif not Path(model).is_file() or Path(model).suffix not in (".py", ".nir"):
            what = "no such file or folder" if not Path(model).exists() else "not a model"
            raise ExportError(f"{model}: {what}; a model is a .py file defining build(), a .nir graph, a "
                              f"`fenn-dma train --out` run folder or its {NETWORK_FILE}")
        else:
            dep = compile_cli.load_deployment(model, dt=dt)
    if calibrate and Path(calibrate).suffix == ".npz":
        dep.calibration = compile_cli.calibration_file(calibrate, dep.net)
        dep.calibration_spec = str(calibrate)
    elif calibrate:
        sources = [p.name for p in dep.net.populations.values() if p.is_input]
        if len(sources) != 1:
            raise ModelError(f"--calibrate {calibrate}: a data set feeds one spike source; the model has "
                             f"{len(sources)} ({', '.join(sources)}); give an .npz with one array per source")
        spikes, labels, used = calibration_inputs(calibrate, dep.n_steps or steps)
        dep.calibration = compile_cli.calibration_arrays({sources[0]: spikes}, dep.net, f"--calibrate {calibrate}")
        dep.calibration_spec, dep.labels = used, labels
    return dep


def _trained_deployment(net: TrainedNetwork, source: str):
    from fenn_dma.compiler.compile_cli import Deployment
    return Deployment(compiler_network(net), source, net.n_steps or None, net.metadata.get("rounding") or None,
                      extra={"trained": {k: net.metadata[k] for k in ("dataset", "test_acc", "calibration")
                                         if k in net.metadata}})
