"""The open-source ECP5 flow (boards/ecp5.py): board description, report parsing,
refusals, the ULX3S profile's block-RAM budget, and real runs (yosys + nextpnr +
ecppack) on a small scalar SoC and, under -m slow, the ULX3S vector profile."""
from __future__ import annotations

import json
import re

import pytest

from fenn_dma.arch import profile as machine
from fenn_dma.boards.ecp5 import BOARDS, BoardFlowError, board_config, bram_estimate, build, tools_missing
from fenn_dma.boards.ecp5_report import BITSTREAM, PROGRAM, ReportError, parse_nextpnr_report
from fenn_dma.rtl.config import SocConfig, profile


def test_lpf_places_every_top_level_port():
    board = BOARDS["ulx3s-85f"]
    lpf = board.lpf()
    placed = dict(re.findall(r'LOCATE COMP "([^"]+)" SITE "([^"]+)";', lpf))
    expected = {"clk", "uart_rx", "uart_tx"} | {f"led[{i}]" for i in range(8)}
    assert set(placed) == expected
    assert len(set(placed.values())) == len(placed), "two ports on one pin"
    assert f'FREQUENCY PORT "clk" {board.clock_mhz:g} MHZ;' in lpf


def test_report_parsing_takes_fmax_per_clock_cells_and_the_critical_path():
    step = lambda kind, a, b, d: {"type": kind, "from": {"cell": a, "port": "Q"}, "to": {"cell": b, "port": "D"},
                                  "delay": d}
    report = {"fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 61.5, "constraint": 25.0},    # nextpnr 0.11's names
                       "$glbnet$por_clk": {"achieved": 300.0, "constraint": 25.0}},
              "utilization": {"DP16KD": {"used": 20, "available": 208},
                              "EHXPLLL": {"used": 0, "available": 4}},
              "critical_paths": [
                  {"from": "posedge $glbnet$clk$TRELLIS_IO_IN", "path": [step("clk-to-q", "imem", "n1", 5.8),
                                                        step("routing", "n1", "lut1", 1.0),
                                                        step("logic", "lut1", "ff", 0.4),
                                                        step("setup", "ff", "ff", 0.1)]},
                  {"from": "posedge $glbnet$por_clk", "path": [step("logic", "a", "b", 1.0)]}]}
    achieved, constraint, used, path = parse_nextpnr_report(report)
    assert achieved == {"clk": 61.5, "por_clk": 300.0} and constraint == {"clk": 25.0, "por_clk": 25.0}
    assert used == {"DP16KD": {"used": 20, "available": 208}}
    assert (path.clock, path.start, path.end, path.delay_ns, path.logic_ns, path.levels) == \
        ("clk", "imem.Q", "ff.D", 7.3, 6.3, 1)
    with pytest.raises(ReportError, match="Fmax"):
        parse_nextpnr_report({"fmax": {}, "utilization": {}})


def test_refuses_what_cannot_fit(tmp_path):
    with pytest.raises(BoardFlowError, match="needs a DRAM window"):
        build(profile("kv260"), tmp_path)
    with pytest.raises(BoardFlowError, match="must be 32 bits wide"):
        build(profile("ulx3s"), tmp_path, dram_size=32 * 1024)
    with pytest.raises(BoardFlowError, match="collisions = 'transparent' to map to DP16KD"):
        build(profile("ulx3s").with_(dma_data_bits=32), tmp_path, dram_size=32 * 1024)
    with pytest.raises(BoardFlowError, match=r"VMEM 256, LLM 64.*DP16KD block RAMs.*; ULX3S 85F .* has 208"):
        build(board_config(profile("kv260")), tmp_path, dram_size=32 * 1024)
    with pytest.raises(BoardFlowError, match="DP16KD"):
        build(SocConfig(imem_size=1 << 20, dmem_size=1 << 20), tmp_path)
    with pytest.raises(BoardFlowError, match="unknown ECP5 board"):
        build(profile("ecp5"), tmp_path, board="icebreaker")
    assert not any(tmp_path.iterdir()), "a refused build must leave nothing behind"


def test_ulx3s_profile_fits_the_block_ram_with_room_for_the_register_files():
    spec = machine("ulx3s")
    config = board_config(SocConfig.from_spec(spec))
    assert config.vector and config.dma and config.dma_data_bits == BOARDS["ulx3s-85f"].dram_data_bits == 32
    brams = bram_estimate(config, spec.dram_size)
    assert brams == {"IMEM": 8, "DMEM": 32, "VMEM": 64, "LLM": 64, "DRAM window": 16}
    assert sum(brams.values()) <= BOARDS["ulx3s-85f"].dp16kd - 24


def test_programming_commands_name_the_bitstream():
    assert all(BITSTREAM in cmd for cmd in PROGRAM.values())
    assert {cmd.split()[0] for cmd in PROGRAM.values()} == {"openFPGALoader", "fujprog"}


def _check_build(out, result, config) -> dict:
    bit = out / BITSTREAM
    assert bit.stat().st_size > 100_000               # an 85F bitstream, compressed, is several 100 kB
    report = json.loads((out / "report.json").read_text())
    assert report["config"] == config.to_dict()
    assert report["fmax_mhz"] == result.fmax_mhz and result.fmax_mhz["clk"] > 0
    assert report["timing_met"] == all(report["fmax_mhz"][c] >= report["target_mhz"][c] for c in report["fmax_mhz"])
    assert report["critical_path"]["delay_ns"] > 0
    markdown = (out / "report.md").read_text()
    assert "| DP16KD |" in markdown and "openFPGALoader --board ulx3s" in markdown
    assert not [p for p in out.iterdir() if p.name.startswith(".ecp5-")], "scratch folder left behind"
    return report


@pytest.mark.slow
def test_flow_builds_a_bitstream_and_a_report(tmp_path):
    """About 1.5 minutes: synthesis, place and route of a SoC with 1 KiB memories."""
    missing = tools_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path / "ulx3s"
    config = SocConfig(imem_size=1024, dmem_size=1024)
    result = build(config, out, log=lambda msg: None)
    report = _check_build(out, result, config)
    used = report["summary"]
    assert used["DP16KD"]["used"] >= 4                # IMEM and DMEM are block RAMs...
    assert used["FF"]["used"] < 5_000                 # ...not 16 Kibit of flip-flops
    assert used["MULT18"]["used"] >= 1                # `mul` uses the DSP multipliers
    assert report["yosys_cells"]["DP16KD"] == used["DP16KD"]["used"]


@pytest.mark.slow
def test_ulx3s_vector_profile_builds(tmp_path):
    """The vector SoC with the DMA and its DRAM window: about 35 minutes of yosys (flattened
    after its coarse passes, docs/boards.md "Synthesis script") and over half an hour of
    nextpnr on a shared two-core machine (both as WebAssembly). VMEM and the LLMs are
    block RAM (board_config's collision rules)."""
    missing = tools_missing()
    if missing:
        pytest.skip(missing)
    spec = machine("ulx3s")
    config = board_config(SocConfig.from_spec(spec))
    out = tmp_path / "ulx3s-vector"
    result = build(config, out, dram_size=spec.dram_size, log=lambda msg: None)
    report = _check_build(out, result, config)
    assert report["summary"]["DP16KD"]["used"] >= sum(bram_estimate(config, spec.dram_size).values())
    assert report["summary"]["MULT18"]["used"] >= 32               # a multiplier per lane
    assert report["summary"]["FF"]["used"] < 30_000                # VMEM alone would be 1 M flip-flops
