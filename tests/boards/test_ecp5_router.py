"""The ECP5 flow's nextpnr options: the router on nextpnr's command line (and from
`fenn-dma synth`), bad values refused, and a kept yosys netlist reused only for the
design it was built from. Fast: no tool runs."""
from __future__ import annotations

import argparse
import json

import pytest

from fenn_dma.boards import synth_cli
from fenn_dma.boards.ecp5 import (BOARDS, ROUTERS, SYNTH_JSON, SYNTH_KEY, BoardFlowError, board_config, build,
                                  default_router, nextpnr_argv)
from fenn_dma.rtl.config import SocConfig, profile


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("router", ROUTERS)
def test_nextpnr_command_line_carries_the_router(router):
    argv = nextpnr_argv("nextpnr-ecp5", BOARDS["ulx3s-85f"], target_mhz=25.0, seed=3, router=router)
    assert argv[0] == "nextpnr-ecp5" and "--85k" in argv
    assert _flag(argv, "--router") == router and argv.count("--router") == 1
    assert _flag(argv, "--seed") == "3" and _flag(argv, "--freq") == "25"
    assert _flag(argv, "--json") == SYNTH_JSON and _flag(argv, "--package") == "CABGA381"
    # A missed target is the report's "NOT met", not a failed build (nextpnr 0.11 exits 1 without it).
    assert "--timing-allow-fail" in argv


def test_bad_router_is_refused_naming_the_choices(tmp_path):
    with pytest.raises(BoardFlowError, match=r"router 'router3'.*router1, router2"):
        nextpnr_argv("nextpnr-ecp5", BOARDS["ulx3s-85f"], target_mhz=25.0, seed=1, router="router3")
    with pytest.raises(BoardFlowError, match=r"router 'heap'.*router1, router2"):
        build(SocConfig.from_spec(profile("ecp5")), tmp_path / "out", router="heap")
    assert not (tmp_path / "out").exists()      # refused before anything is written


def test_default_router_is_router2_for_the_vector_soc():
    assert default_router(board_config(SocConfig.from_spec(profile("ulx3s")))) == "router2"
    assert default_router(SocConfig.from_spec(profile("ecp5"))) == "router1"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    synth_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_synth_cli_passes_the_router_and_the_netlist(tmp_path):
    args = _parse("--profile", "ulx3s", "--dram", "litedram", "--router", "router2",
                  "--from-json", str(tmp_path / SYNTH_JSON), "-o", str(tmp_path))
    assert args.router == "router2" and args.from_json == tmp_path / SYNTH_JSON and args.dram == "litedram"
    assert _parse("-o", str(tmp_path)).router is None and _parse("-o", str(tmp_path)).from_json is None


def test_synth_cli_refuses_a_bad_router(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _parse("--router", "fast", "-o", str(tmp_path))
    err = capsys.readouterr().err
    assert "--router" in err and "'fast'" in err and "router1" in err and "router2" in err


def _kept_netlist(folder, key: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SYNTH_JSON).write_text("{}")
    (folder / "synth_stat.json").write_text("{}")
    (folder / SYNTH_KEY).write_text(json.dumps(key))


def test_a_kept_netlist_of_another_design_is_refused(tmp_path):
    config = SocConfig.from_spec(profile("ecp5"))
    key = {"board": "ulx3s-85f", "dram": "window", "dram_size": 0, "config": config.to_dict()}
    _kept_netlist(tmp_path / "kept", dict(key, config=dict(key["config"], full_m=not config.full_m)))
    with pytest.raises(BoardFlowError, match=r"built for another design \(config differ\)"):
        build(config, tmp_path / "out", from_json=tmp_path / "kept" / SYNTH_JSON)
    _kept_netlist(tmp_path / "kept2", dict(key, dram="litedram"))
    with pytest.raises(BoardFlowError, match=r"another design \(dram differ\)"):
        build(config, tmp_path / "out", from_json=tmp_path / "kept2" / SYNTH_JSON)


def test_a_missing_netlist_or_its_key_is_refused(tmp_path):
    config = SocConfig.from_spec(profile("ecp5"))
    with pytest.raises(BoardFlowError, match="no such file"):
        build(config, tmp_path / "out", from_json=tmp_path / "none" / SYNTH_JSON)
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / SYNTH_JSON).write_text("{}")
    (tmp_path / "bare" / "synth_stat.json").write_text("{}")
    with pytest.raises(BoardFlowError, match=f"no readable {SYNTH_KEY}"):
        build(config, tmp_path / "out", from_json=tmp_path / "bare" / SYNTH_JSON)


