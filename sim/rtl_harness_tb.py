"""cocotb test run inside the Verilated SoC by ``rtl_harness.run_batch``.

For each job: clear the memories and registers (CONTROL.clear), write the
images over AXI4-Lite, start, wait for the ``stopped`` line (or halt the core
at the cycle limit) and read the state back over AXI4-Lite.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from fenn_dma.rtl import hostmap as H
from fenn_dma.rtl.causes import RtlCause

CAUSE_NAMES = {c: c.name.lower() for c in RtlCause}
CAUSE_NAMES[RtlCause.HALTED] = "max_cycles"


async def _read64(axi, addr: int) -> int:
    lo = await axi.read_dword(addr)
    hi = await axi.read_dword(addr + 4)
    return lo | hi << 32


async def run_job(dut, axi: AxiLiteMaster, job: dict) -> dict:
    await axi.write_dword(H.CONTROL, 1 << H.CONTROL_CLEAR)
    while (await axi.read_dword(H.STATUS)) >> H.STATUS_CLEARING & 1:
        await ClockCycles(dut.clk, 256)
    for base, image in ((H.IMEM_BASE, job["imem"]), (H.DMEM_BASE, job["dmem"])):
        data = bytes.fromhex(image)
        if data:
            await axi.write(base, data + bytes(-len(data) % 4))
    for reg, value in job["x_init"].items():
        await axi.write_dword(H.XREG_BASE + 4 * int(reg), value)
    await axi.write_dword(H.ENTRY, job["entry"])
    await axi.write_dword(H.CONTROL, 1 << H.CONTROL_START)
    if not int(dut.stopped.value):
        timeout = ClockCycles(dut.clk, job["max_cycles"])
        fired = await First(RisingEdge(dut.stopped), timeout)
        if fired is timeout:
            await axi.write_dword(H.CONTROL, 1 << H.CONTROL_HALT)
    status = await axi.read_dword(H.STATUS)
    result = {
        "stop": {"cause": CAUSE_NAMES[RtlCause(status >> H.STATUS_CAUSE_SHIFT & 0xF)],
                 "pc": await axi.read_dword(H.STOP_PC)},
        "x": [0] + [await axi.read_dword(H.XREG_BASE + 4 * i) for i in range(1, 32)],
        "instret": await _read64(axi, H.INSTRET),
        "cycles": await _read64(axi, H.CYCLES),
        "mcycle": await _read64(axi, H.MCYCLE),
        "minstret": await _read64(axi, H.MINSTRET),
    }
    if job["read_dmem"] == "host":
        size = await axi.read_dword(H.DMEM_SIZE)
        result["dmem"] = bytes(await axi.read(H.DMEM_BASE, size)).hex()
    elif job["read_dmem"] == "backdoor":
        # The RAM array itself through VPI: ~100x faster than AXI4-Lite reads from cocotb.
        size = await axi.read_dword(H.DMEM_SIZE)
        array = dut.dmem
        result["dmem"] = b"".join(int(array[i].value).to_bytes(4, "little") for i in range(size // 4)).hex()
    return result


@cocotb.test()
async def run_jobs(dut):
    spec = json.loads(open(os.environ["FENN_RTL_JOBS"]).read())
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    axi = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "host_"), dut.clk, dut.rst)
    axi.write_if.log.setLevel("WARNING")
    axi.read_if.log.setLevel("WARNING")
    results = []
    for job in spec["jobs"]:
        results.append(await run_job(dut, axi, job))
    path = os.environ["FENN_RTL_RESULTS"]
    with open(path + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(path + ".tmp", path)
