"""cocotb bench (test_dma_cocotb_harness.py, -m slow): cocotbext-axi's AxiRam exactly as the
library ships it on the SoC's dram port (no latency hook), to measure its effective latency in
the terms of fenn_dma.dram. Runs the harness's jobs (rtl_harness_tb.run_job) and writes each
job's cycles and registers to $FENN_AXIRAM_OUT."""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiBus, AxiRam

from fenn_dma.verify.rtl_harness_tb import PERIOD_NS, host_master, run_job


@cocotb.test()
async def plain_axiram(dut):
    spec = json.loads(open(os.environ["FENN_AXIRAM_JOBS"]).read())
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    # AxiRam serves address % size: a 64 KiB RAM at a 64 KiB-aligned DRAM base is that window.
    ram = AxiRam(AxiBus.from_prefix(dut, "dram_"), dut.clk, dut.rst, size=spec["size"])
    ram.write_if.log.setLevel("WARNING")
    ram.read_if.log.setLevel("WARNING")
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    axi = host_master(dut)
    out = []
    for job in spec["jobs"]:
        result = await run_job(dut, axi, job)
        await ClockCycles(dut.clk, 1000)           # the programs poll to idle; nothing left in flight
        out.append({"cycles": result["cycles"], "x": result["x"]})
    with open(os.environ["FENN_AXIRAM_OUT"], "w") as f:
        json.dump(out, f)
