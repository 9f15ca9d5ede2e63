"""DRAM back-pressure in the one timing model (fenn_dma.dram: DramTiming.stall/seed, stall_draw)
and the ISS's engine cycle rules under it (sim/dma_engine.py): the stall function's test
vector, the fields' checks, the rules giving fenn_dma.dram's formulas without stalls, both ISS
engines agreeing under stalls. The RTL side (the same cycles as the native harness) is
tests/rtl_dma/test_dma_diff_stalls.py."""
from __future__ import annotations

from statistics import mean

import pytest

from fenn_dma.dram import AR, B, R, W, AW, DramTiming, DramTimingError, stall_draw
from fenn_dma.sim import DmaModel, Machine
from fenn_dma.sim.dma_engine import RESP_OKAY, RESP_SLVERR, EngineTiming
from fenn_dma.sim.state import DMA
from fenn_dma.verify.random_program import DMA_RTL, SMALL_CONFIG, random_program


def test_stall_draw_test_vector():
    """The values verify/native/harness.cpp's stall_draw must give too (the RTL tests check that
    the two agree cycle for cycle; these pin the function itself)."""
    assert [stall_draw(1, ch, c) for ch in (AR, R, AW, W, B) for c in (0, 1, 2)] == \
        [47, 191, 60, 61, 157, 26, 46, 141, 217, 49, 13, 204, 128, 132, 39]
    assert [stall_draw(0xDEADBEEF, W, c) for c in (0, 12345, 2**32 - 1, 2**32)] == [252, 27, 135, 252]
    assert stall_draw(7, AR, -1) == stall_draw(7, AR, 2**32 - 1)          # cycles are taken mod 2^32


def test_stall_level_is_the_fraction_of_stalled_cycles():
    d = DramTiming(latency=4, stall=64, seed=3)
    for ch in (AR, R, AW, W, B):
        share = mean(d.stalled(ch, c) for c in range(20000))
        assert 0.23 < share < 0.27, (ch, share)
    assert not any(DramTiming(latency=4).stalled(AR, c) for c in range(1000))
    other = DramTiming(latency=4, stall=64, seed=4)
    assert [d.stalled(R, c) for c in range(200)] != [other.stalled(R, c) for c in range(200)]


@pytest.mark.parametrize("field, value, match", [
    ("stall", 256, "DramTiming.stall = 256"), ("stall", -1, "DramTiming.stall = -1"),
    ("stall", True, "DramTiming.stall = True"), ("stall", 1.5, "DramTiming.stall = 1.5"),
    ("seed", -1, "DramTiming.seed = -1"), ("seed", 2**32, "DramTiming.seed = 4294967296"),
    ("seed", "x", "DramTiming.seed = 'x'"),
])
def test_bad_back_pressure_is_refused_naming_the_field(field, value, match):
    with pytest.raises(DramTimingError, match=match):
        DramTiming(latency=4, **{field: value})
    with pytest.raises(DramTimingError, match=match.split(" =")[0]):
        DramTiming(latency=4).with_stall(**{"stall": 8, field: value})


def test_describe_names_the_back_pressure():
    assert "back-pressure 96/256 (seed 5)" in DramTiming(latency=53, stall=96, seed=5).describe()
    assert "back-pressure" not in DramTiming(latency=53).describe()


@pytest.mark.parametrize("beat_bytes", (4, 16, 64))
def test_engine_rules_give_the_formulas_without_stalls(beat_bytes):
    """Two definitions of the same timing: stepping the engine's rules at stall 0 gives
    fenn_dma.dram's formulas (measured on the RTL) for every alignment, count and latency."""
    for latency in (1, 4, 53, 96):
        d = DramTiming(latency=latency, beat_bytes=beat_bytes)
        for ch in (0, 1):
            for addr in (0, 64, 4096 - 64, 4096 - 256, 8192 - 320):
                for count in (64, 256, 320, 1024, 4096, 4160):
                    times = EngineTiming(d, lambda a, n: RESP_OKAY).start(ch, 100, 0x10000 + addr, count)
                    first, done = d.mm2s_cycles(count) if ch == 0 else d.s2mm_cycles(count)
                    assert times[ch] == (100 + first, 100 + done), (latency, ch, addr, count)


