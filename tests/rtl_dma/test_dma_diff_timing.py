"""DMA programs (start a transfer, read its STATUS every cycle around the model's phase
changes, poll to idle) on the native RTL harness and on the ISS, at both named DRAM
latencies: every STATUS read, the data, the stop and the cycles agree, so the ISS's timing
model (fenn_dma.dram: A_R, A_W, their error variants, A_ZERO) is the RTL's, cycle for cycle,
over counts, alignments, 4 KiB crossings, bus errors and both channels at once."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.verify.runner import iss_state, run_many_on_rtl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_diff import LATENCIES, compare, dma_soc, machine  # noqa: E402,F401

pytestmark = pytest.mark.rtl
READS = 20                 # x12..x31: one STATUS read a cycle
STATUS = {"mm2s": "mm2s_status", "s2mm": "s2mm_status"}


def program(ch: str, src: int, dst: int, count: int, delay: int, load_use: bool = False,
            other: tuple | None = None) -> str:
    """Start ``ch`` (and ``other`` = (ch, src, dst, count) just after), wait about ``delay``
    cycles, read the STATUS READS times, poll every channel to idle."""
    def setup(c, s, d, n):
        return f"li t0, {s}\ncsrw {c}_src_addr, t0\nli t0, {d}\ncsrw {c}_dst_addr, t0\nli t0, {n}\ncsrw {c}_count, t0\n"
    text = setup(ch, src, dst, count) + (setup(*other) if other else "")
    text += "lw t1, 0(zero)\n" if load_use else ""
    text += f"csrw {ch}_control, t1\n" if load_use else f"csrwi {ch}_control, 1\n"
    if other:
        text += f"csrwi {other[0]}_control, 1\n"
    if delay >= 6:
        text += f"li t2, {delay // 3}\n1: addi t2, t2, -1\nbnez t2, 1b\n"
    text += "".join(f"csrr x{12 + k}, {STATUS[ch]}\n" for k in range(READS))
    for c in {ch, other[0] if other else ch}:
        text += f"2: csrr t1, {STATUS[c]}\nandi t1, t1, 12\nbnez t1, 2b\n"
    return text + "ecall\n"


def iss_end(cfg, ch: str, src: int, dst: int, count: int) -> int:
    """The ISS's cycles from a transfer's start to its final status (where to look)."""
    from fenn_dma.sim import Machine
    from fenn_dma.sim.state import DMA
    m = Machine(cfg)
    c = 0 if ch == "mm2s" else 1
    for reg, value in zip(("src", "dst", "count"), (src, dst, count)):
        m.dma_channels.write(c, reg, value, 0)
    m.dma_channels.write(c, "control", 1, 0)
    return int(m.dma[c, DMA["t_done"]])


def cases(cfg):
    """(label, program text, undefined ranges) over the channels, counts, DRAM alignments and
    4 KiB crossings, bus errors, the delay before the reads (at the model's two phase changes)."""
    base, size = cfg.dram_base, cfg.dram_size
    err = cfg.dram_error_regions[0][0]
    t = cfg.dma.dram
    out = []
    for ch in ("mm2s", "s2mm"):
        for count in (0, 64, 128, 192, 256, 320, 1024, 4096):
            for dram in (base + 0x1000, base + 0x2000 - 64, base + 0x3000 - 192):
                vmem = 64 * 8
                src, dst = (dram, vmem) if ch == "mm2s" else (vmem, dram)
                first, done = t.mm2s_cycles(count) if ch == "mm2s" else t.s2mm_cycles(count)
                for delay in sorted({max(0, first - READS // 2), max(0, done - READS // 2)}):
                    out.append((f"{ch} {count} B at {dram:#x}, reads from +{delay}",
                                program(ch, src, dst, count, delay), {}))
        # Bus errors: past the window, across its end, into and across the error region.
        # Long failing transfers: the engine issues up to 7 bursts after the failing one, then no
        # more (DramTiming.error_beats); err - 1088: a short burst before the region, and a range
        # that leaves the window after it (the region's slave error comes first).
        for dram, count in ((base + size, 64), (base + size - 64, 128), (err, 256), (err - 64, 256),
                            (err - 1024, 2048), (err - 256, 2304), (err - 256, 2560), (err - 1024, 4096),
                            (err - 1088, 7936), (base + size - 2048, 4096), (base - 4096, 64)):
            vmem = 64 * 100 if count <= 1024 else 0
            src, dst = (dram, vmem) if ch == "mm2s" else (vmem, dram)
            first, _ = t.mm2s_cycles(count, True) if ch == "mm2s" else t.s2mm_cycles(count, True)
            done = iss_end(cfg, ch, src, dst, count)
            undefined = ({"vmem": [(vmem, vmem + count)]} if ch == "mm2s" else
                         {"dram": [(dram - base, dram - base + count)]})
            for delay in sorted({max(0, first - READS // 2), max(0, done - READS // 2)}):
                out.append((f"{ch} {count} B at {dram:#x} (bus error), reads from +{delay}",
                            program(ch, src, dst, count, delay), undefined))
        # The start from a just-loaded register: a load-use stall before the CSR write.
        src, dst = (base, 0) if ch == "mm2s" else (0, base)
        _, done = t.mm2s_cycles(256) if ch == "mm2s" else t.s2mm_cycles(256)
        out.append((f"{ch} 256 B started after a load-use stall",
                    program(ch, src, dst, 256, max(0, done - READS // 2), load_use=True), {}))
    # Both channels at once, on disjoint ranges.
    for count in (64, 512, 2048):
        _, done = t.mm2s_cycles(count)
        out.append((f"mm2s and s2mm {count} B at once",
                    program("mm2s", base, 0, count, max(0, done - READS // 2),
                            other=("s2mm", 4096, base + 0x8000, count)), {}))
    return out


@pytest.mark.parametrize("latency", LATENCIES)
def test_dma_timing_matches_the_iss(dma_soc, latency):
    cfg = machine(latency)
    listed = cases(cfg)
    labels = [label for label, _, _ in listed]
    programs = [assemble(text) for _, text, _ in listed]
    for p in programs:
        p.images["dmem"] = (1).to_bytes(4, "little")          # the load-use start's CONTROL value
    dram = (np.arange(cfg.dram_size) * 7 % 251).astype(np.uint8).tobytes()
    iss = [iss_state(p, cfg, dram=dram) for p in programs]
    rtl = run_many_on_rtl(programs, cfg, soc=dma_soc, dram_images=[dram] * len(programs))
    failures = compare(labels, iss, rtl, [u for _, _, u in listed])
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:25])
    # The programs saw every phase: starting, transferring and each final status.
    seen = {v for s in iss for v in s["x"][12:32]}
    assert {4, 8, 2 | 128, 2 | 32, 2 | 64} <= seen, seen


def test_back_pressure_is_in_the_model(dma_soc):
    """The DRAM's deterministic back-pressure (ARREADY/AWREADY/WREADY low, R and B held back,
    1 cycle in 4, fenn_dma.dram.stall_draw of the cycle): every field, the cycles included, the
    ISS's (which steps the engine's rules against the same stalls); the harness's protocol checks
    pass on every burst. More levels and random programs: test_dma_diff_stalls.py."""
    cfg = machine("short")
    listed = cases(cfg)
    programs = [assemble(text) for _, text, _ in listed]
    for p in programs:
        p.images["dmem"] = (1).to_bytes(4, "little")
    dram = (np.arange(cfg.dram_size) * 11 % 253).astype(np.uint8).tobytes()
    plain = [iss_state(p, cfg, dram=dram) for p in programs]
    cfg = cfg.with_(dma=type(cfg.dma)(cfg.dma.dram.with_stall(64, seed=2)))
    iss = [iss_state(p, cfg, dram=dram) for p in programs]
    rtl = run_many_on_rtl(programs, cfg, soc=dma_soc, dram_images=[dram] * len(programs))
    failures = compare([label for label, _, _ in listed], iss, rtl, [u for _, _, u in listed])
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:25])
    later = sum(b["cycles"] > a["cycles"] or b["x"][12:32] != a["x"][12:32] for a, b in zip(plain, rtl))
    assert later > len(programs) // 2, f"only {later} of {len(programs)} saw the back-pressure"


def test_bad_dram_jobs_are_refused(dma_soc):
    from fenn_dma.verify.rtl_harness import RtlJob, RtlSimError
    from fenn_dma.verify.rtl_native import run_batch_native
    ok = dict(imem=assemble("ecall").images["imem"], dram_size=4096, dram_base=0x10000)
    for bad, match in ((dict(dram=b"x" * 5000), "does not fit in dram_size"),
                       (dict(dram_latency=0), "dram_latency"),
                       (dict(dram_latency=500), "streams without bubbles"),
                       (dict(dram_stall=256), "back-pressure"),
                       (dict(dram_base=0xFFFFF000, dram_size=8192), "32-bit address space"),
                       (dict(dram_errors=((10, 5),)), "not a")):
        with pytest.raises(RtlSimError, match=match):
            run_batch_native(dma_soc.config, [RtlJob(**{**ok, **bad})], soc=dma_soc)
    assert run_batch_native(dma_soc.config, [RtlJob(**ok)], soc=dma_soc)[0]["dram"] == "00" * 4096
