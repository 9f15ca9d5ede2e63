"""Seeded random scalar programs for the RTL-vs-ISS differential tests.

Each program mixes every scalar instruction class with back-to-back
dependencies (few registers), loads and stores of every width (mostly in
range; a few fault), forward branches, bounded backward loops, jumps,
CSR accesses, mul/div on corner values and Zbb, and ends with ``ecall``
(sometimes an ``ebreak`` or an illegal word). Programs never touch the DMA
CSRs, whose RTL is not built yet.
"""
from __future__ import annotations

import random

from fenn_dma.isa import csrs
from fenn_dma.isa.codec import encode
from fenn_dma.sim.random_program import li

REGS = tuple(range(1, 9))        # working registers: few, so dependencies are frequent
LOOP_REG, BASE_REG, LINK_REG = 31, 30, 29
CORNERS = (0, 1, -1, 2, -2, 0x7FFFFFFF, -0x80000000, 0x55555555, 0xFF, 0x8000, 31, 32)
R_OPS = ("add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
         "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu")
I_OPS = ("addi", "slti", "sltiu", "xori", "ori", "andi")
SHIFT_OPS = ("slli", "srli", "srai")
UNARY_OPS = ("clz", "ctz", "cpop", "sext.b", "sext.h")
LOADS = (("lb", 1), ("lbu", 1), ("lh", 2), ("lhu", 2), ("lw", 4))
STORES = (("sb", 1), ("sh", 2), ("sw", 4))
READ_CSRS = (csrs.MCYCLE, csrs.MCYCLEH, csrs.MINSTRET, csrs.MINSTRETH, csrs.MHARTID, csrs.MCOUNTINHIBIT,
             0x340, 0x7C0)   # two unlisted numbers
ILLEGAL_WORDS = (0x00000000, 0xFFFFFFFF)


