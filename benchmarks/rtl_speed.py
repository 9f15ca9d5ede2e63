"""Simulated cycles per second of the Verilated SoC (cocotb + Verilator), for a
long-running loop, and the harness's throughput on short random programs,
beside the ISS's speed on the same programs.

Reference: 0.08 M cycles/s measured when every clock edge woke Python (cocotb's
Python clock and ClockCycles); the figure depends on the machine's load, so
compare runs made side by side.

Run: .venv/bin/python benchmarks/rtl_speed.py
"""
from __future__ import annotations

import time

from fenn_dma.sim.config import profile
from fenn_dma.sim.machine import Machine
from fenn_dma.verify.kernels import counted_loop
from fenn_dma.verify.random_program import SCALAR_RTL, random_program
from fenn_dma.verify.rtl_harness import build
from fenn_dma.verify.runner import iss_state, run_many_on_rtl, soc_config



def main() -> None:
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
