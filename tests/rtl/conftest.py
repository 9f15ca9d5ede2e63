"""Shared fixtures of the RTL tests: one Verilated SoC per session (cached on disk
across sessions and xdist workers by verify/rtl_harness.py)."""
import pytest

from fenn_dma.sim.config import MachineConfig, profile

# Small memories keep the per-program reset and DMEM comparison cheap; full M is built
# (fenn_dma.arch profile test-rtl: the scalar SoC).
TEST_MACHINE = profile("test-rtl")


@pytest.fixture(scope="session")
def machine_config() -> MachineConfig:
    return TEST_MACHINE


@pytest.fixture(scope="session")
def verilated_soc():
    from fenn_dma.verify.rtl_harness import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.verify.rtl_harness import build
    from fenn_dma.verify.runner import soc_config
    return build(soc_config(TEST_MACHINE))


@pytest.fixture(scope="session")
def differential(verilated_soc, machine_config):
    """``differential(programs, labels)``: run on both backends, assert equal final states,
    naming the label (the seed) and the first differing field of every mismatch."""
    from fenn_dma.verify.compare import SCALAR_FIELDS, first_difference
    from fenn_dma.verify.runner import iss_state, run_many_on_rtl

    def check(programs, labels):
        iss = [iss_state(p, machine_config) for p in programs]
        rtl = run_many_on_rtl(programs, machine_config, soc=verilated_soc)
        failures = [f"{label}: {diff}" for label, a, b in zip(labels, iss, rtl)
                    if (diff := first_difference(a, b, SCALAR_FIELDS))]
        assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
        return iss, rtl
    return check
