"""Kernels that measure the vector unit (docs/benchmarks.md): a LIF neuron
update, dense event propagation and sparse event propagation (VANDADD +
VLOADL/VSTOREL), each with the count of cycles it would take at its ideal
rate, for the benchmark and for the RTL-vs-ISS tests.

Every kernel is sized to fit ``VECTOR_TEST_CONFIG`` (VMEM 8 KiB, LLM 256 B
per lane) and obeys the load-use rule by filling each slot with useful work.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from fenn_dma.isa.assembler import assemble
from fenn_dma.sim.config import MachineConfig

from .random_program import VECTOR_TEST_CONFIG, RandomProgram


@dataclass(frozen=True)
class Kernel:
    """``units`` of work (neurons, or blocks of 32 synapses) processed by one
    run; ``ideal_per_unit``: cycles per unit at the kernel's ideal rate;
    ``reference``: the published FeNN-DMA figure per unit, for comparison."""

    name: str
    vp: RandomProgram
    units: int
    unit: str
    ideal_per_unit: float
    reference_per_unit: float | None
    reference_note: str

    @property
    def ideal_cycles(self) -> float:
        return self.units * self.ideal_per_unit


def _program(name: str, source: str, vmem: np.ndarray, dmem: bytes, llm: bytes,
             config: MachineConfig) -> RandomProgram:
    program = assemble(source, name)
    program.images["vmem"] = vmem.tobytes()
    if dmem:
        program.images["dmem"] = dmem
    return RandomProgram(0, program, llm, b"", config)


UNROLL = 4


def _lif_block(k: int) -> str:
    o = 64 * k
    return "\n        ".join([
        f"vloadv v1, {o}(a1)          # V",
        f"vloadv v2, {o}(a3)          # I",
        "vmul_rs v1, v1, v10, 15   # V * decay (does not read v2 in its load slot)",
        "vadd_s v1, v1, v2",
        "vtge t0, v1, v11          # spikes -> mask",
        "vsel v1, t0, v12          # reset the spiking lanes",
        f"vstorev v1, {o}(a1)"])


def lif_kernel(vectors: int = 32, steps: int = 2, config: MachineConfig = VECTOR_TEST_CONFIG) -> Kernel:
    """V = V * decay (stochastic rounding) + I, saturated; spike where V >= threshold, reset.
    Seven vector instructions per 32 neurons; the ideal is one cycle for each."""
    rng = np.random.default_rng(11)
    v_at, i_at, seed_at = 0, 64 * vectors, 128 * vectors
    vmem = np.zeros(config.vmem_size, np.uint8)
    vmem[v_at:i_at] = rng.integers(-3000, 3000, 32 * vectors).astype("<i2").view(np.uint8)
    vmem[i_at:seed_at] = rng.integers(-400, 600, 32 * vectors).astype("<i2").view(np.uint8)
    vmem[seed_at:seed_at + 128] = rng.integers(1, 1 << 16, 64).astype("<u2").view(np.uint8)
    source = f"""
        li a0, {seed_at}
        vloadr0 0(a0)
        vloadr1 64(a0)
        vlui v10, 31130           # decay 0.95 (s0.15)
        vlui v11, 2048            # threshold
        vlui v12, 0               # reset
        li s1, {steps}
    step:
        li a1, {v_at}
        li a3, {i_at}
        li a2, {vectors // UNROLL}
    1:  """ + "\n        ".join(_lif_block(k) for k in range(UNROLL)) + f"""
        addi a1, a1, {64 * UNROLL}
        addi a3, a3, {64 * UNROLL}
        addi a2, a2, -1
        bnez a2, 1b
        addi s1, s1, -1
        bnez s1, step
        vrng v31
        ecall
    """
    vp = _program("lif", source, vmem, b"", bytes(config.lanes * config.llm_size), config)
    return Kernel(f"LIF update, {32 * vectors} neurons x {steps} steps", vp, 32 * vectors * steps, "neuron",
                  7 / 32, 1.1, "FeNN-DMA neuron update ~1.1 cycles/neuron/step (fitted, ALIF-class model)")


def dense_kernel(pre: int = 4, targets: int = 512, spikes: int = 3,
                 config: MachineConfig = VECTOR_TEST_CONFIG) -> Kernel:
    """Per spike, per 32 targets: load weights, load accumulators, add, store;
    software-pipelined over a row so every load-use slot holds useful work."""
    blocks = targets // 32
    row = 2 * targets
    acc_at = pre * row
    rng = np.random.default_rng(12)
    vmem = np.zeros(config.vmem_size, np.uint8)
    vmem[:acc_at] = rng.integers(-200, 200, pre * targets).astype("<i2").view(np.uint8)
    vmem[acc_at:acc_at + row] = rng.integers(-1000, 1000, targets).astype("<i2").view(np.uint8)
    spike_ids = [int(i) for i in rng.choice(pre, spikes)]
    dmem = np.array([spikes, *spike_ids], "<u4").tobytes()
    body = ["vloadv v1, 0(a1)", "vloadv v2, 0(a2)"]
    for k in range(1, blocks):
        w, a = (1, 2) if k % 2 == 0 else (3, 4)
        pw, pa = (3, 4) if k % 2 == 0 else (1, 2)
        body += [f"vloadv v{w}, {64 * k}(a1)", f"vadd_s v{pa}, v{pa}, v{pw}",
                 f"vloadv v{a}, {64 * k}(a2)", f"vstorev v{pa}, {64 * (k - 1)}(a2)"]
    w, a = (1, 2) if (blocks - 1) % 2 == 0 else (3, 4)
    body += [f"vadd_s v{a}, v{a}, v{w}", f"vstorev v{a}, {64 * (blocks - 1)}(a2)"]
    source = f"""
        lw s3, 0(zero)            # spikes
        li s2, 4
    spk:
        lw t0, 0(s2)
        slli a1, t0, {row.bit_length() - 1}
        li a2, {acc_at}
        """ + "\n        ".join(body) + """
        addi s2, s2, 4
        addi s3, s3, -1
        bnez s3, spk
        ecall
    """
    assert row & (row - 1) == 0 and 64 * blocks <= 2048
    vp = _program("dense", source, vmem, dmem, bytes(config.lanes * config.llm_size), config)
    return Kernel(f"dense propagation, {spikes} spikes x {targets} targets", vp, spikes * blocks,
                  "32 synapses", 4.0, 5.8, "FeNN-DMA dense, DRAM weights: ~5.8 cycles/32 synapses (4 in theory)")


def _sparse_row(blocks: int, bits: int) -> list[str]:
    """One row, software-pipelined: block k's loads overlap block k-1's add and
    store, so each load-use slot holds useful work; six instructions per block."""
    regs = [dict(s=1, d=2, w=3, a=4), dict(s=5, d=6, w=7, a=8)]
    out: list[str] = []
    for k in range(blocks + 1):
        r, p = regs[k % 2], regs[(k - 1) % 2]
        if k < blocks:
            out.append(f"vloadv v{r['s']}, {64 * k}(a1)")
        else:
            out.append("addi s2, s2, 4            # the last accumulator's load slot")
        if k > 0:
            out.append(f"vadd_s v{p['a']}, v{p['a']}, v{p['w']}")
        else:
            out.append("addi s3, s3, -1           # the first synapses' load slot")
        if k < blocks:
            out.append(f"vandadd v{r['d']}, v{r['s']}, zero, {bits}")
        if k > 0:
            out.append(f"vstorel v{p['a']}, 0(v{p['d']})")
        if k < blocks:
            out += [f"vsrai v{r['w']}, v{r['s']}, {bits}", f"vloadl v{r['a']}, 0(v{r['d']})"]
    return out


def sparse_kernel(pre: int = 8, row_synapses: int = 256, spikes: int = 6,
                  config: MachineConfig = VECTOR_TEST_CONFIG) -> Kernel:
    """Per spike, per 32 packed synapses (weight << b | 2 * target): VLOADV the
    synapses, VANDADD the LLM byte address, VSRAI the weight, VLOADL the
    accumulator, add, VSTOREL it back; targets in each lane's own LLM."""
    bits = (config.llm_size - 1).bit_length()             # byte address bits of one LLM
    rng = random.Random(13)
    syn = np.zeros(pre * row_synapses, np.int64)
    for i in range(syn.size):
        weight = rng.randint(-(1 << (15 - bits)), (1 << (15 - bits)) - 1)
        syn[i] = (weight << bits) | (2 * rng.randrange(config.llm_size // 2))
    vmem = np.zeros(config.vmem_size, np.uint8)
    vmem[:2 * syn.size] = syn.astype("<i2").view(np.uint8)
    spike_ids = [rng.randrange(pre) for _ in range(spikes)]
    dmem = np.array([spikes, *spike_ids], "<u4").tobytes()
    llm = np.array([rng.randrange(-500, 500) for _ in range(config.lanes * config.llm_size // 2)], "<i2")
    row = 2 * row_synapses
    source = f"""
        lw s3, 0(zero)            # spikes
        li s2, 4
    spk:
        lw t0, 0(s2)
        slli a1, t0, {row.bit_length() - 1}
        """ + "\n        ".join(_sparse_row(row_synapses // 32, bits)) + """
        bnez s3, spk
        ecall
    """
    assert row & (row - 1) == 0 and row <= 2048
    vp = _program("sparse", source, vmem, dmem, llm.tobytes(), config)
    return Kernel(f"sparse propagation, {spikes} spikes x {row_synapses} synapses", vp,
                  spikes * row_synapses // 32, "32 synapses", 6.0, 7.45,
                  "FeNN-DMA sparse: 7.2-7.7 cycles/32 synapses (fitted)")


def all_kernels() -> list[Kernel]:
    return [lif_kernel(), dense_kernel(), sparse_kernel()]


# A counted scalar loop (4 instructions an iteration, then ecall): the speed benchmarks' and the
# harness tests' long-running program.
COUNTED_LOOP = """
    li t0, {n}
loop:
    addi a0, a0, 3
    xor a1, a1, a0
    addi t0, t0, -1
    bnez t0, loop
    ecall
"""


def counted_loop(n: int, name: str = "<loop>"):
    """The assembled counted loop of ``n`` iterations."""
    return assemble(COUNTED_LOOP.format(n=n), name)
