"""Shared parts of the DMA differential tests (tests/rtl_dma/test_dma_diff*.py): the SoC with
the DMA on the native harness, its ISS at both named DRAM latencies, and the comparison of
final states (registers, both STATUS words, VMEM, DRAM, stop, cycles) that leaves out only
the destinations a bus error makes undefined (docs/dma.md)."""
from __future__ import annotations

import pytest

from fenn_dma.dram import DramTiming
from fenn_dma.sim import DmaModel
from fenn_dma.verify.compare import DMA_FIELDS, first_difference, without_ranges
from fenn_dma.verify.random_program import SMALL_CONFIG

LATENCIES = ("short", "ddr4")


def machine(latency: str):
    """The ISS of the DMA tests' SoC (random_program.SMALL_CONFIG: 8 KiB VMEM, 64 KiB DRAM at
    0x10000 with a SLVERR region) with the named DRAM latency."""
    return SMALL_CONFIG.with_(dma=DmaModel(DramTiming.preset(latency)))


def _native_soc(**changes):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.verify.runner import build_soc, soc_config
    return build_soc(soc_config(SMALL_CONFIG, vector=True, dma=True).with_(**changes), "native")


@pytest.fixture(scope="session")
def dma_soc():
    return _native_soc()


@pytest.fixture(scope="session")
def dma_soc_transparent():
    """The same SoC with VMEM and the LLMs built as the ECP5 flow builds them (every read
    transparent to the other port's write; docs/vector_unit.md "Collisions")."""
    from fenn_dma.rtl.config import TRANSPARENT_COLLISIONS
    return _native_soc(collisions=TRANSPARENT_COLLISIONS)


def compare(labels, iss_states, rtl_states, undefined=None, fields=DMA_FIELDS) -> list[str]:
    """``label: first difference`` of every pair that differs outside ``undefined[i]``
    ({memory: [(start, end)]} per program, or None)."""
    undefined = undefined or [{}] * len(labels)
    out = []
    for label, a, b, spans in zip(labels, iss_states, rtl_states, undefined):
        diff = first_difference(without_ranges(a, spans), without_ranges(b, spans), fields)
        if diff:
            out.append(f"{label}: {diff}")
    return out
