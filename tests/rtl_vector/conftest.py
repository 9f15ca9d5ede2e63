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