@pytest.mark.slow
def test_a_kept_netlist_places_and_routes_again_without_synthesis(tmp_path):
    """The small scalar SoC of test_ecp5_flow.py synthesised once (router1), then placed and
    routed again from the netlist the first build kept, with router2 (two nextpnr runs of
    minutes each; over 15 minutes in all at load 12 on two cores)."""
    from fenn_dma.boards.ecp5 import tools_missing
    from fenn_dma.boards.ecp5_report import BITSTREAM
    missing = tools_missing()
    if missing:
        pytest.skip(missing)
    config = SocConfig(imem_size=1024, dmem_size=1024)
    first = build(config, tmp_path / "first", router="router1", log=lambda msg: None)
    kept = tmp_path / "first" / SYNTH_JSON
    assert kept.stat().st_size > 100_000 and "synth" in first.seconds and first.router == "router1"
    assert "--router router1" in (tmp_path / "first" / "report.md").read_text()
    again = build(config, tmp_path / "again", router="router2", from_json=kept, log=lambda msg: None)
    assert "synth" not in again.seconds and again.router == "router2"
    assert (tmp_path / "again" / BITSTREAM).stat().st_size > 100_000
    assert "router2" in (tmp_path / "again" / "nextpnr.log").read_text()
    assert again.yosys_cells == first.yosys_cells and again.fmax_mhz["clk"] > 0
    assert json.loads((tmp_path / "again" / "report.json").read_text())["router"] == "router2"


def test_report_of_the_litedram_board_lists_its_io_cells():
    """The vector SoC with LiteDRAM: one clock (the SDRAM clock is the system clock through an
    ODDRX1F), the SDRAM's pins and IO registers in the summary, other used cells listed."""
    from fenn_dma.boards.ecp5_report import Ecp5Result, parse_nextpnr_report, summary
    utilisation = {"TRELLIS_COMB": {"used": 70000, "available": 83640}, "TRELLIS_FF": {"used": 10000, "available": 83640},
                   "DP16KD": {"used": 177, "available": 208}, "MULT18X18D": {"used": 35, "available": 156},
                   "TRELLIS_RAMW": {"used": 720, "available": 10455}, "TRELLIS_IO": {"used": 50, "available": 197},
                   "IOLOGIC": {"used": 12, "available": 128}, "SIOLOGIC": {"used": 30, "available": 69},
                   "DCCA": {"used": 1, "available": 56}, "EHXPLLL": {"used": 0, "available": 4}}
    report = {"fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 18.25, "constraint": 25.0}},
              "utilization": utilisation,
              "critical_paths": [{"from": "posedge $glbnet$clk$TRELLIS_IO_IN", "to": "posedge $glbnet$clk$TRELLIS_IO_IN",
                                  "path": [{"type": "clk-to-q", "from": {"cell": "vmem", "port": "CLKA"},
                                            "to": {"cell": "vmem", "port": "DOA0"}, "delay": 5.6},
                                           {"type": "routing", "from": {"cell": "vmem", "port": "DOA0"},
                                            "to": {"cell": "lut", "port": "A"}, "delay": 30.0},
                                           {"type": "setup", "from": {"cell": "lut", "port": "A"},
                                            "to": {"cell": "ff", "port": "DI"}, "delay": 0.2}]}]}
    achieved, constraint, used, path = parse_nextpnr_report(report)
    assert list(achieved) == ["clk"] and achieved["clk"] == 18.25
    table = summary(used, utilisation)
    assert table["IO"] == {"used": 50, "available": 197} and table["SIOLOGIC"]["used"] == 30
    result = Ecp5Result(board="ulx3s-85f", part="ULX3S 85F", profile="ulx3s", config={}, fmax_mhz=achieved,
                        target_mhz=constraint, timing_met=False, utilisation=used, summary=table, yosys_cells={},
                        bram_estimate={}, critical_path=path, seconds={"pnr": 1.0}, router="router2")
    markdown = result.to_markdown()
    assert "| IO | 50 | 197 |" in markdown and "| IOLOGIC | 12 | 128 |" in markdown
    assert "Other cells nextpnr placed: DCCA 1 / 56." in markdown and "EHXPLLL" not in markdown
    assert "| clk | 18.2 | 25 |" in markdown
    assert "vmem.CLKA -> ff.DI, 35.8 ns (5.8 ns in cells" in markdown and "`--router router2`" in markdown
