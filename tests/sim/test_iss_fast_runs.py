"""The fast engine's translated runs (docs/iss.md, "Engines") against the reference engine: lane
operations on edge values, stops and limits inside a straight-line run, cycle models other than the
default (their costs are folded into the translation), and the generic C build (no SSE2)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sysconfig
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.sim import CycleModel, Machine, StopCause, fast
from fenn_dma.verify.random_program import random_program

from .conftest import SMALL, _run_both
from .test_iss_random import assert_same, fresh

EDGES = (-32768, -32767, -16384, -2, -1, 0, 1, 2, 3, 16383, 32766, 32767)
VALU = [f"{op}{s} v{{d}}, v1, v2" for op in ("vadd", "vsub", "vand", "vsll", "vsra") for s in ("", "_s")]
VALU += [f"vmul{s}{r} v{{d}}, v1, v2, {k}" for s in ("", "_s") for r in ("", "_rn", "_rs") for k in (0, 1, 7, 15)]
VALU += [f"vsrai{r} v{{d}}, v1, {k}" for r in ("", "_rn", "_rs") for k in (0, 1, 9, 15)]
VALU += [f"vslli v{{d}}, v1, {k}" for k in (0, 1, 15)]
VALU += [f"vandadd v{{d}}, v1, a0, {k}" for k in (0, 5, 15)]


def edge_rows(seed: int) -> bytes:
    """Two rows mixing the int16 edges with random lanes (vsll/vsra amounts cover 0..31)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(EDGES, 32) if seed % 2 else rng.integers(-32768, 32768, 32)
    b = rng.choice(EDGES + tuple(range(0, 40, 3)), 32)
    return np.concatenate([a, b]).astype("<i2").tobytes()


def edge_program(seed: int):
    """Every lane op, each rounding mode and saturation, in one program; results in v3..v31 in turn,
    each stored (the rows feed v1, v2; the RNG is seeded so stochastic rounding draws real bits).
    Returns (source, setup, instructions retired by its end)."""
    body = ["vloadv v1, 0(zero)", "vloadv v2, 64(zero)", "li a0, 0x1234abcd", "vloadr0 128(zero)",
            "vloadr1 192(zero)", "li s1, 192"]
    for k, form in enumerate(VALU):
        d = 3 + k % 29
        body += [form.format(d=d), "addi s1, s1, 64", f"vstorev v{d}, 0(s1)"]
        if k % 9 == 8:
            body += ["vtge t1, v1, v2", "vsel v1, t1, v2", "vtlt t2, v2, v1", "vteq t3, v1, v2",
                     "vtne t4, v3, v2", "vrng v2", "vextract t5, v1, 31", "vfill v2, t2"]
    seeds = np.random.default_rng(100 + seed).integers(1, 65536, 64).astype("<u2").tobytes()

    def setup(m: Machine) -> None:
        m.load_image("vmem", edge_rows(seed) + seeds)
    return "\n".join(body) + "\necall\n", setup, len(body) + 1   # li a0: lui + addi


@pytest.mark.parametrize("seed", range(6))
def test_lane_operations_on_edge_values(run_asm, seed):
    source, setup, retired = edge_program(seed)
    m = run_asm(source, setup=setup)
    assert m.last_stop.cause == StopCause.ECALL and m.instret == retired


LONG_RUN = """
    csrw mcountinhibit, zero     # count from here (CSR accesses run one at a time)
    lw a1, 0(zero)
    add a2, a1, a1               # load-use stall inside the run
    lui t1, {fault_page}
{body}
    sw a2, 0(t1)                 # store fault at the end of a long straight-line run
    ecall
"""


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 4, 5, 6, 40, 75, 76, 77, 78, None])
def test_limits_and_a_fault_inside_a_straight_line_run(run_asm, small, limit):
    """76 instructions retire (the enabling csrw counts itself), one load-use stall, then sw faults."""
    assert small.dmem_size % 4096 == 0
    body = "\n".join(f"    vadd v{2 + k % 20}, v1, v{1 + k % 7}\n    addi a2, a2, {k}" for k in range(36))
    m = run_asm(LONG_RUN.format(body=body, fault_page=small.dmem_size >> 12), max_instructions=limit)
    if limit is None or limit > 76:
        assert m.last_stop.cause == StopCause.STORE_FAULT and m.instret == 76
        assert m.minstret == 76 and m.mcycle == 77
    else:
        assert m.last_stop.cause == StopCause.MAX_INSTRUCTIONS and m.instret == limit


