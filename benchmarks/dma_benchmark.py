"""The DMA's achieved bandwidth, measured on the RTL (the SoC with the DMA on the native
harness, its DRAM the one timing model of fenn_dma.dram), against the port's peak, at the
"short" and the "ddr4" latency; the ISS's prediction beside it (the same cycles: the tests
in tests/rtl_dma check that on every program).

For each channel (MM2S, S2MM, both at once) and transfer size: one transfer started by the
core and polled to idle, timed with mcycle (start to the first idle read, so the poll loop's
4-cycle granularity is included), and a sustained figure: 8 transfers back to back, each
started as soon as the previous one is seen idle.

    .venv/bin/python benchmarks/dma_benchmark.py      # builds the SoC once (minutes), then seconds
    .venv/bin/python benchmarks/dma_benchmark.py --latencies ddr4 --stalls 0 64 128 192

``--stalls``: the DRAM's back-pressure levels (fenn_dma.dram DramTiming.stall, /256 of each
channel's cycles; the stall pattern's ``--seed``), part of the model: the ISS predicts those
cycles too.
"""
from __future__ import annotations

import argparse
import time

from fenn_dma.dram import PRESETS, DramTiming
from fenn_dma.isa.assembler import assemble
from fenn_dma.sim import DmaModel, MachineConfig
from fenn_dma.verify.runner import build_soc, iss_state, run_many_on_rtl, soc_config

MACHINE = MachineConfig(imem_size=8192, dmem_size=16384, vmem_size=65536, llm_size=256, dram_size=1 << 20)
SIZES = (64, 256, 1024, 4096, 16384, 32704)
REPEATS = 8
CHANNELS = ("mm2s", "s2mm", "both")


def program(channel: str, size: int, repeats: int) -> str:
    """``repeats`` transfers of ``size`` bytes back to back; a0 = cycles of the first, a1 = of all."""
    chans = ("mm2s", "s2mm") if channel == "both" else (channel,)
    regs = {"mm2s": (0, 0), "s2mm": (32768, 1 << 19)}   # (VMEM, DRAM) of each channel: disjoint
    text = "csrwi mcountinhibit, 0\n"
    for c in chans:
        vmem, dram = regs[c]
        src, dst = (dram, vmem) if c == "mm2s" else (vmem, dram)
        text += f"li t0, {src}\ncsrw {c}_src_addr, t0\nli t0, {dst}\ncsrw {c}_dst_addr, t0\n" \
                f"li t0, {size}\ncsrw {c}_count, t0\n"
    text += f"li s2, {repeats}\ncsrr s0, mcycle\n"
    text += "1:\n" + "".join(f"csrwi {c}_control, 1\n" for c in chans)
    for k, c in enumerate(chans):
        text += f"2{k}: csrr t1, {c}_status\nandi t1, t1, 12\nbnez t1, 2{k}b\n"
    text += "bnez a0, 3f\ncsrr a0, mcycle\nsub a0, a0, s0\n3: addi s2, s2, -1\nbnez s2, 1b\n"
    text += "csrr a1, mcycle\nsub a1, a1, s0\necall\n"
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latencies", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--stalls", nargs="+", type=int, default=[0], metavar="LEVEL",
                    help="DRAM back-pressure levels, 0..255 (/256 of each channel's cycles; default 0)")
    ap.add_argument("--seed", type=int, default=1, help="the stall pattern's seed (default 1)")
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), metavar="BYTES")
    args = ap.parse_args()
    for stall in args.stalls:
        DramTiming(latency=1, stall=stall, seed=args.seed)        # a clear error for a bad level or seed
    t0 = time.perf_counter()
    soc = build_soc(soc_config(MACHINE, vector=True, dma=True))
    print(f"SoC with the DMA ({soc.config.dma_data_bits}-bit AXI4 port, peak "
          f"{soc.config.dma_data_bits // 8} bytes/cycle a channel), built/loaded in {time.perf_counter() - t0:.0f} s")
    cases = [(c, s) for c in CHANNELS for s in args.sizes]
    programs = [assemble(program(c, s, REPEATS)) for c, s in cases]
    for name, stall in [(n, st) for n in args.latencies for st in args.stalls]:
        timing = DramTiming.preset(name).with_stall(stall, args.seed)
        cfg = MACHINE.with_(dma=DmaModel(timing))
        t0 = time.perf_counter()
        rtl = run_many_on_rtl(programs, cfg, soc=soc, dump_mem=False)
        iss = [iss_state(p, cfg) for p in programs]
        agree = all(a["x"][10:12] == b["x"][10:12] and a["cycles"] == b["cycles"] for a, b in zip(iss, rtl))
        print(f"\nDRAM {name}: {timing.describe()}; measured on the RTL in {time.perf_counter() - t0:.1f} s "
              f"(ISS prediction {'identical' if agree else 'DIFFERENT'})")
        print(f"{'channel':<8} {'bytes':>6} | {'cycles':>7} {'B/cycle':>8} {'of peak':>8} | "
              f"{'sustained B/cycle':>17} {'of peak':>8}")
        for (channel, size), state in zip(cases, rtl):
            first, total = state["x"][10], state["x"][11]
            peak = timing.beat_bytes * (2 if channel == "both" else 1)
            moved = size * (2 if channel == "both" else 1)
            bw, sus = moved / first, moved * REPEATS / total
            print(f"{channel:<8} {size:6d} | {first:7d} {bw:8.2f} {bw / peak:8.0%} | {sus:17.2f} {sus / peak:8.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
