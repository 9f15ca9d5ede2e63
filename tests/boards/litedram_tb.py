"""cocotb bench of the LiteDRAM wrapper on LiteDRAM's SDRAM model (litedram_top.py;
test_litedram.py runs it): the init sequence opens the ports, cocotbext-axi's AXI4
master (16-beat bursts, the DMA's) and AXI4-Lite master move data through both user
ports and read it back from the other, and the bench measures the latency of the
DMA's 16-beat bursts. Writes its figures to $FENN_LITEDRAM_OUT."""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster

PERIOD_NS = 40                   # 25 MHz
BURST = 16                       # beats: the DMA's bursts (docs/dma.md)
INIT_LIMIT = 40_000              # cycles: the init sequence's delays are 20 000 + 2 x 200 + 2 x 4


class Bursts:
    """Per burst on the dram port: cycles from the AR (AW) handshake to the first and last R
    beat (to B)."""

    def __init__(self, dut):
        self.dut, self.reads, self.writes = dut, [], []

    async def watch(self):
        d, cycle, ar, aw, first = self.dut, 0, None, None, None
        while True:
            await RisingEdge(d.clk)
            cycle += 1
            if d.dram__arvalid.value and d.dram__arready.value:
                ar, first = cycle, None
            if d.dram__rvalid.value and d.dram__rready.value and ar is not None:
                first = cycle if first is None else first
                if d.dram__rlast.value:
                    self.reads.append((first - ar, cycle - ar))
                    ar = None
            if d.dram__awvalid.value and d.dram__awready.value:
                aw = cycle
            if d.dram__bvalid.value and d.dram__bready.value and aw is not None:
                self.writes.append(cycle - aw)
                aw = None


@cocotb.test()
async def litedram_through_both_ports(dut):
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    axi = AxiMaster(AxiBus.from_prefix(dut, "dram_"), dut.clk, dut.rst, max_burst_len=BURST)
    lite = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "host_"), dut.clk, dut.rst)
    for log in (axi.write_if.log, axi.read_if.log, lite.write_if.log, lite.read_if.log):
        log.setLevel("WARNING")
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    init = 0
    while not dut.ready.value:
        await RisingEdge(dut.clk)
        init += 1
        assert init < INIT_LIMIT, f"LiteDRAM not ready after {INIT_LIMIT} cycles"
    assert init > 20_000, f"ready after {init} cycles: the init sequence's 20 000-cycle CKE delay was not kept"

    bursts = Bursts(dut)
    cocotb.start_soon(bursts.watch())
    rng = random.Random(1)
    block = bytes(rng.randrange(256) for _ in range(4096))
    base = 0x0100_0000                       # the upper half of the 32 MiB
    await axi.write(base, block)
    assert bytes((await axi.read(base, len(block))).data) == block, "AXI4 read-back differs"
    for at in range(0, len(block), 256):     # the host port sees the DMA's words
        word = int.from_bytes(block[at:at + 4], "little")
        assert int.from_bytes((await lite.read(base + at, 4)).data, "little") == word, f"host read at {at:#x}"

    # The host port's words, read by the DMA port; byte strobes on both.
    words = [rng.randrange(1 << 32) for _ in range(16)]
    for i, w in enumerate(words):
        await lite.write(0x40 + 4 * i, w.to_bytes(4, "little"))
    assert bytes((await axi.read(0x40, 64)).data) == b"".join(w.to_bytes(4, "little") for w in words)
    await lite.write(0x41, b"\xAA")                       # one byte (WSTRB 0b0010)
    await axi.write(0x46, b"\x55\x66")                    # two bytes in the middle of a beat
    got = bytes((await axi.read(0x40, 8)).data)
    expect = bytearray(b"".join(w.to_bytes(4, "little") for w in words[:2]))
    expect[1], expect[6:8] = 0xAA, b"\x55\x66"
    assert got == bytes(expect), f"byte strobes: {got.hex()} != {bytes(expect).hex()}"

    # Latency of 16-beat reads: a fresh row each time (row miss) and the same row again (row hit).
    bursts.reads.clear()
    bursts.writes.clear()
    for i in range(8):
        await axi.read(base + i * 0x2000, 4 * BURST)        # 8 KiB apart: another row of the bank
    misses = list(bursts.reads)
    bursts.reads.clear()
    for _ in range(8):
        await axi.read(base, 4 * BURST)
    hits = list(bursts.reads)
    for i in range(8):
        await axi.write(base + i * 0x2000, block[:4 * BURST])
    writes = list(bursts.writes)
    assert len(misses) == len(hits) == len(writes) == 8, (misses, hits, writes)
    with open(os.environ["FENN_LITEDRAM_OUT"], "w") as f:
        json.dump({"init_cycles": init, "read_row_miss": misses, "read_row_hit": hits, "write_to_b": writes}, f)
