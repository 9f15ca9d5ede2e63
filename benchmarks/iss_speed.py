"""ISS speed: the fast engine's instructions per second on three kernels, in the process and as
a whole `fenn-dma sim` process, beside FeNN's own ISS; and the start-up of `fenn-dma sim`.

    .venv/bin/python benchmarks/iss_speed.py [--seconds 0.5] [--runs 7] [--start-up-runs 21]
    .venv/bin/python benchmarks/iss_speed.py --start-up-only      # the start-up figures alone

Kernels: (a) a scalar loop, (b) a LIF neuron update over 4096 neurons
(load V, I; decay with vmul_rn; add; vtge -> mask; vsel reset; store),
(c) dense event propagation (per spiking presynaptic neuron, per 32-target
block: vloadv weights, vloadv accumulators, vadd_s, vstorev). Each in-process run
is sized to last at least --seconds. Then the LIF kernel at 20,000 steps (28.26 M
instructions, the kernel FeNN's ISS was measured on) in the process and through
`fenn-dma sim` (the whole process: start-up, loading, the run, the report), and
`fenn-dma sim` on a small program as .s, raw image and ELF (start-up, beside the 0.1 s
goal; `python -c pass` beside it).

Figures are CPU time (user + sys, of this process or of the child), which the machine's
load disturbs less than wall time; the load average is printed with them. FeNN's figures
(FENN_ISS) were measured outside this project, side by side with ours on this kernel
(issue 11): riscv_ise 0.0.2, its default -O3 -march=native build.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.elf import write_elf
from fenn_dma.sim import Machine, MachineConfig

TARGET_IPS = 20e6
# FeNN's C++ ISS on the LIF kernel below at 20,000 steps, M instructions/s (low, high), issue 11.
FENN_ISS = {"in-process": (35.0, 40.0), "whole process": (23.0, 26.0)}
LIF_STEPS = 20_000
START_UP_GOAL = 0.1       # s of CPU for `fenn-dma sim` on a small program (issue 11)
SMALL = """
    li a0, 10
    vlui v1, 3
1:  vadd v2, v2, v1
    addi a0, a0, -1
    bnez a0, 1b
    ecall
"""

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
    """(instructions, cycles, CPU seconds, wall seconds) of one run, translation outside the timing."""
    m = make_machine(kernel, repeat)
    m.run(max_instructions=0, engine=engine)           # predecode and translate outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    stop = m.run(max_instructions=max_instructions, engine=engine)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    assert stop.cause.value in ("ecall", "max_instructions"), stop
    return m.instret, m.cycles, cpu, wall


def child_cpu(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """(user + sys seconds, stdout) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, out.stdout


def fenn_ratio(ips: float, which: str) -> str:
    low, high = FENN_ISS[which]
    return f"{ips / 1e6 / high:.1f}-{ips / 1e6 / low:.1f}x FeNN's ISS ({low:.0f}-{high:.0f} M/s {which})"


def whole_process(lif: Kernel, tmp: Path, runs: int) -> None:
    """The LIF kernel at LIF_STEPS steps through `fenn-dma sim`, images written as the machine holds them."""
    m = make_machine(lif, LIF_STEPS)
    n, cycles, cpu, _ = timed_run(lif, LIF_STEPS, "fast")
    src, dmem, vmem = tmp / "lif.s", tmp / "lif.dmem", tmp / "lif.vmem"
    src.write_text(lif.source)
    dmem.write_bytes(m.dmem.tobytes())
    vmem.write_bytes(m.vmem.tobytes())
    cmd = [sys.executable, "-m", "fenn_dma.cli", "sim", str(src), "--dmem", str(dmem), "--vmem", str(vmem)]
    cpus = []
    for _ in range(runs):
        seconds, out = child_cpu(cmd)
        got = re.search(r"instructions: (\d+)\s+cycles: (\d+)", out)
        assert got and (int(got[1]), int(got[2])) == (n, cycles), f"`fenn-dma sim` ran differently: {out}"
        cpus.append(seconds)
    whole = statistics.median(cpus)
    print(f"\nLIF kernel, {LIF_STEPS:,} steps ({n:,} instructions), M instructions/s of CPU time:")
    print(f"  in-process     {n / cpu / 1e6:6.1f}  ({cpu:.3f} s)  {fenn_ratio(n / cpu, 'in-process')}")
    print(f"  whole process  {n / whole / 1e6:6.1f}  ({whole:.3f} s, median of {runs} `fenn-dma sim` runs)  "
          f"{fenn_ratio(n / whole, 'whole process')}")


