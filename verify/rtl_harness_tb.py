"""cocotb test run inside the Verilated SoC by ``rtl_harness.run_batch``.

For each job: clear the memories and registers (CONTROL.clear), write the
images over AXI4-Lite, start, wait for the ``stopped`` line (or halt the core
at the cycle limit) and read the state back over AXI4-Lite. With the DMA, the
``dram__*`` master talks to ``cocotb_dram.ModelDram`` (cocotbext-axi's AXI4
slave held to fenn_dma.dram's timing), set up with the job's DRAM first; after
the stop, a transfer still running finishes and the DRAM image is read back.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge
from cocotb.utils import get_sim_steps
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from fenn_dma.isa import csrs
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H

PERIOD_NS = 10
DMA_STATUS = [H.DMA_BASE + ch * H.DMA_CHANNEL_STRIDE + H.DMA_STATUS for ch in (0, 1)]
DMA_BUSY = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
DRAIN_LIMIT = 1 << 22      # cycles a transfer may still take after the stop (the native harness's)


async def _read64(axi, addr: int) -> int:
    lo = await axi.read_dword(addr)
    hi = await axi.read_dword(addr + 4)
    return lo | hi << 32


async def run_job(dut, axi: AxiLiteMaster, job: dict, dram=None, index: int = 0) -> dict:
    """One job; ``dram``: the SoC's ModelDram (None: nothing on the dram port, or the caller's own)."""
    if dram is not None:
        dram.setup(bytes.fromhex(job["dram"]), job["dram_base"], job["dram_size"], job["dram_errors"],
                   job["dram_latency"], job["dram_stall"], index + 1)
    await axi.write_dword(H.CONTROL, 1 << H.CONTROL_CLEAR)
    while (await axi.read_dword(H.STATUS)) >> H.STATUS_CLEARING & 1:
        await ClockCycles(dut.clk, 256)
    images = [(H.IMEM_BASE, job["imem"])]
    if job.get("write_dmem", "host") == "host":
        images.append((H.DMEM_BASE, job["dmem"]))
    else:
        _write_words(dut.dmem, bytes.fromhex(job["dmem"]))
    for base, image in images:
        data = bytes.fromhex(image)
        if data:
            await axi.write(base, data + bytes(-len(data) % 4))
    if job.get("vmem") or job.get("llm"):
        _write_vector_images(dut, bytes.fromhex(job.get("vmem", "")), bytes.fromhex(job.get("llm", "")))
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
        "stop": {"cause": StopCause.from_code(status >> H.STATUS_CAUSE_SHIFT & 0xF).value,
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
    if dram is not None:
        dma_status = [await axi.read_dword(at) for at in DMA_STATUS]
    if job.get("read_vector"):
        result.update(_read_vector_state(dut))
    if dram is not None:
        await _drain(dut, axi, dram)
        if job["dram_size"]:
            result["dram"] = bytes(dram.image).hex()
            result["dma_status"] = dma_status
            result["dram_traffic"] = dict(dram.counts)
    return result


async def _drain(dut, axi: AxiLiteMaster, dram) -> None:
    """A transfer still in flight at the stop finishes now (the next job's CONTROL.clear would wait
    for it anyway), so that none of its bursts reaches the next job's DRAM."""
    for _ in range(DRAIN_LIMIT):
        if dram.idle() and not any([await axi.read_dword(at) & DMA_BUSY for at in DMA_STATUS]):
            return
        await ClockCycles(dut.clk, 1)
    raise RuntimeError("the DMA did not finish after the stop")


# The vector unit's RAM arrays (rtl/vector): VMEM rows of 64 bytes, v0-v31 as 512-bit rows,
# one array of 32-bit words per lane for the LLMs.
def _llm_arrays(dut) -> list:
    llm = dut.vector.unit.llm
    return [getattr(llm, f"lane{i}") for i in range(32)]


def _write_words(array, data: bytes) -> None:
    data += bytes(-len(data) % 4)
    for w in range(len(data) // 4):
        array[w].value = int.from_bytes(data[4 * w:4 * w + 4], "little")


def _write_vector_images(dut, vmem: bytes, llm: bytes) -> None:
    rows = dut.vector.vmem.mem
    for r in range(len(vmem) // 64):
        rows[r].value = int.from_bytes(vmem[64 * r:64 * r + 64], "little")
    if llm:
        lane_bytes = len(llm) // 32
        for lane, array in enumerate(_llm_arrays(dut)):
            for w in range(lane_bytes // 4):
                at = lane * lane_bytes + 4 * w
                array[w].value = int.from_bytes(llm[at:at + 4], "little")


def _read_vector_state(dut) -> dict:
    v = []
    for r in range(32):
        row = int(dut.vector.unit.regfile.mem[r].value)
        v.append([((row >> (16 * i)) & 0xFFFF) - ((row >> (16 * i) & 0x8000) << 1) for i in range(32)])
    vrows = dut.vector.vmem.mem
    vmem = b"".join(int(vrows[r].value).to_bytes(64, "little") for r in range(len(vrows)))
    llm = b"".join(int(array[w].value).to_bytes(4, "little")
                   for array in _llm_arrays(dut) for w in range(len(array)))
    # Each lane's Xoroshiro32++ state registers (rtl/vector/lane_rng.py), as the ISS's s0, s1.
    rngs = [getattr(dut.vector.unit, f"lane{i}").rng for i in range(32)]
    rng = {"s0": [int(r.s0.value) for r in rngs], "s1": [int(r.s1.value) for r in rngs]}
    return {"v": v, "rng": rng, "vmem": vmem.hex(), "llm": llm.hex()}


def host_master(dut) -> AxiLiteMaster:
    """The host's AXI4-Lite master on the SoC's ``host_*`` port, quiet."""
    axi = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "host_"), dut.clk, dut.rst)
    axi.write_if.log.setLevel("WARNING")
    axi.read_if.log.setLevel("WARNING")
    return axi


@cocotb.test()
async def run_jobs(dut):
    spec = json.loads(open(os.environ["FENN_RTL_JOBS"]).read())
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    dram = None
    if spec["config"].get("dma"):
        from fenn_dma.verify.cocotb_dram import ModelDram
        dram = ModelDram(dut, dut.clk, dut.rst, get_sim_steps(PERIOD_NS, "ns"), spec["config"]["dma_data_bits"] // 8)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    axi = host_master(dut)
    results = []
    for index, job in enumerate(spec["jobs"]):
        results.append(await run_job(dut, axi, job, dram, index))
    path = os.environ["FENN_RTL_RESULTS"]
    with open(path + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(path + ".tmp", path)
