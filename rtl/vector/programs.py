"""Programs that exercise the vector unit on both backends: seeded random
vector + scalar programs that obey the load-use rule (isa.md section 6).

Register conventions: x3 VMEM base pointer; x5-x15 scalar data (written by
scalar ops, VTST and VEXTRACT; read by VSEL, VFILL, VANDADD); x31 loop
counter. v24-v27 hold LLM address vectors and are never written; every other
vector register is data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from fenn_dma.isa import fields as F
from fenn_dma.isa.codec import encode, try_decode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import LOAD_USE_OPS, SPECS, InstrSpec
from fenn_dma.sim.config import MachineConfig

# The machine these programs are written for (the RTL tests build the same sizes).
VECTOR_TEST_CONFIG = MachineConfig(imem_size=4 * 1024, dmem_size=16 * 1024, vmem_size=8 * 1024,
                                   llm_size=256, dram_size=64 * 1024)

X_BASE = 3
X_DATA = list(range(5, 16))
X_LOOP = 31
V_ADDR = list(range(24, 28))
V_DATA = [v for v in range(32) if v not in V_ADDR]
VECTOR_MEMORY = {"vloadv", "vloadl", "vloadr0", "vloadr1", "vstorev", "vstorel"}
VECTOR_PLAIN = [s for s in SPECS if s.is_vector and s.op not in VECTOR_MEMORY]
SCALAR_PLAIN = ["add", "sub", "xor", "or", "and", "sll", "srl", "sra", "slt", "mul",
                "addi", "xori", "ori", "andi", "slli", "srli", "srai", "lui"]
SPECIAL = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x8000, 0x7FFF, 0xFFFF8000, 0xFFFF, 0x10000]
NOP = encode("addi", rd=0, rs1=0, imm=0)


@dataclass
class VectorProgram:
    seed: int
    program: Program
    llm_image: bytes          # lane-major, as Machine.load_image("llm", ...)
    config: MachineConfig


def li(rd: int, value: int) -> list[int]:
    """lui + addi loading a 32-bit value."""
    value &= 0xFFFFFFFF
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    return [encode("lui", rd=rd, imm=((value - lo) >> 12) & 0xFFFFF), encode("addi", rd=rd, rs1=rd, imm=lo)]


def reads_vector(word: int, reg: int) -> bool:
    """Whether the instruction reads v[reg] (as a source or kept-old destination)."""
    ins = try_decode(word)
    return ins is not None and any(getattr(ins, slot) == reg for slot in ins.spec.vector_sources())


def load_dest(word: int) -> int | None:
    ins = try_decode(word)
    return ins.rd if ins is not None and ins.op in LOAD_USE_OPS else None


class _Generator:
    def __init__(self, seed: int, config: MachineConfig, fault_rate: float):
        self.r = random.Random(seed)
        self.cfg, self.fault_rate = config, fault_rate

    def operand(self, o: F.Operand) -> int:
        r = self.r
        if o.kind == F.XREG:
            if o.slot == "rd":
                return 0 if r.random() < 0.05 else r.choice(X_DATA)
            return 0 if r.random() < 0.05 else r.choice(X_DATA)
        if o.kind == F.VREG:
            return r.choice(V_DATA) if o.slot == "rd" else r.choice(V_DATA + V_ADDR)
        if o.name == "shift" and r.random() < 0.3:
            return r.choice([0, 1, o.max])
        return r.randint(o.min, o.max)

    def vector_plain(self) -> int:
        spec: InstrSpec = self.r.choice(VECTOR_PLAIN)
        return encode(spec, **{o.name: self.operand(o) for o in spec.operands})

    def scalar(self) -> int:
        r = self.r
        name = r.choice(SCALAR_PLAIN)
        rd = r.choice(X_DATA)
        if name == "lui":
            return encode(name, rd=rd, imm=r.getrandbits(20))
        if name in ("slli", "srli", "srai"):
            return encode(name, rd=rd, rs1=r.choice(X_DATA), imm=r.randrange(32))
        if name.endswith("i"):
            return encode(name, rd=rd, rs1=r.choice(X_DATA), imm=r.randint(-2048, 2047))
        return encode(name, rd=rd, rs1=r.choice(X_DATA), rs2=r.choice(X_DATA))

    def vector_memory(self) -> int:
        r = self.r
        fault = r.random() < self.fault_rate
        name = r.choice(["vloadv", "vloadv", "vloadl", "vloadl", "vstorev", "vstorel", "vloadr0", "vloadr1"])
        if name in ("vloadv", "vstorev", "vloadr0", "vloadr1"):
            imm, base = r.randrange(-16, 16) * 64, X_BASE
            if fault and r.random() < 0.5:
                imm += 2 * r.randint(1, 31)                      # misaligned
            elif fault:
                imm, base = -64 * r.randint(1, 31), 0           # wraps to the top of the address space
            if name == "vloadv":
                return encode(name, rd=r.choice(V_DATA), rs1=base, imm=imm)
            if name == "vstorev":
                return encode(name, rs2=r.choice(V_DATA + V_ADDR), rs1=base, imm=imm)
            return encode(name, rs1=base, imm=imm)
        imm = r.randrange(-8, 8) * 2
        if fault:
            imm = r.choice([imm + 1, self.cfg.llm_size, -2048])
        if name == "vloadl":
            return encode(name, rd=r.choice(V_DATA), rs1=r.choice(V_ADDR), imm=imm)
        return encode(name, rs2=r.choice(V_DATA + V_ADDR), rs1=r.choice(V_ADDR), imm=imm)

    def item(self) -> int:
        x = self.r.random()
        if x < 0.55:
            return self.vector_plain()
        if x < 0.78:
            return self.vector_memory()
        return self.scalar()

    def body(self, length: int) -> list[int]:
        out: list[int] = []
        loaded: int | None = None
        while len(out) < length:
            word = self.item()
            while loaded is not None and reads_vector(word, loaded):
                word = self.item()
            out.append(word)
            loaded = load_dest(word)
        return out


def _images(r: random.Random, config: MachineConfig) -> np.ndarray:
    rows = config.vmem_size // 64
    vmem = np.frombuffer(r.randbytes(config.vmem_size), np.uint8).copy()
    # Rows 0-3: LLM address vectors (even, in range, ~10 % negative).
    addr = np.array([r.randrange(16, config.llm_size - 16) & ~1 for _ in range(4 * 32)], np.int16)
    addr[[r.randrange(128) for _ in range(12)]] = -r.randrange(1, 32769)
    vmem[:256] = addr.view(np.uint8)
    # Rows 8-15: lanes of corner values, so that corners meet each other often.
    corners = [-32768, -32767, -16384, -1, 0, 1, 2, 0x3FFF, 0x4000, 32767]
    for row in range(8, min(16, rows)):
        vmem[64 * row:64 * row + 64] = np.array(r.choices(corners, k=32), np.int16).view(np.uint8)
    return vmem


def _prologue(r: random.Random, config: MachineConfig) -> list[int]:
    """x3, scalar data, RNG seed, address vectors, every data vector; ends with the load slot filled."""
    rows = config.vmem_size // 64
    words = li(X_BASE, r.randrange(20, rows - 20) * 64)
    for reg in X_DATA:
        words += li(reg, r.choice(SPECIAL) if r.random() < 0.3 else r.getrandbits(32))
    words += [encode("vloadr0", rs1=0, imm=64 * r.randrange(4, 8)),
              encode("vloadr1", rs1=0, imm=64 * r.randrange(4, 8))]
    words += [encode("vloadv", rd=v, rs1=0, imm=64 * k) for k, v in enumerate(V_ADDR)]
    words += [encode("vloadv", rd=v, rs1=0, imm=64 * r.randrange(4, 32)) for v in V_DATA]
    return words + [NOP]


def _finish(seed: int, r: random.Random, config: MachineConfig, vmem: np.ndarray, words: list[int]) -> VectorProgram:
    program = Program.from_words(words, vmem=vmem.tobytes())
    return VectorProgram(seed, program, r.randbytes(config.lanes * config.llm_size), config)


# The final RNG state shows in the last data register.
EPILOGUE = [encode("vrng", rd=V_DATA[-1]), encode("ecall")]


def random_vector_program(seed: int, length: int = 60, config: MachineConfig = VECTOR_TEST_CONFIG,
                          fault_rate: float = 0.01, loops: int | None = None) -> VectorProgram:
    """A prologue, a random body run 1-3 times in a loop, the epilogue."""
    g = _Generator(seed, config, fault_rate)
    r = g.r
    vmem = _images(r, config)
    prologue = _prologue(r, config)
    prologue += li(X_LOOP, loops if loops is not None else r.randint(1, 3))
    body = g.body(length)
    if load_dest(body[-1]) is not None:
        body.append(NOP)                              # the loop's first instruction may read it
    loop = body + [encode("addi", rd=X_LOOP, rs1=X_LOOP, imm=-1),
                   encode("bne", rs1=X_LOOP, rs2=0, imm=-4 * (len(body) + 1))]
    return _finish(seed, r, config, vmem, prologue + loop + EPILOGUE)


def directed_vector_program(seed: int, repeats: int = 4, config: MachineConfig = VECTOR_TEST_CONFIG) -> VectorProgram:
    """Every vector instruction of the table, ``repeats`` times each, with
    random operands (shifts and bit counts include 0, 1 and the maximum)."""
    g = _Generator(seed, config, fault_rate=0.0)
    r = g.r
    vmem = _images(r, config)
    body: list[int] = []
    for spec in (s for s in SPECS if s.is_vector):
        for k in range(repeats):
            if spec.op in VECTOR_MEMORY:
                word = g.vector_memory()
                while try_decode(word).spec is not spec:
                    word = g.vector_memory()
            else:
                ops = {o.name: g.operand(o) for o in spec.operands}
                for o in spec.operands:
                    if o.kind == F.IMM and k < 3 and o.name in ("shift", "bits", "lane"):
                        ops[o.name] = (o.min, 1, o.max)[k]
                word = encode(spec, **ops)
            if body and load_dest(body[-1]) is not None and reads_vector(word, load_dest(body[-1])):
                body.append(NOP)
            body.append(word)
    return _finish(seed, r, config, vmem, _prologue(r, config) + body + [NOP] + EPILOGUE)


def fault_vector_programs(config: MachineConfig = VECTOR_TEST_CONFIG) -> list[VectorProgram]:
    """One short program per vector memory fault (isa.md section 6), each
    ending in the faulting instruction after a few that complete."""
    r = random.Random(7)
    llm = config.llm_size
    cases: list[tuple[list[int], dict[int, int]]] = []   # (body, special lanes of address row 3)
    for name in ("vloadv", "vloadr0", "vloadr1", "vstorev"):
        ops = {"rd": 1} if name == "vloadv" else {"rs2": 1} if name == "vstorev" else {}
        cases.append(([encode(name, rs1=X_BASE, imm=66, **ops)], {}))                 # misaligned
        cases.append(([encode(name, rs1=0, imm=-64, **ops)], {}))                      # wraps: out of range
        cases.append(([encode(name, rs1=0, imm=0, **ops), li(6, config.vmem_size)[0], li(6, config.vmem_size)[1],
                       encode(name, rs1=6, imm=0, **ops)], {}))                        # just past the end
    for name in ("vloadl", "vstorel"):
        ops = {"rd": 1} if name == "vloadl" else {"rs2": 1}
        cases.append(([encode(name, rs1=27, imm=1, **ops)], {}))                      # odd offset
        cases.append(([encode(name, rs1=27, imm=llm, **ops)], {}))                    # beyond the LLM
        cases.append(([encode(name, rs1=27, imm=-2048, **ops)], {}))                  # negative sum
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {0: llm, 1: 5}))           # lane 0 decides: range
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {0: -7, 3: 5, 9: llm}))    # lane 3 decides: misaligned
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {31: llm - 1}))            # only the last lane
    programs = []
    for k, (body, lanes_special) in enumerate(cases):
        vmem = _images(r, config)
        row3 = vmem[192:256].view(np.int16)
        row3[row3 < 0] = 16                          # no negative lanes except where asked
        for lane, value in lanes_special.items():
            row3[lane] = value
        before = [encode("vadd", rd=2, rs1=8, rs2=9), encode("vstorel", rs2=3, rs1=26, imm=0),
                  encode("vstorev", rs2=4, rs1=X_BASE, imm=0)]
        programs.append(_finish(k, r, config, vmem, _prologue(r, config) + before + body + EPILOGUE))
    return programs


def stochastic_program(seed: int, ops: int = 64, loops: int = 50,
                       config: MachineConfig = VECTOR_TEST_CONFIG) -> VectorProgram:
    """A loop of ``ops`` stochastically rounded VMUL/VSRAI (mixed shifts, wrap
    and saturation), with a reload from VMEM every eighth op so values stay
    varied, run ``loops`` times: thousands of RNG advances per program."""
    r = random.Random(seed)
    vmem = _images(r, config)
    factors = {20: 29491, 21: -30000, 22: 32767, 23: 23170}       # about 0.9, -0.92, 1, 0.71 in s0.15
    setup = [encode("vlui", rd=v, imm=value) for v, value in factors.items()]
    body: list[int] = []
    for k in range(ops):
        d, a = r.randrange(20), r.randrange(20)
        if k % 8 == 7:
            body += [encode("vloadv", rd=d, rs1=0, imm=64 * r.randrange(16, 32)), NOP]
        elif r.random() < 0.6:
            body.append(encode(r.choice(["vmul_rs", "vmul_s_rs"]), rd=d, rs1=a, rs2=r.choice(list(factors)),
                               shift=r.choice([15, 15, 14, 13])))
        else:
            body.append(encode("vsrai_rs", rd=d, rs1=a, shift=r.randrange(1, 4)))
    loop = body + [encode("addi", rd=X_LOOP, rs1=X_LOOP, imm=-1),
                   encode("bne", rs1=X_LOOP, rs2=0, imm=-4 * (len(body) + 1))]
    return _finish(seed, r, config, vmem, _prologue(r, config) + setup + li(X_LOOP, loops) + loop + EPILOGUE)
