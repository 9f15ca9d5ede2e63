"""The fast engine against the reference engine on seeded random programs:
identical stop, registers, RNG, memories, counters, cycles and DMA state."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.sim import Machine
from fenn_dma.verify.random_program import RandomProgram, random_program

SEEDS = range(300)


def fresh(rp: RandomProgram) -> Machine:
    m = Machine(rp.config)
    m.load(rp.program)
    m.load_image("llm", rp.llm_image)
    m.load_image("dram", rp.dram_image)
    return m


def assert_same(a: Machine, b: Machine, seed: int) -> None:
    assert a.last_stop == b.last_stop, f"seed {seed}: stop {a.last_stop} != {b.last_stop}"
    sa, sb = a.snapshot(), b.snapshot()
    for name in sa:
        assert np.array_equal(sa[name], sb[name]), f"seed {seed}: engines differ in {name}"


@pytest.mark.parametrize("block", range(10))
def test_fast_matches_reference(block):
    stops = set()
    for seed in SEEDS[block::10]:
        rp = random_program(seed)
        ref, fast = fresh(rp), fresh(rp)
        ref.run(max_instructions=20_000, engine="reference")
        fast.run(max_instructions=20_000, engine="fast")
        assert_same(ref, fast, seed)
        assert ref.instret > 100 or ref.last_stop.cause != "ecall", f"seed {seed}: program too short"
        stops.add(ref.last_stop.cause)
    assert "ecall" in stops


def test_random_programs_reach_the_interesting_stops():
    causes = {}
    for seed in SEEDS:
        rp = random_program(seed)
        m = fresh(rp)
        stop = m.run(max_instructions=20_000, engine="fast")
        causes[stop.cause.value] = causes.get(stop.cause.value, 0) + 1
    assert causes.get("ecall", 0) > len(SEEDS) // 2
    for cause in ("illegal_instruction", "misaligned_load", "misaligned_store", "misaligned_fetch"):
        assert causes.get(cause, 0) > 0, causes


@pytest.mark.parametrize("seed", range(0, 300, 15))
def test_switching_engines_mid_run(seed):
    """State lives in the shared buffers: running k instructions on one engine
    and the rest on the other ends exactly like one reference run."""
    rp = random_program(seed)
    whole = fresh(rp)
    whole.run(max_instructions=20_000, engine="reference")
    split = fresh(rp)
    engines = ["fast", "reference"]
    rng = np.random.default_rng(seed)
    while True:
        stop = split.run(max_instructions=int(rng.integers(1, 60)), engine=engines[0])
        engines.reverse()
        if stop.cause != "max_instructions" or split.instret >= 20_000:
            break
    assert_same(whole, split, seed)
