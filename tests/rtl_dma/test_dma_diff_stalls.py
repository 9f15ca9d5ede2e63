"""DRAM back-pressure in the one timing model (fenn_dma.dram: DramTiming.stall/seed and the stall
function stall_draw of the cycle), on the native RTL harness (its C++ slave stalls ARREADY,
AWREADY, WREADY and due R/B beats by the same function) and on the ISS (which steps the
engine's rules against it, sim/dma_engine.py): the DMA timing programs (STATUS read every cycle
around the phase changes) and seeded random DMA programs give every field equal, the cycles
included, at several stall levels and both named latencies. Random programs that restart a
channel while it may be busy are kept: with the timing exact, whether the start is taken is the
same on both. The compiled networks are in test_dma_diff_networks.py."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.dram import DramTiming
from fenn_dma.isa.assembler import assemble
from fenn_dma.sim import DmaModel
from fenn_dma.verify.random_program import DMA_RTL, SMALL_CONFIG, random_program, undefined_ranges
from fenn_dma.verify.runner import iss_state, run_many_on_rtl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_diff import LATENCIES, compare, dma_soc  # noqa: E402,F401
from test_dma_diff_timing import cases, program  # noqa: E402

pytestmark = pytest.mark.rtl
STALLS = (32, 128, 224)
SEEDS = range(0, 40)
SLOW_STALLS = (8, 64, 96, 160, 192, 250)
SLOW_SEEDS = range(40, 240)


def stalled_machine(latency: str, stall: int, seed: int = 1):
    return SMALL_CONFIG.with_(dma=DmaModel(DramTiming.preset(latency).with_stall(stall, seed)))


def timing_set(cfg):
    plain = SMALL_CONFIG.with_(dma=DmaModel(DramTiming(cfg.dma.dram.latency)))    # where to read (no stalls)
    listed = cases(plain)
    programs = [assemble(text) for _, text, _ in listed]
    for p in programs:
        p.images["dmem"] = (1).to_bytes(4, "little")          # the load-use start's CONTROL value
    dram = (np.arange(cfg.dram_size) * 7 % 251).astype(np.uint8).tobytes()
    return [label for label, _, _ in listed], programs, [u for _, _, u in listed], [dram] * len(programs)


def check(cfg, labels, programs, undefined, drams, llms=None):
    llms = llms or [b""] * len(programs)
    iss = [iss_state(p, cfg, llm=llm, dram=d) for p, llm, d in zip(programs, llms, drams)]
    rtl = run_many_on_rtl(programs, cfg, soc=_soc[0], llm_images=llms, dram_images=drams)
    failures = compare(labels, iss, rtl, undefined)
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss


_soc = [None]


@pytest.fixture(autouse=True)
def _the_soc(dma_soc):
    _soc[0] = dma_soc


def random_set(cfg, seeds):
    rps = [random_program(seed, 60, cfg, DMA_RTL) for seed in seeds]
    return ([f"seed {rp.seed}" for rp in rps], [rp.program for rp in rps], [undefined_ranges(cfg)] * len(rps),
            [rp.dram_image for rp in rps], [rp.llm_image for rp in rps])


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("stall", STALLS)
def test_timing_programs_under_back_pressure_equal_the_iss(latency, stall):
    cfg = stalled_machine(latency, stall, seed=stall + 1)
    iss = check(cfg, *timing_set(cfg))
    plain = [iss_state(p, stalled_machine(latency, 0)) for p in timing_set(cfg)[1]]
    # The stalls are seen (more cycles or other STATUS phases read than without them; a 0-byte
    # transfer has no bus traffic, a poll loop's period can hide a short delay); none is shorter.
    assert all(a["cycles"] >= b["cycles"] for a, b in zip(iss, plain))
    seen = sum(a["cycles"] > b["cycles"] or a["x"][12:32] != b["x"][12:32] for a, b in zip(iss, plain))
    assert seen > len(iss) // 2, seen


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("stall", STALLS)
def test_random_dma_programs_under_back_pressure_equal_the_iss(latency, stall):
    cfg = stalled_machine(latency, stall, seed=3 * stall)
    labels, programs, undefined, drams, llms = random_set(cfg, SEEDS)
    check(cfg, labels, programs, undefined, drams, llms)


def test_an_early_bus_error_ends_as_the_rtl_does():
    """Burst 0 of a long MM2S failing at the short latency: the engine has issued only a few
    bursts when the error comes back (fenn_dma.dram's error formula assumes 7 more, which holds
    only when the error comes later); the ISS steps the engine's rules for every failing transfer,
    so its phases are the RTL's, with and without stalls."""
    for stall in (0, 96):
        cfg = stalled_machine("short", stall)
        err = cfg.dram_error_regions[0][0]
        listed = [(f"{ch} from the error region, reads from +{d}",
                   program(ch, err if ch == "mm2s" else 0, 0 if ch == "mm2s" else err, 4096, d),
                   {"vmem": [(0, 4096)]} if ch == "mm2s" else {"dram": [(err - cfg.dram_base, err - cfg.dram_base
                                                                          + 4096)]})
                  for ch in ("mm2s", "s2mm") for d in (0, 40, 80, 120)]
        programs = [assemble(text) for _, text, _ in listed]
        dram = bytes(cfg.dram_size)
        check(cfg, [lab for lab, _, _ in listed], programs, [u for _, _, u in listed], [dram] * len(programs))


def test_bad_back_pressure_jobs_are_refused(dma_soc):
    from fenn_dma.verify.rtl_harness import RtlJob, RtlSimError
    from fenn_dma.verify.rtl_native import run_batch_native
    ok = dict(imem=assemble("ecall").images["imem"], dram_size=4096, dram_base=0x10000)
    for bad, match in ((dict(dram_stall=256), "dram_stall = 256: back-pressure is 0..255"),
                       (dict(dram_stall=-3), "dram_stall = -3"),
                       (dict(dram_seed=-1), "dram_seed = -1: the stall pattern's seed"),
                       (dict(dram_seed=1 << 32), "dram_seed = 4294967296"),
                       (dict(dram_seed=True), "dram_seed = True")):
        with pytest.raises(RtlSimError, match=match):
            run_batch_native(dma_soc.config, [RtlJob(**{**ok, **bad})], soc=dma_soc)


@pytest.mark.slow
@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("stall", SLOW_STALLS)
def test_more_programs_at_more_stall_levels(latency, stall):
    cfg = stalled_machine(latency, stall, seed=stall)
    check(cfg, *timing_set(cfg))
    labels, programs, undefined, drams, llms = random_set(cfg, SLOW_SEEDS)
    check(cfg, labels, programs, undefined, drams, llms)
