"""Seeded random test programs mixing scalar, vector, memory, CSR and DMA work.

Used to compare the fast engine against the reference engine (and later the
RTL against the ISS). Every listed instruction can appear: plain ones are
drawn straight from the instruction table with random operands; memory,
control-flow, CSR and DMA instructions get addresses and targets that mostly
stay legal, with a small share of deliberate faults. Control flow only jumps
forward inside a loop body that runs a few times, so every program ends.

Register conventions: x1, x2 DMEM pointers, x3 VMEM pointer, x30 scratch for
CSR/DMA sequences, x31 loop counter (none of them random destinations);
v0-v23 data, v24-v27 LLM address vectors (sources only).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from fenn_dma.isa import csrs, fields as F
from fenn_dma.isa.codec import encode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import LOAD_USE_OPS, SPECS, InstrSpec

from .config import MachineConfig

SMALL_CONFIG = MachineConfig(imem_size=8 * 1024, dmem_size=4 * 1024, vmem_size=8 * 1024, llm_size=256,
                             dram_size=64 * 1024, dram_base=0x10000,
                             dram_error_regions=((0x10000 + 60 * 1024, 0x10000 + 61 * 1024),))

X_DEST = [0] + list(range(4, 30))
V_DATA = list(range(24))
V_ADDR = list(range(24, 28))
CONTROL = {"jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu", "ecall", "ebreak"}
MEMORY = {"lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw",
          "vloadv", "vloadl", "vloadr0", "vloadr1", "vstorev", "vstorel"}
CSR_OPS = {"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}
PLAIN = [s for s in SPECS if s.op not in CONTROL | MEMORY | CSR_OPS]
CSR_CHOICES = [c.number for c in csrs.CSRS] + [0x7C0, 0x340]
SPECIAL_VALUES = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x8000, 0x7FFF, 0xFFFF8000]


@dataclass
class RandomProgram:
    seed: int
    program: Program
    llm_image: bytes
    dram_image: bytes
    config: MachineConfig


def li(rd: int, value: int) -> list[int]:
    """lui + addi loading a 32-bit value."""
    value &= 0xFFFFFFFF
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    return [encode("lui", rd=rd, imm=hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


class _Generator:
    def __init__(self, seed: int, length: int, config: MachineConfig):
        self.r = random.Random(seed)
        self.length, self.cfg = length, config
        self.last_vload: int | None = None

    # operands ---------------------------------------------------------------

    def operand_value(self, spec: InstrSpec, o: F.Operand) -> int:
        r = self.r
        if o.kind == F.XREG:
            return r.choice(X_DEST) if o.slot == "rd" else r.randrange(32)
        if o.kind == F.VREG:
            return r.choice(V_DATA) if o.slot == "rd" else r.choice(V_DATA + V_ADDR)
        if o.kind == F.FENCE:
            return r.randrange(16)
        return r.randint(o.min, o.max)

    def plain(self) -> list[int]:
        spec = self.r.choice(PLAIN)
        return [encode(spec, **{o.name: self.operand_value(spec, o) for o in spec.operands})]

    # memory -----------------------------------------------------------------

    def scalar_mem(self) -> list[int]:
        r = self.r
        name = r.choice(["lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw"])
        size = {"b": 1, "h": 2, "w": 4}[name[1]]
        imm = r.randrange(-256, 256) // size * size
        if r.random() < 0.01:
            imm += 1 if size > 1 else 0          # misaligned
        if r.random() < 0.005:
            imm = 2047 // size * size            # likely out of range from a high base
        base = r.choice([1, 2])
        if name.startswith("l"):
            return [encode(name, rd=r.choice(X_DEST), rs1=base, imm=imm)]
        return [encode(name, rs2=r.randrange(32), rs1=base, imm=imm)]

    def vector_mem(self) -> list[int]:
        r = self.r
        name = r.choice(["vloadv", "vloadv", "vloadl", "vloadl", "vstorev", "vstorel", "vloadr0", "vloadr1"])
        if name in ("vloadv", "vstorev", "vloadr0", "vloadr1"):
            imm = r.randrange(-16, 15) * 64
            if r.random() < 0.01:
                imm += 2                          # misaligned
            if name == "vloadv":
                return [encode(name, rd=r.choice(V_DATA), rs1=3, imm=imm)]
            if name == "vstorev":
                return [encode(name, rs2=r.choice(V_DATA + V_ADDR), rs1=3, imm=imm)]
            return [encode(name, rs1=3, imm=imm)]
        imm = r.randrange(-8, 8) * 2
        if r.random() < 0.01:
            imm += 1
        if name == "vloadl":
            return [encode(name, rd=r.choice(V_DATA), rs1=r.choice(V_ADDR), imm=imm)]
        return [encode(name, rs2=r.choice(V_DATA + V_ADDR), rs1=r.choice(V_ADDR), imm=imm)]

    # CSRs and DMA -----------------------------------------------------------

    def csr(self) -> list[int]:
        r = self.r
        num = r.choice(CSR_CHOICES)
        name = r.choice(sorted(CSR_OPS))
        rd = r.choice(X_DEST)
        if name.endswith("i"):
            return [encode(name, rd=rd, csr=num, zimm=r.randrange(32))]
        rs1 = 0 if r.random() < 0.5 else r.randrange(32)
        return [encode(name, rd=rd, csr=num, rs1=rs1)]

    def dma(self) -> list[int]:
        r, cfg = self.r, self.cfg
        mm2s = r.random() < 0.5
        count = r.randrange(0, 9) * 64
        dram = cfg.dram_base + r.randrange(0, cfg.dram_size // 64 - 8) * 64
        vmem = r.randrange(0, cfg.vmem_size // 64 - 8) * 64
        fault = r.random()
        if fault < 0.05:
            count += 4
        elif fault < 0.1:
            dram = cfg.dram_base + cfg.dram_size - 64  # runs off the end: decode error
            count = 128
        elif fault < 0.15:
            dram = cfg.dram_error_regions[0][0] if cfg.dram_error_regions else dram
        src, dst = (dram, vmem) if mm2s else (vmem, dram)
        regs = (csrs.MM2S_SRC_ADDR, csrs.MM2S_DST_ADDR, csrs.MM2S_COUNT, csrs.MM2S_CONTROL) if mm2s else \
               (csrs.S2MM_SRC_ADDR, csrs.S2MM_DST_ADDR, csrs.S2MM_COUNT, csrs.S2MM_CONTROL)
        words: list[int] = []
        for num, value in zip(regs[:3], (src, dst, count)):
            words += li(30, value) + [encode("csrrw", rd=0, csr=num, rs1=30)]
        words.append(encode("csrrwi", rd=0, csr=regs[3], zimm=1))
        return words

    # control flow (targets fixed up at the end) ----------------------------

    def control(self) -> list:
        r = self.r
        k = r.randint(1, 4)
        misaligned = r.random() < 0.01
        kind = r.random()
        if kind < 0.6:
            name = r.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])
            return [("branch", name, r.randrange(32), r.randrange(32), k, misaligned)]
        if kind < 0.85:
            return [("jal", r.choice(X_DEST), k, misaligned)]
        t = r.choice(X_DEST[1:])
        return [encode("auipc", rd=t, imm=0), ("jalr", r.choice(X_DEST), t, k, misaligned)]

    # program ----------------------------------------------------------------

    def item(self) -> list:
        x = self.r.random()
        if x < 0.40:
            return self.plain()
        if x < 0.55:
            return self.scalar_mem()
        if x < 0.75:
            return self.vector_mem()
        if x < 0.85:
            return self.control()
        if x < 0.93:
            return self.csr()
        if x < 0.999:
            return self.dma()
        return [self.r.getrandbits(32)]   # usually illegal

    def reads_last_vload(self, words: list) -> bool:
        from fenn_dma.isa.codec import try_decode
        first = words[0]
        if self.last_vload is None or not isinstance(first, int):
            return False
        ins = try_decode(first)
        return ins is not None and any(getattr(ins, s) == self.last_vload for s in ins.spec.vector_sources())

    def body(self) -> list:
        out: list = []
        while len(out) < self.length:
            words = self.item()
            for _ in range(20):   # keep the load-use rule most of the time
                if not self.reads_last_vload(words) or self.r.random() < 0.03:
                    break
                words = self.item()
            out += words
            last = words[-1]
            ins = None
            if isinstance(last, int):
                from fenn_dma.isa.codec import try_decode
                ins = try_decode(last)
            self.last_vload = ins.rd if ins is not None and ins.op in LOAD_USE_OPS else None
        return out


def _fix_targets(body: list) -> list[int]:
    """Encode the forward jumps, clamped to land at most on the loop's decrement."""
    words = []
    n = len(body)
    for i, w in enumerate(body):
        if isinstance(w, int):
            words.append(w)
            continue
        kind = w[0]
        target = min(i + w[-2], n)
        while target < n and isinstance(body[target], tuple) and body[target][0] == "jalr":
            target += 1  # its base register comes from the auipc just before it
        k = target - i
        offset = 4 * k - (2 if w[-1] and k > 1 else 0)
        if kind == "branch":
            _, name, rs1, rs2, _, _ = w
            words.append(encode(name, rs1=rs1, rs2=rs2, imm=offset))
        elif kind == "jal":
            words.append(encode("jal", rd=w[1], imm=offset))
        else:  # jalr relative to the auipc just before it
            words.append(encode("jalr", rd=w[1], rs1=w[2], imm=offset + 4))
    return words


