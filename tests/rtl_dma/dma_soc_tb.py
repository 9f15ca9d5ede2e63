"""cocotb bench of the DMA inside the SoC (fenn_soc with the vector unit and the DMA),
run by test_dma_soc.py: programs that drive the DMA with csrw/csrr, the host's DMA
registers over AXI4-Lite, CONTROL.clear while a transfer runs. The AXI checker runs
on ``dram`` throughout; DRAM is the fixed-latency slave of dma_models.py."""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from dma_models import DECERR, AxiChecker, FixedLatencyDram, cycle_now, start_clock
from fenn_dma.isa import csrs
from fenn_dma.isa.assembler import assemble
from fenn_dma import hostmap as H
from fenn_dma.rtl.dma.config import A_R, A_W
from fenn_dma.verify.rtl_harness_tb import run_job

P = json.loads(os.environ["FENN_DMA_SOC_TB"])
BB = P["data_bits"] // 8
DRAM_BYTES = 1 << 16
DONE = csrs.DMA_IDLE | csrs.DMA_DONE
BUSY = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING


async def setup(dut, latency: int = 6, errors=()):
    await start_clock(dut.clk)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    mem = bytearray(random.Random(latency).randbytes(DRAM_BYTES))
    dram = FixedLatencyDram(dut, dut.clk, mem=mem, latency=latency, beat_bytes=BB, errors=list(errors))
    checker = AxiChecker(dut, dut.clk, beat_bytes=BB, outstanding=P["outstanding"])
    axi = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "host_"), dut.clk, dut.rst)
    axi.write_if.log.setLevel("WARNING")
    axi.read_if.log.setLevel("WARNING")
    return axi, dram, checker


def vmem(dut) -> bytes:
    rows = dut.vector.vmem.mem
    return b"".join(int(rows[r].value).to_bytes(64, "little") for r in range(len(rows)))


def job(source: str, max_cycles: int = 50_000) -> dict:
    return {"imem": assemble(source).text.hex(), "dmem": "", "entry": 0, "max_cycles": max_cycles,
            "read_dmem": "no", "write_dmem": "host", "x_init": {}, "vmem": "", "llm": ""}


def transfer(ch: str, src: int, dst: int, count: int, status_reg: str) -> str:
    """Assembly: program channel ``ch`` (mm2s/s2mm), start it, read its status at once into
    ``status_reg``'s pair (a2/a4) and poll until idle (final status in a3/a5)."""
    first, final = status_reg
    return f"""
    li t0, {src}
    csrw {ch}_src_addr, t0
    li t0, {dst}
    csrw {ch}_dst_addr, t0
    li t0, {count}
    csrw {ch}_count, t0
    li t0, 1
    csrw {ch}_control, t0
    csrr {first}, {ch}_status
1:  csrr {final}, {ch}_status
    andi t1, {final}, {BUSY}
    bnez t1, 1b
"""


async def moved(axi) -> tuple[int, int]:
    """Each channel's MOVED register (host port only)."""
    return tuple([await axi.read_dword(H.DMA_BASE + ch * H.DMA_CHANNEL_STRIDE + H.DMA_MOVED) for ch in (0, 1)])


