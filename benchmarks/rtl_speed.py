"""Simulated cycles per second of the Verilated SoC (cocotb + Verilator), for a
long-running loop, and the harness's throughput on short random programs,
beside the ISS's speed on the same programs; then the native harness
(verify/rtl_native.py): the loop on the scalar and on the vector SoC, a vector
kernel (LIF) on the vector SoC, and with --shd a compiled
SHD-sized network (700-256-20, one sample of --steps steps) run window by window as
the compiler's Runtime runs it, each against the goal of 1 M cycles/s (CPU time).

Reference: 0.08 M cycles/s measured when every clock edge woke Python (cocotb's
Python clock and ClockCycles); the figure depends on the machine's load, so
compare runs made side by side.

With --instructions, each native figure also gets x86 instructions per simulated cycle,
counted by valgrind's callgrind (the difference of a short and a long cycle-limited run of the
same job, each a whole process, so start-up, set-up and read-back cancel): unlike any time here,
independent of the machine's load. --native leaves out the cocotb harness's figures.

--pgo adds the profile-guided builds' figures (build_native(pgo=True)) beside the plain ones.

Run: .venv/bin/python benchmarks/rtl_speed.py [--native] [--instructions] [--pgo] [--shd] [--steps 1170]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from fenn_dma.isa.program import Program
from fenn_dma.sim.config import profile
from fenn_dma.sim.machine import Machine
from fenn_dma.verify.kernels import counted_loop
from fenn_dma.verify.random_program import SCALAR_RTL, random_program
from fenn_dma.verify.rtl_harness import build
from fenn_dma.verify.runner import (iss_state, needs_dma, run_many_on_rtl, run_windows_on_rtl,
                                    soc_config, windows_of_run)

GOAL = 1_000_000          # simulated cycles/s on the vector SoC (issue 11)


def _rate_line(label: str, cycles: int, cpu: float, wall: float) -> str:
    return (f"{label}: {cycles / cpu / 1e6:.2f} M cycles/s of CPU time ({cycles / GOAL / cpu:.2f} of the "
            f"1 M goal), {cycles / wall / 1e6:.2f} M/s wall ({cycles} cycles)")


def instructions_per_cycle(soc, job, short: int = 20_000, long: int = 60_000) -> float | None:
    """x86 instructions per simulated cycle of ``job`` on the native ``soc``: callgrind's count of a
    process that runs the job cut at ``short`` cycles and of one cut at ``long``, the difference over
    the difference of their cycles (Python's start-up, the job's set-up, clear and read-back cancel).
    None without valgrind. The runs load the built library directly (no Verilog generation under
    valgrind)."""
    if shutil.which("valgrind") is None:
        return None
    counts = []
    with tempfile.TemporaryDirectory(prefix="fenn-cg-") as tmp:
        for n in (short, long):
            spec = os.path.join(tmp, f"job{n}.pkl")
            with open(spec, "wb") as f:
                pickle.dump((soc, dataclasses.replace(job, max_cycles=n)), f)
            out = os.path.join(tmp, f"cg.{n}")
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                            "--callgrind-child", spec], check=True, capture_output=True)
            with open(spec + ".cycles") as f:
                cycles = int(f.read())
            with open(out) as f:
                total = next(int(line.split()[1]) for line in f if line.startswith(("totals:", "summary:")))
            counts.append((total, cycles))
    (i0, c0), (i1, c1) = counts
    return (i1 - i0) / (c1 - c0)


def _callgrind_child(spec: str) -> None:
    """One job of instructions_per_cycle, run under callgrind."""
    from fenn_dma.verify.rtl_native import run_batch_native
    with open(spec, "rb") as f:
        soc, job = pickle.load(f)
    r = run_batch_native(soc.config, [job], soc=soc)[0]
    with open(spec + ".cycles", "w") as f:
        f.write(str(r["cycles"]))


def _report(label: str, r: dict, cpu: float, wall: float, soc, job, instructions: bool) -> str:
    line = _rate_line(label, r["cycles"], cpu, wall)
    if instructions:
        ipc = instructions_per_cycle(soc, job)
        line += "; " + (f"{ipc:,.0f} x86 instructions a cycle (callgrind)" if ipc is not None
                        else "instructions a cycle: valgrind is not installed")
    return line


def _builds(cfg, pgo: bool) -> list:
    """The native builds to measure: the plain one and, with ``pgo``, the profile-guided one
    (build_native(pgo=True): trained on the built-in set, not on these programs)."""
    from fenn_dma.verify.rtl_native import build_native
    return [("", build_native(cfg, pgo=False))] + ([(" [PGO build]", build_native(cfg, pgo=True))] if pgo else [])


def native_loops(instructions: bool = False, pgo: bool = False) -> None:
    """The native harness, side by side: the counted loop on the scalar SoC and on the vector SoC of
    the vector tests (the 32 lanes idle), and the LIF kernel on the vector SoC (7 vector
    instructions per 32 neurons, the lanes busy), each checked against the ISS's cycles."""
    from fenn_dma.verify.kernels import lif_kernel
    from fenn_dma.verify.random_program import VECTOR_TEST_CONFIG
    from fenn_dma.verify.rtl_native import run_batch_native
    from fenn_dma.verify.runner import _job
    scalar_config = profile("test-rtl")
    lif = lif_kernel(steps=1000)
    cases = [("scalar SoC, long loop", scalar_config, False, counted_loop(400_000, "<long>")),
             ("vector SoC, long loop (lanes idle)", VECTOR_TEST_CONFIG, True, counted_loop(200_000, "<long>")),
             ("vector SoC, LIF kernel, 1000 steps (lanes busy)", VECTOR_TEST_CONFIG, True, lif.vp.program)]
    for label, config, vector, program in cases:
        cfg = soc_config(config, vector=vector)
        job = _job(program, config, cfg, 100_000_000, "no")
        iss = iss_state(program, config, 100_000_000)["cycles"]
        for kind, soc in _builds(cfg, pgo):
            t, c = time.perf_counter(), time.process_time()
            r = run_batch_native(cfg, [job], soc=soc)[0]
            line = _report(f"native harness, {label}{kind}", r, time.process_time() - c, time.perf_counter() - t,
                           soc, job, instructions)
            print(line + ("" if iss == r["cycles"] else f"  [ISS: {iss} cycles: DIFFERENT]"))
            if iss != r["cycles"]:
                raise SystemExit(f"{label}: the RTL's cycles differ from the ISS's")


