"""The DMA channels and the DRAM model (docs/isa.md section 2, sim/dma.py)."""
from __future__ import annotations


import numpy as np
import pytest

from fenn_dma.isa import csrs
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode
from fenn_dma import dram as D
from fenn_dma.dram import DramTiming
from fenn_dma.sim import DmaModel, Machine, StopCause
from fenn_dma.sim.state import DMA

BASE = 0x40000000
ERR = BASE + 0x8000
IDLE, STARTING, TRANSFERRING = csrs.DMA_IDLE, csrs.DMA_STARTING, csrs.DMA_TRANSFERRING
DONE = IDLE | csrs.DMA_DONE
# A narrow port, so that a 64-byte transfer takes several beats.
TIMING = DramTiming(latency=5, beat_bytes=8)
INTERNAL, DECODE, SLAVE = IDLE | csrs.DMA_INTERNAL_ERROR, IDLE | csrs.DMA_DECODE_ERROR, IDLE | csrs.DMA_SLAVE_ERROR


@pytest.fixture
def cfg(small):
    return small.with_(dram_base=BASE, dram_size=64 * 1024, dram_error_regions=((ERR, ERR + 64),),
                   dma=DmaModel(TIMING))


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


@pytest.mark.parametrize("ch, dram_addr", [("mm2s", 0), ("s2mm", BASE + 64 * 1024), ("mm2s", ERR)])
def test_zero_count_makes_no_bus_access(run_asm, cfg, ch, dram_addr):
    # Outside the DRAM model or on an error region: no beat moves, so no bus error.
    src, dst = (dram_addr, 256) if ch == "mm2s" else (256, dram_addr)
    m = run_asm(transfer(ch, src, dst, 0), config=cfg)
    assert m.x[11] == DONE


READS = 26      # x5..x30


def timeline(ch: str, count: int) -> str:
    """Start a transfer in cycle T, then read its status in cycles T+1, T+2, ... (x5..x30)."""
    src, dst = (BASE, 256) if ch == "mm2s" else (256, BASE)
    lines = "\n".join(f"csrr x{5 + r}, {ch}_status" for r in range(READS))
    return f"""
        li t0, {src}
        csrw {ch}_src_addr, t0
        li t0, {dst}
        csrw {ch}_dst_addr, t0
        li t0, {count}
        csrw {ch}_count, t0
        csrwi {ch}_control, 1
        {lines}
        ecall
    """


@pytest.mark.parametrize("engine", ["reference", "fast"])
@pytest.mark.parametrize("ch, count, first, done", [
    # fenn_dma.dram: MM2S "transferring" from A_R_FIRST + L, done from A_R + L + beats - 1;
    # S2MM from A_W_FIRST and A_W + beats + L; here L = 5 and 64 bytes are 8 beats.
    ("mm2s", 64, D.A_R_FIRST + 5, D.A_R + 5 + 8 - 1),
    ("s2mm", 64, D.A_W_FIRST, D.A_W + 8 + 5),
    ("mm2s", 0, D.A_ZERO, D.A_ZERO),
])
def test_status_timeline_follows_the_dram_model(cfg, engine, ch, count, first, done):
    assert done < READS, "the reads must reach the done status"
    m = Machine(cfg)
    m.load(assemble(timeline(ch, count)))
    m.run(engine=engine)
    # Read k (from 0) happens k + 1 cycles after the start.
    expected = [STARTING if k + 1 < first else TRANSFERRING if k + 1 < done else DONE for k in range(READS)]
    assert [int(v) for v in m.x[5:5 + READS]] == expected


def test_the_model_in_numbers():
    t = DramTiming(latency=53)
    assert t.beats(1024) == 64
    assert t.mm2s_cycles(1024) == (D.A_R_FIRST + 53, D.A_R + 53 + 63)
    assert t.s2mm_cycles(1024) == (D.A_W_FIRST, D.A_W + 64 + 53)
    assert DramTiming.preset("ddr4").latency == 53        # 300 ns at 175 MHz, rounded
    assert DramTiming.preset("short").latency < 10


@pytest.mark.parametrize("bad", [dict(latency=0), dict(latency=200), dict(latency=4, beat_bytes=24),
                                 dict(latency=4, beat_bytes=128), dict(latency=True)])
def test_bad_timings_are_refused(bad):
    with pytest.raises(D.DramTimingError):
        DramTiming(**bad)
    with pytest.raises(D.DramTimingError, match="unknown DRAM timing"):
        DramTiming.preset("sdram")


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_a_load_use_stall_delays_the_start(cfg, engine):
    # csrw from a just-loaded register stalls a cycle: the transfer starts in the cycle the write
    # executes, so the reads after it see the same timeline as with a nop between.
    def run(stall: bool) -> list[int]:
        start = "lw t1, 0(zero)\n" + ("" if stall else "nop\n") + "csrw mm2s_control, t1"
        m = Machine(cfg)
        m.load(assemble(timeline("mm2s", 64).replace("csrwi mm2s_control, 1", start)))
        m.dmem[:4] = [1, 0, 0, 0]
        m.run(engine=engine)
        return [int(v) for v in m.x[5:5 + READS]]
    assert run(True) == run(False)


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
            assert copied == (m.cycles >= start_cycle + TIMING.mm2s_cycles(64)[1]), m.cycles - start_cycle
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
    assert m.dma_bytes == {"mm2s": 256, "s2mm": 64}


