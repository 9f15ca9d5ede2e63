"""The native harness (verify/rtl_native.py, verify/native/harness.cpp): results
identical to the cocotb harness's (verify/rtl_harness.py) job for job, and to the
ISS's on the ISA test suite and on many more random programs than the cocotb
differential test can afford; the cycle limit; VCD waves; clear errors."""
from collections import Counter
from pathlib import Path

import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.loader import load_program
from fenn_dma.verify.kernels import counted_loop
from fenn_dma.verify.random_program import SCALAR_RTL, random_program

SUITE = sorted((Path(__file__).resolve().parents[2] / "firmware" / "isa_tests").glob("*.s"))
GP = 3
# 6x the cocotb differential test's default 250 seeds, in a few seconds of RTL simulation.
NATIVE_SEEDS = range(0, 1500)
SLOW_NATIVE_SEEDS = range(1500, 11500)


@pytest.fixture(scope="session")
def native_config(machine_config):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.verify.runner import soc_config
    return soc_config(machine_config)


@pytest.fixture(scope="session")
def native_soc(native_config):
    from fenn_dma.verify.rtl_native import build_native
    return build_native(native_config)


def _jobs(programs, machine_config, max_cycles=1_000_000, read_dmem="backdoor"):
    from fenn_dma.verify.runner import _job, soc_config
    return [_job(p, machine_config, soc_config(machine_config), max_cycles, read_dmem) for p in programs]


def _native(native_config, native_soc, jobs, **kw):
    from fenn_dma.verify.rtl_native import run_batch_native
    return run_batch_native(native_config, jobs, soc=native_soc, **kw)


def _against_iss(programs, labels, results, machine_config):
    from fenn_dma.verify.compare import SCALAR_FIELDS, first_difference
    from fenn_dma.verify.runner import _state, iss_state
    iss = [iss_state(p, machine_config) for p in programs]
    failures = [f"{label}: {diff}" for label, a, r in zip(labels, iss, results)
                if (diff := first_difference(a, _state(r, True), SCALAR_FIELDS))]
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss


def _cycle_limit_jobs(machine_config):
    from fenn_dma.verify.rtl_harness import RtlJob
    long = counted_loop(1000, "<loop>")
    jobs = _jobs([long] * 8, machine_config, read_dmem="no")
    for job, limit in zip(jobs, (0, 1, 2, 3, 7, 10, 100, 1000)):
        job.max_cycles = limit
    # x_init, a later entry, DMEM read over the host port, a DMEM image.
    jobs.append(RtlJob(imem=long.images["imem"], dmem=bytes(range(1, 200)), entry=4, max_cycles=50,
                       read_dmem="host", x_init={5: 7, 10: 0xFFFFFFFF, 0: 3}))
    return jobs


def test_native_equals_cocotb_harness(native_config, native_soc, verilated_soc, machine_config):
    """The same jobs through both harnesses (one cocotb launch): identical result dicts."""
    from fenn_dma.verify.rtl_harness import run_batch
    programs = [load_program(str(p)) for p in SUITE]
    programs += [random_program(seed, 60, machine_config, SCALAR_RTL).program for seed in range(40)]
    jobs = _jobs(programs, machine_config) + _cycle_limit_jobs(machine_config)
    cocotb = run_batch(verilated_soc, jobs)
    native = _native(native_config, native_soc, jobs)
    differ = [i for i, (a, b) in enumerate(zip(cocotb, native)) if a != b]
    assert not differ, f"jobs {differ} differ, the first: cocotb {cocotb[differ[0]]}, native {native[differ[0]]}"


def test_isa_suite_passes_natively(native_config, native_soc, machine_config):
    assert SUITE, "no ISA test programs found"
    programs = [load_program(str(p)) for p in SUITE]
    names = [p.stem for p in SUITE]
    results = _native(native_config, native_soc, _jobs(programs, machine_config))
    _against_iss(programs, names, results, machine_config)
    for name, r in zip(names, results):
        assert r["stop"]["cause"] == "ecall" and r["x"][GP] == 1, f"{name}: test {r['x'][GP]} failed ({r['stop']})"


def _random_against_iss(seeds, native_config, native_soc, machine_config):
    programs = [random_program(seed, 60, machine_config, SCALAR_RTL).program for seed in seeds]
    results = _native(native_config, native_soc, _jobs(programs, machine_config))
    return _against_iss(programs, [f"seed {s}" for s in seeds], results, machine_config)


