"""LiteX's UARTBone framing (``litex/soc/cores/uart.py``: ``Stream2Wishbone``), the
one description the bridge RTL and the host's serial client share.

A frame from the host: a command byte, a length byte (words, 1..255), a 32-bit
big-endian **word** address (LiteX's ``CommUART`` sends the byte address >> 2),
then, for a write, ``length`` 32-bit big-endian data words. A read is answered
with ``length`` big-endian data words; a write with nothing. ``INCR`` bursts
step the address by one word a word, ``FIXED`` ones stay on it (a FIFO or a
register). LiteX's client splits writes into frames of at most 8 words.
"""
from __future__ import annotations

CMD_WRITE_INCR, CMD_READ_INCR, CMD_WRITE_FIXED, CMD_READ_FIXED = 0x01, 0x02, 0x03, 0x04
MAX_BURST = 255                     # words in one frame (the length byte)
WRITE_CHUNK = 8                     # words per write frame, as LiteX's CommUART sends them
ADDRESS_BYTES = WORD_BYTES = 4
FRAME_TIMEOUT_S = 0.1               # a frame whose next byte does not come in this time is dropped

# The board's map behind the bridge (byte addresses): the SoC's host port (docs/rtl.md) from 0,
# the board's DRAM window from DRAM_WINDOW (its physical address 0), for staging DRAM images.
BRIDGE_ADDR_BITS = 32
DRAM_WINDOW = 1 << 28


def header(cmd: int, byte_address: int, length: int) -> bytes:
    """Command, length and word address of a frame for ``length`` words from ``byte_address``."""
    if byte_address % WORD_BYTES or not 0 <= byte_address < 1 << 34:
        raise ValueError(f"UARTBone address {byte_address:#x}: a word-aligned 32-bit word address is needed")
    if not 1 <= length <= MAX_BURST:
        raise ValueError(f"UARTBone burst of {length} words: 1..{MAX_BURST} a frame")
    return bytes([cmd, length]) + (byte_address // WORD_BYTES).to_bytes(ADDRESS_BYTES, "big")


def write_frames(byte_address: int, words, chunk: int = WRITE_CHUNK) -> bytes:
    """The write frames for consecutive ``words`` from ``byte_address`` (``chunk`` words a frame)."""
    words = [int(w) for w in words]
    out = bytearray()
    for at in range(0, len(words), chunk):
        part = words[at:at + chunk]
        out += header(CMD_WRITE_INCR, byte_address + WORD_BYTES * at, len(part))
        out += b"".join(w.to_bytes(WORD_BYTES, "big") for w in part)
    return bytes(out)


def read_frame(byte_address: int, length: int) -> bytes:
    return header(CMD_READ_INCR, byte_address, length)


def parse_words(data: bytes) -> list[int]:
    """A read's answer: big-endian words."""
    return [int.from_bytes(data[i:i + WORD_BYTES], "big") for i in range(0, len(data), WORD_BYTES)]
