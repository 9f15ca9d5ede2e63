"""cocotb bench of the DMA engine alone (dma_top.py), run by test_dma_engine.py.

Every test runs the AXI protocol checker on the master and ends with its final check.
The bench's parameters come from $FENN_DMA_TB (JSON: data_bits, vmem_rows, outstanding).
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, Timer
from cocotbext.axi import AxiBus

from dma_models import (DECERR, SLVERR, AxiChecker, ErrorAxiRam, FixedLatencyDram, at_falling_edge, cycle_now,
                        start_clock)
from fenn_dma.isa import csrs
from fenn_dma.rtl.dma.config import A_R, A_W, A_ZERO, S_R, S_W
from fenn_dma.rtl.dma.regs import CONTROL, COUNT, DST, MM2S, S2MM, SRC, STATUS, CHANNEL_CSRS, host_word

P = json.loads(os.environ["FENN_DMA_TB"])
BB = P["data_bits"] // 8
ROW = 64
VMEM_BYTES = P["vmem_rows"] * ROW
BUSY = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
DONE = csrs.DMA_IDLE | csrs.DMA_DONE


def split(addr: int, beats: int) -> list[tuple[int, int]]:
    """The bursts the engine must issue: <= 16 beats, never across 4 KiB."""
    out = []
    while beats:
        n = min(16, beats, (4096 - addr % 4096) // BB)
        out.append((addr, n))
        addr, beats = addr + n * BB, beats - n
    return out


class Ports:
    """The engine's CSR port (driven at falling edges: a write in cycle n is taken at the
    edge that ends n; a read in cycle n sees the state after the edge that starts it)."""

    def __init__(self, dut):
        self.dut = dut
        for name in ("csr__w_en", "host__w_en", "vmem_wait"):
            getattr(dut, name).value = 0

    async def _edge(self) -> None:
        """To the falling edge of this cycle's (the next one unless at one now)."""
        if not at_falling_edge():
            await FallingEdge(self.dut.clk)

    async def write(self, number: int, value: int) -> int:
        d = self.dut
        await self._edge()
        d.csr__addr.value, d.csr__w_data.value, d.csr__w_en.value = number, value, 1
        n = cycle_now()
        await FallingEdge(d.clk)
        d.csr__w_en.value = 0
        return n

    async def read(self, number: int) -> int:
        d = self.dut
        await self._edge()
        d.csr__addr.value = number
        await Timer(1, "ns")
        return int(d.csr__r_data.value)

    async def host_write(self, word: int, value: int, strb: int = 0xF) -> None:
        d = self.dut
        await self._edge()
        d.host__addr.value, d.host__w_data.value, d.host__w_strb.value, d.host__w_en.value = word, value, strb, 1
        await FallingEdge(d.clk)
        d.host__w_en.value = 0

    async def host_read(self, word: int) -> int:
        d = self.dut
        await self._edge()
        d.host__addr.value = word
        await Timer(1, "ns")
        return int(d.host__r_data.value)

    async def program(self, ch: int, src: int, dst: int, count: int) -> int:
        """Write SRC, DST, COUNT and start; the start's cycle."""
        regs = CHANNEL_CSRS[ch]
        for reg, value in ((SRC, src), (DST, dst), (COUNT, count)):
            await self.write(regs[reg], value)
        return await self.write(regs[CONTROL], 1)

    async def wait(self, ch: int, limit: int = 200_000) -> tuple[int, int]:
        """Poll STATUS every cycle until the channel is idle: (status, first cycle it showed);
        ``self.transferring``: the first cycle it showed transferring (None if never)."""
        self.transferring = None
        for _ in range(limit):
            status = await self.read(CHANNEL_CSRS[ch][STATUS])
            if status == csrs.DMA_TRANSFERRING and self.transferring is None:
                self.transferring = cycle_now()
            if not status & BUSY:
                return status, cycle_now()
        raise AssertionError(f"channel {ch} still busy after {limit} cycles")