def shd_network(steps: int, instructions: bool = False, pgo: bool = False) -> None:
    """FeNN's SHD network (benchmarks/shd_kernel.py) compiled, one Poisson sample, on the ISS
    and then its windows on the native vector SoC (with the DMA when the program uses it)."""
    from shd_kernel import build as shd_build

    from fenn_dma.compiler.pipeline import compile_model
    from fenn_dma.compiler.runtime import Runtime
    program, _ = compile_model(shd_build(), rounding="stochastic", n_steps=steps)
    config = Runtime(program).machine.config
    x = np.random.default_rng(1).random((steps, 700)) < 0.01
    t = time.perf_counter()
    rt, out, windows = windows_of_run(program, config, {"input": x})
    iss = time.perf_counter() - t
    images = [Program(images={k: w[k] for k in ("imem", "dmem", "vmem")}) for w in windows]
    dma = any(needs_dma(p, w["dram"]) for p, w in zip(images, windows))
    label = f"native harness, SHD 700-256-20 network, {steps} steps in {len(windows)} windows"
    results = []
    for kind, soc in _builds(soc_config(config, vector=True, dma=dma), pgo):
        t, c = time.perf_counter(), time.process_time()
        states = run_windows_on_rtl(windows, config, soc)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        cycles = sum(s["cycles"] for s in states)
        results.append(states)
        if instructions:
            from fenn_dma.verify.runner import _job
            job = _job(images[0], config, soc.config, 50_000_000, "backdoor", llm=windows[0]["llm"],
                       dram=windows[0]["dram"], x_init=windows[0]["x"])
            print(_report(label + kind, {"cycles": cycles}, cpu, wall, soc, job, True) + " (its first window)")
        else:
            print(_rate_line(label + kind, cycles, cpu, wall))
    if any(other != results[0] for other in results[1:]):
        raise SystemExit("the PGO build's final states differ from the plain build's")
    # Each RTL job starts from CONTROL.clear (the per-lane RNG and v0-v31 at their reset state), so
    # the same jobs on the ISS from reset are the cycle-exact comparison; the Runtime's own run
    # carries the RNG from window to window (stochastic rounding), so its later windows draw
    # other numbers and may take a few cycles more or fewer.
    iss_jobs = [iss_state(p, config, 50_000_000, llm=w["llm"], dram=w["dram"], x_init=w["x"])["cycles"]
                for p, w in zip(images, windows)]
    same = iss_jobs == [s["cycles"] for s in states]
    print(f"  the ISS on the same jobs: {sum(iss_jobs)} cycles, per window identical to the RTL: "
          f"{'yes' if same else 'NO'}; the Runtime's run: {out.cycles} cycles in {iss:.2f} s (its RNG carried across windows)")
    print(f"  each window's images (VMEM {config.vmem_size // 1024} KiB, the LLMs) go in and out through the "
          f"memories' arrays, not the host port; the time still holds CONTROL.clear; "
          + ("the DMA's DRAM slave runs in the same one-region cycle (docs/rtl.md)" if dma else "no DMA here"))
    if not same:
        raise SystemExit("the RTL's cycles differ from the ISS's on the same jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shd", action="store_true", help="also the SHD-sized network (a 512 KiB-VMEM SoC build)")
    parser.add_argument("--steps", type=int, default=1170, help="timesteps of the SHD sample (default 1170)")
    parser.add_argument("--native", action="store_true", help="only the native harness's figures (no cocotb)")
    parser.add_argument("--instructions", action="store_true",
                        help="also x86 instructions per simulated cycle (valgrind's callgrind; minutes)")
    parser.add_argument("--pgo", action="store_true",
                        help="also the profile-guided native builds (build_native(pgo=True); a second compile each)")
    parser.add_argument("--callgrind-child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callgrind_child:
        _callgrind_child(args.callgrind_child)
        return
    if not args.native:
        cocotb_figures()
    native_loops(args.instructions, args.pgo)
    if args.shd:
        shd_network(args.steps, args.instructions, args.pgo)


def cocotb_figures() -> None:
    """The cocotb harness: the long loop, the launch, 200 short random programs, beside the ISS."""
    config = profile("test-rtl")         # the RTL tests' scalar SoC (fenn_dma.arch)
    soc = build(soc_config(config))
    short = counted_loop(10, "<short>")
    long = counted_loop(100_000, "<long>")
    t = time.perf_counter()
    run_many_on_rtl([short], config, soc=soc, dump_mem=False)
    launch = time.perf_counter() - t
    t = time.perf_counter()
    r = run_many_on_rtl([long], config, soc=soc, dump_mem=False, max_cycles=10_000_000)[0]
    seconds = time.perf_counter() - t - launch
    if r["stop"]["cause"] != "ecall":          # a run cut by the cycle limit would not measure the loop
        raise SystemExit(f"the loop did not finish: stopped by {r['stop']['cause']} after {r['cycles']} cycles")
    m = Machine(config)
    m.load(long)
    t = time.perf_counter()
    m.run()
    iss_seconds = time.perf_counter() - t
    print(f"Verilated SoC: {r['cycles'] / seconds / 1e6:.2f} M cycles/s "
          f"({r['cycles']} cycles in {seconds:.2f} s, simulator launch {launch:.2f} s excluded)")
    print(f"ISS (fast engine): {m.cycles / iss_seconds / 1e6:.2f} M predicted cycles/s; "
          f"RTL/ISS speed ratio {r['cycles'] / seconds / (m.cycles / iss_seconds):.4f}")
    programs = [random_program(seed, 60, config, SCALAR_RTL).program for seed in range(200)]
    t = time.perf_counter()
    run_many_on_rtl(programs, config, soc=soc)
    rtl_batch = time.perf_counter() - t
    t = time.perf_counter()
    for p in programs:
        iss_state(p, config)
    iss_batch = time.perf_counter() - t
    print(f"differential harness: 200 random programs in {rtl_batch:.1f} s on the RTL "
          f"({rtl_batch / 200 * 1e3:.0f} ms each, one launch) vs {iss_batch:.2f} s on the ISS")


if __name__ == "__main__":
    main()
