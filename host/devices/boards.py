"""The board devices (``kv260``; ``ecp5:PORT`` is ``boards/ecp5_device.py``). The device API needs nothing more
from them than a transport (``compiler.abi.Transport``: load images, read/write
words of a memory window, start at the entry and wait for the stop): on the KV260
the SoC's AXI4-Lite window mapped through UIO and a DMA buffer for the DRAM image,
on the ECP5 the same host-port words framed over the UART bridge
(``boards/uart_bridge.py``). Those transports come with the boards work; until
then opening one says why it is not available here."""
from __future__ import annotations

from .errors import DeviceUnavailable
from .registry import why_unavailable


def open_kv260(spec, program):
    raise DeviceUnavailable(f"kv260: not available here: {why_unavailable('kv260')}")

