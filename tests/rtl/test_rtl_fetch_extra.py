"""The core with the instruction RAM's output registered (SocConfig.fetch_extra = 1, the ECP5
profiles'): cycle for cycle and state for state the ISS's model of that pipeline
(CycleModel.of_pipeline(fetch_extra=1): a fill of 4, taken branches and jumps 2 more cycles
instead of 1), on the ISA suite, directed redirect sequences (mcycle across them, a load-use
right after a redirect), random programs, cycle-limited runs (the halt's pc and state), and the
ecp5 profile's own SoC (two-cycle multiply too) against its ISS, on the native harness."""
from pathlib import Path

import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.loader import load_program
from fenn_dma.sim.config import MachineConfig, profile
from fenn_dma.sim.cycle_model import CycleModel
from fenn_dma.verify.kernels import counted_loop
from fenn_dma.verify.random_program import SCALAR_RTL, random_program

SUITE = sorted((Path(__file__).resolve().parents[2] / "firmware" / "isa_tests").glob("*.s"))
GP = 3
LONG_FETCH = profile("test-rtl").with_(cycle_model=CycleModel.of_pipeline(fetch_extra=1))
SEEDS = range(0, 1500)
ECP5_SEEDS = range(0, 300)

# Three taken branches, two jumps (jal, jalr), one branch not taken; mcycle read around them.
DIRECTED = """
    csrw mcountinhibit, zero   # mcycle counts
    li a0, 3
    csrr s0, mcycle
1:  addi a0, a0, -1
    bnez a0, 1b             # taken twice, then not
    beq zero, zero, 2f      # taken
    li t3, 99               # skipped
2:  jal ra, 3f
    li t4, 98               # skipped
3:  la t0, 4f
    jalr zero, 0(t0)
    li t5, 97               # skipped
4:  lw t1, 0(zero)
    beq t1, t1, 5f          # load-use, then a taken branch
5:  lw t2, 4(zero)
    add t2, t2, t1          # load-use right after the redirect
    csrr s1, mcycle
    sub s1, s1, s0
    ecall
"""


def _skip_without_toolchain():
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def long_fetch_soc():
    _skip_without_toolchain()
    from fenn_dma.verify.rtl_native import build_native
    from fenn_dma.verify.runner import soc_config
    soc = soc_config(LONG_FETCH)
    assert soc.fetch_extra == 1 and soc.mul_extra == 0
    return soc, build_native(soc)


def _run(programs, machine, soc, max_cycles=1_000_000):
    from fenn_dma.verify.rtl_native import run_batch_native
    from fenn_dma.verify.runner import _job
    config, built = soc
    return run_batch_native(config, [_job(p, machine, config, max_cycles, "backdoor") for p in programs],
                            soc=built)


def _against_iss(programs, labels, machine, soc):
    from fenn_dma.verify.compare import SCALAR_FIELDS, first_difference
    from fenn_dma.verify.runner import _state, iss_state
    results = _run(programs, machine, soc)
    iss = [iss_state(p, machine) for p in programs]
    failures = [f"{label}: {diff}" for label, a, r in zip(labels, iss, results)
                if (diff := first_difference(a, _state(r, True), SCALAR_FIELDS))]
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss, results


def test_cycle_model_of_the_longer_fetch():
    model = CycleModel.of_pipeline(fetch_extra=1, mul_extra=1)
    assert (model.pipeline_fill, model.taken_branch_penalty, model.jump_penalty, model.load_use_stall) == (4, 2, 2, 1)
    assert model.fetch_extra == 1 and model.mul_extra == 1 and CycleModel().fetch_extra == 0
    assert CycleModel.of_pipeline() == CycleModel()
    # A cost experiment is no core's pipeline: it reads back as no extra fetch stage.
    assert CycleModel(pipeline_fill=5, taken_branch_penalty=2, jump_penalty=3).fetch_extra == 0
    # The machine round-trips through the ISS's configuration and the SoC's.
    from fenn_dma.arch import profile as spec_profile
    from fenn_dma.rtl.config import SocConfig
    for name in ("ecp5", "ulx3s"):
        spec = spec_profile(name)
        assert spec.fetch_extra == 1
        assert MachineConfig.from_spec(spec).spec == spec
        assert SocConfig.from_spec(spec).fetch_extra == 1
    for name in ("kv260", "sim-small", "test-rtl"):
        assert spec_profile(name).fetch_extra == 0 and profile(name).cycle_model == CycleModel()


def test_isa_suite_with_the_longer_fetch(long_fetch_soc):
    programs = [load_program(str(p)) for p in SUITE]
    _, results = _against_iss(programs, [p.stem for p in SUITE], LONG_FETCH, long_fetch_soc)
    for path, r in zip(SUITE, results):
        assert r["stop"]["cause"] == "ecall" and r["x"][GP] == 1, f"{path.stem}: test {r['x'][GP]} failed"


def test_directed_redirects_cost_one_more_cycle(long_fetch_soc):
    from fenn_dma.verify.runner import iss_state
    program = assemble(DIRECTED, "<redirects>")
    _, results = _against_iss([program], ["directed"], LONG_FETCH, long_fetch_soc)
    short = iss_state(program, profile("test-rtl"))
    # Six redirects (4 taken branches, jal, jalr) and one cycle of fill more than the short fetch;
    # all six between the mcycle reads (s1 = x9).
    assert results[0]["cycles"] - short["cycles"] == 6 + 1
    assert results[0]["x"][9] - short["x"][9] == 6
    assert results[0]["x"][28:31] == [0, 0, 0] and results[0]["instret"] == short["instret"]   # t3..t5