NONE_MOVED = {"mm2s": 0, "s2mm": 0}


@pytest.mark.parametrize("ch, src, dst, count, moved", [
    ("mm2s", BASE + 128, 256, 128, {"mm2s": 128, "s2mm": 0}),
    ("s2mm", 64, BASE + 0x1000, 192, {"mm2s": 0, "s2mm": 192}),
    ("mm2s", ERR - 64, 256, 128, NONE_MOVED),             # slave error: nothing copied
    ("s2mm", 0, BASE + 64 * 1024, 64, NONE_MOVED),        # decode error
    ("mm2s", BASE + 32, 0, 64, NONE_MOVED),               # internal error (misaligned)
    ("mm2s", BASE, 256, 0, NONE_MOVED),                   # an empty transfer
])
def test_each_channel_counts_the_bytes_its_completed_transfers_moved(run_asm, cfg, ch, src, dst, count, moved):
    """docs/iss.md "DMA bytes": COUNT at a done completion, per channel; both engines (run_asm
    compares their state, the count's slot included)."""
    m = run_asm(transfer(ch, src, dst, count), config=cfg, setup=dram_pattern)
    assert m.dma_bytes == moved
    m.reset()
    assert m.dma_bytes == NONE_MOVED


def test_a_stop_leaves_a_transfer_in_flight(run_asm, cfg):
    m = run_asm(transfer("mm2s", BASE, 256, 64).replace("1:  csrr a1", "ecall\n1:  csrr a1"),
                config=cfg, setup=dram_pattern)
    assert m.last_stop.cause == StopCause.ECALL
    assert np.all(m.vmem[256:320].view("<u2") == 0xDEAD)
    assert m.dma_bytes == NONE_MOVED                      # counted when it completes
    assert m.csr_read(csrs.MM2S_STATUS) == STARTING


@pytest.mark.parametrize("ch, dram, count", [
    ("mm2s", ERR - 1024, 4096), ("s2mm", ERR - 1024, 4096),      # 12 bursts after the failing one
    ("mm2s", ERR - 64 * 68, 8000 // 64 * 64), ("s2mm", BASE + 64 * 1024 - 2048, 4096),   # a short burst first
    ("mm2s", ERR - 256, 256 * 9),                                  # 7 after: every burst out
])
def test_a_failing_transfer_ends_after_the_bursts_already_issued(cfg, ch, dram, count):
    # The engine issues up to OUTSTANDING - 1 bursts after the first failing one, then no more
    # (fenn_dma.dram.DramTiming.error_beats); both engines agree on the end.
    t = TIMING
    bursts = t.bursts(dram, count)
    failing = next(k for k, (a, n) in enumerate(bursts)
                   if a + n * t.beat_bytes > ERR and a < ERR + 64 or a + n * t.beat_bytes > BASE + 64 * 1024)
    moved = t.error_beats(dram, count, failing)
    assert moved == sum(n for _, n in bursts[:failing + D.OUTSTANDING])
    src, dst = (dram, 0) if ch == "mm2s" else (0, dram)
    program = assemble(transfer(ch, src, dst, count))
    start_pc = 4 * program.words.index(encode("csrrwi", rd=0, csr=csrs.MM2S_CONTROL if ch == "mm2s"
                                              else csrs.S2MM_CONTROL, zimm=1))
    ends = []
    for engine in ("reference", "fast"):
        m = Machine(cfg.with_(vmem_size=16 * 1024))
        m.load(program)
        while m.pc != start_pc:
            m.run(max_instructions=1, engine=engine)
        start = m.cycles
        m.run(max_instructions=1, engine=engine)
        ends.append(int(m.dma[0 if ch == "mm2s" else 1, DMA["t_done"]]) - start)
    expected = (t.mm2s_cycles if ch == "mm2s" else t.s2mm_cycles)(count, True, moved)[1]
    assert ends == [expected, expected]


def test_the_first_failing_burst_gives_the_error(run_asm, cfg):
    # A range that touches an error region and then leaves the window: the error region's burst
    # comes first, so a slave error (as the RTL answers); starting past the region, a decode error.
    end = BASE + 64 * 1024
    big = cfg.with_(dram_error_regions=((end - 512, end - 448),))
    assert run_asm(transfer("mm2s", end - 1024, 0, 2048), config=big).x[11] == SLAVE
    assert run_asm(transfer("mm2s", end - 256, 0, 2048), config=big).x[11] == DECODE
