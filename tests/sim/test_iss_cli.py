"""`fenn-dma sim` end to end: program kinds, images, JSON, trace, exit codes."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.elf import write_elf, write_raw

PROGRAM = """
    lw a0, 0(zero)            # from --dmem
    vloadv v1, 0(zero)        # from --vmem
    vlui v2, 0
    vloadl v3, 2(v2)          # lane i reads its LLM halfword 1 (from --llm)
    li t0, 0x40
    csrw mm2s_dst_addr, t0
    li t0, 64
    csrw mm2s_count, t0
    csrwi mm2s_control, 1     # DRAM 0..63 -> VMEM 64..127 (from --dram)
1:  csrr t1, mm2s_status
    andi t1, t1, 12
    bnez t1, 1b
    vadd v4, v3, v1
    ecall
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "p.s").write_text(PROGRAM)
    (tmp_path / "d.bin").write_bytes((1234).to_bytes(4, "little"))
    (tmp_path / "v.bin").write_bytes(np.arange(32, dtype="<i2").tobytes())
    llm = np.zeros((32, 512), np.uint8)
    for lane in range(32):
        llm[lane, 2:4] = np.array([100 * lane], "<i2").view(np.uint8)
    (tmp_path / "l.bin").write_bytes(llm.tobytes())
    (tmp_path / "dr.bin").write_bytes(bytes(range(64)))
    return tmp_path


def sim(*args) -> int:
    return main(["sim", *map(str, args)])


def test_json_state_and_images(files, capsys):
    out = files / "state.json"
    rc = sim(files / "p.s", "--profile", "sim-small", "--dmem", files / "d.bin", "--vmem", files / "v.bin",
             "--llm", files / "l.bin", "--dram", files / "dr.bin", "--json", out, "--dump-mem")
    assert rc == 0
    state = json.loads(out.read_text())
    assert set(state) == {"stop", "x", "v", "rng", "instret", "cycles", "mcycle", "minstret", "dma_bytes", "dmem",
                          "vmem", "llm", "dram"}
    assert state["dma_bytes"] == {"mm2s": 64, "s2mm": 0}              # the one 64-byte MM2S transfer
    assert state["rng"] == {"s0": [0] * 32, "s1": [0] * 32}          # never seeded
    assert state["mcycle"] == state["minstret"] == 0                  # mcountinhibit resets to 0b101
    assert state["stop"]["cause"] == "ecall" and state["stop"]["pc"] == 4 * 13
    assert len(state["x"]) == 32 and len(state["v"]) == 32 and all(len(r) == 32 for r in state["v"])
    assert state["x"][10] == 1234
    assert state["v"][4] == [100 * i + i for i in range(32)]
    vmem = base64.b64decode(state["vmem"])
    assert vmem[64:128] == bytes(range(64)) and len(vmem) == 64 * 1024
    llm = np.frombuffer(base64.b64decode(state["llm"]), np.uint8).reshape(32, 512)
    assert llm[5, 2:4].view("<i2")[0] == 500
    assert state["instret"] > 14 and state["cycles"] > state["instret"]
    printed = capsys.readouterr().out
    assert "ecall" in printed and "M instructions/s" in printed and "DMA bytes: MM2S 64, S2MM 0" in printed


def test_exit_code_and_trace(files, capsys):
    (files / "bad.s").write_text("li a0, 1\nli t0, 2\nlw a1, 1(t0)\necall\n")
    trace = files / "t.txt"
    assert sim(files / "bad.s", "--trace", trace, "--json", files / "s.json") == 3
    lines = trace.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("00000000: 00100513")
    assert "x10 = 0x00000001" in lines[0]
    state = json.loads((files / "s.json").read_text())
    assert state["stop"] == {"cause": "misaligned_load", "pc": 8} and "vmem" not in state
    assert "misaligned_load" in capsys.readouterr().out


def test_max_instructions_and_engines(files):
    (files / "loop.s").write_text("1: j 1b\n")
    for engine in ("fast", "reference"):
        out = files / f"{engine}.json"
        assert sim(files / "loop.s", "--max-instructions", 50, "--engine", engine, "--json", out) == 3
        state = json.loads(out.read_text())
        assert state["stop"] == {"cause": "max_instructions", "pc": 0} and state["instret"] == 50


