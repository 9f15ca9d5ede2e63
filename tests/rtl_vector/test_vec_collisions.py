"""The collision rules of VMEM and the LLMs (docs/vector_unit.md "Collisions"): what a read
returns when the other port writes the same row (word) in the same cycle, for the KV260's
URAM rules and the ECP5 flow's transparent ones."""
import pytest

from fenn_dma.rtl.config import COLLISIONS, TRANSPARENT_COLLISIONS, URAM_COLLISIONS
from fenn_dma.rtl.vector import VectorConfig
from fenn_dma.rtl.vector.llm import LaneLocalMemory
from fenn_dma.rtl.vector.vmem import VectorMemory
from fenn_dma.errors import FennError

OLD_ROW = int.from_bytes(bytes(range(64)), "little")
ROW = 5


@pytest.mark.parametrize("collisions", COLLISIONS)
def test_vmem_unit_read_while_ext_writes_the_row(simulate, collisions):
    dut = VectorMemory(VectorConfig(vmem_bytes=16 * 64, collisions=collisions))
    new_row = (1 << 512) - 1
    strobes = 0x0000_FFFF_0000_00FF                    # bytes 0-7 and 32-47
    merged = sum(((new_row if strobes >> b & 1 else OLD_ROW) >> (8 * b) & 0xFF) << (8 * b) for b in range(64))

    async def bench(ctx):
        ctx.set(dut.unit.addr, ROW)
        ctx.set(dut.unit.w_data, OLD_ROW)
        ctx.set(dut.unit.w_en, 1)
        await ctx.tick()
        ctx.set(dut.unit.w_en, 0)
        ctx.set(dut.unit.r_en, 1)                       # the unit reads row 5 ...
        ctx.set(dut.ext.addr, ROW)                      # ... while ext writes some of its bytes
        ctx.set(dut.ext.w_data, new_row)
        ctx.set(dut.ext.w_en, strobes)
        await ctx.tick()
        ctx.set(dut.unit.r_en, 0)
        ctx.set(dut.ext.w_en, 0)
        seen = ctx.get(dut.unit.r_data)
        assert seen == (merged if collisions == TRANSPARENT_COLLISIONS else OLD_ROW)
        ctx.set(dut.unit.r_en, 1)                       # either way the row holds the merge after
        await ctx.tick()
        assert ctx.get(dut.unit.r_data) == merged

    simulate(dut, bench, clocked=True)


@pytest.mark.parametrize("collisions", COLLISIONS)
def test_vmem_ext_read_sees_the_unit_write_under_both_rules(simulate, collisions):
    dut = VectorMemory(VectorConfig(vmem_bytes=16 * 64, collisions=collisions))

    async def bench(ctx):
        ctx.set(dut.unit.addr, ROW)
        ctx.set(dut.unit.w_data, OLD_ROW)
        ctx.set(dut.unit.w_en, 1)
        ctx.set(dut.ext.addr, ROW)
        ctx.set(dut.ext.r_en, 1)
        await ctx.tick()
        assert ctx.get(dut.ext.r_data) == OLD_ROW

    simulate(dut, bench, clocked=True)


@pytest.mark.parametrize("collisions", COLLISIONS)
def test_llm_reads_while_the_other_port_writes_the_word(simulate, collisions):
    dut = LaneLocalMemory(VectorConfig(lanes=2, llm_bytes=64, collisions=collisions))
    lane, word = 1, 3
    new = collisions == TRANSPARENT_COLLISIONS

    async def bench(ctx):
        ctx.set(dut.ext.lane, lane)                     # the host writes the word, the lane reads its high half
        ctx.set(dut.ext.addr, word)
        ctx.set(dut.ext.w_data, 0x1234_5678)
        ctx.set(dut.ext.w_en, 0b1111)
        ctx.set(dut.x_addr[lane], 2 * word + 1)
        ctx.set(dut.x_r_en, 1 << lane)
        await ctx.tick()
        ctx.set(dut.ext.w_en, 0)
        ctx.set(dut.x_r_en, 0)
        assert ctx.get(dut.w_r_data[lane]) == (0x1234 if new else 0)
        ctx.set(dut.x_addr[lane], 2 * word)             # the lane writes the low half, the host reads the word
        ctx.set(dut.x_w_data[lane], 0x4321)
        ctx.set(dut.x_w_en, 1 << lane)
        ctx.set(dut.ext.r_en, 1)
        await ctx.tick()
        ctx.set(dut.x_w_en, 0)
        assert ctx.get(dut.ext.r_data) == (0x1234_4321 if new else 0x1234_5678)

    simulate(dut, bench, clocked=True)


def test_unknown_rules_are_refused():
    with pytest.raises(FennError, match="collisions = 'bram'"):
        VectorConfig(collisions="bram")
    assert VectorConfig().collisions == URAM_COLLISIONS