def random_program(seed: int, length: int = 80, config: MachineConfig = SMALL_CONFIG) -> RandomProgram:
    g = _Generator(seed, length, config)
    r = g.r
    rows = config.vmem_size // 64
    vmem = np.frombuffer(r.randbytes(config.vmem_size), np.uint8).copy()
    # Rows 0-3: LLM address vectors (mostly even, in range, ~10 % negative).
    addr = np.array([r.randrange(16, config.llm_size - 32) & ~1 for _ in range(4 * 32)], np.int16)
    addr[[r.randrange(128) for _ in range(12)]] = -r.randrange(1, 32768)
    vmem[:256] = addr.view(np.uint8)
    dmem = r.randbytes(config.dmem_size)

    prologue: list[int] = []
    prologue += li(1, r.randrange(512, config.dmem_size - 512) & ~3)
    prologue += li(2, r.randrange(512, config.dmem_size - 512) & ~3)
    prologue += li(3, r.randrange(20, rows - 20) * 64)
    for reg in range(4, 30):
        prologue += li(reg, r.choice(SPECIAL_VALUES) if r.random() < 0.3 else r.getrandbits(32))
    prologue += [encode("vloadr0", rs1=0, imm=64 * r.randrange(4, 16)),
                 encode("vloadr1", rs1=0, imm=64 * r.randrange(4, 16))]
    for k, v in enumerate(V_ADDR):
        prologue.append(encode("vloadv", rd=v, rs1=0, imm=64 * k))
    for v in V_DATA:
        prologue.append(encode("vloadv", rd=v, rs1=0, imm=64 * r.randrange(4, 32)))
    if r.random() < 0.5:
        prologue.append(encode("csrrwi", rd=0, csr=csrs.MCOUNTINHIBIT, zimm=r.randrange(8)))
    prologue += li(31, r.randint(1, 3))

    body = _fix_targets(g.body())
    loop = body + [encode("addi", rd=31, rs1=31, imm=-1), encode("bne", rs1=31, rs2=0, imm=-4 * (len(body) + 1))]
    # Wait for both DMA channels to finish (busy = starting | transferring), then stop.
    busy = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
    epilogue = []
    for status in (csrs.MM2S_STATUS, csrs.S2MM_STATUS):
        epilogue += [encode("csrrs", rd=30, csr=status, rs1=0), encode("andi", rd=30, rs1=30, imm=busy),
                     encode("bne", rs1=30, rs2=0, imm=-8)]
    epilogue.append(encode("ecall"))
    words = prologue + loop + epilogue
    program = Program.from_words(words, dmem=dmem, vmem=vmem.tobytes())
    return RandomProgram(seed, program, r.randbytes(32 * config.llm_size), r.randbytes(config.dram_size), config)
