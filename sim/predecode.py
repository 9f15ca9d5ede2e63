"""Decoding of the whole instruction memory, done once per loaded program.

IMEM is not writable by the core (Harvard), so both engines decode it once
and look instructions up by pc. The register-usage masks used by the load-use
rule (docs/isa.md section 6) and the cycle model's scalar load-use stall are
derived here from the table (``InstrSpec.vector_sources()`` /
``scalar_sources()``), for both engines.
"""
from __future__ import annotations

import sys
from array import array

from fenn_dma.isa.codec import Instruction, try_decode


def decode_imem(imem, extensions: frozenset[str]) -> list[Instruction | None]:
    """One entry per IMEM word (``imem``: its bytes, little-endian words): the decoded
    instruction, or None for an illegal word."""
    data = bytes(imem)
    words = array("I")
    assert words.itemsize == 4
    words.frombytes(data[:len(data) // 4 * 4])
    if sys.byteorder == "big":
        words.byteswap()
    cache: dict[int, Instruction | None] = {}   # IMEM is mostly zeros and repeated words
    out = []
    used = program_words(data)
    for w in words[:used]:
        if w not in cache:
            cache[w] = try_decode(w, extensions)
        out.append(cache[w])
    if used < len(words):                        # the zero words after the program, all alike
        out += [try_decode(0, extensions)] * (len(words) - used)
    return out


def program_words(imem: bytes) -> int:
    """Words up to the last nonzero byte of IMEM (the rest are zero words)."""
    return (len(imem.rstrip(b"\0")) + 3) // 4


def vector_source_mask(ins: Instruction) -> int:
    """Bit r set when vector register r is read (sources and kept-old rd)."""
    mask = 0
    for slot in ins.spec.vector_sources():
        mask |= 1 << getattr(ins, slot)
    return mask


def scalar_source_mask(ins: Instruction) -> int:
    """Bit r set when scalar register r (r != 0) is read as a source."""
    mask = 0
    for slot in ins.spec.scalar_sources():
        mask |= 1 << getattr(ins, slot)
    return mask & ~1
