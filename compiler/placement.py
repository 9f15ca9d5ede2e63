"""Where each connection's weights live: VMEM, or the DRAM image of the program,
from which the firmware streams the rows of spiking sources into two VMEM
buffers with the MM2S DMA channel (compiler/codegen/streaming.py).

Rule: connections asking for ``"vmem"`` or ``"dram"`` get it; ``"auto"`` ones
stay in VMEM while everything fits, and otherwise move to DRAM, largest first,
until the rest (plus the two row buffers streaming needs) fits. What then still
does not fit is the memory plan's overflow error.

Row formats in DRAM (64-byte aligned, multiples of 64 bytes, as the DMA needs):
- dense: one row per source neuron, ``2 * padded`` bytes of weights, followed
  by ``2 * padded`` bytes of ``2 * delay`` when the connection has delays; the
  rows of every streamed dense connection of one source are concatenated (one
  transfer per spike brings them all, so that DMA and accumulation take turns
  on rows of the same length);
- sparse: the packed ELL columns of a row, every row padded to the longest
  (``64 K`` bytes apart), with a DMEM table of used columns per row so that
  only those are transferred and delivered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fenn_dma.arch import ROW_BYTES
from fenn_dma.isa import csrs

from .errors import ResourceError
from .quantise import QConnection, QPopulation
from .sparse_layout import EllLayout, ell_layout

VEC = ROW_BYTES


@dataclass
class ConnectionData:
    """A connection's weights, ready for either placement."""

    c: QConnection
    tgt: QPopulation
    layout: EllLayout | None = None        # sparse

    @property
    def n_pre(self) -> int:
        return self.c.exists.shape[0]

    @property
    def vmem_bytes(self) -> int:
        if self.layout is not None:
            return VEC * int(self.layout.counts.sum())
        per = 2 * self.tgt.padded * (2 if self.c.mode == "ring" else 1)
        return self.n_pre * per

    @property
    def row_bytes(self) -> int:
        """Bytes of one streamed row (the DMA buffer size it needs)."""
        if self.layout is not None:
            return VEC * self.layout.max_columns
        return 2 * self.tgt.padded * (2 if self.c.mode == "ring" else 1)

    @property
    def dram_bytes(self) -> int:
        return self.n_pre * self.row_bytes

    @property
    def count_bytes(self) -> int:
        """Bytes per entry of a sparse row's column-count table."""
        return 1 if self.layout is None or self.layout.max_columns < 256 else 2

    def dense_weights(self) -> np.ndarray:
        rows = np.zeros((self.n_pre, self.tgt.padded), np.int16)
        rows[:, :self.tgt.size] = self.c.weights
        return rows

    def dense_delays(self) -> np.ndarray:
        d = np.zeros((self.n_pre, self.tgt.padded), np.int16)
        d[:, :self.tgt.size] = 2 * self.c.delays
        return d

    def dense_rows(self) -> np.ndarray:
        """DRAM rows: weights, then (with delays) the doubled delays of the same source."""
        if self.c.mode != "ring":
            return self.dense_weights()
        return np.concatenate([self.dense_weights(), self.dense_delays()], axis=1)


def connection_data(c: QConnection, tgt: QPopulation, ring_base: int = 0) -> ConnectionData:
    return ConnectionData(c, tgt, ell_layout(c, tgt, ring_base) if c.sparse else None)


@dataclass(frozen=True)
class PlacementRequest:
    name: str
    requested: str          # auto | vmem | dram
    vmem_bytes: int
    row_bytes: int
    fuse_key: str = ""      # dense rows streamed in the same pass of the same source share one DRAM row
    sparse: bool = False


def buffer_bytes(streamed: list[PlacementRequest]) -> int:
    """One row buffer: the longest streamed row (dense rows of a source fused)."""
    fused: dict[str, int] = {}
    for r in streamed:
        if not r.sparse:
            fused[r.fuse_key] = fused.get(r.fuse_key, 0) + r.row_bytes
    return max([r.row_bytes for r in streamed if r.sparse] + list(fused.values()) + [0])


def fuse_key(c: QConnection) -> str:
    """Connections delivered in one pass over the spikes of their source (schedule.py):
    all the delayed (latency >= 1) ones of a source, or latency-0 ones per target."""
    return f"{c.source}|" + ("delayed" if c.latency >= 1 else f"now->{c.target}")


def choose_placements(requests: list[PlacementRequest], free_vmem: int) -> dict[str, str]:
    """``{connection: "vmem" | "dram"}`` (see the module docstring)."""
    where = {r.name: ("dram" if r.requested == "dram" else "vmem") for r in requests}
    by_name = {r.name: r for r in requests}

    def need() -> int:
        buffers = 2 * buffer_bytes([by_name[n] for n, w in where.items() if w == "dram"])
        return sum(-(-r.vmem_bytes // VEC) * VEC for n, r in by_name.items() if where[n] == "vmem") + buffers

    movable = sorted((r for r in requests if r.requested == "auto"), key=lambda r: -r.vmem_bytes)
    for r in movable:
        if need() <= free_vmem:
            break
        where[r.name] = "dram"
    longest = buffer_bytes([r for r in requests if where[r.name] == "dram"])
    if longest >= csrs.DMA_MAX_COUNT:
        names = [r.name for r in requests if where[r.name] == "dram"]
        raise ResourceError(f"connections {names}: a streamed row of {longest} bytes exceeds the DMA's largest "
                            f"transfer ({csrs.DMA_MAX_COUNT - 64} bytes); split the target population")
    return where