def test_engine_rules_give_the_error_formula_where_it_holds():
    """A failing burst late enough that the engine has its bursts in flight by the time the
    error comes back (the formula's case: up to OUTSTANDING - 1 more issued)."""
    d = DramTiming(latency=53)
    for ch in (0, 1):
        lo = 0x10000 + 2048
        resp = lambda a, n: RESP_SLVERR if a < lo + 64 and lo < a + n else RESP_OKAY   # noqa: E731
        times = EngineTiming(d, resp).start(ch, 0, 0x10000, 8192)
        beats = d.error_beats(0x10000, 8192, 8)
        first, done = d.mm2s_cycles(8192, True, beats) if ch == 0 else d.s2mm_cycles(8192, True, beats)
        assert times[ch] == (first, done)


def test_an_early_error_ends_sooner_than_the_formula():
    """Burst 0 failing at a short latency: the error is back before 7 more bursts are issued,
    so fewer beats move (the RTL agrees: tests/rtl_dma/test_dma_diff_stalls.py)."""
    d = DramTiming(latency=4)
    resp = lambda a, n: RESP_SLVERR if a < 0x10040 else RESP_OKAY   # noqa: E731
    times = EngineTiming(d, resp).start(0, 0, 0x10000, 4096)
    assert times[0][1] < d.mm2s_cycles(4096, True, d.error_beats(0x10000, 4096, 0))[1]


def _phases(stall: int, latency: int = 53):
    cfg = SMALL_CONFIG.with_(dma=DmaModel(DramTiming(latency, stall=stall, seed=11)))
    m = Machine(cfg)
    for ch, (src, dst), t in ((0, (0x10000, 0), 10), (1, (0, 0x18000), 11)):
        for reg, value in zip(("src", "dst", "count"), (src, dst, 4096)):
            m.dma_channels.write(ch, reg, value, t)
        m.dma_channels.write(ch, "control", 1, t)
    return [(int(m.dma[ch, DMA["t_xfer"]]), int(m.dma[ch, DMA["t_done"]])) for ch in (0, 1)]


def test_stalls_only_delay_and_more_stalls_delay_more():
    base = _phases(0)
    assert base == [(10 + 3 + 53, 10 + 7 + 53 + 255), (11 + 5, 11 + 5 + 256 + 53)]
    last = base
    for stall in (32, 128, 224):
        now = _phases(stall)
        assert all(a[1] > b[1] for a, b in zip(now, last)), (stall, now, last)
        last = now


def _run(rp, cfg, engine: str) -> dict:
    m = Machine(cfg)
    m.load(rp.program)
    m.load_image("llm", rp.llm_image)
    m.load_image("dram", rp.dram_image)
    m.run(max_instructions=1_000_000, engine=engine)
    return m.state_dict(dump_mem=True)


@pytest.mark.parametrize("stall", (0, 96, 224))
def test_both_engines_agree_under_back_pressure(stall):
    """The C engine asks sim/dma.py's rules at each start (DmaChannels.timed_start): the same
    state, cycles included, as the reference engine on random DMA programs."""
    from fenn_dma.sim import fast
    if not fast.available():
        pytest.skip("the fast engine is not built")
    cfg = SMALL_CONFIG.with_(dma=DmaModel(DramTiming(4, stall=stall, seed=5)))
    for seed in range(25):
        rp = random_program(seed, 60, cfg, DMA_RTL)
        assert _run(rp, cfg, "fast") == _run(rp, cfg, "reference"), seed


def test_a_reused_machine_predicts_as_a_fresh_one():
    """The engine model kept between starts (under stalls) starts afresh when the machine is reset."""
    cfg = SMALL_CONFIG.with_(dma=DmaModel(DramTiming(53, stall=128, seed=2)))
    rps = [random_program(seed, 60, cfg, DMA_RTL) for seed in (3, 4)]
    m = Machine(cfg)
    for rp in rps:
        m.reset()
        m.load(rp.program)
        m.load_image("llm", rp.llm_image)
        m.load_image("dram", rp.dram_image)
        m.run(max_instructions=1_000_000)
        assert m.state_dict(dump_mem=True) == _run(rp, cfg, "reference")