def start_up(tmp: Path, runs: int) -> None:
    """`fenn-dma sim` on a small program, as source, raw image and ELF, beside the bare interpreter.

    Run as a user runs it: with the bytecode cache (PYTHONDONTWRITEBYTECODE, if set here, is
    dropped for these children, and a first untimed run of each case writes the cache)."""
    src, raw, elf = tmp / "small.s", tmp / "small.bin", tmp / "small.elf"
    src.write_text(SMALL)
    program = assemble(SMALL, "small")
    raw.write_bytes(program.images["imem"])
    write_elf(program, elf)
    sim = [sys.executable, "-m", "fenn_dma.cli", "sim"]
    cases = {"fenn-dma sim small.s": [*sim, str(src)],
             "fenn-dma sim small.bin (raw)": [*sim, str(raw)],
             "fenn-dma sim small.elf": [*sim, str(elf)],
             "python -c pass": [sys.executable, "-c", "pass"]}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in cases.values():
        child_cpu(cmd, env)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):                                 # interleaved, so that load changes hit all alike
        for name, cmd in cases.items():
            times[name].append(child_cpu(cmd, env)[0])
    print(f"\nstart-up, CPU time (user + sys), median and min of {runs} runs, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}:")
    for name, t in times.items():
        median = statistics.median(t)
        goal = "" if name.startswith("python") else \
            f"  goal {START_UP_GOAL:.2f} s: {'met' if median <= START_UP_GOAL else 'not met'}"
        print(f"  {name:<30} {median:6.3f} s  (min {min(t):.3f} s){goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum CPU time of each in-process run")
    parser.add_argument("--runs", type=int, default=7, help="runs of each whole-process measurement")
    parser.add_argument("--start-up-runs", type=int, default=21, help="runs of each start-up measurement")
    parser.add_argument("--start-up-only", action="store_true", help="measure the start-up only")
    args = parser.parse_args()
    if args.start_up_only:
        with tempfile.TemporaryDirectory() as tmp:
            start_up(Path(tmp), args.start_up_runs)
        return
    spikes = tuple(int(i) for i in np.random.default_rng(1).choice(PRE, SPIKES, replace=False))
    kernels = [Kernel("scalar loop", SCALAR), Kernel(f"LIF update, {NEURONS} neurons", LIF),
               Kernel(f"dense propagation, {SPIKES} spikes x {TARGETS} targets", DENSE, (SPIKES, *spikes))]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'kernel':<44} {'instructions':>13} {'CPU s':>7} {'M instr/s':>10} {'(wall)':>8} "
          f"{'target':>7} {'ratio':>6} {'CPI':>6}")
    for kernel in kernels:
        n, _, s, _ = timed_run(kernel, 1, "fast")
        repeat = 1
        while s < args.seconds:
            repeat = max(repeat * 2, int(repeat * 1.2 * args.seconds / max(s, 1e-6)))
            n, cycles, s, _ = timed_run(kernel, repeat, "fast")
        n, cycles, s, wall = timed_run(kernel, repeat, "fast")
        ips = n / s
        print(f"{kernel.name:<44} {n:>13,} {s:>7.2f} {ips / 1e6:>10.1f} {n / wall / 1e6:>8.1f} "
              f"{TARGET_IPS / 1e6:>7.0f} {ips / TARGET_IPS:>6.2f} {cycles / n:>6.3f}")
    n, _, s, _ = timed_run(kernels[1], 1000, "reference", max_instructions=20_000)
    print(f"reference engine, {kernels[1].name}: {n / s / 1e6:.3f} M instr/s "
          f"({n:,} instructions in {s:.2f} s CPU); fast/reference speed-up is the ratio of the two")
    with tempfile.TemporaryDirectory() as tmp:
        whole_process(kernels[1], Path(tmp), args.runs)
        start_up(Path(tmp), args.start_up_runs)


if __name__ == "__main__":
    main()
