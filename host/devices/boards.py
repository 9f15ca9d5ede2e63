"""The board devices. The device API needs nothing more from them than a transport
(``compiler.abi.Transport``: load images, read/write words of a memory window, start
at the entry and wait for the stop): on the KV260 the SoC's AXI4-Lite window mapped
through UIO and a DMA buffer for the DRAM image (``kv260.py``), on the ECP5 the same
host-port words framed over the UART bridge (``boards/uart_bridge.py``), which comes
with the boards work; until then opening it says why it is not available here."""
from __future__ import annotations

from .errors import DeviceUnavailable
from .registry import why_unavailable


def open_ecp5(spec, program, port: str | None = None):
    name = f"ecp5:{port}" if port else "ecp5"
    raise DeviceUnavailable(f"{name}: not available here: {why_unavailable(name)}")
