"""A batch's results: numpy arrays over samples, and the same as one ``.npz``."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fenn_dma.boundary import write_outputs

DMA_ARRAYS = ("dma_mm2s_bytes", "dma_s2mm_bytes")     # the per-sample DMA counts of a batch, by channel


@dataclass
class BatchResult:
    records: dict[str, np.ndarray] = field(default_factory=dict)    # (batch, steps, size)
    readouts: dict[str, np.ndarray] = field(default_factory=dict)   # (batch, size)
    cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))        # per sample
    instructions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per sample
    # DMA payload bytes per sample (docs/runtime.md "Counters"); None where the device does not count them
    dma_mm2s_bytes: np.ndarray | None = None        # read from DRAM into VMEM
    dma_s2mm_bytes: np.ndarray | None = None        # written from VMEM to DRAM
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
    def dma_bytes(self) -> np.ndarray | None:
        """DMA payload bytes per sample, both channels."""
        if self.dma_mm2s_bytes is None or self.dma_s2mm_bytes is None:
            return None
        return self.dma_mm2s_bytes + self.dma_s2mm_bytes

    @property
    def microseconds(self) -> np.ndarray:
        """Time per sample at the machine's clock."""
        return self.cycles / self.clock_mhz

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by the name it has in the ``.npz``: records by key (``hidden.spikes``),
        readouts as ``NAME.readout``, ``cycles``, ``instructions``, ``us`` per sample, ``clock_mhz``,
        and per sample ``dma_bytes``, ``dma_mm2s_bytes``, ``dma_s2mm_bytes`` where the device counts them."""
        out = dict(self.records)
        out.update({f"{k}.readout": v for k, v in self.readouts.items()})
        out.update(cycles=self.cycles, instructions=self.instructions, us=self.microseconds,
                   clock_mhz=np.float64(self.clock_mhz))
        if self.dma_bytes is not None:
            out.update(dma_bytes=self.dma_bytes, dma_mm2s_bytes=self.dma_mm2s_bytes,
                       dma_s2mm_bytes=self.dma_s2mm_bytes)
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
        dma = f", {self.dma_bytes.mean():.0f} DMA bytes/sample" if self.dma_bytes is not None else ""
        return (f"{self.samples} samples on {self.device} ({self.machine}): {self.cycles.mean():.0f} cycles/sample, "
                f"{self.microseconds.mean():.1f} us/sample at {self.clock_mhz:g} MHz{dma}")


def dma_summary(result: BatchResult) -> dict:
    """The DMA payload bytes per sample (means over the samples) and in all, for a JSON report;
    None each where the device does not count them."""
    keys = ("dma_bytes", "dma_mm2s_bytes", "dma_s2mm_bytes")
    arrays = [result.dma_bytes, result.dma_mm2s_bytes, result.dma_s2mm_bytes]
    out = {f"{k}_per_sample": None if a is None else float(a.mean()) for k, a in zip(keys, arrays)}
    out["dma_bytes"] = None if result.dma_bytes is None else int(result.dma_bytes.sum())
    return out


def concatenate(parts: list[dict], clock_mhz: float, device: str, machine: str) -> BatchResult:
    """Per-chunk result dicts (``Device.run_samples``), in sample order, as one BatchResult."""
    first = parts[0]
    return BatchResult(records={k: np.concatenate([p["records"][k] for p in parts]) for k in first["records"]},
                       readouts={k: np.concatenate([p["readouts"][k] for p in parts]) for k in first["readouts"]},
                       cycles=np.concatenate([p["cycles"] for p in parts]),
                       instructions=np.concatenate([p["instructions"] for p in parts]),
                       **{key: None if any(p[key] is None for p in parts) else np.concatenate([p[key] for p in parts])
                          for key in DMA_ARRAYS},
                       clock_mhz=clock_mhz, device=device, machine=machine)
