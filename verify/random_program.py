"""The seeded random-program generator of every differential test (fast vs
reference ISS engine, RTL vs ISS for the scalar core and for the vector
unit), parameterised by the machine (``MachineConfig``: sizes, extensions)
and by ``Features`` (what a program may contain), and the directed vector
programs built from the same parts.

A program is a prologue (DMEM/VMEM pointers, scalar data registers with
corner values, the RNG seed, every vector register), a random body run one
to three times in a loop (x31), and an epilogue (DMA waits, a final VRNG,
then ecall; sometimes ebreak or an illegal word). Control flow in the body
only jumps forward, landing at most on the loop's decrement, so every
program ends. Memory accesses mostly stay legal; ``Features.fault_rate`` of
them (and of the jumps) are meant to fault.

Instructions are drawn from the instruction table (``isa/table.py``) by
their kind, memory and access width; a new instruction of the table joins
the programs by its kind, with operands from its operand fields.

Register conventions: x1, x2 DMEM pointers, x3 VMEM pointer, x4.. scalar
data (``Features.x_data`` of them), x29 the auipc/jalr base, x30 scratch for
CSR and DMA sequences, x31 the loop counter; v24-v27 LLM address vectors
(sources only), every other vector register data. VMEM rows 0-3 hold the
address vectors (even, in range, some negative = inactive lanes), rows 8-15
lanes of corner values.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from fenn_dma.isa import csrs
from fenn_dma.isa import fields as F
from fenn_dma.isa.asm_forms import li_words
from fenn_dma.isa.codec import encode, try_decode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import BY_MNEMONIC, LLM, SPECS, VMEM, InstrSpec, Kind, V
from fenn_dma.sim.config import MachineConfig

# ---- what each item draws from the table (isa/table.py's kinds) ---------------------------

SCALAR_WORK = (Kind.ALU, Kind.MUL, Kind.DIV, Kind.FENCE)
VECTOR_WORK = (Kind.VALU, Kind.VCMP, Kind.VMOVE, Kind.VRNG)


def _specs(config: MachineConfig, *kinds: Kind) -> list[InstrSpec]:
    """The table's instructions of ``kinds`` that ``config``'s extensions include."""
    return [s for s in SPECS if s.kind in kinds and s.ext in config.extensions]


def li(rd: int, value: int) -> list[int]:
    """The assembler's ``li`` (isa/asm_forms.py), encoded."""
    return li_words(rd, value)


# ---- what a program may contain -----------------------------------------------------------

@dataclass(frozen=True)
class Features:
    """What a program may contain, beside what the machine allows: the
    extensions (full M or only ``mul``, V) and sizes come from the
    ``MachineConfig``; an instruction outside its extensions is never drawn."""
    vector: bool = True            # vector instructions, VMEM and LLM images (the machine needs V)
    scalar_memory: bool = True     # scalar loads and stores
    control: bool = True           # forward branches, jal, auipc + jalr in the loop body
    csr: bool = True               # CSR reads and writes (the DMA's only with ``dma``)
    dma: bool = False              # DMA sequences and a DRAM image
    # DMA the RTL can be compared on (``dma_item_rtl``): each DMA item polls its channels to idle
    # before anything touches their ranges (the RTL moves data while a transfer runs, the ISS at
    # its end), both channels run on disjoint ranges, bus errors aim only at ``undefined_ranges``,
    # and random CSR writes leave the DMA registers alone.
    dma_wait: bool = False
    illegal: bool = True           # rare random words; some programs end in ebreak or an illegal word
    x_data: int = 25               # scalar data registers from x4 (few: back-to-back dependencies)
    fault_rate: float = 0.01       # share of memory accesses and jumps meant to fault
    load_use: float = 1.0          # share of vector loads whose next instruction keeps the load-use rule


