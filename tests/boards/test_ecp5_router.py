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