@cocotb.test()
async def program_moves_rows_both_ways(dut):
    axi, dram, checker = await setup(dut)
    vm = P["vmem_bytes"]
    n = min(vm // 2, 4096)
    src = """
    csrr a0, mm2s_status
""" + transfer("mm2s", 0x1FC0, 0, n, ("a2", "a3")) + transfer("s2mm", 0, 0x9000, n, ("a4", "a5")) + """
    csrr a6, mm2s_src_addr
    csrr a7, s2mm_count
    ecall
"""
    result = await run_job(dut, axi, job(src))
    x = result["x"]
    assert result["stop"]["cause"] == "ecall", result["stop"]
    assert x[10] == csrs.DMA_IDLE
    assert (x[12], x[13], x[14], x[15]) == (csrs.DMA_STARTING, DONE, csrs.DMA_STARTING, DONE), [hex(v) for v in x[10:16]]
    assert (x[16], x[17]) == (0x1FC0, n)
    assert vmem(dut)[:n] == dram.mem[0x1FC0:0x1FC0 + n]
    assert dram.mem[0x9000:0x9000 + n] == dram.mem[0x1FC0:0x1FC0 + n]
    assert await moved(axi) == (n, n)            # the bytes of the run's done transfers
    checker.final()


@cocotb.test()
async def rule_break_and_decode_error_from_a_program(dut):
    axi, dram, checker = await setup(dut, errors=[(0x4000, 0x4040, DECERR)])
    src = transfer("mm2s", 0x20, 0, 64, ("a2", "a3")) + transfer("mm2s", 0x3F00, 0, 512, ("a4", "a5")) + \
        transfer("s2mm", 0, DRAM_BYTES - 64, 128, ("a6", "a7")) + "    ecall\n"
    result = await run_job(dut, axi, job(src))
    x = result["x"]
    assert x[12] == x[13] == csrs.DMA_IDLE | csrs.DMA_INTERNAL_ERROR
    assert x[15] == csrs.DMA_IDLE | csrs.DMA_DECODE_ERROR
    assert x[17] == csrs.DMA_IDLE | csrs.DMA_DECODE_ERROR         # runs off the end of the slave's DRAM
    assert await moved(axi) == (0, 0)            # rule breaks and bus errors move no counted bytes
    checker.final()


@cocotb.test()
async def host_programs_the_dma_registers(dut):
    axi, dram, checker = await setup(dut, latency=20)
    assert (await axi.read_dword(H.FEATURES)) >> H.FEATURE_DMA & 1
    assert await axi.read_dword(H.DMA_DATA_BITS) == P["data_bits"]
    mm2s, s2mm = H.DMA_BASE, H.DMA_BASE + H.DMA_CHANNEL_STRIDE
    for base, (src, dst) in ((mm2s, (0x2000, 0x100)), (s2mm, (0x100, 0xA000))):
        await axi.write_dword(base + H.DMA_SRC, src)
        await axi.write_dword(base + H.DMA_DST, dst)
        await axi.write_dword(base + H.DMA_COUNT, 1024)
        assert await axi.read_dword(base + H.DMA_SRC) == src
        await axi.write_dword(base + H.DMA_CONTROL, 1)
        assert await axi.read_dword(base + H.DMA_STATUS) & BUSY
        while (status := await axi.read_dword(base + H.DMA_STATUS)) & BUSY:
            pass
        assert status == DONE, hex(status)
    assert vmem(dut)[0x100:0x500] == dram.mem[0x2000:0x2400]
    assert dram.mem[0xA000:0xA400] == dram.mem[0x2000:0x2400]
    assert await moved(axi) == (1024, 1024)      # MOVED counts the host's transfers too (no start since)
    await axi.write_dword(mm2s + H.DMA_MOVED, 5)  # read-only
    assert await moved(axi) == (1024, 1024)
    # The core's CSRs see the host's values.
    result = await run_job(dut, axi, {**job("csrr a0, mm2s_src_addr\ncsrr a1, s2mm_status\necall\n")})
    assert result["x"][10:12] == [0, csrs.DMA_IDLE]      # CONTROL.clear reset the DMA's registers
    assert await moved(axi) == (0, 0)            # ... and MOVED; the start zeroes it as well
    checker.final()


@cocotb.test()
async def clear_waits_for_a_running_transfer(dut):
    axi, dram, checker = await setup(dut, latency=60)
    # Start a long MM2S and stop at once; the host's clear must wait for the transfer.
    src = """
    li t0, 0x1000
    csrw mm2s_src_addr, t0
    li t0, 2048
    csrw mm2s_count, t0
    li t0, 1
    csrw mm2s_control, t0
    ecall
"""
    first = await run_job(dut, axi, job(src))
    assert first["stop"]["cause"] == "ecall"
    assert await axi.read_dword(H.DMA_BASE + H.DMA_STATUS) & BUSY
    await axi.write_dword(H.CONTROL, 1 << H.CONTROL_CLEAR)
    assert (await axi.read_dword(H.STATUS)) >> H.STATUS_CLEARING & 1
    while (await axi.read_dword(H.STATUS)) >> H.STATUS_CLEARING & 1:
        await ClockCycles(dut.clk, 16)
    assert await axi.read_dword(H.DMA_BASE + H.DMA_STATUS) == csrs.DMA_IDLE
    assert await axi.read_dword(H.DMA_BASE + H.DMA_COUNT) == 0
    # The transfer finished before the clear: VMEM holds the ISS's reset fill again.
    assert vmem(dut)[:4] == bytes.fromhex("adde") * 2
    checker.final()


async def _watch(dut, number: int, status, limit: int = 100_000) -> tuple[int, int]:
    """(the cycle the core writes CSR ``number`` with bit 0 set, the first cycle after it that
    ``status`` reads idle | done), both sampled mid-cycle."""
    start = None
    for _ in range(limit):
        await FallingEdge(dut.clk)
        if start is None:
            if int(dut.core.dma__w_en.value) and int(dut.core.dma__addr.value) == number \
                    and int(dut.core.dma__w_data.value) & 1:
                start = cycle_now()
        elif int(status.value) == DONE:
            return start, cycle_now()
    raise AssertionError(f"no start of CSR 0x{number:x} and done within {limit} cycles")


@cocotb.test()
async def timing_through_the_core_is_the_engines(dut):
    """A csrw to CONTROL in execute in cycle t: a csrr of STATUS sees done at t + A_R + L + beats - 1
    (MM2S) / t + A_W + beats + L (S2MM), as for the engine alone."""
    axi, dram, checker = await setup(dut, latency=3)
    for latency in (3, 53):
        if latency != dram.latency:           # the next slave takes over (same clock, same host master)
            dram.stop()
            dram = FixedLatencyDram(dut, dut.clk, mem=dram.mem, latency=latency, beat_bytes=BB)
        n = min(P["vmem_bytes"] // 2, 4096)
        src = transfer("mm2s", 0x0FC0, 0, n, ("a2", "a3")) + transfer("s2mm", 0, 0x9000, n, ("a4", "a5")) + \
            "    ecall\n"
        regs = dut.dma.regs
        mm2s = cocotb.start_soon(_watch(dut, csrs.MM2S_CONTROL, regs.mm2s.status))
        s2mm = cocotb.start_soon(_watch(dut, csrs.S2MM_CONTROL, regs.s2mm.status))
        result = await run_job(dut, axi, job(src))
        assert result["x"][13] == result["x"][15] == DONE
        beats = n // BB
        (t1, d1), (t2, d2) = await mm2s, await s2mm
        assert d1 - t1 - latency - beats + 1 == A_R, (latency, d1 - t1 - latency - beats + 1)
        assert d2 - t2 - latency - beats == A_W, (latency, d2 - t2 - latency - beats)
    checker.final()


@cocotb.test()
async def host_vmem_traffic_during_transfers(dut):
    """The host's VMEM window wins the shared port; both channels wait and still move every row."""
    axi, dram, checker = await setup(dut, latency=10)
    half = P["vmem_bytes"] // 2
    n = min(half // 2, 2048)
    await axi.write(H.VMEM_BASE + half, dram.mem[0x6000:0x6000 + n])       # S2MM's source rows
    mm2s, s2mm = H.DMA_BASE, H.DMA_BASE + H.DMA_CHANNEL_STRIDE
    for base, (src, dst) in ((mm2s, (0x3000, 0)), (s2mm, (half, 0xC000))):
        await axi.write_dword(base + H.DMA_SRC, src)
        await axi.write_dword(base + H.DMA_DST, dst)
        await axi.write_dword(base + H.DMA_COUNT, n)
    await axi.write_dword(mm2s + H.DMA_CONTROL, 1)
    await axi.write_dword(s2mm + H.DMA_CONTROL, 1)
    words = bytes(range(256)) * 4
    at = half + n                                          # rows neither channel touches
    busy_seen = 0
    for i in range(0, len(words), 4):                      # host VMEM traffic while both run
        await axi.write_dword(H.VMEM_BASE + at + i, int.from_bytes(words[i:i + 4], "little"))
        assert await axi.read_dword(H.VMEM_BASE + at + i) == int.from_bytes(words[i:i + 4], "little")
        busy_seen += bool(await axi.read_dword(mm2s + H.DMA_STATUS) & BUSY)
    assert busy_seen, "the transfers ended before the host's traffic: nothing was contended"
    for base in (mm2s, s2mm):
        while (status := await axi.read_dword(base + H.DMA_STATUS)) & BUSY:
            pass
        assert status == DONE, hex(status)
    assert vmem(dut)[:n] == dram.mem[0x3000:0x3000 + n]
    assert dram.mem[0xC000:0xC000 + n] == dram.mem[0x6000:0x6000 + n]
    assert vmem(dut)[at:at + len(words)] == words
    checker.final()