# Everything the ISS models (fast vs reference engine).
ISS_ENGINES = Features(dma=True, load_use=0.97)
# The SoC without the vector unit: few registers, more faults (every stop cause in a few hundred programs).
SCALAR_RTL = Features(vector=False, x_data=8, fault_rate=0.015)
# The SoC with the vector unit: vector work with scalar data ops, the load-use rule always kept.
VECTOR_RTL = Features(scalar_memory=False, control=False, csr=False, illegal=False, x_data=11)
# The SoC with the DMA: DMA items (start, work that leaves their ranges alone, poll), vector and
# scalar work, CSR reads (the DMA's included).
DMA_RTL = Features(dma=True, dma_wait=True, scalar_memory=True, control=True, csr=True, illegal=False, x_data=11,
                   fault_rate=0.003)

# Item weights, before dropping the classes a program's features leave out.
WEIGHTS = {"alu": 0.30, "li": 0.04, "scalar_memory": 0.15, "vector_alu": 0.35, "vector_memory": 0.18,
           "control": 0.10, "csr": 0.07, "dma": 0.02, "illegal": 0.0007}

SMALL_CONFIG = MachineConfig(imem_size=8 * 1024, dmem_size=4 * 1024, vmem_size=8 * 1024, llm_size=256,
                             dram_size=64 * 1024, dram_base=0x10000,
                             dram_error_regions=((0x10000 + 60 * 1024, 0x10000 + 61 * 1024),))
# The vector SoC the RTL tests build (tests/rtl_vector, benchmarks/vector_kernels.py).
VECTOR_TEST_CONFIG = MachineConfig(imem_size=4 * 1024, dmem_size=16 * 1024, vmem_size=8 * 1024,
                                   llm_size=256, dram_size=64 * 1024)

X_DMEM = (1, 2)
X_VMEM = 3
X_LINK, X_SCRATCH, X_LOOP = 29, 30, 31
V_ADDR = list(range(24, 28))
V_DATA = [v for v in range(32) if v not in V_ADDR]
SPECIAL = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x8000, 0x7FFF, 0xFFFF8000, 0xFFFF, 0x10000, 0x55555555]
LANE_CORNERS = [-32768, -32767, -16384, -1, 0, 1, 2, 0x3FFF, 0x4000, 32767]
ILLEGAL_WORDS = (0x00000000, 0xFFFFFFFF)
NOP = encode("addi", rd=0, rs1=0, imm=0)


SCRATCH_ROWS = 4        # dma_wait: the top VMEM rows, where MM2S bus errors land (no vector access reaches them)


class Inner(int):
    """A word inside an item that no jump may land on (``_fix_targets`` moves such a target on)."""


def undefined_ranges(config: MachineConfig) -> dict[str, list[tuple[int, int]]]:
    """Where the dma_wait programs' bus errors may leave bytes the RTL wrote and the ISS did not
    (docs/dma.md: a bus error's destination is undefined): offsets into the VMEM and DRAM dumps.
    Nothing else reads or writes them."""
    rows = config.vmem_size // 64
    dram = [(config.dram_size - 64, config.dram_size)]
    for start, _ in config.dram_error_regions:
        dram.append((start - config.dram_base - 64, start - config.dram_base))
    return {"vmem": [((rows - SCRATCH_ROWS) * 64, rows * 64)], "dram": dram}


@dataclass
class RandomProgram:
    seed: int
    program: Program
    llm_image: bytes          # lane-major, as Machine.load_image("llm", ...)
    dram_image: bytes
    config: MachineConfig
    features: Features = Features()


def reads_vector(word, reg: int | None) -> bool:
    """Whether the instruction reads v[reg] (as a source or kept-old destination)."""
    if reg is None or not isinstance(word, int):
        return False
    ins = try_decode(word)
    return ins is not None and any(getattr(ins, slot) == reg for slot in ins.spec.vector_sources())


def load_dest(word) -> int | None:
    """The vector register a load-use load writes, else None."""
    ins = try_decode(word) if isinstance(word, int) else None
    return ins.rd if ins is not None and ins.spec.load_use else None


