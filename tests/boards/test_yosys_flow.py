"""The synthesis scripts of boards/yosys_stat.py keep the design's hierarchy through the
word-level passes and flatten before memory mapping: `share` runs on each instance's
own module (as it does on each vector lane), the result is one flat module, and on a
small two-"lane" design it has the cells the flat-from-the-start script gives but for
LUTs within 2 % (xcup: 203 against 202; the word-level passes do not see across the
lanes' ports, the LUT mapper after flattening does)."""

import json
import re
import subprocess

import pytest
from amaranth import Module, Mux
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.boards.yosys_stat import ECP5, XCUP, XCUP_SYNTH, cells_of, classify, ecp5_script, xcup_script


class Lane(wiring.Component):
    """A multiply and two left shifts, of which an op bit picks one shift: `share` merges them."""
    a: In(16)
    b: In(16)
    op: In(2)
    y: Out(32)

    def elaborate(self, platform):
        m = Module()
        shifted = Mux(self.op[1], self.a << self.b[:4], (self.a ^ self.b) << self.b[4:8])
        m.d.sync += self.y.eq(Mux(self.op[0], self.a * self.b, shifted))
        return m


class TwoLanes(wiring.Component):
    a: In(16)
    b: In(16)
    op: In(2)
    y: Out(64)

    def elaborate(self, platform):
        m = Module()
        for i in range(2):
            lane = m.submodules[f"lane{i}"] = Lane()
            m.d.comb += [lane.a.eq(self.a + i), lane.b.eq(self.b), lane.op.eq(self.op), self.y[32 * i:][:32].eq(lane.y)]
        return m


def _synth(yosys: str, tmp_path, name: str, script: str):
    work = tmp_path / name
    work.mkdir()
    (work / "d.il").write_text(rtlil.convert(TwoLanes(), name="top"))
    subprocess.run([yosys, "-q", "-l", "y.log", "-p", f"read_rtlil d.il; {script}; tee -q -o s.json stat -json"],
                   check=True, cwd=work)
    return json.loads((work / "s.json").read_text()), (work / "y.log").read_text()


@pytest.mark.parametrize("family", ["xcup", "ecp5"])
def test_share_runs_per_lane_then_the_design_is_flattened(yosys, tmp_path, family):
    if family == "xcup":
        late, flat, classes = xcup_script("top"), f"{XCUP_SYNTH} -flatten -top top", XCUP
    else:
        late, flat, classes = ecp5_script("top", "top.json"), "synth_ecp5 -top top", ECP5
    stat, log = _synth(yosys, tmp_path, "late", late)
    before_flatten = log[:log.index("Executing FLATTEN pass")]
    for i in range(2):       # each lane's two shifts merged in the lane's own module, before flattening
        assert re.search(rf"Removing 2 cells in module top\.lane{i}:", before_flatten), f"lane{i} not shared"
    assert [m for m in stat["modules"] if not m.startswith("\\$")] == ["\\top"], "not flattened"
    flat_stat, _ = _synth(yosys, tmp_path, "flat", flat)
    late_cells, flat_cells = classify(cells_of(stat), classes), classify(cells_of(flat_stat), classes)
    assert abs(late_cells.pop("LUT") - flat_cells["LUT"]) <= 0.02 * flat_cells.pop("LUT")
    assert late_cells == flat_cells
    if family == "ecp5":
        assert (tmp_path / "late" / "top.json").stat().st_size > 0