def test_a_load_use_hazard_ends_a_run_and_stops_there(run_asm):
    m = run_asm("li a0, 3\n vlui v1, 1\n vloadv v2, 0(zero)\n vadd v3, v2, v1\n ecall")
    assert m.last_stop.cause == StopCause.RAW_HAZARD and m.instret == 3


def test_load_use_stalls_around_runs(run_asm):
    """A jump between a load and its use: no stall; branches reading a register loaded just
    before: one stall each (taken: + 1, and the run at its target starts with no stall)."""
    m = run_asm("lw a1, 0(zero)\n j 1f\n1: add a2, a1, a1\n lw a3, 4(zero)\n beq a3, a3, 2f\n2: addi a4, a3, 1\n"
                " lw a5, 8(zero)\n bne a5, a5, 3f\n3: ecall")
    assert m.last_stop.cause == StopCause.ECALL
    assert m.cycles == 3 + 1 + 2 + 1 + 1 + 3 + 1 + 1 + 2


COST_MODELS = [CycleModel(taken_branch_penalty=2, jump_penalty=3, load_use_stall=2, mul_extra=1, div_extra=33),
               CycleModel(pipeline_fill=0, taken_branch_penalty=0, jump_penalty=0, load_use_stall=0)]


@pytest.mark.parametrize("model", COST_MODELS, ids=["slow", "free"])
def test_other_cycle_models_on_random_programs(model):
    for seed in range(0, 300, 10):
        rp = random_program(seed)
        rp = replace(rp, config=rp.config.with_(cycle_model=model))
        ref, fst = fresh(rp), fresh(rp)
        ref.run(max_instructions=20_000, engine="reference")
        fst.run(max_instructions=20_000, engine="fast")
        assert_same(ref, fst, seed)


def test_a_translation_is_not_reused_for_another_cycle_model():
    program = assemble("li a0, 3\n1: addi a0, a0, -1\n mul a1, a0, a0\n bnez a0, 1b\n ecall", "<t>")
    m = Machine(SMALL)
    m.load(program)
    m.run(engine="fast")
    default = m.cycles
    m2 = Machine(SMALL.with_(cycle_model=CycleModel(mul_extra=5)))
    m2.load(program)
    m2._fast_code = m._fast_code          # a stale cache entry: keyed on the parameters, so rebuilt
    m2.run(engine="fast")
    assert m2.cycles == default + 3 * 5


def _generic_build(tmp: Path) -> Path:
    cc = shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC") else "cc")
    include = sysconfig.get_paths()["include"]
    if cc is None or not (Path(include) / "Python.h").exists():
        pytest.skip("needs a C compiler and the Python headers (as the extension's build does)")
    out = tmp / ("_fastiss" + sysconfig.get_config_var("EXT_SUFFIX"))
    source = Path(fast.__file__).with_name("_fastiss.c")
    subprocess.run([cc, "-O1", "-std=gnu11", "-DFENN_ISS_GENERIC", "-shared", "-fPIC", f"-I{include}",
                    str(source), "-o", str(out)], check=True, capture_output=True)
    return out


def test_the_generic_build_matches_the_reference(tmp_path, monkeypatch):
    """Hosts without SSE2 run the plain C lane loops: build them here and compare."""
    if not fast.available():
        pytest.skip("the fast engine is not built")
    path = _generic_build(tmp_path)
    loader = importlib.machinery.ExtensionFileLoader("_fastiss", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("_fastiss", path, loader=loader))
    loader.exec_module(module)
    monkeypatch.setattr(fast, "_fastiss", module)
    for seed in range(6):
        source, setup, _ = edge_program(seed)
        _run_both(assemble(source, "<edges>"), SMALL, setup, None)
    for seed in range(0, 300, 6):
        rp = random_program(seed)
        ref, fst = fresh(rp), fresh(rp)
        ref.run(max_instructions=20_000, engine="reference")
        fst.run(max_instructions=20_000, engine="fast")
        assert_same(ref, fst, seed)