class _Gen:
    def __init__(self, seed: int, dmem_size: int, length: int):
        self.r = random.Random(seed)
        self.dmem_size = dmem_size
        self.length = length
        self.words: list[int] = []

    def reg(self) -> int:
        return self.r.choice(REGS)

    def emit(self, mnemonic: str, **ops) -> None:
        self.words.append(encode(mnemonic, **ops))

    def simple(self) -> None:
        """One straight-line instruction (no control flow)."""
        r = self.r
        kind = r.random()
        if kind < 0.30:
            self.emit(r.choice(R_OPS), rd=self.reg(), rs1=self.reg(), rs2=self.reg())
        elif kind < 0.45:
            self.emit(r.choice(I_OPS), rd=self.reg(), rs1=self.reg(), imm=r.randint(-2048, 2047))
        elif kind < 0.52:
            self.emit(r.choice(SHIFT_OPS), rd=self.reg(), rs1=self.reg(), imm=r.randint(0, 31))
        elif kind < 0.57:
            self.emit(r.choice(UNARY_OPS), rd=self.reg(), rs1=self.reg())
        elif kind < 0.62:
            self.emit(r.choice(("lui", "auipc")), rd=self.reg(), imm=r.randint(0, 0xFFFFF))
        elif kind < 0.72:
            name, size = r.choice(LOADS)
            self.emit(name, rd=self.reg(), **self.address(size))
        elif kind < 0.82:
            name, size = r.choice(STORES)
            self.emit(name, rs2=self.reg(), **self.address(size))
        elif kind < 0.88:
            self.words += li(self.reg(), r.choice(CORNERS))
        elif kind < 0.94:
            self.csr()
        elif kind < 0.96:
            if r.random() < 0.5:
                self.emit("fence", pred=r.randint(0, 15), succ=r.randint(0, 15))
            else:
                self.emit("fence.i")
        else:
            # A load straight followed by its use (the load-use stall), sometimes as a store's data.
            name, size = r.choice(LOADS)
            rd = self.reg()
            self.emit(name, rd=rd, **self.address(size))
            if r.random() < 0.5:
                self.emit("add", rd=self.reg(), rs1=rd, rs2=self.reg())
            else:
                self.emit("sw", rs2=rd, **self.address(4))

    def address(self, size: int) -> dict:
        r = self.r
        roll = r.random()
        if roll < 0.03:       # a random base: usually faults or misaligns (ends the program)
            return {"rs1": self.reg(), "imm": r.randint(-2048, 2047)}
        if roll < 0.05:       # misaligned or past the end of DMEM
            return {"rs1": 0, "imm": r.choice((1, 2, 3, self.dmem_size, self.dmem_size - 2)) & 0x7FF}
        # In range: from x0, or from BASE_REG (= dmem_size / 2) with a signed offset.
        if r.random() < 0.5:
            return {"rs1": 0, "imm": r.randrange(0, min(self.dmem_size, 2048), size)}
        half = self.dmem_size // 2
        return {"rs1": BASE_REG, "imm": r.randrange(-half, half, size)}

    def csr(self) -> None:
        r = self.r
        roll = r.random()
        if roll < 0.5:
            self.emit("csrrs", rd=self.reg(), csr=r.choice(READ_CSRS), rs1=0)
        elif roll < 0.7:
            self.emit("csrrwi", rd=self.reg(), csr=csrs.MCOUNTINHIBIT, zimm=r.choice((0, 0, 1, 4, 5, 31)))
        elif roll < 0.85:
            self.emit(r.choice(("csrrw", "csrrs", "csrrc")), rd=self.reg(),
                      csr=r.choice((csrs.MCOUNTINHIBIT, csrs.MCYCLE, 0x7C0)), rs1=self.reg())
        else:
            self.emit(r.choice(("csrrsi", "csrrci")), rd=self.reg(), csr=csrs.MCOUNTINHIBIT, zimm=r.randint(0, 31))

    def forward_branch(self) -> None:
        r = self.r
        skip = [self.simple for _ in range(r.randint(1, 4))]
        at = len(self.words)
        self.words.append(0)
        for f in skip:
            f()
        offset = (len(self.words) - at) * 4
        if r.random() < 0.7:
            name = r.choice(("beq", "bne", "blt", "bge", "bltu", "bgeu"))
            self.words[at] = encode(name, rs1=self.reg(), rs2=r.choice(REGS + (0,)), imm=offset)
        else:
            self.words[at] = encode("jal", rd=r.choice((0, LINK_REG, self.reg())), imm=offset)

    def loop(self) -> None:
        r = self.r
        self.emit("addi", rd=LOOP_REG, rs1=0, imm=r.randint(1, 4))
        top = len(self.words)
        for _ in range(r.randint(1, 5)):
            self.simple()
        self.emit("addi", rd=LOOP_REG, rs1=LOOP_REG, imm=-1)
        self.emit("bne", rs1=LOOP_REG, rs2=0, imm=(top - len(self.words)) * 4)

    def jalr(self) -> None:
        r = self.r
        skip = r.randint(0, 2)
        misaligned = r.random() < 0.05
        self.emit("auipc", rd=LINK_REG, imm=0)
        self.emit("jalr", rd=r.choice((0, self.reg())), rs1=LINK_REG,
                  imm=(2 + skip) * 4 + (2 if misaligned else 0) + (1 if r.random() < 0.3 else 0))
        for _ in range(skip):
            self.simple()

    def program(self) -> list[int]:
        r = self.r
        self.words += li(BASE_REG, self.dmem_size // 2)
        for reg in REGS:
            if r.random() < 0.6:
                self.words += li(reg, r.choice(CORNERS) if r.random() < 0.5 else r.getrandbits(32))
        while len(self.words) < self.length:
            roll = r.random()
            if roll < 0.70:
                self.simple()
            elif roll < 0.82:
                self.forward_branch()
            elif roll < 0.92:
                self.loop()
            else:
                self.jalr()
        end = r.random()
        if end < 0.9:
            self.emit("ecall")
        elif end < 0.95:
            self.emit("ebreak")
        else:
            self.words.append(r.choice(ILLEGAL_WORDS))
        return self.words


def random_program(seed: int, dmem_size: int, length: int = 60) -> list[int]:
    """The words of random program ``seed`` (deterministic)."""
    return _Gen(seed, dmem_size, length).program()
