"""The verification package without a simulator build: the one `li`
expansion, the state comparison, the RTL runner's choices and refusals, and
the random-program generator's features."""
from __future__ import annotations

import base64
import random

import pytest

from fenn_dma.errors import FennError
from fenn_dma.isa.asm_forms import li_words
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode, try_decode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import ALL_EXTENSIONS, V, Kind
from fenn_dma.rtl.config import SocConfig
from fenn_dma.sim.config import MachineConfig
from fenn_dma.verify.compare import SCALAR_FIELDS, STATE_FIELDS, first_difference
from fenn_dma.verify.random_program import (ISS_ENGINES, SCALAR_RTL, VECTOR_TEST_CONFIG, random_program,
                                            random_vector_program)
from fenn_dma.verify.runner import _job, iss_state, needs_vector, soc_config

VALUES = [0, 1, -1, 2047, 2048, -2048, -2049, 0x1000, 0x7FFFF000, 0x80000000, 0x7FFFFFFF, 0xFFFFF800,
          0x12345678, 0x123457FF, 0x12345800] + [random.Random(3).getrandbits(32) for _ in range(50)]


@pytest.mark.parametrize("value", VALUES)
def test_li_words_are_the_assemblers(value):
    assert li_words(10, value) == assemble(f"li a0, {value}\n").words


def test_compiler_builder_li_is_the_assemblers():
    from fenn_dma.compiler.emit import Builder
    for value in VALUES:
        b = Builder()
        b.li("a0", value)
        assert [encode(i.spec, **i.values) for i in b.items] == li_words(10, value), value


def _state(**changes) -> dict:
    s = {"stop": {"cause": "ecall", "pc": 8}, "x": [0] * 32, "v": [[0] * 32 for _ in range(32)],
         "rng": {"s0": [0] * 32, "s1": [0] * 32}, "instret": 3, "cycles": 6, "mcycle": 0, "minstret": 0,
         "dmem": base64.b64encode(bytes(16)).decode()}
    s.update(changes)
    return s


def test_first_difference_names_register_lane_rng_and_byte():
    a = _state()
    assert first_difference(a, _state()) is None
    x = [0] * 32
    x[7] = 5
    assert first_difference(a, _state(x=x)) == "x7: ISS 0x00000000, RTL 0x00000005"
    v = [[0] * 32 for _ in range(32)]
    v[3][9] = -2
    assert first_difference(a, _state(v=v)) == "v3 lane 9: ISS 0, RTL -2"
    rng = {"s0": [0] * 32, "s1": [0] * 31 + [0xBEEF]}
    assert first_difference(a, _state(rng=rng)) == "rng s1 lane 31: ISS 0x0000, RTL 0xbeef"
    dmem = base64.b64encode(bytes(5) + b"\x01" + bytes(10)).decode()
    assert first_difference(a, _state(dmem=dmem)) == "dmem[0x5]: ISS 0x00, RTL 0x01"
    scalar = {k: v for k, v in a.items() if k not in ("v", "rng")}
    assert first_difference(a, scalar) == "v: only the ISS state has it"
    assert first_difference(a, scalar, SCALAR_FIELDS) is None


def test_runner_builds_the_vector_unit_only_when_needed():
    scalar = assemble("li a0, 3\necall\n")
    vector = assemble("vlui v1, 3\necall\n")
    assert not needs_vector(scalar) and needs_vector(vector)
    assert needs_vector(Program.from_words(scalar.words, vmem=bytes(64)))
    assert needs_vector(scalar, llm=bytes(64))
    cfg = VECTOR_TEST_CONFIG
    assert soc_config(cfg, vector=False) == SocConfig(imem_size=4096, dmem_size=16384, full_m=True)
    assert soc_config(cfg, vector=True).vector and soc_config(cfg, vector=True).vmem_size == cfg.vmem_size
    with pytest.raises(FennError, match="no vector extension"):
        soc_config(MachineConfig(extensions=ALL_EXTENSIONS - {V}), vector=True)


