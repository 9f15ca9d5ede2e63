"""The ECP5 flow's report: utilisation, Fmax per clock and the critical path from
nextpnr-ecp5's ``--report`` JSON, the yosys cell classes (``yosys_stat``), and how
to program the board; written as ``report.json`` and ``report.md``."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from fenn_dma.errors import FennError

# The summary's resources: nextpnr cell type -> the name the report gives it.
SUMMARY = {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "DP16KD": "DP16KD", "MULT18X18D": "MULT18",
           "TRELLIS_RAMW": "LUTRAM", "TRELLIS_IO": "IO", "IOLOGIC": "IOLOGIC", "SIOLOGIC": "SIOLOGIC"}
# IO: the pins (LiteDRAM's SDRAM adds 39); IOLOGIC/SIOLOGIC: IO registers and DDR cells (LiteDRAM
# registers every SDRAM pin in its IO, and the SDRAM clock is an ODDRX1F).
BITSTREAM = "fenn_board.bit"
# Programming the board (not run here: no board is attached to this machine).
PROGRAM = {
    "openFPGALoader (SRAM, lost at power-off)": f"openFPGALoader --board ulx3s {BITSTREAM}",
    "openFPGALoader (SPI flash, kept)": f"openFPGALoader --board ulx3s --write-flash {BITSTREAM}",
    "fujprog (SRAM)": f"fujprog {BITSTREAM}",
    "fujprog (SPI flash)": f"fujprog -j flash {BITSTREAM}",
}


class ReportError(FennError):
    """nextpnr's report lacks what the flow needs."""


def clock_name(net: str) -> str:
    """The design's clock of a nextpnr clock net: ``posedge $glbnet$clk$TRELLIS_IO_IN`` -> ``clk``."""
    net = net.split(" ")[-1].removeprefix("$glbnet$")
    return net.split("$")[0] or net


@dataclass
class CriticalPath:
    clock: str
    start: str                 # cell.port the path starts at
    end: str
    delay_ns: float
    logic_ns: float            # of which in cells (the rest is routing)
    levels: int                # logic steps along it

    @classmethod
    def from_nextpnr(cls, entry: dict) -> "CriticalPath":
        steps = entry.get("path") or []
        if not steps:
            raise ReportError("a critical path of nextpnr's report has no steps")

        def where(point: dict) -> str:
            return f"{point.get('cell', '?')}.{point.get('port', '?')}"
        logic = [s for s in steps if s.get("type") in ("logic", "clk-to-q", "setup")]
        return cls(clock=clock_name(str(entry.get("to") or entry.get("from") or "?")), start=where(steps[0].get("from", {})),
                   end=where(steps[-1].get("to", {})), delay_ns=round(sum(float(s.get("delay", 0)) for s in steps), 3),
                   logic_ns=round(sum(float(s.get("delay", 0)) for s in logic), 3),
                   levels=sum(1 for s in steps if s.get("type") == "logic"))


@dataclass
class Ecp5Result:
    board: str
    part: str
    profile: str
    config: dict
    fmax_mhz: dict[str, float]                  # per clock
    target_mhz: dict[str, float]
    timing_met: bool
    utilisation: dict[str, dict[str, int]]      # nextpnr cell type -> used, available
    summary: dict[str, dict[str, int]]          # LUT, FF, DP16KD, MULT18, LUTRAM
    yosys_cells: dict[str, int]                 # yosys' cell classes before placement
    bram_estimate: dict[str, int]
    critical_path: CriticalPath | None
    seconds: dict[str, float]
    router: str = ""                            # nextpnr's --router
    program: dict[str, str] = field(default_factory=lambda: dict(PROGRAM))
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def to_markdown(self) -> str:
        lines = [f"# FeNN-DMA on the {self.part}", "",
                 f"Profile `{self.profile}`" + (f", nextpnr `--router {self.router}`" if self.router else "")
                 + "; seconds per step: "
                 + ", ".join(f"{k} {v:g}" for k, v in self.seconds.items()), "",
                 "| resource | used | available |", "|---|---|---|"]
        lines += [f"| {name} | {n['used']} | {n['available']} |" for name, n in self.summary.items()]
        others = {cell: n for cell, n in self.utilisation.items() if cell not in SUMMARY}
        if others:
            lines += ["", "Other cells nextpnr placed: "
                      + ", ".join(f"{cell} {n['used']} / {n['available']}" for cell, n in others.items()) + "."]
        lines += ["", "| clock | Fmax (MHz) | target (MHz) |", "|---|---|---|"]
        lines += [f"| {c} | {f:.1f} | {self.target_mhz.get(c, 0):g} |" for c, f in self.fmax_mhz.items()]
        lines += ["", f"Timing {'met' if self.timing_met else 'NOT met'}."]
        if self.critical_path:
            p = self.critical_path
            lines += ["", f"Critical path ({p.clock}): {p.start} -> {p.end}, {p.delay_ns} ns "
                      f"({p.logic_ns} ns in cells, {p.levels} logic levels; the rest routing)."]
        lines += ["", "Program the board (not run by the flow):", ""]
        lines += [f"- {what}: `{cmd}`" for what, cmd in self.program.items()]
        return "\n".join(lines) + "\n"


def parse_nextpnr_report(report: dict) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, int]],
                                                CriticalPath | None]:
    """(achieved MHz per clock, constraint MHz per clock, utilisation, the slowest critical path)."""
    fmax = report.get("fmax", {})
    if not fmax:
        raise ReportError("nextpnr's report has no Fmax entry (no clock was constrained?)")
    clock = {clock_name(name): v for name, v in fmax.items()}
    achieved = {c: round(float(v["achieved"]), 2) for c, v in clock.items()}
    constraint = {c: float(v["constraint"]) for c, v in clock.items()}
    used = {cell: {"used": int(v["used"]), "available": int(v["available"])}
            for cell, v in report.get("utilization", {}).items() if v.get("used")}
    paths = [CriticalPath.from_nextpnr(p) for p in report.get("critical_paths", []) if p.get("path")]
    return achieved, constraint, used, max(paths, key=lambda p: p.delay_ns, default=None)


def summary(used: dict[str, dict[str, int]], available: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The summary's resources (0 used where nextpnr placed none)."""
    out = {}
    for cell, name in SUMMARY.items():
        if cell in used:
            out[name] = used[cell]
        elif cell in available:
            out[name] = {"used": 0, "available": available[cell]["available"]}
    return out
