"""`fenn-dma demo`: assemble the LIF demo kernel, run it on the ISS, and check
every spike against a numpy model built from the same lane arithmetic.

Prints the spike raster summary, the counters, and the ISS speed.
"""
from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np

from fenn_dma.arch import LANES, ROW_BYTES

COMMAND = "demo"
HELP = "assemble and run the example vector kernel on the ISS"

N_VEC, STEPS, DECAY, THRESHOLD = 8, 100, 31130, 2048   # as in firmware/kernels/lif_demo.s
I_BASE = N_VEC * ROW_BYTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="seed of the random input currents")
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast",
                        help="ISS engine: the C engine or the plain-Python reference one")


def reference_spikes(current: np.ndarray) -> np.ndarray:
    """The kernel's arithmetic in numpy (sim/lanes.py): spike masks [step, neuron]."""
    from fenn_dma.isa.table import ROUND_NEAREST
    from fenn_dma.sim import lanes

    v = np.zeros_like(current)
    out = np.zeros((STEPS, current.size), dtype=bool)
    for t in range(STEPS):
        v = lanes.vadd(lanes.vmul(v, np.full_like(v, DECAY), 15, ROUND_NEAREST), current, sat=True)
        out[t] = v >= THRESHOLD
        v = np.where(out[t], 0, v).astype(np.int16)
    return out


def run(args) -> int:
    from fenn_dma.isa.assembler import assemble
    from fenn_dma.sim import Machine, MachineConfig

    source = resources.files("fenn_dma.firmware").joinpath("kernels/lif_demo.s").read_text()
    program = assemble(source, "firmware/kernels/lif_demo.s")
    rng = np.random.default_rng(args.seed)
    # Input currents in s4.11: around 0.03-0.08 per step, so neurons fire every ~10-40 steps.
    current = rng.integers(60, 170, size=N_VEC * LANES).astype(np.int16)

    machine = Machine(MachineConfig())
    machine.load(program)
    machine.vmem[0:N_VEC * ROW_BYTES] = np.zeros(N_VEC * LANES, dtype="<i2").view(np.uint8)
    machine.vmem[I_BASE:I_BASE + N_VEC * ROW_BYTES] = current.astype("<i2").view(np.uint8)
    t0 = time.perf_counter()
    stop = machine.run(engine=args.engine)
    seconds = time.perf_counter() - t0

    base = program.symbol("spikes")
    masks = machine.dmem[base:base + STEPS * N_VEC * 4].view("<u4").reshape(STEPS, N_VEC)
    spikes = ((masks[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(bool).reshape(STEPS, -1)
    total = int(machine.dmem[program.symbol("total"):][:4].view("<u4")[0])
    expected = reference_spikes(current)

    print(f"LIF demo: {N_VEC * 32} neurons x {STEPS} steps on the ISS ({args.engine} engine)")
    print(f"stop: {stop.cause} at pc 0x{stop.pc:x}")
    print("spikes per 10 steps:", " ".join(str(int(spikes[t:t + 10].sum())) for t in range(0, STEPS, 10)))
    print(f"total spikes: {total} (firmware count), {int(spikes.sum())} (from the masks)")
    print(f"instructions retired: {machine.instret}, predicted cycles: {machine.cycles}, "
          f"CPI {machine.cycles / max(machine.instret, 1):.3f}")
    print(f"ISS speed: {machine.instret / seconds / 1e6:.1f} M instructions/s")
    ok = stop.cause == "ecall" and np.array_equal(spikes, expected) and total == int(expected.sum())
    print("bit-exact against the numpy model:", "yes" if ok else "NO")
    return 0 if ok else 1