class Generator:
    def __init__(self, seed: int, config: MachineConfig, features: Features):
        if features.vector and V not in config.extensions:
            features = replace(features, vector=False)
        self.r = random.Random(seed)
        self.cfg, self.f = config, features
        self.x_data = list(range(4, 4 + features.x_data))
        self.alu = _specs(config, *SCALAR_WORK)
        self.vector_alu = _specs(config, *VECTOR_WORK)
        self.scalar_mem = _specs(config, Kind.LOAD, Kind.STORE)
        # Vector memory: the load-use loads (vloadv, vloadl) twice as often as the others.
        self.vector_mem = _specs(config, Kind.VLOAD, Kind.VSTORE)
        self.vector_mem_weights = [2 if s.load_use else 1 for s in self.vector_mem]
        self.branches = _specs(config, Kind.BRANCH)
        self.csr_ops = _specs(config, Kind.CSR)
        dma_csrs = {csrs.MM2S_SRC_ADDR, csrs.MM2S_DST_ADDR, csrs.MM2S_COUNT, csrs.MM2S_CONTROL, csrs.MM2S_STATUS,
                    csrs.S2MM_SRC_ADDR, csrs.S2MM_DST_ADDR, csrs.S2MM_COUNT, csrs.S2MM_CONTROL, csrs.S2MM_STATUS}
        listed = [c for c in csrs.CSRS if features.dma or c.number not in dma_csrs]
        self.csr_numbers = [c.number for c in listed] + [0x7C0, 0x340]        # and two unlisted ones
        self.csr_writable = [c.number for c in listed if "W" in c.access]
        # dma_wait: random writes leave the DMA alone (only dma_item_rtl starts transfers).
        self.csr_write_numbers = [n for n in self.csr_numbers if not (features.dma_wait and n in dma_csrs)]
        self.csr_writable = [n for n in self.csr_writable if n in self.csr_write_numbers]
        enabled = {"alu": True, "li": True, "scalar_memory": features.scalar_memory,
                   "vector_alu": features.vector, "vector_memory": features.vector, "control": features.control,
                   "csr": features.csr, "dma": features.dma, "illegal": features.illegal}
        self.kinds = [k for k in WEIGHTS if enabled[k]]
        self.weights = [WEIGHTS[k] for k in self.kinds]

    # operands ---------------------------------------------------------------

    def xreg(self) -> int:
        """A scalar data register (sometimes x0)."""
        return 0 if self.r.random() < 0.05 else self.r.choice(self.x_data)

    def operand(self, o: F.Operand) -> int:
        r = self.r
        if o.kind == F.XREG:
            return self.xreg()
        if o.kind == F.VREG:
            return r.choice(V_DATA) if o.slot == "rd" else r.choice(V_DATA + V_ADDR)
        if o.kind == F.FENCE:
            return r.randrange(16)
        if r.random() < 0.2:
            return r.choice([v for v in (o.min, o.max, 0, 1, -1) if o.min <= v <= o.max])
        return r.randint(o.min, o.max)

    def from_table(self, spec: InstrSpec) -> int:
        return encode(spec, **{o.name: self.operand(o) for o in spec.operands})

    # items: lists of words and control placeholders -------------------------

    def scalar_memory(self) -> list[int]:
        r, f = self.r, self.f
        spec = r.choice(self.scalar_mem)
        size = spec.width
        span = min(256, self.cfg.dmem_size // 4)
        rs1, imm = r.choice(X_DMEM), r.randrange(-span, span, size)
        roll = r.random()
        if roll < f.fault_rate:                  # a data register as base: usually out of range
            rs1, imm = r.choice(self.x_data), r.randint(-2048, 2047)
        elif roll < 2 * f.fault_rate:
            if size > 1:
                imm += r.randrange(1, size)      # misaligned
            else:
                rs1, imm = 0, -size * r.randint(1, 64)   # wraps to the top: out of range
        elif roll < 2.5 * f.fault_rate:
            rs1, imm = 0, -size * r.randint(1, 64)
        if spec.is_load:
            return [encode(spec, rd=self.xreg(), rs1=rs1, imm=imm)]
        return [encode(spec, rs2=r.choice([0] + self.x_data), rs1=rs1, imm=imm)]

    def vector_memory(self, spec: InstrSpec | None = None) -> int:
        """A VMEM row access from x3 or an LLM access through an address vector; with
        ``fault_rate`` misaligned, out of range or wrapping."""
        r = self.r
        fault = r.random() < self.f.fault_rate
        spec = spec or r.choices(self.vector_mem, self.vector_mem_weights)[0]
        if spec.memory == VMEM:
            imm, base = r.randrange(-16, 16) * spec.width, X_VMEM
            if fault and r.random() < 0.5:
                imm += 2 * r.randint(1, spec.width // 2 - 1)     # misaligned
            elif fault:
                imm, base = -spec.width * r.randint(1, 31), 0    # wraps to the top of the address space
        else:
            assert spec.memory == LLM, spec.mnemonic
            imm, base = r.randrange(-8, 8) * spec.width, r.choice(V_ADDR)
            if fault:
                imm = r.choice([imm + 1, self.cfg.llm_size, -2048])   # odd, past the LLM, negative
        ops = {"rs1": base, "imm": imm}
        names = {o.name for o in spec.operands}
        if "rd" in names:
            ops["rd"] = r.choice(V_DATA)
        if "rs2" in names:
            ops["rs2"] = r.choice(V_DATA + V_ADDR)
        return encode(spec, **ops)

    def csr(self) -> list[int]:
        """Half reads (csrrs from x0); half writes, mostly to writable CSRs (else illegal)."""
        r = self.r
        rd = self.xreg()
        if r.random() < 0.5:
            return [encode("csrrs", rd=rd, csr=r.choice(self.csr_numbers), rs1=0)]
        spec = r.choice(self.csr_ops)
        num = r.choice(self.csr_writable if r.random() < 0.8 else self.csr_write_numbers)
        if spec.op.endswith("i"):
            return [encode(spec, rd=rd, csr=num, zimm=r.choice([0, r.randrange(32)]))]
        return [encode(spec, rd=rd, csr=num, rs1=0 if r.random() < 0.5 else self.xreg())]

    def dma(self) -> list[int]:
        if self.f.dma_wait:
            return self.dma_item_rtl()
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
            words += li(X_SCRATCH, value) + [encode("csrrw", rd=0, csr=num, rs1=X_SCRATCH)]
        words.append(encode("csrrwi", rd=0, csr=regs[3], zimm=1))
        return words

    # DMA the RTL can be compared on (Features.dma_wait) ----------------------------------

    def _dma_areas(self):
        """(VMEM rows for transfers, the VMEM scratch rows, DRAM rows for transfers) of the
        layout ``undefined_ranges`` describes."""
        cfg = self.cfg
        rows = cfg.vmem_size // 64
        limit = (cfg.dram_error_regions[0][0] - cfg.dram_base) if cfg.dram_error_regions else cfg.dram_size
        return rows - 8, rows - SCRATCH_ROWS, (min(limit, cfg.dram_size - 64) - 128) // 64

    def _dma_transfer(self, ch: int, vmem_rows: range, dram_rows: range) -> tuple[int, int, int]:
        """(src, dst, count) of one transfer on channel ``ch`` (0 MM2S): mostly in range, some
        rule breaks and bus errors (their undefined destinations only in ``undefined_ranges``)."""
        r, cfg = self.r, self.cfg
        _, scratch, _ = self._dma_areas()
        count = r.randrange(0, 9) * 64
        vmem = r.randrange(vmem_rows.start, vmem_rows.stop - count // 64 + 1) * 64 if \
            vmem_rows.stop - vmem_rows.start > count // 64 else vmem_rows.start * 64
        dram = cfg.dram_base + r.randrange(dram_rows.start, dram_rows.stop - 8) * 64
        roll = r.random()
        if roll < 0.04:
            count += r.choice([4, 32, 1 << 19])                   # rule break: count
        elif roll < 0.06:
            dram += r.choice([4, 16, 32])                          # rule break: DRAM alignment
        elif roll < 0.08:
            vmem = r.choice([cfg.vmem_size - 64, cfg.vmem_size, 0xFFFFFFC0])   # rule break: leaves VMEM
            count = max(count, 128)
        elif roll < 0.18:
            # Bus errors: off the window's end (the first burst in it), into or across an error region.
            count = r.randrange(1, SCRATCH_ROWS + 1) * 64
            err = cfg.dram_error_regions[0][0] if cfg.dram_error_regions else None
            dram = r.choice([cfg.dram_base + cfg.dram_size - 64, cfg.dram_base + cfg.dram_size]
                            + ([err - 64, err + 64 * r.randrange(0, 8)] if err is not None else []))
            if ch == 0:
                vmem = scratch * 64 + 64 * r.randrange(0, SCRATCH_ROWS - count // 64 + 1)
        return (dram, vmem, count) if ch == 0 else (vmem, dram, count)

    def _dma_set(self, ch: int, values: tuple[int, int, int]) -> list[int]:
        regs = (csrs.MM2S_SRC_ADDR, csrs.MM2S_DST_ADDR, csrs.MM2S_COUNT) if ch == 0 else \
               (csrs.S2MM_SRC_ADDR, csrs.S2MM_DST_ADDR, csrs.S2MM_COUNT)
        words: list[int] = []
        for num, value in zip(regs, values):
            words += li(X_SCRATCH, value & 0xFFFFFFFF) + [encode("csrrw", rd=0, csr=num, rs1=X_SCRATCH)]
        return words

    def dma_item_rtl(self) -> list[int]:
        """Start one channel or both (disjoint ranges), work that leaves their ranges alone
        (scalar ALU, vector ALU), sometimes a second start while busy, then poll to idle. Its
        words after the first are not jump targets (``Inner``): a jump into it would start a
        transfer from half-set registers."""
        r = self.r
        vmem_top, _, dram_top = self._dma_areas()
        both = r.random() < 0.35
        chans = [0, 1] if both else [r.randrange(2)]
        halves = {0: (range(0, vmem_top // 2), range(0, dram_top // 2)),
                  1: (range(vmem_top // 2, vmem_top), range(dram_top // 2, dram_top))} if both else \
                 {c: (range(0, vmem_top), range(0, dram_top)) for c in chans}
        controls = {0: csrs.MM2S_CONTROL, 1: csrs.S2MM_CONTROL}
        statuses = {0: csrs.MM2S_STATUS, 1: csrs.S2MM_STATUS}
        words: list[int] = []
        for c in chans:
            words += self._dma_set(c, self._dma_transfer(c, *halves[c]))
        for c in chans:
            words.append(encode("csrrwi", rd=0, csr=controls[c], zimm=1))
        if r.random() < 0.5:
            words.append(encode("csrrs", rd=self.xreg(), csr=statuses[chans[0]], rs1=0))
        for _ in range(r.randrange(0, 12)):
            kind = r.choice(["alu", "li", "status"] + (["vector_alu"] * 2 if self.f.vector else []))
            if kind == "status":        # a STATUS read while the transfer runs: its phases, cycle-exact
                words.append(encode("csrrs", rd=self.xreg(), csr=statuses[r.choice(chans)], rs1=0))
            elif kind == "alu":
                words.append(self.from_table(r.choice([s for s in self.alu if s.kind != Kind.FENCE])))
            elif kind == "li":
                words += li(r.choice(self.x_data), r.getrandbits(32))
            else:
                words.append(self.from_table(r.choice(self.vector_alu)))
        if r.random() < 0.15:
            # A second start of the first channel, usually while it is busy (then ignored): in range.
            c = chans[0]
            vm, dr = halves[c]
            count = r.randrange(0, 5) * 64
            vmem = r.randrange(vm.start, vm.stop - 4) * 64
            dram = self.cfg.dram_base + r.randrange(dr.start, dr.stop - 8) * 64
            words += self._dma_set(c, (dram, vmem, count) if c == 0 else (vmem, dram, count))
            words.append(encode("csrrwi", rd=0, csr=controls[c], zimm=1))
        busy = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
        for c in chans:
            words += [encode("csrrs", rd=X_SCRATCH, csr=statuses[c], rs1=0),
                      encode("andi", rd=X_SCRATCH, rs1=X_SCRATCH, imm=busy),
                      encode("bne", rs1=X_SCRATCH, rs2=0, imm=-8)]
        return words[:1] + [Inner(w) for w in words[1:]]

    def control(self) -> list:
        """A forward branch, jal or auipc + jalr over 1-4 words (targets fixed up at the end)."""
        r = self.r
        k = r.randint(1, 4)
        misaligned = r.random() < self.f.fault_rate
        kind = r.random()
        if kind < 0.6:
            return [("branch", r.choice(self.branches).op, r.choice([0] + self.x_data), r.choice([0] + self.x_data),
                     k, misaligned)]
        if kind < 0.85:
            return [("jal", r.choice([0, X_LINK] + self.x_data), k, misaligned)]
        return [encode("auipc", rd=X_LINK, imm=0), ("jalr", r.choice([0] + self.x_data), X_LINK, k, misaligned)]

    def item(self) -> list:
        kind = self.r.choices(self.kinds, self.weights)[0]
        r = self.r
        if kind == "alu":
            return [self.from_table(r.choice(self.alu))]
        if kind == "li":
            return li(r.choice(self.x_data), r.choice(SPECIAL) if r.random() < 0.7 else r.getrandbits(32))
        if kind == "vector_alu":
            return [self.from_table(r.choice(self.vector_alu))]
        if kind == "vector_memory":
            return [self.vector_memory()]
        if kind == "illegal":
            return [r.getrandbits(32) if r.random() < 0.5 else r.choice(ILLEGAL_WORDS)]
        return getattr(self, kind)()

    def body(self, length: int) -> list:
        out: list = []
        loaded: int | None = None
        while len(out) < length:
            words = self.item()
            if self.r.random() < self.f.load_use:
                while reads_vector(words[0], loaded):
                    words = self.item()
            out += words
            loaded = load_dest(words[-1])
        if loaded is not None:
            out.append(NOP)                          # the loop's first instruction may read it
        return out

    # images, prologue, epilogue ---------------------------------------------

    def vmem_image(self) -> np.ndarray:
        r, config = self.r, self.cfg
        rows = config.vmem_size // 64
        vmem = np.frombuffer(r.randbytes(config.vmem_size), np.uint8).copy()
        # Rows 0-3: LLM address vectors (even, in range, ~10 % negative: inactive lanes).
        addr = np.array([r.randrange(16, config.llm_size - 16) & ~1 for _ in range(4 * 32)], np.int16)
        addr[[r.randrange(128) for _ in range(12)]] = -r.randrange(1, 32769)
        vmem[:256] = addr.view(np.uint8)
        # Rows 8-15: lanes of corner values, so that corners meet each other often.
        for row in range(8, min(16, rows)):
            vmem[64 * row:64 * row + 64] = np.array(r.choices(LANE_CORNERS, k=32), np.int16).view(np.uint8)
        return vmem

    def prologue(self) -> list[int]:
        """Pointers, scalar data, and with vectors the RNG seed, the address vectors and every
        data vector; ends with the load slot filled."""
        r, cfg, f = self.r, self.cfg, self.f
        words: list[int] = []
        dmem = cfg.dmem_size
        for reg in X_DMEM:
            words += li(reg, r.randrange(dmem // 4, 3 * dmem // 4) & ~3)
        if f.vector:
            words += li(X_VMEM, r.randrange(20, cfg.vmem_size // 64 - 20) * 64)
        for reg in self.x_data:
            words += li(reg, r.choice(SPECIAL) if r.random() < 0.3 else r.getrandbits(32))
        if f.vector:
            words += [encode("vloadr0", rs1=0, imm=64 * r.randrange(4, 8)),
                      encode("vloadr1", rs1=0, imm=64 * r.randrange(4, 8))]
            words += [encode("vloadv", rd=v, rs1=0, imm=64 * k) for k, v in enumerate(V_ADDR)]
            words += [encode("vloadv", rd=v, rs1=0, imm=64 * r.randrange(4, 32)) for v in V_DATA]
            words.append(NOP)
        if f.csr and r.random() < 0.5:
            words.append(encode("csrrwi", rd=0, csr=csrs.MCOUNTINHIBIT, zimm=r.randrange(8)))
        return words

    def epilogue(self) -> list[int]:
        r, f = self.r, self.f
        words: list[int] = []
        if f.dma:
            # Wait for both DMA channels to finish (busy = starting | transferring).
            busy = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
            for status in (csrs.MM2S_STATUS, csrs.S2MM_STATUS):
                words += [encode("csrrs", rd=X_SCRATCH, csr=status, rs1=0),
                          encode("andi", rd=X_SCRATCH, rs1=X_SCRATCH, imm=busy),
                          encode("bne", rs1=X_SCRATCH, rs2=0, imm=-8)]
        if f.vector:
            words.append(encode("vrng", rd=V_DATA[-1]))     # the RNG's state also shows in a register
        end = r.random() if f.illegal else 0.0
        if end < 0.9:
            return words + [encode("ecall")]
        return words + [encode("ebreak") if end < 0.97 else r.choice(ILLEGAL_WORDS)]

    def finish(self, seed: int, words: list[int], vmem: np.ndarray | None, dmem: bytes = b"") -> RandomProgram:
        images = {"dmem": dmem} if dmem else {}
        if vmem is not None:
            images["vmem"] = vmem.tobytes()
        program = Program.from_words(words, **images)
        cfg, r = self.cfg, self.r
        llm = r.randbytes(cfg.lanes * cfg.llm_size) if self.f.vector else b""
        dram = r.randbytes(cfg.dram_size) if self.f.dma else b""
        return RandomProgram(seed, program, llm, dram, cfg, self.f)


def _fix_targets(body: list) -> list[int]:
    """Encode the forward jumps, clamped to land at most on the loop's decrement;
    a misaligned one lands two bytes short."""
    words = []
    n = len(body)
    for i, w in enumerate(body):
        if isinstance(w, int):
            words.append(int(w))
            continue
        kind = w[0]
        target = min(i + w[-2], n)
        while target < n and (isinstance(body[target], Inner) or
                              isinstance(body[target], tuple) and body[target][0] == "jalr"):
            target += 1  # a jalr's base register comes from the auipc just before it; Inner: see there
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


def random_program(seed: int, length: int = 80, config: MachineConfig = SMALL_CONFIG,
                   features: Features = ISS_ENGINES, loops: int | None = None) -> RandomProgram:
    """Random program ``seed`` (deterministic): the prologue, a body of about
    ``length`` words run ``loops`` (default 1-3) times, the epilogue."""
    g = Generator(seed, config, features)
    r = g.r
    vmem = g.vmem_image() if g.f.vector else None
    dmem = r.randbytes(config.dmem_size)
    prologue = g.prologue() + li(X_LOOP, loops if loops is not None else r.randint(1, 3))
    body = _fix_targets(g.body(length))
    loop = body + [encode("addi", rd=X_LOOP, rs1=X_LOOP, imm=-1),
                   encode("bne", rs1=X_LOOP, rs2=0, imm=-4 * (len(body) + 1))]
    return g.finish(seed, prologue + loop + g.epilogue(), vmem, dmem)


def random_vector_program(seed: int, length: int = 60, config: MachineConfig = VECTOR_TEST_CONFIG,
                          fault_rate: float = 0.01, loops: int | None = None) -> RandomProgram:
    """``random_program`` with the features of the vector SoC's tests (``VECTOR_RTL``)."""
    return random_program(seed, length, config, replace(VECTOR_RTL, fault_rate=fault_rate), loops)


# ---- directed vector programs (same images, prologue and epilogue) ------------------------

def _vector_generator(seed: int, config: MachineConfig, fault_rate: float = 0.0) -> Generator:
    return Generator(seed, config, replace(VECTOR_RTL, fault_rate=fault_rate, illegal=False))


def directed_vector_program(seed: int, repeats: int = 4, config: MachineConfig = VECTOR_TEST_CONFIG) -> RandomProgram:
    """Every vector instruction of the table, ``repeats`` times each, with
    random operands (shifts, bit counts and lanes include 0, 1 and the maximum)."""
    g = _vector_generator(seed, config)
    vmem = g.vmem_image()
    body: list[int] = []
    for spec in (s for s in SPECS if s.is_vector):
        for k in range(repeats):
            if spec.memory is not None:
                word = g.vector_memory(spec)
            else:
                ops = {o.name: g.operand(o) for o in spec.operands}
                for o in spec.operands:
                    if o.kind == F.IMM and k < 3 and o.name in ("shift", "bits", "lane"):
                        ops[o.name] = (o.min, 1, o.max)[k]
                word = encode(spec, **ops)
            if body and reads_vector(word, load_dest(body[-1])):
                body.append(NOP)
            body.append(word)
    return g.finish(seed, g.prologue() + body + [NOP] + g.epilogue(), vmem)


def fault_vector_programs(config: MachineConfig = VECTOR_TEST_CONFIG) -> list[RandomProgram]:
    """One short program per vector memory fault (isa.md section 6), each
    ending in the faulting instruction after a few that complete."""
    llm = config.llm_size
    cases: list[tuple[list[int], dict[int, int]]] = []   # (body, special lanes of address row 3)
    def data(spec: InstrSpec) -> dict[str, int]:       # v1 as the destination or the stored data
        names = {o.name for o in spec.operands}
        return {"rd": 1} if "rd" in names else {"rs2": 1} if "rs2" in names else {}

    for name in (s.mnemonic for s in SPECS if s.memory == VMEM):
        ops = data(BY_MNEMONIC[name])
        cases.append(([encode(name, rs1=X_VMEM, imm=66, **ops)], {}))                 # misaligned
        cases.append(([encode(name, rs1=0, imm=-64, **ops)], {}))                      # wraps: out of range
        cases.append(([encode(name, rs1=0, imm=0, **ops), *li(6, config.vmem_size),
                       encode(name, rs1=6, imm=0, **ops)], {}))                        # just past the end
    for name in (s.mnemonic for s in SPECS if s.memory == LLM):
        ops = data(BY_MNEMONIC[name])
        cases.append(([encode(name, rs1=27, imm=1, **ops)], {}))                      # odd offset
        cases.append(([encode(name, rs1=27, imm=llm, **ops)], {}))                    # beyond the LLM
        cases.append(([encode(name, rs1=27, imm=-2048, **ops)], {}))                  # negative sum
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {0: llm, 1: 5}))           # lane 0 decides: range
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {0: -7, 3: 5, 9: llm}))    # lane 3 decides: misaligned
        cases.append(([encode(name, rs1=27, imm=0, **ops)], {31: llm - 1}))            # only the last lane
    programs = []
    for k, (body, lanes_special) in enumerate(cases):
        g = _vector_generator(7000 + k, config)
        vmem = g.vmem_image()
        row3 = vmem[192:256].view(np.int16)
        row3[row3 < 0] = 16                          # no negative lanes except where asked
        for lane, value in lanes_special.items():
            row3[lane] = value
        before = [encode("vadd", rd=2, rs1=8, rs2=9), encode("vstorel", rs2=3, rs1=26, imm=0),
                  encode("vstorev", rs2=4, rs1=X_VMEM, imm=0)]
        programs.append(g.finish(k, g.prologue() + before + body + g.epilogue(), vmem))
    return programs


def stochastic_program(seed: int, ops: int = 64, loops: int = 50,
                       config: MachineConfig = VECTOR_TEST_CONFIG) -> RandomProgram:
    """A loop of ``ops`` stochastically rounded VMUL/VSRAI (mixed shifts, wrap
    and saturation), with a reload from VMEM every eighth op so values stay
    varied, run ``loops`` times: thousands of RNG advances per program."""
    g = _vector_generator(seed, config)
    r = g.r
    vmem = g.vmem_image()
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
    return g.finish(seed, g.prologue() + setup + li(X_LOOP, loops) + loop + g.epilogue(), vmem)
