"""The on-chip DRAM window (boards/axi_ram.py), Amaranth simulation: AXI4 bursts
from the DMA's side with back-pressure, DECERR past the window, and the host's
AXI4-Lite port seeing the same words."""
from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from fenn_dma.boards.axi_ram import RESP_DECERR, RESP_OKAY, AxiRam
from fenn_dma.errors import FennError

SIZE = 256


def _sim(body):
    dut = AxiRam(SIZE, addr_width=32, host_addr_width=32)
    got = {}

    async def bench(ctx):
        await body(ctx, dut, got)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


async def _write_burst(ctx, axi, addr, words, strb=0xF):
    ctx.set(axi.awaddr, addr)
    ctx.set(axi.awlen, len(words) - 1)
    ctx.set(axi.awid, 1)
    ctx.set(axi.awvalid, 1)
    await ctx.tick().until(axi.awready)
    ctx.set(axi.awvalid, 0)
    for i, w in enumerate(words):
        ctx.set(axi.wdata, w)
        ctx.set(axi.wstrb, strb)
        ctx.set(axi.wlast, i == len(words) - 1)
        ctx.set(axi.wvalid, 1)
        await ctx.tick().until(axi.wready)
    ctx.set(axi.wvalid, 0)
    ctx.set(axi.bready, 1)
    bid, bresp = await ctx.tick().sample(axi.bid, axi.bresp).until(axi.bvalid)
    ctx.set(axi.bready, 0)
    return bid, bresp


async def _read_burst(ctx, axi, addr, n, stall=0):
    ctx.set(axi.araddr, addr)
    ctx.set(axi.arlen, n - 1)
    ctx.set(axi.arvalid, 1)
    await ctx.tick().until(axi.arready)
    ctx.set(axi.arvalid, 0)
    beats = []
    while True:
        if stall:
            await ctx.tick().repeat(stall)
        ctx.set(axi.rready, 1)
        data, resp, last = await ctx.tick().sample(axi.rdata, axi.rresp, axi.rlast).until(axi.rvalid)
        ctx.set(axi.rready, 0)
        beats.append((data, resp))
        if last:
            return beats


async def _host_write(ctx, lite, addr, value):
    ctx.set(lite.awaddr, addr)
    ctx.set(lite.wdata, value)
    ctx.set(lite.wstrb, 0xF)
    ctx.set(lite.awvalid, 1)
    ctx.set(lite.wvalid, 1)
    await ctx.tick().until(lite.awready)
    ctx.set(lite.awvalid, 0)
    ctx.set(lite.wvalid, 0)
    ctx.set(lite.bready, 1)
    await ctx.tick().until(lite.bvalid)
    ctx.set(lite.bready, 0)


async def _host_read(ctx, lite, addr):
    ctx.set(lite.araddr, addr)
    ctx.set(lite.arvalid, 1)
    await ctx.tick().until(lite.arready)
    ctx.set(lite.arvalid, 0)
    ctx.set(lite.rready, 1)
    data, = await ctx.tick().sample(lite.rdata).until(lite.rvalid)
    ctx.set(lite.rready, 0)
    return data


def test_bursts_back_pressure_decerr_and_the_host_port():
    async def body(ctx, dut, got):
        got["b"] = await _write_burst(ctx, dut.dram, 16, [0x11, 0x22, 0x33, 0x44])
        got["read"] = await _read_burst(ctx, dut.dram, 16, 4, stall=2)
        got["host"] = await _host_read(ctx, dut.host, 20)
        await _host_write(ctx, dut.host, 24, 0xDEAD_BEEF)
        got["after_host"] = await _read_burst(ctx, dut.dram, 24, 2)
        got["b_outside"] = await _write_burst(ctx, dut.dram, SIZE - 4, [0xAA, 0xBB])      # second beat outside
        got["read_outside"] = await _read_burst(ctx, dut.dram, SIZE - 4, 2)
        got["wrapped"] = await _host_read(ctx, dut.host, 0)          # the dropped beat did not wrap to word 0
        await _write_burst(ctx, dut.dram, 32, [0xFFFF_FFFF], strb=0b0101)
        got["strobed"] = await _host_read(ctx, dut.host, 32)

    got = _sim(body)
    assert got["b"] == (1, RESP_OKAY)
    assert got["read"] == [(0x11, RESP_OKAY), (0x22, RESP_OKAY), (0x33, RESP_OKAY), (0x44, RESP_OKAY)]
    assert got["host"] == 0x22
    assert got["after_host"] == [(0xDEAD_BEEF, RESP_OKAY), (0x44, RESP_OKAY)]
    assert got["b_outside"][1] == RESP_DECERR
    assert got["read_outside"] == [(0xAA, RESP_OKAY), (0, RESP_DECERR)]
    assert got["wrapped"] == 0
    assert got["strobed"] == 0x00FF_00FF


def test_refuses_what_it_cannot_build():
    with pytest.raises(FennError, match="32 bits wide"):
        AxiRam(SIZE, 32, 32, data_bits=64)
    with pytest.raises(FennError, match="power of two"):
        AxiRam(96, 32, 32)
