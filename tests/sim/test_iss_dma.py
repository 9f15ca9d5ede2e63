"""The DMA channels and the DRAM model (docs/isa.md section 2, sim/dma.py)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fenn_dma.isa import csrs
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode
from fenn_dma.sim import DmaModel, Machine, StopCause

BASE = 0x40000000
ERR = BASE + 0x8000
IDLE, STARTING, TRANSFERRING = csrs.DMA_IDLE, csrs.DMA_STARTING, csrs.DMA_TRANSFERRING
DONE = IDLE | csrs.DMA_DONE
INTERNAL, DECODE, SLAVE = IDLE | csrs.DMA_INTERNAL_ERROR, IDLE | csrs.DMA_DECODE_ERROR, IDLE | csrs.DMA_SLAVE_ERROR


@pytest.fixture
def cfg(small):
    return replace(small, dram_base=BASE, dram_size=64 * 1024, dram_error_regions=((ERR, ERR + 64),),
                   dma=DmaModel(setup_cycles=10, bytes_per_cycle=8))


def dram_pattern(m):
    m.dram[:] = (np.arange(m.dram.size) * 7 % 251).astype(np.uint8)


def transfer(ch: str, src: int, dst: int, count: int, between: str = "") -> str:
    """Program one transfer; a0 = status right after the start, a1 = final status."""
    return f"""
        li t0, {src}
        csrw {ch}_src_addr, t0
        li t0, {dst}
        csrw {ch}_dst_addr, t0
        li t0, {count}
        csrw {ch}_count, t0
        csrwi {ch}_control, 1
        csrr a0, {ch}_status
        {between}
    1:  csrr a1, {ch}_status
        andi t1, a1, {STARTING | TRANSFERRING}
        bnez t1, 1b
        ecall
        .section .vmem
        .half {", ".join(["0x1111"] * 128)}
    """


def test_reset_status_is_idle(run_asm, cfg):
    m = run_asm("csrr a0, mm2s_status\ncsrr a1, s2mm_status\necall", config=cfg)
    assert m.x[10] == IDLE and m.x[11] == IDLE


def test_mm2s_copies_dram_to_vmem(run_asm, cfg):
    m = run_asm(transfer("mm2s", BASE + 128, 256, 128), config=cfg, setup=dram_pattern)
    assert m.x[10] == STARTING and m.x[11] == DONE
    assert np.array_equal(m.vmem[256:384], m.dram[128:256])
    assert np.all(m.vmem[384:].view("<u2") == 0xDEAD) and np.all(m.vmem[:256].view("<u2") == 0x1111)


def test_s2mm_copies_vmem_to_dram(run_asm, cfg):
    m = run_asm(transfer("s2mm", 64, BASE + 0x1000, 192), config=cfg)
    assert m.x[10] == STARTING and m.x[11] == DONE
    assert np.all(m.dram[0x1000:0x1000 + 192].view("<u2") == 0x1111)
    assert np.count_nonzero(m.dram) == 192


@pytest.mark.parametrize("ch, src, dst, count", [
    ("mm2s", BASE + 32, 0, 64),           # misaligned DRAM address
    ("mm2s", BASE, 8, 64),                # misaligned VMEM address
    ("mm2s", BASE, 0, 100),               # count not a multiple of 64
    ("mm2s", BASE, 0, 1 << 19),           # count too large
    ("mm2s", BASE, 8192 - 64, 128),       # leaves VMEM
    ("s2mm", 8192, BASE, 64),             # starts outside VMEM
    ("s2mm", 0, BASE + 4, 64),
])
def test_rule_breaks_are_internal_errors_at_once(run_asm, cfg, ch, src, dst, count):
    m = run_asm(transfer(ch, src, dst, count), config=cfg, setup=dram_pattern)
    assert m.x[10] == INTERNAL and m.x[11] == INTERNAL
    assert np.all(m.vmem[256:].view("<u2") == 0xDEAD)
    assert np.array_equal(m.dram, (np.arange(m.dram.size) * 7 % 251).astype(np.uint8))


@pytest.mark.parametrize("ch, src, dst, count, status", [
    ("mm2s", BASE - 64, 256, 64, DECODE),             # below the DRAM model
    ("mm2s", BASE + 64 * 1024 - 64, 256, 128, DECODE),  # runs off its end
    ("mm2s", 0, 256, 64, DECODE),
    ("s2mm", 0, BASE + 64 * 1024, 64, DECODE),
    ("mm2s", ERR - 64, 256, 128, SLAVE),              # touches the error region
    ("s2mm", 0, ERR, 64, SLAVE),
    ("mm2s", ERR + 64, 256, 64, DONE),                # just after it
])
def test_bus_errors_after_the_latency_copy_nothing(run_asm, cfg, ch, src, dst, count, status):
    m = run_asm(transfer(ch, src, dst, count), config=cfg, setup=dram_pattern)
    assert m.x[10] == STARTING and m.x[11] == status
    if status != DONE:
        assert np.all(m.vmem[256:].view("<u2") == 0xDEAD)
        assert np.array_equal(m.dram, (np.arange(m.dram.size) * 7 % 251).astype(np.uint8))


def test_zero_count_completes(run_asm, cfg):
    m = run_asm(transfer("mm2s", BASE, 256, 0), config=cfg)
    assert m.x[11] == DONE and np.all(m.vmem[256:].view("<u2") == 0xDEAD)


def test_status_timeline_follows_the_latency(run_asm, cfg):
    # Start at cycle T; status reads in the following cycles T+1, T+2, ... (one per cycle).
    reads = "\n".join(f"csrr x{r}, mm2s_status" for r in range(5, 30))
    source = f"""
        li t0, {BASE}
        csrw mm2s_src_addr, t0
        li t0, 256
        csrw mm2s_dst_addr, t0
        li t0, 64
        csrw mm2s_count, t0
        csrwi mm2s_control, 1
        {reads}
        ecall
    """
    m = run_asm(source, config=cfg)
    # setup 10 cycles, 64 bytes at 8 per cycle = 8 cycles: read k happens at T + 1 + k.
    expected = [STARTING] * 9 + [TRANSFERRING] * 8 + [DONE] * 8
    assert [int(v) for v in m.x[5:30]] == expected


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_copy_happens_at_completion(cfg, engine):
    m = Machine(cfg)
    dram_pattern(m)
    program = assemble(transfer("mm2s", BASE, 256, 64))
    m.load(program)
    start_pc = 4 * program.words.index(encode("csrrwi", rd=0, csr=csrs.MM2S_CONTROL, zimm=1))
    start_cycle = None
    while True:
        before = m.cycles
        if m.pc == start_pc:
            start_cycle = before
        stop = m.run(max_instructions=1, engine=engine)
        copied = bool(np.array_equal(m.vmem[256:320], m.dram[:64]))
        if start_cycle is not None:
            # Due transfers complete before the next instruction and at every stop.
            assert copied == (m.cycles >= start_cycle + 10 + 8), m.cycles - start_cycle
        if stop.cause != StopCause.MAX_INSTRUCTIONS:
            break
    assert start_cycle is not None and copied


def test_busy_channel_ignores_a_second_start_and_register_writes(run_asm, cfg):
    between = f"""
        li t2, {BASE + 0x2000}
        csrw mm2s_src_addr, t2
        li t2, 128
        csrw mm2s_count, t2
        csrwi mm2s_control, 1
    """
    m = run_asm(transfer("mm2s", BASE + 64, 256, 64, between) +
                "\n.text\n", config=cfg, setup=dram_pattern)
    assert m.x[11] == DONE
    assert np.array_equal(m.vmem[256:320], m.dram[64:128])        # the first transfer's data
    assert np.all(m.vmem[320:].view("<u2") == 0xDEAD)              # nothing of the second
    assert m.csr_read(csrs.MM2S_SRC_ADDR) == BASE + 0x2000 and m.csr_read(csrs.MM2S_COUNT) == 128


def test_both_channels_run_concurrently(run_asm, cfg):
    m = run_asm(f"""
        li t0, {BASE}
        csrw mm2s_src_addr, t0
        li t0, 1024
        csrw mm2s_dst_addr, t0
        li t0, 256
        csrw mm2s_count, t0
        csrw s2mm_src_addr, zero
        li t0, {BASE + 0x4000}
        csrw s2mm_dst_addr, t0
        li t0, 64
        csrw s2mm_count, t0
        csrwi mm2s_control, 1
        csrwi s2mm_control, 1
    1:  csrr a0, mm2s_status
        csrr a1, s2mm_status
        and t1, a0, a1
        andi t1, t1, {csrs.DMA_DONE}
        beqz t1, 1b
        ecall
        .section .vmem
        .half {", ".join(["0x2222"] * 32)}
    """, config=cfg, setup=dram_pattern)
    assert m.x[10] == DONE and m.x[11] == DONE
    assert np.array_equal(m.vmem[1024:1280], m.dram[:256])
    assert np.all(m.dram[0x4000:0x4040].view("<u2") == 0x2222)


def test_a_stop_leaves_a_transfer_in_flight(run_asm, cfg):
    m = run_asm(transfer("mm2s", BASE, 256, 64).replace("1:  csrr a1", "ecall\n1:  csrr a1"),
                config=cfg, setup=dram_pattern)
    assert m.last_stop.cause == StopCause.ECALL
    assert np.all(m.vmem[256:320].view("<u2") == 0xDEAD)
    assert m.csr_read(csrs.MM2S_STATUS) == STARTING
