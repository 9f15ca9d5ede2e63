"""The ECP5 board top: UARTBone frames through the bridge reach the SoC's host port
(Amaranth simulation of the whole top with a small SoC and 4 clocks per bit).
LiteX's own client against the Verilated bridge: test_uart_bridge_litex.py."""
from __future__ import annotations

from amaranth.sim import Simulator

from fenn_dma.boards.ecp5 import BoardTop
from fenn_dma.boards import uartbone as ub
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


def test_uartbone_frames_reach_the_host_port():
    config = SocConfig(imem_size=256, dmem_size=256)
    top = BoardTop(config, clock_hz=DIVISOR * 115_200)          # divisor 4, frame timeout 46080 cycles
    got = {}

    async def host(ctx):
        ctx.set(top.uart_rx, 1)
        await ctx.tick("por").repeat(300)                        # power-on reset

        async def send(data: bytes) -> None:
            for byte in data:
                await _send(ctx, top.uart_rx, byte)

        async def read(addr: int, n: int = 1, cmd: int = ub.CMD_READ_INCR) -> list[int]:
            await send(ub.header(cmd, addr, n))
            return ub.parse_words(await _receive(ctx, top.uart_tx, 4 * n))

        # An unknown command is dropped after its address; a frame cut short is dropped after the timeout.
        await send(bytes([0x55, 1]) + (H.DMEM_BASE // 4).to_bytes(4, "big"))
        await send(ub.header(ub.CMD_WRITE_INCR, H.ENTRY, 1) + b"\x12")
        await ctx.tick("por").repeat(46_100)
        got["magic"] = await read(H.MAGIC)
        got["entry_after_cut"] = await read(H.ENTRY)
        await send(ub.write_frames(H.ENTRY, [0x0000_0124]))
        got["entry"] = await read(H.ENTRY)
        words = [0xCAFE_F00D, 0x0123_4567, 0x89AB_CDEF]
        await send(ub.write_frames(H.DMEM_BASE + 8, words, chunk=2))         # two frames
        got["dmem"] = await read(H.DMEM_BASE + 8, 3)
        got["fixed"] = await read(H.DMEM_BASE + 12, 2, ub.CMD_READ_FIXED)
        await send(ub.header(ub.CMD_WRITE_FIXED, H.DMEM_BASE + 4, 2) + b"".join(
            w.to_bytes(4, "big") for w in (0x1111_1111, 0x2222_2222)))
        got["after_fixed"] = await read(H.DMEM_BASE + 4, 2)
        got["sizes"] = await read(H.IMEM_SIZE, 2)
        got["stopped_led"] = ctx.get(top.led) & 1

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
    assert got["magic"] == [H.MAGIC_VALUE]
    assert got["entry_after_cut"] == [0], "the cut-short write must not have reached ENTRY"
    assert got["entry"] == [0x124]
    assert got["dmem"] == [0xCAFE_F00D, 0x0123_4567, 0x89AB_CDEF]
    assert got["fixed"] == [0x0123_4567] * 2                # a FIXED burst stays on its word
    assert got["after_fixed"] == [0x2222_2222, 0xCAFE_F00D]  # the last word written wins; the next is untouched
    assert got["sizes"] == [config.imem_size, config.dmem_size]
    assert got["stopped_led"] == 0                     # never started: not stopped
