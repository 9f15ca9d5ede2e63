"""The ECP5 board top: UART frames through the bridge reach the SoC's host port
(Amaranth simulation of the whole top with a small SoC and 4 clocks per bit)."""
from __future__ import annotations

from amaranth.sim import Simulator

from fenn_dma.boards.ecp5 import BoardTop
from fenn_dma.boards.uart_bridge import ACK, CMD_READ, CMD_WRITE
from fenn_dma import hostmap as H
from fenn_dma.rtl.config import SocConfig

DIVISOR = 4
HALF_PERIOD = 1 / (2 * DIVISOR * 115_200)


async def _send(ctx, pin, byte: int) -> None:
    for level in [0] + [byte >> i & 1 for i in range(8)] + [1]:
        ctx.set(pin, level)
        await ctx.tick("por").repeat(DIVISOR)


async def _receive(ctx, pin, count: int, timeout: int = 4000) -> bytes:
    out = bytearray()
    waited = 0
    while len(out) < count:
        while ctx.get(pin):                      # wait for a start bit
            await ctx.tick("por")
            waited += 1
            assert waited < timeout, f"no reply byte after {timeout} cycles (got {out.hex()})"
        await ctx.tick("por").repeat(DIVISOR + DIVISOR // 2)      # to the middle of bit 0
        byte = 0
        for i in range(8):
            byte |= ctx.get(pin) << i
            await ctx.tick("por").repeat(DIVISOR)
        assert ctx.get(pin) == 1, "missing stop bit"
        out.append(byte)
    return bytes(out)


def test_uart_frames_reach_the_host_port():
    config = SocConfig(imem_size=256, dmem_size=256)
    top = BoardTop(config, clock_hz=4 * 115_200)          # divisor 4
    results = {}

    async def host(ctx):
        ctx.set(top.uart_rx, 1)
        await ctx.tick("por").repeat(300)                        # power-on reset
        for byte in [0x00, 0xFF]:                           # noise that is not a command
            await _send(ctx, top.uart_rx, byte)

        async def read(addr: int) -> int:
            for byte in bytes([CMD_READ]) + addr.to_bytes(4, "little"):
                await _send(ctx, top.uart_rx, byte)
            return int.from_bytes(await _receive(ctx, top.uart_tx, 4), "little")

        async def write(addr: int, value: int) -> bytes:
            for byte in bytes([CMD_WRITE]) + addr.to_bytes(4, "little") + value.to_bytes(4, "little"):
                await _send(ctx, top.uart_rx, byte)
            return await _receive(ctx, top.uart_tx, 1)

        results["magic"] = await read(H.MAGIC)
        results["ack"] = await write(H.ENTRY, 0x0000_0124)
        results["entry"] = await read(H.ENTRY)
        results["ack_mem"] = await write(H.DMEM_BASE + 8, 0xCAFE_F00D)
        results["dmem"] = await read(H.DMEM_BASE + 8)
        results["dmem_size"] = await read(H.DMEM_SIZE)
        results["stopped_led"] = ctx.get(top.led) & 1

    async def clock(ctx):                                 # the board's oscillator on the clk pin
        while True:
            ctx.set(top.clk, 1)
            await ctx.delay(HALF_PERIOD)
            ctx.set(top.clk, 0)
            await ctx.delay(HALF_PERIOD)

    sim = Simulator(top)
    sim.add_process(clock)
    sim.add_testbench(host)
    sim.run()
    assert results["magic"] == H.MAGIC_VALUE
    assert results["ack"] == bytes([ACK]) and results["ack_mem"] == bytes([ACK])
    assert results["entry"] == 0x124
    assert results["dmem"] == 0xCAFE_F00D
    assert results["dmem_size"] == config.dmem_size
    assert results["stopped_led"] == 0                     # never started: not stopped
