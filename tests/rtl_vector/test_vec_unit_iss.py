"""The vector unit (with VMEM and LLM) in Amaranth's simulator against the ISS.

Each program runs on the ISS, which records the vector instructions the core
would issue, with their scalar operands, one cycle per executed instruction
(scalar ones leave the cycle empty). The unit is driven with that stream; the
scalar results (VTST/VEXTRACT) and faults are checked as they come, and the
vector registers, VMEM and LLM must equal the ISS's at the end. Many programs
share one simulator; memories are reloaded between them (the RNG is seeded
by every program's prologue).
"""
import numpy as np
import pytest

from fenn_dma.rtl.causes import RtlCause
from fenn_dma.rtl.vector import ISS_FILL, VectorBlock, VectorConfig
from fenn_dma.verify.random_program import directed_vector_program, fault_vector_programs, random_vector_program
from fenn_dma.verify.vector_stream import iss_stream, load_machine


def _row_int(row: np.ndarray) -> int:
    return int.from_bytes(row.astype("<i2").tobytes(), "little")


async def _load(ctx, dut, machine):
    cfg = dut.config
    vm = machine.vmem.reshape(cfg.vmem_rows, cfg.row_bytes)
    for r in range(cfg.vmem_rows):
        ctx.set(dut.vmem.mem.data[r], int.from_bytes(vm[r].tobytes(), "little"))
    for lane, mem in enumerate(dut.unit.llm.mems):
        words = machine.llm[lane].view("<u4")
        for a in range(len(words)):
            ctx.set(mem.data[a], int(words[a]))
    for r in range(32):
        ctx.set(dut.unit.regfile.mem.data[r], [0] * cfg.lanes)


def _final_state(ctx, dut):
    cfg = dut.config
    v = np.array([[int(x) for x in ctx.get(dut.unit.regfile.mem.data[r])] for r in range(32)], np.int16)
    vmem = b"".join(ctx.get(dut.vmem.mem.data[r]).to_bytes(cfg.row_bytes, "little") for r in range(cfg.vmem_rows))
    llm = np.array([[ctx.get(mem.data[a]) for a in range(cfg.llm_bytes // 4)] for mem in dut.unit.llm.mems], np.uint32)
    return v, np.frombuffer(vmem, np.uint8), llm


async def _run_stream(ctx, dut, stream, label):
    issue = dut.issue
    for n, item in enumerate(stream):
        where = f"{label}, stream item {n}"
        ctx.set(issue.x_valid, item.word is not None)
        if item.word is None:
            await ctx.tick()
            continue
        ctx.set(issue.x_word, item.word)
        ctx.set(issue.x_src1, item.x_src1)
        ctx.set(issue.x_src2, item.x_src2)
        assert ctx.get(issue.x_ready) == 1
        if item.fault is not None:
            assert ctx.get(issue.x_fault) == 1, where
            assert ctx.get(issue.x_cause) == RtlCause[item.fault.name], where
        else:
            assert ctx.get(issue.x_fault) == 0, f"{where}: unexpected fault {ctx.get(issue.x_cause)}"
        await ctx.tick()
        if item.scalar_result is not None:
            assert ctx.get(issue.w_result) == item.scalar_result, f"{where}: 0x{item.word:08x}"
    ctx.set(issue.x_valid, 0)
    await ctx.tick().repeat(2)


def _check_programs(simulate, programs):
    config = programs[0].config
    dut = VectorBlock(VectorConfig.from_machine(config, fill=ISS_FILL))
    runs = [(vp, *iss_stream(vp)) for vp in programs]
    issued = []

    async def bench(ctx):
        for vp, machine, stop, stream in runs:
            label = f"seed {vp.seed} ({stop})"
            await _load(ctx, dut, load_machine(vp))
            await _run_stream(ctx, dut, stream, label)
            v, vmem, llm = _final_state(ctx, dut)
            bad = np.argwhere(v != machine.v)
            assert bad.size == 0, f"{label}: v{bad[0][0]} lane {bad[0][1]}: {v[tuple(bad[0])]} != {machine.v[tuple(bad[0])]}"
            assert np.array_equal(vmem, machine.vmem), f"{label}: VMEM differs at {np.flatnonzero(vmem != machine.vmem)[:4]}"
            assert np.array_equal(llm, machine.llm.view("<u4")), f"{label}: LLM differs"
            issued.append(sum(item.word is not None for item in stream))

    simulate(dut, bench, clocked=True)
    return issued


def test_unit_directed_every_vector_instruction(simulate):
    programs = [directed_vector_program(seed) for seed in range(2)]
    issued = _check_programs(simulate, programs)
    assert len(issued) == 2 and min(issued) > 100


def test_unit_random_programs_match_iss(simulate):
    issued = _check_programs(simulate, [random_vector_program(seed, length=40) for seed in range(6)])
    assert sum(issued) > 300


@pytest.mark.slow
def test_unit_random_programs_match_iss_many(simulate):
    _check_programs(simulate, [random_vector_program(1000 + seed) for seed in range(60)])


def test_unit_faults_match_iss(simulate):
    programs = fault_vector_programs()
    causes = {iss_stream(vp)[1].cause.value for vp in programs}
    assert causes == {"misaligned_load", "load_fault", "misaligned_store", "store_fault"}
    _check_programs(simulate, programs)