def test_random_programs_match_iss_natively(native_config, native_soc, machine_config):
    iss = _random_against_iss(NATIVE_SEEDS, native_config, native_soc, machine_config)
    causes = Counter(s["stop"]["cause"] for s in iss)
    for cause in ("ecall", "ebreak", "misaligned_fetch", "load_fault", "store_fault", "misaligned_load",
                  "misaligned_store", "illegal_instruction"):
        assert causes[cause] > 0, causes


@pytest.mark.slow
def test_many_random_programs_match_iss_natively(native_config, native_soc, machine_config):
    _random_against_iss(SLOW_NATIVE_SEEDS, native_config, native_soc, machine_config)


def test_cycle_limit_halts_the_core(native_config, native_soc, machine_config):
    jobs = _cycle_limit_jobs(machine_config)[:8]
    results = _native(native_config, native_soc, jobs)
    for job, r in zip(jobs, results):
        assert r["stop"]["cause"] == "max_cycles", (job.max_cycles, r["stop"])
        # The halt lands max_cycles + 4 cycles after the start (as with the cocotb harness).
        assert r["cycles"] == job.max_cycles + 4, (job.max_cycles, r["cycles"])
    assert [r["instret"] for r in results] == sorted(r["instret"] for r in results)
    # A long run to the end: 5 cycles per iteration (a taken branch costs 2).
    done = _native(native_config, native_soc, _jobs([counted_loop(20_000, "<loop>")], machine_config,
                                                     read_dmem="no"))[0]
    assert done["stop"]["cause"] == "ecall" and done["x"][10] == (3 * 20_000) & 0xFFFFFFFF


def test_trace_writes_a_vcd(native_config, machine_config, tmp_path):
    from fenn_dma.verify.rtl_native import build_native, run_batch_native
    traced = build_native(native_config, trace=True)
    program = assemble("li a0, 5\naddi a0, a0, 1\necall\n", "<t>")
    jobs = _jobs([program], machine_config)
    path = tmp_path / "run.vcd"
    with_trace = run_batch_native(native_config, jobs, trace=path, soc=traced)
    assert with_trace == run_batch_native(native_config, jobs, soc=traced)
    text = path.read_text()
    head = text[:text.index("$enddefinitions")]
    assert text.startswith("$version") and "$timescale" in head and " clk $end" in head and " stopped $end" in head
    assert text.count("\n#") > 20          # time stamps after the definitions


def test_trace_needs_the_traced_build(native_config, native_soc, machine_config, tmp_path):
    from fenn_dma.verify.rtl_native import NativeRun, RtlSimError
    with pytest.raises(RtlSimError, match="traced build"):
        NativeRun(native_soc, tmp_path / "x.vcd")


@pytest.mark.parametrize("change, message", [
    ({"imem": bytes(8192)}, "job 1: the imem image of 8192 bytes does not fit in 4096"),
    ({"read_dmem": "maybe"}, "job 1: read_dmem = 'maybe'"),
    ({"write_dmem": "vpi"}, "job 1: write_dmem = 'vpi'"),
    ({"x_init": {32: 1}}, "job 1: x_init names x32"),
    ({"x_init": {3: -1}}, "job 1: x_init x3 = -1"),
    ({"entry": 2}, "job 1: entry = 2"),
    ({"vmem": bytes(64)}, "job 1: a vmem image needs the vector unit"),
    ({"read_vector": True}, "job 1: read_vector needs the vector unit"),
    ({"max_cycles": -5}, "job 1: max_cycles = -5"),
])
def test_a_bad_job_is_named(native_config, native_soc, machine_config, change, message):
    from fenn_dma.verify.rtl_harness import RtlJob, RtlSimError
    good = RtlJob(imem=assemble("ecall\n", "<e>").images["imem"])
    bad = RtlJob(**{**good.__dict__, **change})
    with pytest.raises(RtlSimError, match=message.replace("(", r"\(").replace("[", r"\[")):
        _native(native_config, native_soc, [good, bad])


def test_jobs_may_be_dicts(native_config, native_soc, machine_config):
    job = _jobs([assemble("li a0, 9\necall\n", "<d>")], machine_config)[0]
    as_json = _native(native_config, native_soc, [job.to_json()])
    assert as_json == _native(native_config, native_soc, [job])
    assert as_json[0]["x"][10] == 9


# ---- the SoC with the vector unit (sized as verify/random_program.VECTOR_TEST_CONFIG) ----

VECTOR_SEEDS = range(0, 60)
SLOW_VECTOR_SEEDS = range(60, 1060)


