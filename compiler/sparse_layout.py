"""Packed ELL layout of a sparse connection (vectorised).

Per source neuron ``j``, its synapses go to lane ``post % 32`` of successive
32-lane columns: the ``r``-th synapse of ``j`` in lane ``l`` (in increasing
``post`` order) sits in column ``r`` of row ``j``. A row has as many columns as
its fullest lane. Each 16-bit word is ``weight | (post // 32) * 2D + 2 delay``
(the weight's low ``index_bits`` are clear, quantise.py); unused lanes hold 0,
which adds 0 to ring row 0 (harmless).

With a constant weight (``QConnection.constant_weight``, ring depth 1) a word is
the whole LLM address ``ring_base + 2 (post // 32)`` and unused lanes hold -1,
a negative address that VLOADL/VSTOREL skip.

Two placements:
- VMEM: rows back to back, ``starts[j]`` the first column of row j
  (``starts[n_pre]`` the end), read through a DMEM table of addresses;
- DRAM: every row padded to the longest (``K`` columns, a fixed stride of
  ``64 K`` bytes, so the address is ``base + 64 K j``), and a table of column
  counts so that the DMA moves only the used columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quantise import LANES, QConnection, QPopulation


@dataclass
class EllLayout:
    words: np.ndarray        # (total columns, 32) int16 packed words of the used columns, row after row
    counts: np.ndarray       # (n_pre,) int64 columns per row
    column: np.ndarray       # (synapses,) column of each synapse within its row
    lane: np.ndarray         # (synapses,) its lane
    pre: np.ndarray          # (synapses,) its source row
    values: np.ndarray       # (synapses,) int64 packed word
    fill: int = 0            # word of an unused lane

    @property
    def starts(self) -> np.ndarray:
        """First column of each row when rows are back to back; ``starts[n_pre]`` = total."""
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    @property
    def max_columns(self) -> int:
        return int(self.counts.max(initial=0))

    def padded_rows(self) -> np.ndarray:
        """(n_pre * K, 32) int16: every row padded with zero words to K = the longest row."""
        K = self.max_columns
        out = np.full((self.counts.size * K, LANES), self.fill, np.int64)
        out[self.pre * K + self.column, self.lane] = self.values
        return _as_int16(out)


def ell_layout(c: QConnection, tgt: QPopulation, ring_base: int = 0) -> EllLayout:
    """``ring_base``: LLM address of the target ring (used by constant-weight words)."""
    n_pre = c.exists.shape[0]
    pre, post = np.nonzero(c.exists)               # row-major: by pre, then post
    lane, row = post % LANES, post // LANES
    key = pre * LANES + lane
    order = np.argsort(key, kind="stable")         # keeps increasing post within (pre, lane)
    sk = key[order]
    first = np.searchsorted(sk, sk, side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - first
    per_lane = np.bincount(key, minlength=n_pre * LANES).reshape(n_pre, LANES)
    counts = per_lane.max(axis=1) if n_pre else np.zeros(0, np.int64)
    D = tgt.ring_depth
    if c.constant_weight is not None:
        values, fill = ring_base + 2 * row.astype(np.int64), -1
    else:
        values = c.weights[pre, post].astype(np.int64) + row * 2 * D + 2 * c.delays[pre, post].astype(np.int64)
        fill = 0
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    words = np.full((int(starts[-1]), LANES), fill, np.int64)
    words[starts[pre] + rank, lane] = values
    return EllLayout(_as_int16(words), counts.astype(np.int64), rank, lane, pre, values, fill)


def _as_int16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.int64).astype(np.uint16).view(np.int16).reshape(-1, LANES)