async def setup(dut):
    await start_clock(dut.clk)
    dut.rst.value = 1
    ports = Ports(dut)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    checker = AxiChecker(dut, dut.clk, beat_bytes=BB, outstanding=P["outstanding"])
    return ports, checker


def vmem_image(dut) -> bytearray:
    rows = dut.vmem.mem
    return bytearray(b"".join(int(rows[r].value).to_bytes(ROW, "little") for r in range(len(rows))))


def fill_vmem(dut, data: bytes) -> None:
    rows = dut.vmem.mem
    for r in range(len(data) // ROW):
        rows[r].value = int.from_bytes(data[ROW * r:ROW * r + ROW], "little")


@cocotb.test()
async def registers_read_back_and_control_reads_zero(dut):
    ports, checker = await setup(dut)
    for ch in (MM2S, S2MM):
        regs = CHANNEL_CSRS[ch]
        assert await ports.read(regs[STATUS]) == csrs.DMA_IDLE
        for i, reg in enumerate((SRC, DST, COUNT)):
            await ports.write(regs[reg], 0x1234_5640 + i)
            assert await ports.read(regs[reg]) == 0x1234_5640 + i
            assert await ports.host_read(host_word(ch, reg)) == 0x1234_5640 + i
        await ports.write(regs[STATUS], 0xFF)
        assert await ports.read(regs[STATUS]) == csrs.DMA_IDLE
        assert await ports.read(regs[CONTROL]) == 0
        # The host's byte strobes.
        await ports.host_write(host_word(ch, SRC), 0xAABBCCDD, strb=0b0101)
        assert await ports.host_read(host_word(ch, SRC)) == 0x12BB56DD
    assert await ports.read(0x320) == 0 and await ports.read(0xBC4) == 0     # not the DMA's
    checker.final()


@cocotb.test()
async def same_cycle_writes_core_wins(dut):
    ports, checker = await setup(dut)
    d = dut
    await FallingEdge(d.clk)
    d.csr__addr.value, d.csr__w_data.value, d.csr__w_en.value = csrs.MM2S_COUNT, 0x40, 1
    d.host__addr.value, d.host__w_data.value, d.host__w_strb.value, d.host__w_en.value = \
        host_word(MM2S, COUNT), 0x80, 0xF, 1
    await FallingEdge(d.clk)
    d.host__addr.value = host_word(MM2S, SRC)        # different registers: both apply
    d.csr__addr.value = csrs.MM2S_DST_ADDR
    await FallingEdge(d.clk)
    d.csr__w_en.value = d.host__w_en.value = 0
    assert await ports.read(csrs.MM2S_COUNT) == 0x40
    assert await ports.read(csrs.MM2S_SRC_ADDR) == 0x80 and await ports.read(csrs.MM2S_DST_ADDR) == 0x40
    checker.final()


@cocotb.test()
async def rule_breaks_are_internal_errors(dut):
    ports, checker = await setup(dut)
    FixedLatencyDram(dut, dut.clk, mem=bytearray(1 << 16), latency=3, beat_bytes=BB)
    bad = [(0x20, 0, 64), (0, 0x20, 64), (0, 0, 65), (0, 0, 32), (0, 0, 1 << 19), (0, 0, VMEM_BYTES + 64),
           (0, VMEM_BYTES - 64, 128), (0, 0xFFFF_FFC0, 128)]
    for ch in (MM2S, S2MM):
        for src, dst, count in bad:
            if ch == S2MM:
                src, dst = dst, src          # the VMEM address is S2MM's source
            t = await ports.program(ch, src, dst, count)
            status = await ports.read(CHANNEL_CSRS[ch][STATUS])
            assert cycle_now() == t + 1 and status == csrs.DMA_IDLE | csrs.DMA_INTERNAL_ERROR, \
                (ch, src, dst, count, hex(status))
    await ClockCycles(dut.clk, 20)
    assert not checker.ar_bursts and not checker.aw_bursts, "a rule break moved data"
    checker.final()


async def _timed(dut, ports, checker, ch: int, dram_addr: int, vmem_addr: int, count: int, latency: int,
                 mem: bytearray) -> tuple[int, int | None]:
    """One transfer against the fixed-latency slave; the measured constants (A, S): done and
    the start of "transferring" (S None for a count of 0, which never shows it)."""
    beats = count // BB
    t = await (ports.program(MM2S, dram_addr, vmem_addr, count) if ch == MM2S
               else ports.program(S2MM, vmem_addr, dram_addr, count))
    status, seen = await ports.wait(ch)
    assert status == DONE, hex(status)
    if count == 0:
        assert ports.transferring is None
        return seen - t, None
    s = ports.transferring - t - (latency if ch == MM2S else 0)
    return seen - t - latency - beats + (1 if ch == MM2S else 0), s


@cocotb.test()
async def streaming_timing_is_the_contracts(dut):
    """A_R / A_W (done) and S_R / S_W (transferring) constant over latencies, counts, alignments
    and 4 KiB crossings; data exact."""
    ports, checker = await setup(dut)
    rng = random.Random(7)
    mem = bytearray(rng.randbytes(1 << 16))
    seen = {MM2S: {}, S2MM: {}}
    max_latency = (P["outstanding"] - 2) * 16        # DmaConfig.streaming_latency
    latencies = sorted({1, 2, 5, 16, 53, max_latency})
    for latency in latencies:
        dram = FixedLatencyDram(dut, dut.clk, mem=mem, latency=latency, beat_bytes=BB)
        for count, dram_addr, vmem_addr in ((64, 0x40, 0), (4096, 0x0FC0, 128), (1024, 0x3F00, 64),
                                            (min(VMEM_BYTES, 8192) - 64, 0x5040, 64)):
            a = await _timed(dut, ports, checker, MM2S, dram_addr, vmem_addr, count, latency, mem)
            seen[MM2S].setdefault(a, []).append((latency, count, hex(dram_addr)))
            assert vmem_image(dut)[vmem_addr:vmem_addr + count] == mem[dram_addr:dram_addr + count]
            out_addr = 0x8000 + dram_addr
            a = await _timed(dut, ports, checker, S2MM, out_addr, vmem_addr, count, latency, mem)
            seen[S2MM].setdefault(a, []).append((latency, count, hex(out_addr)))
            assert mem[out_addr:out_addr + count] == mem[dram_addr:dram_addr + count]
        dram.stop()                           # the next slave takes over
    assert set(seen[MM2S]) == {(A_R, S_R)} and set(seen[S2MM]) == {(A_W, S_W)}, \
        f"measured (A_R, S_R) {seen[MM2S]}, (A_W, S_W) {seen[S2MM]}"
    for ch in (MM2S, S2MM):
        assert await _timed(dut, ports, checker, ch, 0, 0, 0, 1, mem) == (A_ZERO, None)
    checker.final()


@cocotb.test()
async def bursts_split_at_16_beats_and_4k(dut):
    ports, checker = await setup(dut)
    mem = bytearray(random.Random(3).randbytes(1 << 16))
    FixedLatencyDram(dut, dut.clk, mem=mem, latency=4, beat_bytes=BB)
    # Starts at every row offset of a 4 KiB page's last 1 KiB: every burst length that the
    # port's rows allow appears as the piece before the boundary.
    expected_ar, expected_aw = [], []
    for k, start in enumerate(range(4096 - 1024, 4096, 64)):
        count = 64 * (1 + k % 5) + 1024
        await ports.program(MM2S, start, 0, count)
        assert (await ports.wait(MM2S))[0] == DONE
        assert vmem_image(dut)[:count] == mem[start:start + count]
        expected_ar += split(start, count // BB)
        out = 0x8000 + start
        await ports.program(S2MM, 0, out, count)
        assert (await ports.wait(S2MM))[0] == DONE
        assert mem[out:out + count] == mem[start:start + count]
        expected_aw += split(out, count // BB)
    assert checker.ar_bursts == expected_ar
    assert checker.aw_bursts == expected_aw
    lengths = {n for _, n in expected_ar}
    assert lengths == set(range(max(1, ROW // BB), 17, max(1, ROW // BB))), lengths
    checker.final()


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


@cocotb.test()
async def both_channels_under_back_pressure(dut):
    """AxiRam with pauses on every channel, VMEM port stolen at random, both channels at once."""
    ports, checker = await setup(dut)
    rng = random.Random(11)
    ram = ErrorAxiRam(AxiBus.from_prefix(dut, "dram_"), dut.clk, dut.rst, size=1 << 16, errors=[])
    for ch in (ram.write_if.aw_channel, ram.write_if.w_channel, ram.write_if.b_channel,
               ram.read_if.ar_channel, ram.read_if.r_channel):
        ch.set_pause_generator(_pauses(random.Random(rng.random()), 0.3))
    for port in (ram.write_if, ram.read_if):
        port.log.setLevel("WARNING")
    image = rng.randbytes(1 << 16)
    ram.write(0, image)
    vm = rng.randbytes(VMEM_BYTES)
    fill_vmem(dut, vm)

    async def steal():
        while True:
            await FallingEdge(dut.clk)
            dut.vmem_wait.value = int(rng.random() < 0.3)
    stealer = cocotb.start_soon(steal())
    half = VMEM_BYTES // 2
    n = min(half, 4096)
    await ports.program(MM2S, 0x1FC0, 0, n)                   # DRAM -> VMEM's first half
    await ports.program(S2MM, half, 0x9000, n)                 # VMEM's second half -> DRAM
    s1, _ = await ports.wait(MM2S)
    s2, _ = await ports.wait(S2MM)
    stealer.cancel()
    dut.vmem_wait.value = 0
    assert s1 == DONE and s2 == DONE, (hex(s1), hex(s2))
    assert vmem_image(dut)[:n] == image[0x1FC0:0x1FC0 + n]
    assert ram.read(0x9000, n) == vm[half:half + n]
    await ClockCycles(dut.clk, 4)
    checker.final()


async def _program_at(ports, ch, dram_addr: int, count: int):
    """Start channel ``ch`` on ``count`` bytes at ``dram_addr`` (read for MM2S, written for
    S2MM) and VMEM row 0."""
    if ch == MM2S:
        await ports.program(MM2S, dram_addr, 0, count)
    else:
        await ports.program(S2MM, 0, dram_addr, count)


@cocotb.test()
async def bus_errors_end_the_transfer(dut):
    ports, checker = await setup(dut)
    mem = bytearray(random.Random(5).randbytes(1 << 16))
    errors = [(0x2000, 0x2040, SLVERR), (0x3000, 0x3400, DECERR), (0xA000, 0xA040, SLVERR),
              (0xB800, 0xB840, DECERR)]
    for latency in (2, 40):
        dram = FixedLatencyDram(dut, dut.clk, mem=mem, latency=latency, beat_bytes=BB, errors=errors)
        for ch, start, want in ((MM2S, 0x1800, csrs.DMA_SLAVE_ERROR), (MM2S, 0x2C00, csrs.DMA_DECODE_ERROR),
                                (S2MM, 0x9800, csrs.DMA_SLAVE_ERROR), (S2MM, 0xB000, csrs.DMA_DECODE_ERROR),
                                (MM2S, 0xFC00, csrs.DMA_DECODE_ERROR)):   # runs off the slave's 64 KiB
            await _program_at(ports, ch, start, 4096)
            status, _ = await ports.wait(ch)
            assert status == csrs.DMA_IDLE | want, (ch, hex(start), hex(status))
            # The next transfer works, from a clean state.
            if ch == MM2S:
                await ports.program(MM2S, 0x4000, 0, 1024)
                assert (await ports.wait(MM2S))[0] == DONE
                assert vmem_image(dut)[:1024] == mem[0x4000:0x5000 - 3072]
            else:
                await ports.program(S2MM, 0, 0xC000, 1024)
                assert (await ports.wait(S2MM))[0] == DONE
                assert mem[0xC000:0xC400] == vmem_image(dut)[:1024]
        dram.stop()
    # AxiRam's error path too (SLVERR from an exception, DECERR rewritten).
    ram = ErrorAxiRam(AxiBus.from_prefix(dut, "dram_"), dut.clk, dut.rst, size=1 << 16,
                      errors=[(0x1100, 0x1110, SLVERR), (0x2200, 0x2210, DECERR)])
    for port in (ram.write_if, ram.read_if):
        port.log.setLevel("ERROR")
    for ch, start, want in ((MM2S, 0x1000, csrs.DMA_SLAVE_ERROR), (MM2S, 0x2000, csrs.DMA_DECODE_ERROR),
                            (S2MM, 0x1000, csrs.DMA_SLAVE_ERROR), (S2MM, 0x2000, csrs.DMA_DECODE_ERROR)):
        await _program_at(ports, ch, start, 1024)
        status, _ = await ports.wait(ch)
        assert status == csrs.DMA_IDLE | want, (ch, hex(start), hex(status))
    await ClockCycles(dut.clk, 4)
    checker.final()


@cocotb.test()
async def busy_ignores_start_and_register_writes(dut):
    ports, checker = await setup(dut)
    mem = bytearray(random.Random(9).randbytes(1 << 16))
    FixedLatencyDram(dut, dut.clk, mem=mem, latency=30, beat_bytes=BB)
    await ports.program(MM2S, 0x1000, 0, 2048)
    assert await ports.read(csrs.MM2S_STATUS) == csrs.DMA_STARTING
    for number, value in ((csrs.MM2S_SRC_ADDR, 0x8000), (csrs.MM2S_DST_ADDR, 0x40), (csrs.MM2S_COUNT, 64),
                          (csrs.MM2S_CONTROL, 1)):
        await ports.write(number, value)
    await ClockCycles(dut.clk, 30)
    assert await ports.read(csrs.MM2S_STATUS) == csrs.DMA_TRANSFERRING
    status, _ = await ports.wait(MM2S)
    assert status == DONE
    assert vmem_image(dut)[:2048] == mem[0x1000:0x1800]
    assert checker.ar_bursts == split(0x1000, 2048 // BB)            # the second start was ignored
    assert await ports.read(csrs.MM2S_SRC_ADDR) == 0x8000             # ... and the writes kept
    checker.final()


@cocotb.test()
async def host_port_programs_both_channels(dut):
    ports, checker = await setup(dut)
    mem = bytearray(random.Random(13).randbytes(1 << 16))
    FixedLatencyDram(dut, dut.clk, mem=mem, latency=8, beat_bytes=BB)
    for reg, value in ((SRC, 0x2000), (DST, 0x80), (COUNT, 512)):
        await ports.host_write(host_word(MM2S, reg), value)
    await ports.host_write(host_word(MM2S, CONTROL), 1)
    assert await ports.host_read(host_word(MM2S, STATUS)) & BUSY
    for _ in range(2000):
        if not await ports.host_read(host_word(MM2S, STATUS)) & BUSY:
            break
    assert await ports.host_read(host_word(MM2S, STATUS)) == DONE
    assert vmem_image(dut)[0x80:0x80 + 512] == mem[0x2000:0x2200]
    for reg, value in ((SRC, 0x80), (DST, 0x6000), (COUNT, 512)):
        await ports.host_write(host_word(S2MM, reg), value)
    await ports.host_write(host_word(S2MM, CONTROL), 1)
    for _ in range(2000):
        if not await ports.host_read(host_word(S2MM, STATUS)) & BUSY:
            break
    assert await ports.host_read(host_word(S2MM, STATUS)) == DONE
    assert mem[0x6000:0x6200] == mem[0x2000:0x2200]
    checker.final()