@pytest.fixture(scope="session")
def vector_config(native_config):
    from fenn_dma.verify.random_program import VECTOR_TEST_CONFIG
    from fenn_dma.verify.runner import soc_config
    return soc_config(VECTOR_TEST_CONFIG, vector=True)


@pytest.fixture(scope="session")
def native_vector_soc(vector_config):
    from fenn_dma.verify.rtl_native import build_native
    return build_native(vector_config)


def _vector_jobs(programs, vector_config):
    from fenn_dma.verify.runner import _job
    return [_job(rp.program, rp.config, vector_config, 1_000_000, "backdoor", rp.llm_image) for rp in programs]


def _vector_against_iss(programs, vector_config, native_vector_soc):
    from fenn_dma.verify.compare import STATE_FIELDS, differences
    from fenn_dma.verify.rtl_native import run_batch_native
    from fenn_dma.verify.runner import _state, iss_state
    results = run_batch_native(vector_config, _vector_jobs(programs, vector_config), soc=native_vector_soc)
    assert all("rng" in r and "v" in r for r in results)
    iss = [iss_state(rp.program, rp.config, 200_000, llm=rp.llm_image) for rp in programs]
    failures = differences([f"seed {rp.seed} ({a['stop']['cause']})" for rp, a in zip(programs, iss)],
                           iss, [_state(r, True) for r in results], STATE_FIELDS)
    assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
    return iss


def test_vector_native_equals_cocotb_harness(vector_config, native_vector_soc):
    from fenn_dma.verify.random_program import directed_vector_program, fault_vector_programs
    from fenn_dma.verify.rtl_harness import build, run_batch
    from fenn_dma.verify.rtl_native import run_batch_native
    jobs = _vector_jobs([directed_vector_program(seed) for seed in range(2)] + fault_vector_programs(),
                        vector_config)
    cocotb = run_batch(build(vector_config), jobs)
    native = run_batch_native(vector_config, jobs, soc=native_vector_soc)
    differ = [(i, k) for i, (a, b) in enumerate(zip(cocotb, native)) for k in a if a[k] != b.get(k)]
    assert not differ and cocotb == native, f"(job, field) differ: {differ[:10]}"


def test_vector_programs_match_iss_natively(vector_config, native_vector_soc):
    from fenn_dma.verify.kernels import all_kernels
    from fenn_dma.verify.random_program import (directed_vector_program, fault_vector_programs,
                                                random_vector_program, stochastic_program)
    programs = [directed_vector_program(seed) for seed in range(4)] + fault_vector_programs()
    programs += [random_vector_program(seed) for seed in VECTOR_SEEDS] + [stochastic_program(0)]
    programs += [k.vp for k in all_kernels()]
    iss = _vector_against_iss(programs, vector_config, native_vector_soc)
    assert Counter(s["stop"]["cause"] for s in iss)["ecall"] > len(VECTOR_SEEDS) // 2


@pytest.mark.slow
def test_many_vector_programs_match_iss_natively(vector_config, native_vector_soc):
    from fenn_dma.verify.random_program import random_vector_program
    _vector_against_iss([random_vector_program(seed) for seed in SLOW_VECTOR_SEEDS], vector_config,
                        native_vector_soc)


def test_vector_images_through_arrays_equal_the_host_port(vector_config, native_vector_soc):
    """The backdoor (images in and out through the memories' arrays) and the host-port path give
    the same results, memories and cycles, on programs with VMEM, LLM and DMEM images."""
    from dataclasses import replace

    from fenn_dma.verify.random_program import directed_vector_program, random_vector_program
    from fenn_dma.verify.rtl_native import run_batch_native
    programs = [directed_vector_program(seed) for seed in range(2)] + [random_vector_program(s) for s in range(6)]
    jobs = _vector_jobs(programs, vector_config)
    assert any(j.vmem for j in jobs) and any(j.llm for j in jobs) and any(j.dmem for j in jobs)
    host = run_batch_native(vector_config, [replace(j, write_dmem="host", read_dmem="host") for j in jobs],
                            soc=native_vector_soc)
    backdoor = run_batch_native(vector_config, [replace(j, write_dmem="backdoor", read_dmem="backdoor")
                                                for j in jobs], soc=native_vector_soc)
    differ = [(i, k) for i, (a, b) in enumerate(zip(host, backdoor)) for k in a if a[k] != b.get(k)]
    assert not differ and host == backdoor, f"(job, field) differ: {differ[:10]}"
