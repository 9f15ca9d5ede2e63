"""Seeded random scalar programs: the RTL's final state (x registers, stop cause
and pc, DMEM, instret, cycles, mcycle, minstret) equals the ISS's."""
from collections import Counter

import pytest

from fenn_dma.verify.random_program import SCALAR_RTL, random_program

DEFAULT_SEEDS = range(0, 250)
SLOW_SEEDS = range(250, 1250)


def _programs(seeds, machine_config):
    return [random_program(seed, 60, machine_config, SCALAR_RTL).program for seed in seeds]


def test_random_programs_match_iss(differential, machine_config):
    iss, _ = differential(_programs(DEFAULT_SEEDS, machine_config),
                          [f"seed {s}" for s in DEFAULT_SEEDS])
    # The generator must reach the interesting stops, not only ecall.
    causes = Counter(s["stop"]["cause"] for s in iss)
    for cause in ("ecall", "ebreak", "misaligned_fetch", "load_fault", "store_fault", "misaligned_load",
                  "misaligned_store", "illegal_instruction"):
        assert causes[cause] > 0, causes


@pytest.mark.slow
def test_many_random_programs_match_iss(differential, machine_config):
    differential(_programs(SLOW_SEEDS, machine_config), [f"seed {s}" for s in SLOW_SEEDS])
