"""Shared helpers of the vector-unit tests (Amaranth simulator)."""
import numpy as np
import pytest
from amaranth.sim import Simulator

CORNERS = [-32768, -32767, -16385, -16384, -257, -256, -2, -1, 0, 1, 2, 255, 256, 16383, 16384, 32766, 32767]


def run_testbench(dut, testbench, *, clocked: bool = False, vcd: str | None = None) -> None:
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


@pytest.fixture
def simulate():
    """``simulate(dut, testbench, clocked=False)``: run an async testbench."""
    return run_testbench


@pytest.fixture
def rng():
    return np.random.default_rng(20250611)


@pytest.fixture
def operand_pairs(rng):
    """Every pair of corner values plus random pairs, as two int16 arrays."""
    a, b = np.meshgrid(CORNERS, CORNERS)
    ra = rng.integers(-32768, 32768, 300)
    rb = rng.integers(-32768, 32768, 300)
    return (np.concatenate([a.ravel(), ra]).astype(np.int16), np.concatenate([b.ravel(), rb]).astype(np.int16))


# ---- the Verilated SoC with the vector unit (the RTL runner of verify/runner.py) ----

@pytest.fixture(scope="session")
def vector_soc():
    """The SoC with the vector unit, sized as VECTOR_TEST_CONFIG, Verilated once (cached on disk)."""
    from fenn_dma.verify.rtl_harness import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.verify.random_program import VECTOR_TEST_CONFIG
    from fenn_dma.verify.rtl_harness import build
    from fenn_dma.verify.runner import soc_config
    return build(soc_config(VECTOR_TEST_CONFIG, vector=True))


@pytest.fixture(scope="session")
def both_backends(vector_soc):
    """``both_backends(random_programs)``: run each on the ISS and on the RTL (one
    simulator launch), assert identical final states (stop, x, v, per-lane RNG state,
    VMEM, LLM, DMEM, counters, cycles); returns the (iss, rtl) state lists."""
    from fenn_dma.verify.compare import STATE_FIELDS, differences
    from fenn_dma.verify.runner import iss_state, run_many_on_rtl

    def check(programs):
        iss = [iss_state(rp.program, rp.config, 200_000, llm=rp.llm_image) for rp in programs]
        rtl = run_many_on_rtl([rp.program for rp in programs], programs[0].config,
                              llm_images=[rp.llm_image for rp in programs], soc=vector_soc)
        assert all("rng" in state for state in rtl)
        failures = differences([f"seed {rp.seed} ({a['stop']['cause']})" for rp, a in zip(programs, iss)],
                               iss, rtl, STATE_FIELDS)
        assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
        return iss, rtl
    return check
