"""The ULX3S profile's memories map to ECP5 block RAM (DP16KD), not flip-flops:
the front half of `synth_ecp5` (up to memory_libmap) on the on-chip DRAM window,
the LLMs and VMEM, with the collision rules the ECP5 flow builds them with
(``board_config``: every read transparent to the other port's write, since
DP16KD leaves a collision undefined). With the KV260's URAM rules the same
memories are flip-flops, so the rules are what maps them."""
from __future__ import annotations

import pytest

from fenn_dma.arch import profile
from fenn_dma.boards.axi_ram import AxiRam
from fenn_dma.boards.ecp5 import ECP5_COLLISIONS, board_config
from fenn_dma.rtl.config import URAM_COLLISIONS, SocConfig
from fenn_dma.rtl.vector import VectorConfig
from fenn_dma.rtl.vector.llm import LaneLocalMemory
from fenn_dma.rtl.vector.vmem import VectorMemory

DP16KD = "$__DP16KD_"
ULX3S = profile("ulx3s")
SYNTH = "synth_ecp5"


def test_the_ecp5_flow_builds_the_vector_memories_with_transparent_reads():
    config = board_config(SocConfig.from_spec(ULX3S))
    assert config.collisions == ECP5_COLLISIONS != URAM_COLLISIONS
    assert VectorConfig.from_machine(config).collisions == ECP5_COLLISIONS
    assert SocConfig.from_spec(ULX3S).collisions == URAM_COLLISIONS     # elsewhere (sim, KV260): URAM's


def test_dram_window_is_true_dual_port_block_ram(memory_mapping):
    mapped = memory_mapping(AxiRam(ULX3S.dram_size, 32, 32), "dram", SYNTH)
    assert mapped == {"dram.mem": DP16KD}


@pytest.mark.parametrize("collisions, cell", [(ECP5_COLLISIONS, DP16KD), (URAM_COLLISIONS, "FF")])
def test_each_lane_local_memory_is_block_ram_with_the_ecp5_rules(memory_mapping, collisions, cell):
    config = VectorConfig(lanes=4, llm_bytes=ULX3S.llm_size, collisions=collisions)
    mapped = memory_mapping(LaneLocalMemory(config), "llm", SYNTH)
    assert mapped == {f"llm.lane{i}": cell for i in range(config.lanes)}


def test_vmem_is_block_ram_with_the_ecp5_rules(memory_mapping):
    """A 256-row VMEM (the ulx3s profile's 2048 rows under -m slow)."""
    mapped = memory_mapping(VectorMemory(VectorConfig(vmem_bytes=256 * 64, collisions=ECP5_COLLISIONS)), "vmem",
                            SYNTH)
    assert mapped == {"vmem.mem": DP16KD}


@pytest.mark.slow
def test_ulx3s_vmem_is_block_ram(memory_mapping):
    mapped = memory_mapping(VectorMemory(VectorConfig(vmem_bytes=ULX3S.vmem_size, collisions=ECP5_COLLISIONS)),
                            "vmem", SYNTH)
    assert mapped == {"vmem.mem": DP16KD}
