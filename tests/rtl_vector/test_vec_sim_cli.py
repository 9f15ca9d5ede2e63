"""`fenn-dma sim --backend rtl` through the one RTL runner (verify/runner.py):
a vector program with DMEM, VMEM and LLM images runs on the SoC built with
the vector unit and writes the same JSON state as the ISS backend (stop, x,
v, per-lane RNG state, counters, cycles, memories); a scalar program runs on
the SoC without it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.verify.compare import SCALAR_FIELDS, STATE_FIELDS, first_difference

VECTOR_PROGRAM = """
    lw a0, 0(zero)            # from --dmem
    vloadr0 128(zero)         # RNG seeds from --vmem
    vloadr1 192(zero)
    vloadv v1, 0(zero)        # from --vmem
    vlui v2, 0
    vloadl v3, 2(v2)          # lane i reads its LLM halfword 1 (from --llm)
    vlui v5, 23170
    vmul_rs v6, v1, v5, 15    # stochastic rounding: advances each lane's RNG
    vadd v4, v3, v1
    vrng v7
    vstorev v6, 64(zero)
    sw a0, 4(zero)
    ecall
"""

SCALAR_PROGRAM = """
    lw a0, 0(zero)
    li t0, 10
1:  add a1, a1, a0
    addi t0, t0, -1
    bnez t0, 1b
    sw a1, 8(zero)
    ecall
"""


@pytest.fixture
def files(tmp_path):
    from fenn_dma.verify.rtl_harness import toolchain_missing
    if (reason := toolchain_missing()):
        pytest.skip(reason)
    (tmp_path / "v.s").write_text(VECTOR_PROGRAM)
    (tmp_path / "s.s").write_text(SCALAR_PROGRAM)
    (tmp_path / "d.bin").write_bytes((1234).to_bytes(4, "little"))
    vmem = np.arange(128, dtype="<i2") * 37
    vmem[64:128] = np.arange(1, 65) * 1009
    (tmp_path / "vm.bin").write_bytes(vmem.tobytes())
    llm = np.zeros((32, 2048), np.uint8)
    for lane in range(32):
        llm[lane, 2:4] = np.array([100 * lane], "<i2").view(np.uint8)
    (tmp_path / "l.bin").write_bytes(llm.tobytes())
    return tmp_path


def _run(files, program, backend, *images) -> dict:
    out = files / f"{program}.{backend}.json"
    assert main(["sim", str(files / program), "--backend", backend, "--profile", "kv260", *images,
                 "--json", str(out), "--dump-mem"]) == 0
    return json.loads(out.read_text())


def test_vector_program_with_images_on_rtl_equals_iss(files, capsys):
    images = ["--dmem", str(files / "d.bin"), "--vmem", str(files / "vm.bin"), "--llm", str(files / "l.bin")]
    iss = _run(files, "v.s", "iss", *images)
    rtl = _run(files, "v.s", "rtl", *images)
    assert "with the vector unit" in capsys.readouterr().out
    assert first_difference(iss, rtl, STATE_FIELDS) is None, first_difference(iss, rtl, STATE_FIELDS)
    assert rtl["stop"]["cause"] == "ecall" and rtl["x"][10] == 1234
    assert rtl["v"][4] == [100 * i + 37 * i for i in range(32)]
    seeds = np.arange(1, 65) * 1009 & 0xFFFF
    assert rtl["rng"]["s0"] != list(seeds[:32]) and any(rtl["rng"]["s0"])     # seeded, then advanced


def test_scalar_program_on_rtl_equals_iss(files, capsys):
    iss = _run(files, "s.s", "iss", "--dmem", str(files / "d.bin"))
    rtl = _run(files, "s.s", "rtl", "--dmem", str(files / "d.bin"))
    assert "without the vector unit" in capsys.readouterr().out
    assert first_difference(iss, rtl, SCALAR_FIELDS) is None, first_difference(iss, rtl, SCALAR_FIELDS)
    assert "v" not in rtl and rtl["x"][11] == 12340
