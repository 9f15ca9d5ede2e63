"""Comparing final states (the dicts of ``Machine.state_dict`` and of the RTL
runner): the first difference, described, or None."""
from __future__ import annotations

import base64

# Every field both backends report, in the order a difference is looked for.
STATE_FIELDS = ("stop", "x", "v", "rng", "vmem", "llm", "dmem", "instret", "cycles", "mcycle", "minstret")
# The SoC with the DMA also reports the DRAM and both channels' final STATUS words.
DMA_FIELDS = ("stop", "x", "v", "rng", "dma_status", "vmem", "llm", "dmem", "dram", "instret", "cycles", "mcycle",
              "minstret")
# What the SoC without the vector unit reports.
SCALAR_FIELDS = ("stop", "x", "dmem", "instret", "cycles", "mcycle", "minstret")
MEMORIES = ("dmem", "vmem", "llm", "dram")


def _bytes(text: str) -> bytes:
    return base64.b64decode(text)


def first_difference(a: dict, b: dict, fields=STATE_FIELDS, names=("ISS", "RTL")) -> str | None:
    """The first of ``fields`` where two states differ, described (register,
    lane, byte address); None when equal. A field missing on one side only
    counts as a difference; missing on both, it is skipped."""
    na, nb = names
    for name in fields:
        if name not in a and name not in b:
            continue
        if (name in a) != (name in b):
            return f"{name}: only the {na if name in a else nb} state has it"
        x, y = a[name], b[name]
        if x == y:
            continue
        if name == "x":
            reg = next(i for i in range(32) if x[i] != y[i])
            return f"x{reg}: {na} 0x{x[reg] & 0xFFFFFFFF:08x}, {nb} 0x{y[reg] & 0xFFFFFFFF:08x}"
        if name == "v":
            reg = next(i for i in range(len(x)) if x[i] != y[i])
            lane = next(i for i in range(len(x[reg])) if x[reg][i] != y[reg][i])
            return f"v{reg} lane {lane}: {na} {x[reg][lane]}, {nb} {y[reg][lane]}"
        if name == "rng":
            for half in ("s0", "s1"):
                if x[half] != y[half]:
                    lane = next(i for i in range(len(x[half])) if x[half][i] != y[half][i])
                    return f"rng {half} lane {lane}: {na} 0x{x[half][lane]:04x}, {nb} 0x{y[half][lane]:04x}"
        if name in MEMORIES:
            da, db = _bytes(x), _bytes(y)
            if len(da) != len(db):
                return f"{name} size: {na} {len(da)} bytes, {nb} {len(db)} bytes"
            at = next(i for i in range(len(da)) if da[i] != db[i])
            return f"{name}[0x{at:x}]: {na} 0x{da[at]:02x}, {nb} 0x{db[at]:02x}"
        return f"{name}: {na} {x}, {nb} {y}"
    return None


def differences(labels, states_a: list[dict], states_b: list[dict], fields=STATE_FIELDS) -> list[str]:
    """``label: difference`` for every pair of states that differ."""
    return [f"{label}: {diff}" for label, a, b in zip(labels, states_a, states_b)
            if (diff := first_difference(a, b, fields))]


def without_ranges(state: dict, ranges: dict[str, list[tuple[int, int]]]) -> dict:
    """``state`` with the byte ranges ``ranges[memory]`` ([start, end) offsets into that memory's
    dump) zeroed: for the destinations a backend leaves undefined (a DMA transfer the bus
    answered with an error, docs/dma.md)."""
    out = dict(state)
    for name, spans in ranges.items():
        if name not in out or not spans:
            continue
        data = bytearray(_bytes(out[name]))
        for start, end in spans:
            data[max(0, start):max(0, min(end, len(data)))] = bytes(max(0, min(end, len(data)) - max(0, start)))
        out[name] = base64.b64encode(bytes(data)).decode("ascii")
    return out
