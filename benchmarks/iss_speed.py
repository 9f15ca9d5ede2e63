"""ISS speed: instructions per second of the fast engine on three kernels,
against the 20 M instructions/s target (docs/architecture.md: "tens of
millions"), plus the reference engine on a short run for comparison.

    .venv/bin/python benchmarks/iss_speed.py [--seconds 0.5]

Kernels: (a) a scalar loop, (b) a LIF neuron update over 4096 neurons
(load V, I; decay with vmul_rn; add; vtge -> mask; vsel reset; store),
(c) dense event propagation (per spiking presynaptic neuron, per 32-target
block: vloadv weights, vloadv accumulators, vadd_s, vstorev). Each fast run
is sized to last at least --seconds.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from fenn_dma.isa.assembler import assemble
from fenn_dma.sim import Machine, MachineConfig

TARGET_IPS = 20e6

SCALAR = """
    lw s0, 0(zero)            # iterations
    li a0, 0
1:  add a0, a0, s0
    xor a1, a1, a0
    slli a2, a0, 3
    addi s0, s0, -1
    bnez s0, 1b
    ecall
"""

NEURONS = 4096
VECTORS = NEURONS // 32
LIF = f"""
    lw s1, 0(zero)            # timesteps
    vlui v10, 31130           # decay 0.95 in s0.15
    vlui v11, 2048            # threshold 1.0 in s4.11
    vlui v12, 0               # reset value
step:
    li a1, 0                  # V
    li a3, {NEURONS * 2}      # I
    li a2, {VECTORS}
1:  vloadv v1, 0(a1)
    vloadv v2, 0(a3)
    vmul_rn v1, v1, v10, 15   # V * decay (v2 not read in its load-use slot)
    vadd_s v1, v1, v2
    vtge t0, v1, v11
    vsel v1, t0, v12
    vstorev v1, 0(a1)
    addi a1, a1, 64
    addi a3, a3, 64
    addi a2, a2, -1
    bnez a2, 1b
    addi s1, s1, -1
    bnez s1, step
    ecall
"""

PRE, TARGETS, SPIKES = 128, 1024, 64
ROW = TARGETS * 2                      # bytes of one presynaptic weight row
ACC = PRE * ROW                        # accumulators after the weights
DENSE = f"""
    lw s1, 0(zero)            # repetitions
rep:
    li s2, 8                  # spike list (DMEM word indices of spiking neurons)
    lw s3, 4(zero)            # number of spikes
spk:
    lw t0, 0(s2)
    slli a1, t0, {ROW.bit_length() - 1}     # weight row address
    li a2, {ACC}
    li a3, {TARGETS // 32}
blk:
    vloadv v1, 0(a1)          # weights
    vloadv v2, 0(a2)          # accumulators
    addi a1, a1, 64           # load-use slot
    vadd_s v2, v2, v1
    vstorev v2, 0(a2)
    addi a2, a2, 64
    addi a3, a3, -1
    bnez a3, blk
    addi s2, s2, 4
    addi s3, s3, -1
    bnez s3, spk
    addi s1, s1, -1
    bnez s1, rep
    ecall
"""


@dataclass
class Kernel:
    name: str
    source: str
    words: tuple[int, ...] = ()      # DMEM words after the repeat count


def make_machine(kernel: Kernel, repeat: int) -> Machine:
    m = Machine(MachineConfig())
    m.load(assemble(kernel.source, kernel.name))
    m.dmem[:4] = np.array([repeat], "<u4").view(np.uint8)
    if kernel.words:
        w = np.array(kernel.words, "<u4").view(np.uint8)
        m.dmem[4:4 + w.size] = w
    rng = np.random.default_rng(0)
    m.vmem[:] = rng.integers(0, 256, m.vmem.size, dtype=np.uint8) & 0x3F   # small positive halfwords
    return m


def timed_run(kernel: Kernel, repeat: int, engine: str, max_instructions: int | None = None):
    m = make_machine(kernel, repeat)
    m.run(max_instructions=0, engine=engine)           # predecode outside the timing
    t0 = time.perf_counter()
    stop = m.run(max_instructions=max_instructions, engine=engine)
    seconds = time.perf_counter() - t0
    assert stop.cause.value in ("ecall", "max_instructions"), stop
    return m.instret, m.cycles, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum duration of each fast run")
    args = parser.parse_args()
    spikes = tuple(int(i) for i in np.random.default_rng(1).choice(PRE, SPIKES, replace=False))
    kernels = [Kernel("scalar loop", SCALAR), Kernel(f"LIF update, {NEURONS} neurons", LIF),
               Kernel(f"dense propagation, {SPIKES} spikes x {TARGETS} targets", DENSE, (SPIKES, *spikes))]
    print(f"{'kernel':<44} {'instructions':>13} {'seconds':>8} {'M instr/s':>10} "
          f"{'target':>7} {'ratio':>6} {'CPI':>6}")
    for kernel in kernels:
        n, _, s = timed_run(kernel, 1, "fast")
        repeat = 1
        while s < args.seconds:
            repeat = max(repeat * 2, int(repeat * 1.2 * args.seconds / max(s, 1e-6)))
            n, cycles, s = timed_run(kernel, repeat, "fast")
        n, cycles, s = timed_run(kernel, repeat, "fast")
        ips = n / s
        print(f"{kernel.name:<44} {n:>13,} {s:>8.2f} {ips / 1e6:>10.1f} {TARGET_IPS / 1e6:>7.0f} "
              f"{ips / TARGET_IPS:>6.2f} {cycles / n:>6.3f}")
    n, _, s = timed_run(kernels[1], 1000, "reference", max_instructions=20_000)
    print(f"reference engine, {kernels[1].name}: {n / s / 1e6:.3f} M instr/s "
          f"({n:,} instructions in {s:.2f} s); fast/reference speed-up is the ratio of the two")


if __name__ == "__main__":
    main()
