"""cocotb bench: the Verilated ECP5 board top (``BoardTop``) with its serial pins
served on a TCP socket, so a host-side client (LiteX's ``CommUART``, the ``ecp5``
device) reaches the simulated bridge and SoC through pyserial's ``socket://`` URL.

The bench listens on a free port, writes its number to ``$FENN_UART_PORT_FILE``,
serves one connection after another (the board keeps its state between them) and
ends once ``$FENN_UART_PORT_FILE.stop`` exists and no client is connected. Bytes from the client
go out on ``uart_rx`` one bit every ``$FENN_UART_DIVISOR`` clocks, bytes the
bridge sends on ``uart_tx`` are sampled mid-bit and written back. Run by
``uartbone_sim.py``.
"""
from __future__ import annotations

import os
import socket
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

PERIOD_NS = 10
IDLE_POLL_NS = 2_000          # how often the socket is polled while nothing is being sent


@cocotb.test()
async def serve(dut):
    divisor = int(os.environ["FENN_UART_DIVISOR"])
    bit_ns = divisor * PERIOD_NS
    dut.uart_rx.value = 1
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(60)
    with open(os.environ["FENN_UART_PORT_FILE"] + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.replace(os.environ["FENN_UART_PORT_FILE"] + ".tmp", os.environ["FENN_UART_PORT_FILE"])
    await Timer(300 * PERIOD_NS, unit="ns")           # the board's power-on reset
    listener.setblocking(False)
    stop_file = os.environ["FENN_UART_PORT_FILE"] + ".stop"
    framing_errors: list[int] = []
    conn = None

    async def transmit_back():
        """The bridge's bytes (start bit, 8 data bits LSB first, stop bit) to the client."""
        while True:
            await FallingEdge(dut.uart_tx)
            await Timer(bit_ns * 3 // 2, unit="ns")
            byte = 0
            for i in range(8):
                byte |= int(dut.uart_tx.value) << i
                await Timer(bit_ns, unit="ns")
            if int(dut.uart_tx.value) != 1:
                framing_errors.append(byte)
            if conn is not None:
                conn.setblocking(True)
                try:
                    conn.sendall(bytes([byte]))
                except OSError:                      # the client went away mid-answer
                    pass
                conn.setblocking(False)

    cocotb.start_soon(transmit_back())
    pending: deque[int] = deque()
    while True:
        if conn is None:
            try:
                conn, _ = listener.accept()
                conn.setblocking(False)
            except BlockingIOError:
                if os.path.exists(stop_file):
                    break
                await Timer(IDLE_POLL_NS, unit="ns")
                continue
        if not pending:
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                await Timer(IDLE_POLL_NS, unit="ns")
                continue
            except OSError:
                data = b""
            if not data:                                 # the client closed its port
                conn.close()
                conn = None
                continue
            pending.extend(data)
        byte = pending.popleft()
        for level in [0] + [byte >> i & 1 for i in range(8)] + [1]:
            dut.uart_rx.value = level
            await Timer(bit_ns, unit="ns")
    listener.close()
    assert not framing_errors, f"bytes from the bridge without a stop bit: {framing_errors}"
