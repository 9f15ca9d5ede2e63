"""Register names: scalar x0-x31 with their ABI aliases, vector v0-v31."""
from __future__ import annotations

ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2",
    "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
    "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
)

SCALAR_REGS: dict[str, int] = {f"x{i}": i for i in range(32)}
SCALAR_REGS.update({name: i for i, name in enumerate(ABI_NAMES)})
SCALAR_REGS["fp"] = 8

VECTOR_REGS: dict[str, int] = {f"v{i}": i for i in range(32)}


def scalar_name(index: int, abi: bool = True) -> str:
    return ABI_NAMES[index] if abi else f"x{index}"


def vector_name(index: int) -> str:
    return f"v{index}"
