"""The cocotb harness with DRAM (verify/rtl_harness.py + verify/cocotb_dram.py: cocotbext-axi's
AXI4 slave on the SoC's dram__* master, held to fenn_dma.dram's timing) against the ISS and the
native harness (its C++ slave) on the same jobs: the DMA timing programs and seeded random
DMA programs give the same registers, VMEM, LLM, DMEM, DRAM, both STATUS words, stop and
cycles on all three. Back-pressure (cocotbext-axi's pause generators here; the C++ slave's are
the model's stall function, whose cycles the ISS predicts exactly: test_dma_diff_stalls.py)
changes only the timing: the data, the final STATUS words and the stop stay the ISS's (without
back-pressure), and the cycles never fall below its cycles and grow with it.
Back-pressure sets leave out random programs whose data depends on the timing by design
(``restarts_while_busy``)."""
from __future__ import annotations

import sys
from pathlib import Path
from statistics import mean

import numpy as np
import pytest

from fenn_dma.isa import csrs
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode
from fenn_dma.verify.compare import DMA_FIELDS
from fenn_dma.verify.random_program import DMA_RTL, SMALL_CONFIG, X_SCRATCH, random_program, undefined_ranges
from fenn_dma.verify.runner import iss_state, run_many_on_rtl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_diff import compare, dma_soc, machine  # noqa: E402,F401
from test_dma_diff_timing import cases  # noqa: E402

pytestmark = pytest.mark.rtl
# What back-pressure must leave alone: the memories' data, the final STATUS words, the stop.
# (Registers may hold STATUS reads taken while a transfer runs, and polling loops run longer.)
STATE_FIELDS = ("stop", "dma_status", "vmem", "llm", "dram")
STALLS = (32, 128, 224)              # back-pressure: a channel paused stall/256 of the cycles


# A random DMA item may start its channel a second time "usually while it is busy (then ignored)":
# whether it is busy then depends on the DRAM's timing, so under back-pressure such a program
# may move different data from the ISS's, rightly. Those programs are left out of the
# back-pressure sets: a start of a channel while an earlier start of it has not been polled
# to idle (random_program's poll loop: csrr x30 of its STATUS).
_START = {c: encode("csrrwi", rd=0, csr=r, zimm=1) for c, r in enumerate((csrs.MM2S_CONTROL, csrs.S2MM_CONTROL))}
_POLL = {c: encode("csrrs", rd=X_SCRATCH, csr=r, rs1=0) for c, r in enumerate((csrs.MM2S_STATUS, csrs.S2MM_STATUS))}


def restarts_while_busy(program) -> bool:
    text = program.images["imem"]
    started = [False, False]
    for at in range(0, len(text) - 3, 4):
        word = int.from_bytes(text[at:at + 4], "little")
        for c in (0, 1):
            if word == _START[c]:
                if started[c]:
                    return True
                started[c] = True
            elif word == _POLL[c]:
                started[c] = False
    return False


@pytest.fixture(scope="session")
def cocotb_soc():
    from fenn_dma.verify.rtl_harness import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.verify.runner import build_soc, soc_config
    return build_soc(soc_config(SMALL_CONFIG, vector=True, dma=True), "cocotb")


def timing_programs(cfg, every: int = 1):
    listed = cases(cfg)[::every]
    programs = [assemble(text) for _, text, _ in listed]
    for p in programs:
        p.images["dmem"] = (1).to_bytes(4, "little")          # the load-use start's CONTROL value
    return [label for label, _, _ in listed], programs, [u for _, _, u in listed]


def three_ways(labels, programs, cfg, soc_native, soc_cocotb, undefined, dram_images, llm_images=None,
               fields=DMA_FIELDS, stall=0):
    """ISS, native and cocotb states; assert both harnesses equal the ISS (and so each other)."""
    iss = [iss_state(p, cfg, llm=llm or b"", dram=d)
           for p, llm, d in zip(programs, llm_images or [b""] * len(programs), dram_images)]
    runs = {}
    for name, soc in (("native", soc_native), ("cocotb", soc_cocotb)):
        runs[name] = run_many_on_rtl(programs, cfg, soc=soc, llm_images=llm_images, dram_images=dram_images,
                                     dram_stall=stall)
        failures = compare(labels, iss, runs[name], undefined, fields)
        assert not failures, f"{name}: {len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss, runs["native"], runs["cocotb"]


