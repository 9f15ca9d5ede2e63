"""The ``ecp5:PORT`` device against the simulated board: the ULX3S profile's board
top (UARTBone bridge, vector SoC with the DMA, on-chip DRAM window) Verilated and
served on a TCP socket (tests/boards/uartbone_sim.py), opened through pyserial's
``socket://`` URL. Compiled networks give the ISS's records, readouts,
instructions and cycles; a missing port, a silent port and the wrong machine are
clear errors. The first run builds the board's Verilator model (minutes; cached);
generating its Verilog takes about 3 minutes a run, the ISS comparison about 4."""
from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.arch import profile
from fenn_dma.host import open_device
from fenn_dma.host.devices import DeviceUnavailable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "boards"))
import device_nets as nets  # noqa: E402
from uartbone_sim import SimulatedBoard, missing  # noqa: E402

pytestmark = pytest.mark.rtl
SPEC = profile("ulx3s")
TIMEOUT = 600          # seconds for an answer: the simulated line is far slower than 115200 baud


def _compile(name: str, placement: str | None = None):
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
    from fenn_dma.compiler.pipeline import compile_model
    net = nets.NETWORKS[name]()
    if placement:
        for c in net.connections.values():
            c.placement = placement
    program, _ = compile_model(net, n_steps=nets.STEPS, options=CompileOptions(sizes=MachineSizes.from_spec(SPEC)))
    return program


@pytest.fixture(scope="module")
def board():
    why = missing()
    if why:
        pytest.skip(f"the simulated board needs: {why}")
    from fenn_dma.boards.ecp5 import board_config
    from fenn_dma.rtl.config import SocConfig
    with SimulatedBoard(board_config(SocConfig.from_spec(SPEC)), dram_size=SPEC.dram_size) as sim:
        yield sim
    assert sim.result is not None and sim.result[0], f"the bench failed:\n{sim.result}"


def _same(a, b) -> None:
    for k in a.records:
        np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    for k in a.readouts:
        np.testing.assert_array_equal(a.readouts[k], b.readouts[k], err_msg=k)
    assert set(a.records) == set(b.records) and set(a.readouts) == set(b.readouts)
    np.testing.assert_array_equal(a.instructions, b.instructions)
    np.testing.assert_array_equal(a.cycles, b.cycles)


def test_ecp5_device_equals_the_iss(board):
    program = _compile("delays")                     # the smallest VMEM image: the serial line is slow
    x = nets.spikes(program, 2, seed=7)
    iss = open_device("iss").load(program).run_batch(x)
    with open_device(f"ecp5:{board.url}", timeout=TIMEOUT) as dev:
        got = dev.load(program).run_batch(x)
        assert got.machine == "ulx3s"
    _same(iss, got)


@pytest.mark.slow
def test_ecp5_device_streams_weights_from_its_dram_window(board):
    """Weights in DRAM: staged through the bridge's DRAM window, streamed by the DMA (about
    4 minutes of simulated serial line; the cycles differ from the ISS's, whose DRAM timing
    model is not the on-chip window's)."""
    program = _compile("delays", placement="dram")
    assert program.images.get("dram")
    x = nets.spikes(program, 1, seed=3)
    iss = open_device("iss").load(program).run_batch(x)
    with open_device(f"ecp5:{board.url}", timeout=TIMEOUT) as dev:
        got = dev.load(program).run_batch(x)
    for k in iss.records:
        np.testing.assert_array_equal(iss.records[k], got.records[k], err_msg=k)
    for k in iss.readouts:
        np.testing.assert_array_equal(iss.readouts[k], got.readouts[k], err_msg=k)
    # The DMA bytes (the SoC's MOVED registers read over the bridge) are the ISS's.
    assert int(iss.dma_bytes.sum()) > 0
    np.testing.assert_array_equal(iss.dma_mm2s_bytes, got.dma_mm2s_bytes)
    np.testing.assert_array_equal(iss.dma_s2mm_bytes, got.dma_s2mm_bytes)


def test_ecp5_device_refuses_another_machine(board):
    from fenn_dma.boards.hostport import BoardError
    with pytest.raises(BoardError, match=r"the board's SoC is not machine kv260: dmem_size 65536 \(machine kv260: "
                                         r"131072\); vmem_size 131072"):
        open_device(f"ecp5:{board.url}", "kv260", timeout=TIMEOUT)


def test_ecp5_device_errors_name_the_port_and_address():
    with pytest.raises(DeviceUnavailable, match=r"ecp5:/dev/ttyNOPE: not available here: no serial port "
                                                r"/dev/ttyNOPE on this machine"):
        open_device("ecp5:/dev/ttyNOPE", "ulx3s")
    pytest.importorskip("serial", reason="pyserial is not installed (pip install 'fenn-dma[boards]')")
    from fenn_dma.boards.serial_link import LinkError
    with socket.socket() as silent:                      # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        held = []
        accept = threading.Thread(target=lambda: held.append(silent.accept()), daemon=True)
        accept.start()
        url = f"socket://127.0.0.1:{port}"
        with pytest.raises(LinkError, match=rf"{url}: no answer to a read of 1 words at host address 0x38 "
                                            r"\(0 of 4 bytes in 0.501 s\)"):
            open_device(f"ecp5:{url}", "ulx3s", timeout=0.5)
        accept.join(5)
    with pytest.raises(LinkError, match=r"cannot open serial port socket://127.0.0.1:1: "):
        open_device("ecp5:socket://127.0.0.1:1", "ulx3s", timeout=0.5)
