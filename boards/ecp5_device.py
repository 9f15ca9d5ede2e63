"""The ``ecp5:PORT`` device's transport: the SoC on an ECP5 board (``BoardTop``:
the UARTBone bridge in front of its host port) through a serial port.
``fenn_dma.host.devices.registry`` opens it by name."""
from __future__ import annotations

from .hostport import HostPortTransport
from .serial_link import DEFAULT_BAUD, SerialLink
from .uartbone import DRAM_WINDOW


def open_transport(spec, program=None, port: str = "", baud: int = DEFAULT_BAUD,
                   timeout: float = 2.0) -> HostPortTransport:
    """The board on serial port ``port`` (a device path or a pyserial URL), checked to be
    machine ``spec``; ``timeout``: seconds to wait for an answer before a ``LinkError``."""
    return HostPortTransport(SerialLink(port, baud, timeout), spec, f"ecp5:{port}", dram_window=DRAM_WINDOW)
