"""Fixtures of the ISS tests: run a program on both engines and require identical state."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from fenn_dma.arch import profile as spec_profile
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.program import Program
from fenn_dma.sim import Machine, MachineConfig

SMALL = MachineConfig.from_spec(spec_profile("test-iss"))     # 4K/4K/8K/256, DRAM 64K, every extension


def _run_both(program: Program, config: MachineConfig, setup: Callable[[Machine], None] | None,
              max_instructions: int | None) -> Machine:
    machines = []
    for engine in ("reference", "fast"):
        m = Machine(config)
        m.load(program)
        if setup:
            setup(m)
        m.run(max_instructions=max_instructions, engine=engine)
        machines.append(m)
    ref, fast = machines
    assert ref.last_stop == fast.last_stop, f"reference {ref.last_stop} != fast {fast.last_stop}"
    a, b = ref.snapshot(), fast.snapshot()
    for name in a:
        assert np.array_equal(a[name], b[name]), f"engines differ in {name}"
    return ref


@pytest.fixture
def run_asm():
    """run_asm(source, config=SMALL, setup=None, max_instructions=100_000) -> the
    reference machine, after checking that the fast engine ends identically."""
    def run(source: str, config: MachineConfig = SMALL, setup=None, max_instructions: int | None = 100_000):
        return _run_both(assemble(source, "<test>"), config, setup, max_instructions)
    return run


@pytest.fixture
def run_words():
    def run(words, config: MachineConfig = SMALL, setup=None, max_instructions: int | None = 100_000, **images):
        return _run_both(Program.from_words(words, **images), config, setup, max_instructions)
    return run


@pytest.fixture
def small() -> MachineConfig:
    """The small configuration every ISS test runs on (fast to reset and compare)."""
    return SMALL