def test_random_programs_with_the_longer_fetch(long_fetch_soc):
    programs = [random_program(seed, 60, LONG_FETCH, SCALAR_RTL).program for seed in SEEDS]
    iss, _ = _against_iss(programs, [f"seed {s}" for s in SEEDS], LONG_FETCH, long_fetch_soc)
    causes = {s["stop"]["cause"] for s in iss}
    assert {"ecall", "misaligned_fetch", "load_fault", "illegal_instruction"} <= causes, causes


def test_cycle_limit_stops_where_the_iss_would(long_fetch_soc):
    """A halt at every cycle of a loop's first iterations: the RTL's stop pc and registers are
    the ISS's after the instructions the RTL retired (nothing younger took effect)."""
    from fenn_dma.verify.runner import iss_state
    program = counted_loop(50, "<loop>")
    limits = list(range(0, 40))
    halted = []
    for limit in limits:
        halted += _run([program], LONG_FETCH, long_fetch_soc, max_cycles=limit)
    for limit, r in zip(limits, halted):
        assert r["stop"]["cause"] == "max_cycles", (limit, r["stop"])
        iss = iss_state(program, LONG_FETCH, max_instructions=r["instret"])
        assert r["stop"]["pc"] == iss["stop"]["pc"] and r["x"] == iss["x"], (limit, r["stop"], iss["stop"])
    assert len({r["instret"] for r in halted}) > 20


def test_ecp5_profile_soc_matches_its_iss():
    """The ecp5 machine: SocConfig and MachineConfig of the profile agree (fetch_extra 1,
    mul_extra 1, no full M)."""
    _skip_without_toolchain()
    from fenn_dma.rtl.config import profile as soc_profile
    from fenn_dma.verify.rtl_native import build_native
    machine: MachineConfig = profile("ecp5")
    soc = soc_profile("ecp5")
    assert soc.fetch_extra == machine.cycle_model.fetch_extra == 1 and soc.mul_extra == 1 and not soc.full_m
    programs = [random_program(seed, 60, machine, SCALAR_RTL).program for seed in ECP5_SEEDS]
    programs += [load_program(str(p)) for p in SUITE]     # without full M, its M tests stop as illegal on both
    labels = [f"seed {s}" for s in ECP5_SEEDS] + [p.stem for p in SUITE]
    iss, _ = _against_iss(programs, labels, machine, (soc, build_native(soc)))
    assert sum(s["stop"]["cause"] == "ecall" for s in iss) > len(programs) // 4


def test_fetch_extra_the_core_cannot_build_is_refused():
    from fenn_dma.arch import SpecError
    from fenn_dma.arch import profile as spec_profile
    from fenn_dma.rtl.config import ConfigError, SocConfig
    with pytest.raises(ConfigError, match="fetch_extra = 2: the core builds 0 or 1"):
        SocConfig(fetch_extra=2)
    with pytest.raises(SpecError, match="'ecp5': fetch_extra = -1: must be >= 0"):
        spec_profile("ecp5").with_(fetch_extra=-1)
    # A short-fetch SoC of the ecp5 sizes is not the ecp5 machine (its ISS would charge a redirect 3).
    assert SocConfig.from_spec(spec_profile("ecp5")).with_(fetch_extra=0).spec.name == "soc-custom"


@pytest.mark.parametrize("latency, stall", (("short", 0), ("ddr4", 0), ("ddr4", 96)))
def test_vector_and_dma_programs_with_the_longer_fetch(latency, stall):
    """The vector SoC with the DMA (the ulx3s profile's units, VMEM and LLMs with ECP5's
    collision rules) and the longer fetch: random DMA, vector and scalar programs equal the ISS's
    (registers, STATUS words, memories, stop, cycles) at both DRAM latencies, and under
    back-pressure (the stall pattern counts from the core's start, which the longer fill moves)."""
    _skip_without_toolchain()
    from fenn_dma.dram import DramTiming
    from fenn_dma.rtl.config import TRANSPARENT_COLLISIONS
    from fenn_dma.sim import DmaModel
    from fenn_dma.verify.compare import DMA_FIELDS, first_difference, without_ranges
    from fenn_dma.verify.random_program import DMA_RTL, SMALL_CONFIG, undefined_ranges
    from fenn_dma.verify.runner import build_soc, iss_state, run_many_on_rtl, soc_config
    machine = SMALL_CONFIG.with_(cycle_model=CycleModel.of_pipeline(fetch_extra=1),
                                 dma=DmaModel(DramTiming.preset(latency).with_stall(stall, seed=7)))
    soc = soc_config(machine, vector=True, dma=True).with_(collisions=TRANSPARENT_COLLISIONS)
    assert soc.fetch_extra == 1
    built = build_soc(soc, "native")
    seeds = range(0, 100)
    rps = [random_program(seed, 60, machine, DMA_RTL) for seed in seeds]
    iss = [iss_state(rp.program, machine, llm=rp.llm_image, dram=rp.dram_image) for rp in rps]
    rtl = run_many_on_rtl([rp.program for rp in rps], machine, soc=built, llm_images=[rp.llm_image for rp in rps],
                          dram_images=[rp.dram_image for rp in rps])
    spans = undefined_ranges(machine)
    failures = [f"seed {s}: {diff}" for s, a, b in zip(seeds, iss, rtl)
                if (diff := first_difference(without_ranges(a, spans), without_ranges(b, spans), DMA_FIELDS))]
    assert not failures, f"{len(failures)} of {len(rps)} differ:\n" + "\n".join(failures[:25])
    assert sum(s["stop"]["cause"] == "ecall" for s in iss) > len(rps) // 2
