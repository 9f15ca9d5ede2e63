"""A batch's results: numpy arrays over samples, and the same as one ``.npz``."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fenn_dma.boundary import write_outputs


@dataclass
class BatchResult:
    records: dict[str, np.ndarray] = field(default_factory=dict)    # (batch, steps, size)
    readouts: dict[str, np.ndarray] = field(default_factory=dict)   # (batch, size)
    cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))        # per sample
    instructions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per sample
    clock_mhz: float = 0.0
    device: str = ""
    machine: str = ""
    saturation: object = None     # compiler.saturation.SaturationReport of the readouts and V records

    def warnings(self) -> list[str]:
        """One line per population whose readouts or recorded V sat at the int16 rails."""
        return self.saturation.warnings() if self.saturation is not None else []

    @property
    def samples(self) -> int:
        return int(self.cycles.size)

    @property
    def microseconds(self) -> np.ndarray:
        """Time per sample at the machine's clock."""
        return self.cycles / self.clock_mhz

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by the name it has in the ``.npz``: records by key (``hidden.spikes``),
        readouts as ``NAME.readout``, ``cycles``, ``instructions``, ``us`` per sample, ``clock_mhz``."""
        out = dict(self.records)
        out.update({f"{k}.readout": v for k, v in self.readouts.items()})
        out.update(cycles=self.cycles, instructions=self.instructions, us=self.microseconds,
                   clock_mhz=np.float64(self.clock_mhz))
        return out

    def npz_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **self.arrays())
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` atomically (a temporary file renamed into place)."""
        return write_outputs({Path(path): self.npz_bytes()})[0]

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        return (f"{self.samples} samples on {self.device} ({self.machine}): {self.cycles.mean():.0f} cycles/sample, "
                f"{self.microseconds.mean():.1f} us/sample at {self.clock_mhz:g} MHz")


def concatenate(parts: list[dict], clock_mhz: float, device: str, machine: str) -> BatchResult:
    """Per-chunk result dicts (``Device.run_samples``), in sample order, as one BatchResult."""
    first = parts[0]
    return BatchResult(records={k: np.concatenate([p["records"][k] for p in parts]) for k in first["records"]},
                       readouts={k: np.concatenate([p["readouts"][k] for p in parts]) for k in first["readouts"]},
                       cycles=np.concatenate([p["cycles"] for p in parts]),
                       instructions=np.concatenate([p["instructions"] for p in parts]),
                       clock_mhz=clock_mhz, device=device, machine=machine)
