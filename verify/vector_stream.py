"""The ISS run of a program, seen from the vector unit: the stream of vector
instructions with the scalar operands the core would issue with them, and the
final state to compare against. The golden model is sim/ (never re-derived)."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.isa.codec import try_decode
from fenn_dma.sim import Machine
from fenn_dma.sim.stop import Stop, StopCause

from .random_program import RandomProgram

VECTOR_FAULTS = {StopCause.MISALIGNED_LOAD, StopCause.LOAD_FAULT, StopCause.MISALIGNED_STORE, StopCause.STORE_FAULT}


@dataclass(frozen=True)
class Issued:
    """One executed instruction: a vector one as issued (word, x[rs1], x[rs2]),
    with the scalar result it wrote (VTST/VEXTRACT to x1..x31) or the stop it
    caused; ``word`` is None for a scalar instruction (a cycle without issue)."""

    word: int | None
    x_src1: int = 0
    x_src2: int = 0
    scalar_result: int | None = None
    fault: StopCause | None = None


def load_machine(vp: RandomProgram) -> Machine:
    m = Machine(vp.config)
    m.load(vp.program)
    m.load_image("llm", vp.llm_image)
    return m


def iss_stream(vp: RandomProgram, max_instructions: int = 20_000) -> tuple[Machine, Stop, list[Issued]]:
    m = load_machine(vp)
    stream: list[Issued] = []

    def hook(pc, ins, written):
        if not ins.spec.is_vector:
            stream.append(Issued(None))
            return
        result = written[2] if written is not None and written[0] == "x" else None
        stream.append(Issued(ins.encode(), int(m.x[ins.rs1]), int(m.x[ins.rs2]), result))

    stop = m.run(max_instructions, engine="reference", trace=hook)
    if stop.cause in VECTOR_FAULTS:
        word = int.from_bytes(m.imem[stop.pc:stop.pc + 4].tobytes(), "little")
        ins = try_decode(word)
        if ins is not None and ins.spec.is_vector:
            stream.append(Issued(word, int(m.x[ins.rs1]), int(m.x[ins.rs2]), fault=stop.cause))
    return m, stop, stream
