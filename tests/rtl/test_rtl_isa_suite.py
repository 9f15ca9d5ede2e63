"""The self-checking ISA test suite (firmware/isa_tests/*.s, riscv-tests style)
on both backends: every program ends with ecall and gp == 1 on the ISS and on
the RTL, with equal final states; together they cover every scalar instruction."""
from pathlib import Path

import pytest

from fenn_dma.isa.codec import try_decode
from fenn_dma.isa.loader import load_program
from fenn_dma.isa.table import SPECS

SUITE = sorted((Path(__file__).resolve().parents[2] / "firmware" / "isa_tests").glob("*.s"))
GP = 3


@pytest.fixture(scope="module")
def programs():
    assert SUITE, "no ISA test programs found"
    return {path.stem: load_program(str(path)) for path in SUITE}


def test_suite_covers_every_scalar_instruction(programs, machine_config):
    used = {ins.mnemonic for p in programs.values() for w in p.words if (ins := try_decode(w))}
    wanted = {s.mnemonic for s in SPECS if not s.is_vector and s.ext in machine_config.extensions}
    assert wanted - used <= {"ebreak", "fence.tso"}, sorted(wanted - used)


def test_suite_passes_on_iss_and_rtl(programs, differential):
    names = list(programs)
    iss, rtl = differential([programs[n] for n in names], names)
    for name, a, b in zip(names, iss, rtl):
        for backend, state in (("ISS", a), ("RTL", b)):
            assert state["stop"]["cause"] == "ecall" and state["x"][GP] == 1, \
                f"{name} on the {backend}: test {state['x'][GP]} failed ({state['stop']})"
