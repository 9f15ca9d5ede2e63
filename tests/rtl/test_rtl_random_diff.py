"""Seeded random scalar programs: the RTL's final state (x registers, stop cause
and pc, DMEM, instret, cycles, mcycle, minstret) equals the ISS's."""
from collections import Counter

import pytest

from fenn_dma.isa.program import Program
from fenn_dma.sim.rtl_harness_random import random_program

DEFAULT_SEEDS = range(0, 250)
SLOW_SEEDS = range(250, 1250)


def _programs(seeds, dmem_size):
    return [Program.from_words(random_program(seed, dmem_size)) for seed in seeds]


def test_random_programs_match_iss(differential, machine_config):
    iss, _ = differential(_programs(DEFAULT_SEEDS, machine_config.dmem_size),
                          [f"seed {s}" for s in DEFAULT_SEEDS])
    # The generator must reach the interesting stops, not only ecall.
    causes = Counter(s["stop"]["cause"] for s in iss)
    for cause in ("ecall", "ebreak", "misaligned_fetch", "load_fault", "store_fault", "misaligned_load",
                  "misaligned_store", "illegal_instruction"):
        assert causes[cause] > 0, causes


@pytest.mark.slow
def test_many_random_programs_match_iss(differential, machine_config):
    differential(_programs(SLOW_SEEDS, machine_config.dmem_size), [f"seed {s}" for s in SLOW_SEEDS])
