"""Yosys maps the SoC's memories to RAM blocks, not flip-flops: the front half of
`synth_xilinx -family xcup -uram` (up to memory_libmap) on each memory's owner.
A memory described with one port too many is built from flip-flops, which made
the whole-SoC synthesis run for hours (benchmarks/synth_report.py)."""
from __future__ import annotations

import pytest

from fenn_dma.rtl.config import profile
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.vector import VectorConfig
from fenn_dma.rtl.vector.llm import LaneLocalMemory
from fenn_dma.rtl.vector.vmem import VectorMemory


XCUP = "synth_xilinx -family xcup -uram"


def test_imem_and_dmem_are_true_dual_port_block_rams(memory_mapping):
    mapped = memory_mapping(Soc(profile("sim-small-scalar")), "fenn_soc", XCUP)
    assert mapped["fenn_soc.imem"] == "$__XILINX_BLOCKRAM_TDP_"
    assert mapped["fenn_soc.dmem"] == "$__XILINX_BLOCKRAM_TDP_"
    assert "FF" not in mapped.values(), mapped


@pytest.mark.slow
def test_vmem_maps_to_uram(memory_mapping):
    kv260 = profile("kv260")
    mapped = memory_mapping(VectorMemory(VectorConfig(vmem_bytes=kv260.vmem_size)), "vmem", XCUP)
    assert mapped == {"vmem.mem": "$__XILINX_URAM_"}


def test_each_lane_local_memory_is_a_block_ram(memory_mapping):
    config = VectorConfig(lanes=4)
    mapped = memory_mapping(LaneLocalMemory(config), "llm", XCUP)
    assert mapped == {f"llm.lane{i}": "$__XILINX_BLOCKRAM_TDP_" for i in range(config.lanes)}
