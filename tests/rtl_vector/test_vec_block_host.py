"""VectorBlock's host windows (VMEM and LLM), DMA row port and clear sequence."""
import numpy as np

from fenn_dma.isa.codec import encode
from fenn_dma.rtl.vector import ISS_FILL, VectorBlock, VectorConfig

CFG = VectorConfig(vmem_bytes=2048, llm_bytes=64)


async def _write(ctx, bus, word_addr, data, strb=0b1111):
    ctx.set(bus.addr, word_addr)
    ctx.set(bus.w_data, data)
    ctx.set(bus.w_strb, strb)
    ctx.set(bus.w_en, 1)
    await ctx.tick()
    ctx.set(bus.w_en, 0)


async def _read(ctx, bus, word_addr):
    ctx.set(bus.addr, word_addr)
    ctx.set(bus.r_en, 1)
    await ctx.tick()
    ctx.set(bus.r_en, 0)
    return ctx.get(bus.r_data)


def _merge(old, new, strb):
    mask = sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
    return (old & ~mask) | (new & mask)


def test_clear_then_host_windows(simulate, rng):
    dut = VectorBlock(CFG)
    vmem_words = CFG.vmem_bytes // 4
    llm_words = CFG.lanes * CFG.llm_bytes // 4

    async def bench(ctx):
        # Dirty some state first, then clear.
        ctx.set(dut.unit.regfile.mem.data[5], [7] * CFG.lanes)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        cycles = 0
        while ctx.get(dut.clearing):
            await ctx.tick()
            cycles += 1
        assert cycles == max(CFG.vmem_rows, CFG.llm_bytes // 4, 32)
        assert all(list(ctx.get(dut.unit.regfile.mem.data[r])) == [0] * CFG.lanes for r in range(32))
        fill_word = ISS_FILL * 0x10001
        for w in range(0, vmem_words, 7):
            assert await _read(ctx, dut.host_vmem, w) == fill_word, f"VMEM word {w} after clear"
        for w in range(0, llm_words, 5):
            assert await _read(ctx, dut.host_llm, w) == fill_word, f"LLM word {w} after clear"

        # Word writes with byte strobes, read back; the LLM layout is lane-major.
        model_v = {w: fill_word for w in range(vmem_words)}
        model_l = {w: fill_word for w in range(llm_words)}
        for _ in range(150):
            for bus, model, n in ((dut.host_vmem, model_v, vmem_words), (dut.host_llm, model_l, llm_words)):
                w, data, strb = int(rng.integers(n)), int(rng.integers(1 << 32)), int(rng.integers(1, 16))
                await _write(ctx, bus, w, data, strb)
                model[w] = _merge(model[w], data, strb)
                await ctx.tick()            # the AXI4-Lite target never issues back to back
        for w in range(vmem_words):
            assert await _read(ctx, dut.host_vmem, w) == model_v[w], f"VMEM word {w}"
        words_per_lane = CFG.llm_bytes // 4
        for w in range(llm_words):
            assert await _read(ctx, dut.host_llm, w) == model_l[w], f"LLM word {w}"
            assert ctx.get(dut.unit.llm.mems[w // words_per_lane].data[w % words_per_lane]) == model_l[w]

        # The unit sees what the host wrote: VLOADV of row 3, VLOADL of lane-local halfword 2.
        row3 = b"".join(model_v[16 * 3 + k].to_bytes(4, "little") for k in range(16))
        issue = dut.issue
        ctx.set(issue.x_valid, 1)
        for word, src1 in ((encode("vloadv", rd=1, rs1=5, imm=64), 128),
                           (encode("vlui", rd=2, imm=2), 0),
                           (encode("vloadl", rd=3, rs1=2, imm=0), 0)):
            ctx.set(issue.x_word, word)
            ctx.set(issue.x_src1, src1)
            assert not ctx.get(issue.x_fault)
            await ctx.tick()
        ctx.set(issue.x_valid, 0)
        await ctx.tick().repeat(2)
        v1 = np.array(list(ctx.get(dut.unit.regfile.mem.data[1])), np.int16)
        assert np.array_equal(v1, np.frombuffer(row3, "<i2"))
        v3 = np.array(list(ctx.get(dut.unit.regfile.mem.data[3])), np.int16)
        expect3 = [np.uint16(model_l[lane * words_per_lane] >> 16).view(np.int16) for lane in range(CFG.lanes)]  # byte 2: the high half
        assert np.array_equal(v3, np.array(expect3, np.int16))

        # The DMA's row port writes whole rows (byte enables) and reads them.
        dma = dut.dma_vmem
        row = int.from_bytes(rng.bytes(CFG.row_bytes), "little")
        ctx.set(dma.addr, 9)
        ctx.set(dma.w_data, row)
        ctx.set(dma.w_en, -1)
        await ctx.tick()
        ctx.set(dma.w_en, 0)
        ctx.set(dma.r_en, 1)
        await ctx.tick()
        ctx.set(dma.r_en, 0)
        assert ctx.get(dma.r_data) == row
        assert await _read(ctx, dut.host_vmem, 16 * 9 + 3) == (row >> 96) & 0xFFFFFFFF

    simulate(dut, bench, clocked=True)