def random_set(seeds, latency, steady: bool = False):
    """Seeded random DMA programs (``steady``: without restarts_while_busy, the first
    ``len(seeds)`` from ``seeds.start`` on), their machine and labels."""
    cfg = machine(latency)
    if steady:
        pool = (random_program(seed, 60, cfg, DMA_RTL) for seed in range(seeds.start, seeds.start + 4 * len(seeds)))
        rps = [rp for rp in pool if not restarts_while_busy(rp.program)][:len(seeds)]
    else:
        rps = [random_program(seed, 60, cfg, DMA_RTL) for seed in seeds]
    return cfg, rps, [f"seed {rp.seed} ({latency})" for rp in rps]


def mixed_set(cfg, rps, labels, every: int):
    """The random programs, then every ``every``-th timing program: labels, programs, undefined
    ranges, DRAM and LLM images; the index where the timing programs start."""
    t_labels, t_programs, t_undefined = timing_programs(cfg, every)
    dram = (np.arange(cfg.dram_size) * 7 % 251).astype(np.uint8).tobytes()
    return (labels + t_labels, [rp.program for rp in rps] + t_programs,
            [undefined_ranges(cfg)] * len(rps) + t_undefined,
            [rp.dram_image for rp in rps] + [dram] * len(t_programs),
            [rp.llm_image for rp in rps] + [b""] * len(t_programs), len(rps))


@pytest.fixture(scope="module")
def stalled(dma_soc, cocotb_soc):
    """One set (8 steady random DMA programs, every tenth timing program; short latency) on the ISS and
    on both harnesses at each back-pressure level, 0 included: {stall: (iss, native, cocotb)}."""
    cfg, rps, labels = random_set(range(8), "short", steady=True)
    labels, programs, undefined, dram, llm, first_timing = mixed_set(cfg, rps, labels, 10)
    out = {}
    for stall in (0,) + STALLS:
        fields = DMA_FIELDS if stall == 0 else STATE_FIELDS
        out[stall] = three_ways(labels, programs, cfg, dma_soc, cocotb_soc, undefined, dram, llm, fields, stall)
    return labels, first_timing, out


def test_without_back_pressure_everything_equals_the_iss(stalled):
    """Every field, the cycles included, on both harnesses (asserted by the fixture at stall 0)."""
    labels, first_timing, runs = stalled
    iss, native, cocotb = runs[0]
    assert [s["cycles"] for s in cocotb] == [s["cycles"] for s in iss] == [s["cycles"] for s in native]
    assert any(s["dma_status"] != [2, 2] for s in cocotb[:first_timing]), "no random program ended a transfer"
    seen = {v for s in cocotb[first_timing:] for v in s["x"][12:32]}
    assert {4, 8, 2 | 128} <= seen, seen       # starting, transferring, done, read cycle by cycle


@pytest.mark.parametrize("stall", STALLS)
def test_back_pressure_changes_only_the_timing(stalled, stall):
    """The ISS's data, final STATUS words and stops on both harnesses (the fixture asserts it);
    never fewer cycles than without back-pressure; most timing programs see it (more cycles or
    other STATUS phases read; a 0-byte transfer has no bus traffic, and the poll loop's period
    can hide a short delay)."""
    labels, first_timing, runs = stalled
    iss = runs[0][0]
    for name, states in zip(("native", "cocotb"), runs[stall][1:]):
        fewer = [lab for lab, a, b in zip(labels, iss, states) if b["cycles"] < a["cycles"]]
        assert not fewer, f"{name} at stall {stall}: fewer cycles than without back-pressure: {fewer[:5]}"
        timed = list(zip(iss[first_timing:], states[first_timing:]))
        seen = sum(b["cycles"] > a["cycles"] or b["x"][12:32] != a["x"][12:32] for a, b in timed)
        assert seen > len(timed) // 2, f"{name} at stall {stall}: only {seen} of {len(timed)} saw the back-pressure"


def test_cycles_grow_with_back_pressure(stalled):
    """The mean extra cycles rise strictly with the stall level on both harnesses."""
    labels, first_timing, runs = stalled
    iss = runs[0][0]
    for k, name in ((1, "native"), (2, "cocotb")):
        means = [mean(b["cycles"] - a["cycles"] for a, b in zip(iss, runs[stall][k])) for stall in STALLS]
        assert all(x < y for x, y in zip(means, means[1:])), (name, dict(zip(STALLS, means)))


def test_ddr4_latency_on_both_harnesses(dma_soc, cocotb_soc):
    """At the realistic latency (53 cycles): 8 random DMA programs and every sixth timing program,
    every field and the cycles the ISS's on both harnesses."""
    cfg, rps, labels = random_set(range(8, 16), "ddr4")
    labels, programs, undefined, dram, llm, _ = mixed_set(cfg, rps, labels, 6)
    three_ways(labels, programs, cfg, dma_soc, cocotb_soc, undefined, dram, llm)


