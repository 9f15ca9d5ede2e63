"""Simulated cycles per second of the native harness (verify/rtl_native.py: the
Verilated SoC under a C++ run loop) beside the cocotb harness
(verify/rtl_harness.py) and the ISS, in one run, on a long loop and on a batch of
short random programs; the launch cost; and the cold build time of the native
harness for the scalar SoC (and with --vector the vector SoC) in an empty cache.

Wall-clock figures depend on the machine's load (this one is shared): the CPU
time of the process is printed beside them for the native harness.

Run: .venv/bin/python benchmarks/rtl_native_speed.py [--no-cold] [--vector]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

from fenn_dma.rtl.config import SocConfig
from fenn_dma.sim.config import profile
from fenn_dma.sim.machine import Machine
from fenn_dma.verify.kernels import counted_loop
from fenn_dma.verify.random_program import SCALAR_RTL, VECTOR_TEST_CONFIG, random_program
from fenn_dma.verify.rtl_harness import build, run_batch
from fenn_dma.verify.rtl_native import NativeRun, _check_job, build_native, run_batch_native
from fenn_dma.verify.runner import _job, iss_state, soc_config

VECTOR_GOAL = 1_000_000          # simulated cycles/s of CPU time on the vector SoC (issue 11)


def _cold_build(config: SocConfig, label: str) -> None:
    saved = os.environ.get("FENN_DMA_CACHE")
    with tempfile.TemporaryDirectory(prefix="fenn-cold-") as tmp:
        os.environ["FENN_DMA_CACHE"] = tmp
        try:
            t = time.perf_counter()
            build_native(config)
            print(f"cold build of the native harness, {label}: {time.perf_counter() - t:.1f} s "
                  f"(Verilog generation, Verilator, C++ on {min(2, os.cpu_count() or 1)} jobs)")
        finally:
            if saved is None:
                os.environ.pop("FENN_DMA_CACHE", None)
            else:
                os.environ["FENN_DMA_CACHE"] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the cold build measurement")
    parser.add_argument("--vector", action="store_true", help="also the vector SoC's cold build (minutes)")
    args = parser.parse_args()

    config = profile("test-rtl")
    soc_cfg = soc_config(config)
    native = build_native(soc_cfg)
    cocotb = build(soc_cfg)

    # Launch: the library loaded (once per process), a model out of reset, one tiny job.
    short = _job(counted_loop(10, "<short>"), config, soc_cfg, 1000, "no")
    t = time.perf_counter()
    with NativeRun(native) as run:
        run.run(_check_job(0, short, soc_cfg))
    native_launch = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["true"], check=True)
    spawn = time.perf_counter() - t
    t = time.perf_counter()
    run_batch(cocotb, [short])
    cocotb_launch = time.perf_counter() - t

    n_native, n_cocotb = 1_000_000, 50_000
    long_native = _job(counted_loop(n_native, "<long>"), config, soc_cfg, 100_000_000, "no")
    t, c = time.perf_counter(), time.process_time()
    r = run_batch_native(soc_cfg, [long_native], soc=native)[0]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert r["stop"]["cause"] == "ecall", r["stop"]
    native_rate, native_cpu_rate = r["cycles"] / wall, r["cycles"] / cpu

    long_cocotb = _job(counted_loop(n_cocotb, "<long>"), config, soc_cfg, 100_000_000, "no")
    t = time.perf_counter()
    rc = run_batch(cocotb, [long_cocotb])[0]
    cocotb_wall = time.perf_counter() - t - cocotb_launch
    assert rc["stop"]["cause"] == "ecall", rc["stop"]
    cocotb_rate = rc["cycles"] / cocotb_wall

    m = Machine(config)
    m.load(counted_loop(n_native, "<long>"))
    t = time.perf_counter()
    m.run()
    iss_rate = m.cycles / (time.perf_counter() - t)

    print(f"native harness: {native_rate / 1e6:.2f} M cycles/s wall, {native_cpu_rate / 1e6:.2f} M cycles/s "
          f"of CPU time ({r['cycles']} cycles in {wall:.2f} s)")
    print(f"cocotb harness: {cocotb_rate / 1e6:.3f} M cycles/s ({rc['cycles']} cycles in {cocotb_wall:.1f} s, "
          f"launch excluded)")
    print(f"ISS (fast engine): {iss_rate / 1e6:.1f} M predicted cycles/s")
    print(f"ratios: native/cocotb {native_rate / cocotb_rate:.0f}x, native/ISS {native_rate / iss_rate:.3f}")
    print(f"launch: native {native_launch * 1e3:.0f} ms (library load + reset + one job; "
          f"spawning `true` alone takes {spawn * 1e3:.0f} ms), cocotb {cocotb_launch:.1f} s")

    programs = [random_program(seed, 60, config, SCALAR_RTL).program for seed in range(200)]
    jobs = [_job(p, config, soc_cfg, 1_000_000, "backdoor") for p in programs]
    t = time.perf_counter()
    run_batch_native(soc_cfg, jobs, soc=native)
    native_batch = time.perf_counter() - t
    t = time.perf_counter()
    run_batch(cocotb, jobs)
    cocotb_batch = time.perf_counter() - t
    t = time.perf_counter()
    for p in programs:
        iss_state(p, config)
    iss_batch = time.perf_counter() - t
    print(f"200 random programs (DMEM read back): native {native_batch * 1e3:.0f} ms "
          f"({native_batch / 200 * 1e3:.2f} ms each), cocotb {cocotb_batch:.1f} s, ISS {iss_batch:.2f} s")

    if args.vector:
        vector_cfg = soc_config(VECTOR_TEST_CONFIG, vector=True)
        vector_soc = build_native(vector_cfg)
        job = _check_job(0, _job(counted_loop(200_000, "<long>"), VECTOR_TEST_CONFIG, vector_cfg,
                                 100_000_000, "no"), vector_cfg)
        with NativeRun(vector_soc) as run:
            t, c = time.perf_counter(), time.process_time()
            rv = run.run(job)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
        rate = rv["cycles"] / cpu
        print(f"native harness, vector SoC (8 KiB VMEM, 256 B LLM per lane), the same loop: "
              f"{rv['cycles'] / wall / 1e6:.2f} M cycles/s wall, {rate / 1e6:.2f} M cycles/s of CPU time "
              f"(goal >= {VECTOR_GOAL / 1e6:.0f} M: {rate / VECTOR_GOAL:.2f} of it)")

    if not args.no_cold:
        _cold_build(soc_cfg, "scalar SoC (4 KiB IMEM, 1 KiB DMEM, full M)")
        if args.vector:
            _cold_build(vector_cfg, "vector SoC (8 KiB VMEM, 256 B LLM per lane)")


if __name__ == "__main__":
    main()
