"""LiteX's own host tools against the Verilated board top (BoardTop: the UARTBone
bridge in front of a small scalar SoC) through pyserial's ``socket://`` URL: its
``CommUART`` (reads, bursts of both kinds, writes split into 8-word frames) and
``litex_server --uart`` + ``RemoteClient`` (Etherbone over TCP onto the serial
bridge), so a LiteX user's tools work with the board unchanged. Needs the
``boards`` extra (litex, pyserial)."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fenn_dma import hostmap as H
from fenn_dma.rtl.config import SocConfig

sys.path.insert(0, str(Path(__file__).parent))
from uartbone_sim import SimulatedBoard, missing  # noqa: E402

pytestmark = pytest.mark.rtl
CONFIG = SocConfig(imem_size=1024, dmem_size=1024)


@pytest.fixture(scope="module")
def board():
    why = missing()
    if why:
        pytest.skip(why)
    pytest.importorskip("litex", reason="LiteX is not installed (pip install 'fenn-dma[boards]')")
    with SimulatedBoard(CONFIG) as sim:
        yield sim
    assert sim.result is not None and sim.result[0], f"the bench failed:\n{sim.result}"


def _watchdog(port, seconds: float) -> threading.Timer:
    """CommUART waits forever for an answer: close its port after ``seconds`` so a dead
    bridge fails the test instead of hanging it."""
    timer = threading.Timer(seconds, port.close)
    timer.daemon = True
    timer.start()
    return timer


def test_litex_commuart_reads_and_writes_the_host_port(board):
    from litex.tools.remote.comm_uart import CommUART
    comm = CommUART(board.url, baudrate=115_200)
    guard = _watchdog(comm.port, 120)
    try:
        assert comm.read(H.MAGIC) == H.MAGIC_VALUE
        assert comm.read(H.IMEM_SIZE, 2) == [CONFIG.imem_size, CONFIG.dmem_size]
        words = [(0x9E37_79B9 * (i + 1)) & 0xFFFF_FFFF for i in range(21)]
        comm.write(H.DMEM_BASE + 64, words)                 # three frames: 8 + 8 + 5 words
        assert comm.read(H.DMEM_BASE + 64, len(words)) == words
        assert comm.read(H.DMEM_BASE + 68, 3, burst="fixed") == [words[1]] * 3
        comm.write(H.DMEM_BASE + 60, [1, 2, 3], burst="fixed")
        assert comm.read(H.DMEM_BASE + 60, 2) == [3, words[0]]
        comm.write(H.ENTRY, 0x40)
        assert comm.read(H.ENTRY) == 0x40
    finally:
        guard.cancel()
        comm.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_litex_server_and_remote_client_reach_the_board(board):
    from litex.tools.litex_client import RemoteClient
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "litex.tools.litex_server", "--uart", "--uart-port",
                               board.url, "--bind-ip", "127.0.0.1", "--bind-port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = RemoteClient(host="127.0.0.1", port=port)
        for _ in range(200):                    # until the server listens
            try:
                client.open()
                break
            except ConnectionRefusedError:
                assert server.poll() is None, f"litex_server exited: {server.stdout.read()}"
                time.sleep(0.1)
        client.write(H.DMEM_BASE + 8, 0x1234_5678)
        assert client.read(H.DMEM_BASE + 8) == 0x1234_5678
        assert client.read(H.MAGIC) == H.MAGIC_VALUE
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
