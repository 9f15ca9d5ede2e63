"""The host side of the UARTBone bridge: word reads and writes over a serial port
(pyserial; any of its URLs, e.g. ``/dev/ttyUSB0`` or ``socket://host:port``).

Frames as ``boards/uartbone.py`` describes them; unlike LiteX's ``CommUART``
(which waits forever), a read that gets no full answer in time is a
``LinkError`` naming the port and the address. Writes are not answered, so a
read after a long write (an image) also waits for the bytes still on the line:
its time is ``timeout`` plus their transmission time at ``baud``.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.errors import FennError

from . import uartbone as ub

DEFAULT_BAUD = 115_200
BITS_PER_BYTE = 10                  # 8N1: start, 8 data, stop


class LinkError(FennError):
    """The serial link to a board failed: no port, or no answer."""


class SerialLink:
    """Word access to a board's host port over UARTBone."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout: float = 2.0):
        try:
            import serial
        except ImportError:
            raise LinkError("pyserial is not installed (pip install 'fenn-dma[boards]')") from None
        self.port_name, self.timeout, self.baud = port, timeout, baud
        self._unanswered = 0            # bytes sent since the last answer
        try:
            self.port = serial.serial_for_url(port, baud, timeout=timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise LinkError(f"cannot open serial port {port}: {exc}") from None
        self.port.reset_input_buffer()

    def write(self, addr: int, words) -> None:
        """Consecutive 32-bit ``words`` from byte address ``addr``."""
        words = np.asarray(words, np.uint32).ravel()
        if words.size:
            self._send(ub.write_frames(addr, words.tolist(), chunk=ub.MAX_BURST), addr)

    def read(self, addr: int, count: int) -> np.ndarray:
        """``count`` consecutive words from byte address ``addr``, as uint32."""
        out = []
        for at in range(0, count, ub.MAX_BURST):
            n = min(ub.MAX_BURST, count - at)
            where = addr + ub.WORD_BYTES * at
            self._send(ub.read_frame(where, n), where)
            want = ub.WORD_BYTES * n
            wait = self.timeout + (self._unanswered + want) * BITS_PER_BYTE / self.baud
            self.port.timeout = wait
            data = self.port.read(want)
            if len(data) < want:
                raise LinkError(f"{self.port_name}: no answer to a read of {n} words at host address {where:#x} "
                                f"({len(data)} of {want} bytes in {wait:.3g} s): is the board configured "
                                f"with the FeNN-DMA bitstream, and is this its serial port at this baud rate?")
            self._unanswered = 0
            out += ub.parse_words(data)
        return np.array(out, np.uint32)

    def _send(self, data: bytes, addr: int) -> None:
        try:
            self.port.write(data)
            self.port.flush()
            self._unanswered += len(data)
        except Exception as exc:          # pyserial raises SerialException / OSError per backend
            raise LinkError(f"{self.port_name}: writing the frame for host address {addr:#x} failed: {exc}") from None

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None
