"""The core with a two-cycle multiply (SocConfig.mul_extra = 1, the ecp5 profile's): cycle for
cycle the ISS's model with CycleModel.mul_extra = 1, on the ISA suite, directed multiply
sequences (dependent, after a load, before a branch, mcycle across them) and random programs,
on the native harness; the ecp5 profile's own SoC (no full M) against its ISS."""
from pathlib import Path

import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.loader import load_program
from fenn_dma.sim.config import MachineConfig, profile
from fenn_dma.sim.cycle_model import CycleModel
from fenn_dma.verify.random_program import SCALAR_RTL, random_program

SUITE = sorted((Path(__file__).resolve().parents[2] / "firmware" / "isa_tests").glob("*.s"))
GP = 3
TWO_CYCLE = profile("test-rtl").with_(cycle_model=CycleModel(mul_extra=1))
SEEDS = range(0, 1500)
ECP5_SEEDS = range(0, 300)

DIRECTED = """
    csrw mcountinhibit, zero   # mcycle counts
    li a0, 7
    li a1, -3
    csrr s0, mcycle
    mul a2, a0, a1          # dependent on the next instruction
    add a3, a2, a0
    mul a4, a2, a2          # back to back, each on the one before
    mul a4, a4, a1
    mulh a5, a4, a1
    mulhsu a6, a1, a0
    mulhu a7, a1, a1
    lw t0, 0(zero)
    mul t1, t0, a0          # load-use, then the multiply
    mul t2, a0, a1
    beq t2, t2, 1f          # a taken branch right after a multiply
    li t3, 99
1:  mul t4, t2, t2
    jal t5, 2f              # a jump right after a multiply
2:  csrr s1, mcycle
    sub s1, s1, s0
    mul zero, a0, a1        # no destination
    ecall
"""


def _skip_without_toolchain():
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def two_cycle_soc():
    _skip_without_toolchain()
    from fenn_dma.verify.rtl_native import build_native
    from fenn_dma.verify.runner import soc_config
    soc = soc_config(TWO_CYCLE)
    assert soc.mul_extra == 1
    return soc, build_native(soc)


def _against_iss(programs, labels, machine, soc):
    from fenn_dma.verify.compare import SCALAR_FIELDS, first_difference
    from fenn_dma.verify.rtl_native import run_batch_native
    from fenn_dma.verify.runner import _job, _state, iss_state
    config, built = soc
    results = run_batch_native(config, [_job(p, machine, config, 1_000_000, "backdoor") for p in programs], soc=built)
    iss = [iss_state(p, machine) for p in programs]
    failures = [f"{label}: {diff}" for label, a, r in zip(labels, iss, results)
                if (diff := first_difference(a, _state(r, True), SCALAR_FIELDS))]
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss, results


def test_isa_suite_with_two_cycle_multiply(two_cycle_soc):
    programs = [load_program(str(p)) for p in SUITE]
    _, results = _against_iss(programs, [p.stem for p in SUITE], TWO_CYCLE, two_cycle_soc)
    for path, r in zip(SUITE, results):
        assert r["stop"]["cause"] == "ecall" and r["x"][GP] == 1, f"{path.stem}: test {r['x'][GP]} failed"


def test_directed_multiplies_cost_one_more_cycle(two_cycle_soc):
    program = assemble(DIRECTED, "<mul>")
    from fenn_dma.verify.runner import iss_state
    _, results = _against_iss([program], ["directed"], TWO_CYCLE, two_cycle_soc)
    one_cycle = iss_state(program, profile("test-rtl"))
    # Ten multiplies, each one cycle more than on the one-cycle machine; nine between the mcycle reads.
    assert results[0]["cycles"] - one_cycle["cycles"] == 10
    assert results[0]["x"][9] - one_cycle["x"][9] == 9
    assert results[0]["x"][12] == (7 * -3) & 0xFFFFFFFF and results[0]["x"][28] == 0    # a2; t3 skipped


def test_random_programs_with_two_cycle_multiply(two_cycle_soc):
    programs = [random_program(seed, 60, TWO_CYCLE, SCALAR_RTL).program for seed in SEEDS]
    _against_iss(programs, [f"seed {s}" for s in SEEDS], TWO_CYCLE, two_cycle_soc)


def test_ecp5_profile_soc_matches_its_iss():
    """The ecp5 machine: SocConfig and MachineConfig of the profile agree (mul_extra 1, no full M)."""
    _skip_without_toolchain()
    from fenn_dma.rtl.config import profile as soc_profile
    from fenn_dma.verify.rtl_native import build_native
    machine: MachineConfig = profile("ecp5")
    soc = soc_profile("ecp5")
    assert soc.mul_extra == machine.cycle_model.mul_extra == 1 and not soc.full_m
    programs = [random_program(seed, 60, machine, SCALAR_RTL).program for seed in ECP5_SEEDS]
    iss, _ = _against_iss(programs, [f"seed {s}" for s in ECP5_SEEDS], machine, (soc, build_native(soc)))
    assert sum(s["stop"]["cause"] == "ecall" for s in iss) > len(ECP5_SEEDS) // 4


def test_mul_extra_the_core_cannot_build_is_refused():
    from fenn_dma.arch import SpecError
    from fenn_dma.arch import profile as spec_profile
    from fenn_dma.rtl.config import ConfigError, SocConfig
    with pytest.raises(ConfigError, match="mul_extra = 2: the core builds 0 or 1"):
        SocConfig(mul_extra=2)
    with pytest.raises(SpecError, match="'ecp5': mul_extra = -1: must be >= 0"):
        spec_profile("ecp5").with_(mul_extra=-1)
    # A one-cycle SoC of the ecp5 sizes is not the ecp5 machine (its ISS would charge mul 2 cycles).
    assert SocConfig.from_spec(spec_profile("ecp5")).with_(mul_extra=0).spec.name == "soc-custom"