@pytest.mark.parametrize("kind", ["elf", "raw"])
def test_elf_and_raw_programs(files, kind):
    program = assemble("li a0, 77\nlw a1, 0(zero)\necall\n.data\n.word 9\n")
    path = files / f"prog.{kind}"
    (write_elf if kind == "elf" else write_raw)(program, path)
    out = files / "o.json"
    assert sim(path, "--json", out) == 0
    state = json.loads(out.read_text())
    assert state["x"][10] == 77 and state["x"][11] == 9


def test_json_rng_state(files):
    """The per-lane RNG state (s0, s1) in the JSON: seeded from VMEM rows, then advanced."""
    seeds = np.arange(1, 65, dtype="<u2")
    (files / "seed.bin").write_bytes(seeds.tobytes())
    (files / "rng.s").write_text("vloadr0 0(zero)\nvloadr1 64(zero)\necall\n")
    (files / "rng2.s").write_text("vloadr0 0(zero)\nvloadr1 64(zero)\nvrng v1\necall\n")
    for name in ("rng", "rng2"):
        assert sim(files / f"{name}.s", "--vmem", files / "seed.bin", "--json", files / f"{name}.json") == 0
    seeded = json.loads((files / "rng.json").read_text())["rng"]
    advanced = json.loads((files / "rng2.json").read_text())["rng"]
    assert seeded == {"s0": list(range(1, 33)), "s1": list(range(33, 65))}
    assert all(advanced[h][lane] != seeded[h][lane] for h in ("s0", "s1") for lane in range(32))


def test_errors_are_reported_not_raised(files, capsys):
    big = files / "big.bin"
    big.write_bytes(bytes(1 << 20))
    assert sim(files / "p.s", "--profile", "sim-small", "--vmem", big) == 1
    assert "does not fit" in capsys.readouterr().err
    assert sim(files / "missing.s") == 1


START_UP_CHECK = """
import sys
from fenn_dma.cli import main
assert main(["sim", sys.argv[1]]) == 0
print(" ".join(sorted(sys.modules)))
"""
# Modules `fenn-dma sim` on a small program must not import, whatever the program's kind: numpy, the
# reference engine and the output helpers (tempfile, json, zipfile) it does not use; pyelftools (the
# ELF reader is isa/elf.py's own); dataclasses (and inspect, which it imports), typing, shutil,
# difflib and random, each a measurable part of the start-up (docs/iss.md "Speed").
NOT_AT_START_UP = ("numpy", "tempfile", "json", "zipfile", "elftools", "dataclasses", "inspect", "typing",
                   "shutil", "difflib", "random", "fenn_dma.sim.reference")


@pytest.mark.parametrize("kind", ["s", "raw", "elf"])
def test_start_up_imports_only_what_the_run_needs(tmp_path, kind):
    """`fenn-dma sim` on a vector program: none of NOT_AT_START_UP; the assembler only for source."""
    import subprocess
    import sys
    source = "li a0, 3\n vlui v1, 2\n1: vadd v2, v2, v1\n addi a0, a0, -1\n bnez a0, 1b\n ecall\n"
    path = tmp_path / {"s": "p.s", "raw": "p.bin", "elf": "p.elf"}[kind]
    if kind == "s":
        path.write_text(source)
    else:
        (write_raw if kind == "raw" else write_elf)(assemble(source, "p"), path)
    out = subprocess.run([sys.executable, "-c", START_UP_CHECK, str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith("stop: ecall")
    loaded = set(out[-1].split())
    assert "fenn_dma.sim._fastiss" in loaded, "the check must see the modules of a real run"
    unwanted = sorted(m for m in loaded if m in NOT_AT_START_UP or m.split(".")[0] in NOT_AT_START_UP)
    assert unwanted == [], unwanted
    assembler = sorted(m for m in loaded if m.startswith(("fenn_dma.isa.asm", "fenn_dma.isa.assembler")))
    if kind == "s":
        assert "fenn_dma.isa.assembler" in assembler, assembler
    else:
        assert assembler == [], assembler
