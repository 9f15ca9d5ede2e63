"""The SoC with the vector unit on Verilator (cocotb harness) against the ISS:
identical final state (stop cause and pc, x, v0-v31, each lane's RNG state,
VMEM, LLM, DMEM, instret, cycles, mcycle, minstret) for directed, fault,
random and kernel programs. Seeded random programs obey the load-use rule;
each runs its loop body one to three times."""
from collections import Counter

import pytest

from fenn_dma.isa.codec import try_decode
from fenn_dma.isa.table import SPECS
from fenn_dma.verify.kernels import all_kernels
from fenn_dma.verify.random_program import (directed_vector_program, fault_vector_programs, random_vector_program,
                                            stochastic_program)

DEFAULT_SEEDS = range(0, 250)
SLOW_SEEDS = range(250, 1050)


def test_directed_and_faults_on_rtl(both_backends):
    programs = [directed_vector_program(seed) for seed in range(4)] + fault_vector_programs()
    iss, _ = both_backends(programs)
    executed = {try_decode(w).spec.mnemonic for vp in programs[:4] for w in vp.program.words if try_decode(w)}
    assert {s.mnemonic for s in SPECS if s.is_vector} <= executed
    assert {s["stop"]["cause"] for s in iss} == {"ecall", "misaligned_load", "load_fault", "misaligned_store",
                                                 "store_fault"}


def test_random_vector_programs_on_rtl(both_backends):
    iss, _ = both_backends([random_vector_program(seed) for seed in DEFAULT_SEEDS])
    causes = Counter(s["stop"]["cause"] for s in iss)
    assert causes["ecall"] > 150 and len(causes) >= 3, causes


@pytest.mark.slow
def test_many_random_vector_programs_on_rtl(both_backends):
    both_backends([random_vector_program(seed) for seed in SLOW_SEEDS])


def test_stochastic_rounding_sequences_on_rtl(both_backends):
    """Long runs of VMUL_RS / VSRAI_RS (thousands of RNG advances) stay identical lane by lane."""
    iss, _ = both_backends([stochastic_program(seed) for seed in range(3)])
    assert all(s["stop"]["cause"] == "ecall" and s["instret"] > 3000 for s in iss)


def test_kernels_on_rtl_cycles_equal_iss(both_backends):
    kernels = all_kernels()
    iss, rtl = both_backends([k.vp for k in kernels])
    for k, a, b in zip(kernels, iss, rtl):
        assert a["stop"]["cause"] == "ecall", k.name
        assert b["cycles"] == a["cycles"], k.name          # also checked field by field above

