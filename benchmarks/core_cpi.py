"""Cycles, instructions and CPI of scalar kernels on the RTL, beside the ISS's
cycle-model prediction (which should equal it exactly).

Run: .venv/bin/python benchmarks/core_cpi.py
"""
from __future__ import annotations

from fenn_dma.isa.assembler import assemble
from fenn_dma.sim.config import profile
from fenn_dma.verify.runner import iss_state, run_many_on_rtl

KERNELS = {
    "straight-line ALU": "\n".join(["li a0, 1", "li a1, 2"] + ["add a0, a0, a1", "xor a1, a1, a0"] * 200) + "\necall\n",
    "counted loop (taken branch)": """
        li t0, 500
        li a0, 0
    loop:
        addi a0, a0, 3
        addi t0, t0, -1
        bnez t0, loop
        ecall
    """,
    "load-use chain (memcpy-like sum)": """
        li t0, 0
        li t1, 256
        li a0, 0
    fill:
        sw t0, 0(t0)
        addi t0, t0, 4
        bne t0, t1, fill
        li t0, 0
    sum:
        lw a1, 0(t0)
        add a0, a0, a1
        addi t0, t0, 4
        bne t0, t1, sum
        ecall
    """,
    "mul/div mix": "\n".join(["li a0, 12345", "li a1, 7"] + ["mul a2, a0, a1", "div a3, a2, a1", "rem a4, a0, a1",
                                                           "add a0, a0, a4"] * 50) + "\necall\n",
    "calls (jal/jalr)": """
        li s0, 100
    again:
        jal ra, f
        addi s0, s0, -1
        bnez s0, again
        ecall
    f:
        addi a0, a0, 1
        ret
    """,
}


def main() -> None:
    config = profile("test-rtl")         # the RTL tests' scalar SoC (fenn_dma.arch)
    programs = {name: assemble(src, f"<{name}>") for name, src in KERNELS.items()}
    rtl = run_many_on_rtl(list(programs.values()), config)
    print(f"{'kernel':36} {'instr':>7} {'RTL cycles':>10} {'ISS cycles':>10} {'ratio':>6} {'CPI':>6}")
    for (name, program), r in zip(programs.items(), rtl):
        i = iss_state(program, config)
        assert r["stop"]["cause"] == "ecall", (name, r["stop"])
        print(f"{name:36} {r['instret']:7d} {r['cycles']:10d} {i['cycles']:10d} "
              f"{r['cycles'] / i['cycles']:6.3f} {r['cycles'] / r['instret']:6.3f}")


if __name__ == "__main__":
    main()
