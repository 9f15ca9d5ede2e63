"""Seeded random programs mixing DMA (random_program.DMA_RTL: transfers started, work that
leaves their ranges alone, polled to idle; rule breaks; bus errors; both channels at once;
starts while busy), vector and scalar instructions and CSR reads, on the native RTL harness
and on the ISS: registers, both STATUS words, VMEM, LLM, DMEM, DRAM, the stop and the
cycles agree, at both DRAM latencies; only the bytes a bus error leaves undefined
(random_program.undefined_ranges) are left out."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from fenn_dma.isa import csrs
from fenn_dma.verify.random_program import DMA_RTL, random_program, undefined_ranges
from fenn_dma.verify.runner import iss_state, run_many_on_rtl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_diff import LATENCIES, compare, dma_soc, dma_soc_transparent, machine  # noqa: E402,F401

pytestmark = pytest.mark.rtl
DEFAULT_SEEDS = range(0, 150)          # per latency: 300 programs in the default run
SLOW_SEEDS = range(150, 1650)


def run(seeds, latency, soc):
    cfg = machine(latency)
    rps = [random_program(seed, 60, cfg, DMA_RTL) for seed in seeds]
    labels = [f"seed {s} ({latency})" for s in seeds]
    iss = [iss_state(rp.program, cfg, llm=rp.llm_image, dram=rp.dram_image) for rp in rps]
    rtl = run_many_on_rtl([rp.program for rp in rps], cfg, soc=soc, llm_images=[rp.llm_image for rp in rps],
                          dram_images=[rp.dram_image for rp in rps])
    undefined = undefined_ranges(cfg)
    failures = compare(labels, iss, rtl, [undefined] * len(rps))
    assert not failures, f"{len(failures)} of {len(rps)} differ:\n" + "\n".join(failures[:25])
    return rps, iss


@pytest.mark.parametrize("latency", LATENCIES)
def test_random_dma_programs_match_iss(dma_soc, latency):
    rps, iss = run(DEFAULT_SEEDS, latency, dma_soc)
    # The generator reaches every final status and the stops it means to.
    finals = Counter(v for s in iss for v in s["dma_status"])
    idle = csrs.DMA_IDLE
    for bit in (csrs.DMA_DONE, csrs.DMA_INTERNAL_ERROR, csrs.DMA_DECODE_ERROR, csrs.DMA_SLAVE_ERROR):
        assert finals[idle | bit] > 0, finals
    reads = Counter(v for s in iss for v in s["x"][4:29])
    assert reads[csrs.DMA_STARTING] + reads[csrs.DMA_TRANSFERRING] > 0, "no STATUS read saw a transfer running"
    assert Counter(s["stop"]["cause"] for s in iss)["ecall"] > len(rps) // 2


@pytest.mark.parametrize("latency", LATENCIES)
def test_random_dma_programs_match_iss_with_transparent_memories(dma_soc_transparent, latency):
    """VMEM and the LLMs with the ECP5 collision rules: the same programs, the same states."""
    run(DEFAULT_SEEDS, latency, dma_soc_transparent)


@pytest.mark.slow
@pytest.mark.parametrize("latency", LATENCIES)
def test_many_random_dma_programs_match_iss(dma_soc, latency):
    run(SLOW_SEEDS, latency, dma_soc)