def test_the_cocotb_harness_refuses_what_it_cannot_model(cocotb_soc):
    from fenn_dma.verify.rtl_harness import RtlJob, RtlSimError, run_batch
    ok = dict(imem=assemble("ecall").images["imem"], dram_size=4096, dram_base=0x10000)
    for bad, match in ((dict(dram_latency=1), "no sooner than 2 cycles"),
                       (dict(dram=b"x" * 5000), "does not fit in dram_size"),
                       (dict(dram_stall=256), "back-pressure")):
        with pytest.raises(RtlSimError, match=match):
            run_batch(cocotb_soc, [RtlJob(**{**ok, **bad})])
    assert run_batch(cocotb_soc, [RtlJob(**ok)])[0]["dram"] == "00" * 4096


@pytest.mark.slow
@pytest.mark.parametrize("latency", ("short", "ddr4"))
def test_all_timing_programs_and_more_random_ones_on_the_cocotb_harness(dma_soc, cocotb_soc, latency):
    cfg = machine(latency)
    labels, programs, undefined = timing_programs(cfg)
    dram = (np.arange(cfg.dram_size) * 7 % 251).astype(np.uint8).tobytes()
    three_ways(labels, programs, cfg, dma_soc, cocotb_soc, undefined, [dram] * len(programs))
    cfg, rps, labels = random_set(range(20, 220), latency)
    three_ways(labels, [rp.program for rp in rps], cfg, dma_soc, cocotb_soc, [undefined_ranges(cfg)] * len(rps),
               [rp.dram_image for rp in rps], [rp.llm_image for rp in rps])


@pytest.mark.slow
@pytest.mark.parametrize("stall", (16, 64, 192, 250))
def test_back_pressure_on_many_random_programs(dma_soc, cocotb_soc, stall):
    cfg, rps, labels = random_set(range(100, 200), "ddr4", steady=True)
    three_ways(labels, [rp.program for rp in rps], cfg, dma_soc, cocotb_soc, [undefined_ranges(cfg)] * len(rps),
               [rp.dram_image for rp in rps], [rp.llm_image for rp in rps], fields=STATE_FIELDS, stall=stall)


@pytest.mark.slow
def test_plain_axiram_is_the_model_at_latency_2(cocotb_soc):
    """Why the hooks: cocotbext-axi's AxiRam as shipped (plain_axiram_tb.py) reads, cycle by cycle,
    the STATUS phases the ISS predicts at latency 2 and at no other, on both channels from one
    burst to 16 (4 KiB): its latency is fixed at 2, so ModelDram makes it the model's L."""
    import json
    import tempfile
    from fenn_dma.dram import DramTiming
    from fenn_dma.rtl.generate import TOP_NAME
    from fenn_dma.sim import DmaModel
    from fenn_dma.verify.rtl_harness import _runner, job_json
    from fenn_dma.verify.runner import _job
    from test_dma_diff_timing import program

    cfg = machine("short")
    base = cfg.dram_base
    assert base % cfg.dram_size == 0                # AxiRam's address % size is the window
    cases = [(ch, n, d) for ch in ("mm2s", "s2mm") for n, d in ((64, 0), (256, 10), (4096, 260))]
    programs = [assemble(program(ch, base if ch == "mm2s" else 0, 0 if ch == "mm2s" else base, n, d))
                for ch, n, d in cases]
    jobs = [job_json(_job(p, cfg, cocotb_soc.config, 100_000, "no")) for p in programs]
    with tempfile.TemporaryDirectory(prefix="fenn-axiram-") as tmp:
        jobs_file, out = Path(tmp) / "jobs.json", Path(tmp) / "out.json"
        jobs_file.write_text(json.dumps({"size": cfg.dram_size, "jobs": jobs}))
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        _runner().test(test_module="plain_axiram_tb", hdl_toplevel=TOP_NAME, hdl_toplevel_lang="verilog",
                       build_dir=cocotb_soc.build_dir, test_dir=tmp, log_file=Path(tmp) / "sim.log",
                       extra_env={"FENN_AXIRAM_JOBS": str(jobs_file), "FENN_AXIRAM_OUT": str(out)})
        assert out.exists(), (Path(tmp) / "sim.log").read_text()[-3000:]
        rtl = json.loads(out.read_text())
    for case, p, r in zip(cases, programs, rtl):
        matching = [lat for lat in range(1, 12)
                    if iss_state(p, cfg.with_(dma=DmaModel(DramTiming(latency=lat))))["x"][12:32] == r["x"][12:32]]
        assert matching == [2], (case, matching)
