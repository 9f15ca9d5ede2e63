"""The open-source ECP5 flow (boards/ecp5.py): board description, report parsing,
refusals, and one real run (yosys + nextpnr + ecppack) on a small SoC."""
from __future__ import annotations

import json
import re

import pytest

from fenn_dma.boards.ecp5 import BOARDS, TOP, BoardFlowError, build, parse_nextpnr_report, tools_missing
from fenn_dma.rtl.config import SocConfig, profile


def test_lpf_places_every_top_level_port():
    board = BOARDS["ulx3s-85f"]
    lpf = board.lpf()
    placed = dict(re.findall(r'LOCATE COMP "([^"]+)" SITE "([^"]+)";', lpf))
    expected = {"clk", "uart_rx", "uart_tx"} | {f"led[{i}]" for i in range(8)}
    assert set(placed) == expected
    assert len(set(placed.values())) == len(placed), "two ports on one pin"
    assert f'FREQUENCY PORT "clk" {board.clock_mhz:g} MHZ;' in lpf


def test_report_parsing_takes_fmax_and_used_cells():
    report = {"fmax": {"$glbnet$clk": {"achieved": 61.5, "constraint": 25.0}},
              "utilization": {"DP16KD": {"used": 20, "available": 208},
                              "EHXPLLL": {"used": 0, "available": 4}}}
    achieved, constraint, used = parse_nextpnr_report(report)
    assert (achieved, constraint) == (61.5, 25.0)
    assert used == {"DP16KD": {"used": 20, "available": 208}}
    with pytest.raises(BoardFlowError, match="Fmax"):
        parse_nextpnr_report({"fmax": {}, "utilization": {}})


def test_refuses_what_cannot_fit(tmp_path):
    with pytest.raises(BoardFlowError, match="vector unit"):
        build(profile("kv260"), tmp_path)
    with pytest.raises(BoardFlowError, match="DP16KD"):
        build(SocConfig(imem_size=1 << 20, dmem_size=1 << 20), tmp_path)
    with pytest.raises(BoardFlowError, match="unknown ECP5 board"):
        build(profile("ecp5"), tmp_path, board="icebreaker")
    assert not any(tmp_path.iterdir()), "a refused build must leave nothing behind"


@pytest.mark.slow
def test_flow_builds_a_bitstream_and_a_report(tmp_path):
    """About 1.5 minutes: synthesis, place and route of a SoC with 1 KiB memories."""
    missing = tools_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path / "ulx3s"
    config = SocConfig(imem_size=1024, dmem_size=1024)
    result = build(config, out, log=lambda msg: None)
    bit = out / f"{TOP}.bit"
    assert bit.stat().st_size > 100_000               # an 85F bitstream, compressed, is several 100 kB
    report = json.loads((out / "report.json").read_text())
    assert report["config"] == config.to_dict()
    assert report["fmax_mhz"] == result.fmax_mhz > 0
    assert report["timing_met"] == (report["fmax_mhz"] >= report["target_mhz"])
    used = report["utilisation"]
    assert used["DP16KD"]["used"] >= 4                # IMEM and DMEM are block RAMs...
    assert used["TRELLIS_FF"]["used"] < 5_000         # ...not 16 Kibit of flip-flops
    assert used["MULT18X18D"]["used"] >= 1            # `mul` uses the DSP multipliers
    assert not [p for p in out.iterdir() if p.name.startswith(".ecp5-")], "scratch folder left behind"