def test_runner_refuses_what_the_rtl_cannot_load():
    cfg = VECTOR_TEST_CONFIG
    program = assemble("ecall\n")
    with pytest.raises(FennError, match="needs the SoC with the DMA engine"):
        _job(program, cfg, soc_config(cfg, True), 100, "no", dram=bytes(64))
    job = _job(program, cfg, soc_config(cfg, True, dma=True), 100, "no", dram=bytes(64))
    assert job.dram == bytes(64) and job.dram_size == cfg.dram_size and job.dram_latency == cfg.dma.dram.latency
    with pytest.raises(FennError, match="needs the SoC with the vector unit"):
        _job(Program.from_words(program.words, vmem=bytes(64)), cfg, soc_config(cfg, False), 100, "no")
    with pytest.raises(FennError, match="does not fit"):
        _job(Program.from_words(program.words, vmem=bytes(cfg.vmem_size + 64)), cfg, soc_config(cfg, True), 100, "no")
    # VMEM and LLM are written whole: the image over the ISS's reset pattern.
    job = _job(Program.from_words(program.words, vmem=b"\x01\x02\x03"), cfg, soc_config(cfg, True), 100, "no")
    assert job.vmem[:4] == b"\x01\x02\x03\xde" and len(job.vmem) == cfg.vmem_size
    assert job.llm[:2] == b"\xad\xde" and len(job.llm) == cfg.lanes * cfg.llm_size
    assert job.read_vector


def test_iss_state_has_the_rng_of_every_lane():
    rp = random_vector_program(1)
    state = iss_state(rp.program, rp.config, 200_000, llm=rp.llm_image)
    assert set(STATE_FIELDS) <= set(state)
    assert len(state["rng"]["s0"]) == len(state["rng"]["s1"]) == 32 and any(state["rng"]["s0"])


def _kinds(rp) -> set[Kind]:
    return {ins.spec.kind for w in rp.program.words if (ins := try_decode(w)) is not None}


def test_features_choose_what_programs_contain():
    scalar_machine = MachineConfig(imem_size=4096, dmem_size=1024, vmem_size=64, llm_size=64, dram_size=64,
                                   extensions=ALL_EXTENSIONS - {V})
    scalar = set().union(*(_kinds(random_program(s, 60, scalar_machine, SCALAR_RTL)) for s in range(20)))
    assert not any(k.startswith("v") for k in scalar) and {Kind.LOAD, Kind.STORE, Kind.BRANCH, Kind.CSR,
                                                           Kind.DIV} <= scalar
    vector = set().union(*(_kinds(random_vector_program(s)) for s in range(20)))
    assert {Kind.VALU, Kind.VCMP, Kind.VMOVE, Kind.VRNG, Kind.VLOAD, Kind.VSTORE} <= vector
    assert Kind.LOAD not in vector and Kind.CSR not in vector
    engines = random_program(0)
    assert engines.features == ISS_ENGINES and engines.dram_image and engines.llm_image


def test_iss_backend_starts_without_the_rtl(tmp_path):
    """`fenn-dma sim` on the ISS imports neither Amaranth nor the RTL runner (their import
    alone took ~0.3 s of start-up) nor importlib.metadata (only --version needs it), and the
    RTL harness names its CLI offers are the runner's."""
    import argparse
    import subprocess
    import sys

    from fenn_dma.verify import sim_cli
    from fenn_dma.verify.runner import HARNESSES

    source = tmp_path / "p.s"
    source.write_text("li a0, 1\necall\n")
    probe = ("import sys; from fenn_dma.cli import main\n"
             f"rc = main(['sim', {str(source)!r}])\n"
             "bad = [m for m in ('amaranth', 'fenn_dma.rtl', 'fenn_dma.verify.runner', 'importlib.metadata')\n"
             "       if m in sys.modules]\n"
             "assert rc == 0 and not bad, (rc, bad)\n")
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "rtl_harness")
    assert tuple(choices) == HARNESSES
