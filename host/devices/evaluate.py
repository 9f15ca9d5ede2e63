"""Accuracy of a compiled classifier on a device: a ``.fenn`` + labelled spikes (or a
built-in data set) -> accuracy, confusion matrix, per-sample cycles and time. The
prediction is the argmax of the program's one readout, as the trainer's deployed
accuracy (``host.deploy.accuracy``) takes it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fenn_dma.boundary import write_outputs
from fenn_dma.compiler.errors import ModelError

from .results import BatchResult, dma_summary


@dataclass
class Evaluation:
    accuracy: float
    confusion: np.ndarray          # (classes, classes): row = label, column = prediction
    predictions: np.ndarray        # (samples,)
    labels: np.ndarray
    readout: str                   # the readout population
    result: BatchResult

    def report(self) -> dict:
        r = self.result
        return {"accuracy": self.accuracy, "samples": r.samples, "device": r.device, "machine": r.machine,
                "readout": self.readout, "confusion": self.confusion.tolist(),
                "cycles_per_sample": float(r.cycles.mean()), "us_per_sample": float(r.microseconds.mean()),
                "clock_mhz": r.clock_mhz, **dma_summary(r),
                "saturation": r.saturation.to_dict() if r.saturation is not None else None}

    def save(self, path: str | Path) -> Path:
        """The batch's arrays plus ``predictions``, ``labels`` and ``confusion``, as one ``.npz``, atomically."""
        import io
        arrays = self.result.arrays()
        arrays.update(predictions=self.predictions, labels=self.labels, confusion=self.confusion,
                      accuracy=np.float64(self.accuracy))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return write_outputs({Path(path): buf.getvalue()})[0]


def readout_of(io: dict) -> str:
    names = sorted(io["readouts"])
    if len(names) != 1:
        raise ModelError(f"evaluating needs exactly one readout population; the program has {names or 'none'}")
    return names[0]


def input_of(io: dict) -> str:
    names = sorted(io["inputs"])
    if len(names) != 1:
        raise ModelError(f"a data set feeds one spike source; the program has {names or 'none'}")
    return names[0]


def evaluate(program, spikes, labels, device="iss", *, profile=None, steps: int | None = None, workers: int = 1,
             backend: str = "processes", client=None, progress: bool | None = None, **options) -> Evaluation:
    """Run every sample of ``spikes`` ((samples, steps, inputs), 0/1) on ``device`` (a name, or an
    open ``Device``) and score the readout's argmax against ``labels``."""
    from .device import Device, open_device
    own = not isinstance(device, Device)
    dev = open_device(device, profile, **options) if own else device
    try:
        if program is not None:
            dev.load(program)
        io = dev.io
        labels = np.asarray(labels)
        spikes = np.asarray(spikes)
        if labels.ndim != 1 or len(labels) != len(spikes):
            raise ModelError(f"labels of shape {labels.shape} for {len(spikes)} samples: one label per sample")
        name, readout = input_of(io), readout_of(io)
        result = dev.run_batch({name: spikes > 0.5 if spikes.dtype.kind == "f" else spikes}, steps,
                               workers=workers, backend=backend, client=client, progress=progress)
    finally:
        if own:
            dev.close()
    scores = result.readouts[readout]
    predictions = scores.argmax(1)
    classes = scores.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ModelError(f"labels from {labels.min()} to {labels.max()}, but readout {readout!r} has {classes} "
                         "classes")
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    accuracy = float(np.mean(predictions == labels)) if labels.size else 0.0
    return Evaluation(accuracy, confusion, predictions, labels, readout, result)


def dataset_split(name: str, split: str = "test", limit: int | None = None, **options):
    """(spikes, labels) numpy arrays of a built-in data set's split (``host.datasets``)."""
    from fenn_dma.host.datasets import load_dataset
    from fenn_dma.host.errors import DatasetError
    bundle = load_dataset(name, **options)
    if split not in bundle.splits:
        raise DatasetError(f"data set {name!r} has no split {split!r}; splits: {', '.join(bundle.splits)}")
    part = bundle.splits[split]
    x, y = part.spikes.numpy(), part.labels.numpy()
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y


def evaluate_dataset(program, name: str, split: str = "test", device="iss", *, limit: int | None = None,
                     dataset_options: dict | None = None, **kwargs) -> Evaluation:
    """:func:`evaluate` on a built-in data set's split (``limit``: its first samples only)."""
    x, y = dataset_split(name, split, limit, **(dataset_options or {}))
    return evaluate(program, x, y, device, **kwargs)
