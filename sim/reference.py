"""The reference engine: a plain, per-instruction interpreter of docs/isa.md.

Readable rather than fast; it is the oracle the C engine is tested against
and the engine behind ``--trace``. Lane arithmetic comes from ``lanes.py``;
the DMA and cycle rules from ``dma.py`` and ``cycle_model.py``.

Order of checks for one instruction (our definition): DMA completions due at
the current cycle; the ``max_instructions`` limit; fetch (misaligned pc, pc
outside IMEM); decode (illegal); the load-use RAW hazard; then execution,
whose exceptions (memory faults, misaligned jump targets) leave all state as
before the instruction. ``ecall``/``ebreak`` stop without retiring.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from fenn_dma.arch import ROW_BYTES
from fenn_dma.isa import csrs
from fenn_dma.isa.codec import Instruction
from fenn_dma.isa.table import LOAD_USE_OPS, OPS

from . import lanes
from .cycle_model import BRANCH_OPS, SCALAR_LOAD_OPS
from .dma import DMA_CSRS
from .predecode import scalar_source_mask, vector_source_mask
from .state import CORE, NO_VLOAD
from .stop import Stop, StopCause

if TYPE_CHECKING:
    from .machine import Machine

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
VMEM_ROW = ROW_BYTES  # bytes of one vector register


class Trap(Exception):
    """An exception of the executing instruction (docs/isa.md section 6)."""

    def __init__(self, cause: StopCause):
        super().__init__(cause.value)
        self.cause = cause


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


# A trace hook receives (pc, instruction, written) after each retired instruction;
# written is ("x", reg, value), ("v", reg, lanes) or None.
TraceHook = Callable[[int, Instruction, tuple | None], None]


class ReferenceEngine:
    def __init__(self, machine: "Machine"):
        self.m = machine
        self.cfg = machine.config
        self.handlers: dict[str, Callable[[Instruction, int, int], int | None]] = {
            op: getattr(self, "op_" + op) for op in OPS}

    # --- the loop ---------------------------------------------------------

    def run(self, max_instructions: int | None = None, trace: TraceHook | None = None) -> Stop:
        m, core = self.m, self.m.core
        instrs = m.decoded()
        cost_of = self.cfg.cycle_model.cost
        executed = 0
        while True:
            now = int(core[CORE["cycles"]])
            m.dma_channels.advance(now)
            pc = int(core[CORE["pc"]])
            if max_instructions is not None and executed >= max_instructions:
                return Stop(StopCause.MAX_INSTRUCTIONS, pc)
            if pc % 4:
                return Stop(StopCause.MISALIGNED_FETCH, pc)
            if pc >= self.cfg.imem_size:
                return Stop(StopCause.FETCH_FAULT, pc)
            ins = instrs[pc // 4]
            if ins is None:
                return Stop(StopCause.ILLEGAL_INSTRUCTION, pc)
            op = ins.op
            vload = int(core[CORE["vload_dest"]])
            if vload != NO_VLOAD and vector_source_mask(ins) >> vload & 1:
                return Stop(StopCause.RAW_HAZARD, pc)
            if op == "ecall":
                return Stop(StopCause.ECALL, pc)
            if op == "ebreak":
                return Stop(StopCause.EBREAK, pc)
            try:
                target = self.handlers[op](ins, pc, now)
            except Trap as trap:
                return Stop(trap.cause, pc)
            xload = int(core[CORE["xload_dest"]])
            cost = cost_of(op, taken=target is not None and op in BRANCH_OPS,
                           load_use=xload != 0 and scalar_source_mask(ins) >> xload & 1 == 1)
            self._retire(cost)
            core[CORE["pc"]] = (pc + 4) if target is None else target
            core[CORE["vload_dest"]] = ins.rd if op in LOAD_USE_OPS else NO_VLOAD
            core[CORE["xload_dest"]] = ins.rd if op in SCALAR_LOAD_OPS else 0
            executed += 1
            if trace is not None:
                trace(pc, ins, self._written(ins))

    def _retire(self, cost: int) -> None:
        core = self.m.core
        inhibit = int(core[CORE["mcountinhibit"]])
        core[CORE["cycles"]] = (int(core[CORE["cycles"]]) + cost) & M64
        core[CORE["instret"]] = (int(core[CORE["instret"]]) + 1) & M64
        if not inhibit & 1:
            core[CORE["mcycle"]] = (int(core[CORE["mcycle"]]) + cost) & M64
        if not inhibit & 4:
            core[CORE["minstret"]] = (int(core[CORE["minstret"]]) + 1) & M64

    def _written(self, ins: Instruction) -> tuple | None:
        if ins.spec.scalar_dest() and ins.rd:
            return ("x", ins.rd, int(self.m.x[ins.rd]))
        if ins.spec.vector_dest():
            return ("v", ins.rd, self.m.v[ins.rd].copy())
        return None

    # --- helpers ----------------------------------------------------------

    def rx(self, r: int) -> int:
        return int(self.m.x[r])

    def wx(self, r: int, value: int) -> None:
        if r:
            self.m.x[r] = value & M32

    def jump(self, target: int) -> int:
        target &= M32
        if target % 4:
            raise Trap(StopCause.MISALIGNED_FETCH)
        return target

    def vmem_row(self, addr: int, store: bool) -> int:
        if addr % VMEM_ROW:
            raise Trap(StopCause.MISALIGNED_STORE if store else StopCause.MISALIGNED_LOAD)
        if addr + VMEM_ROW > self.cfg.vmem_size:
            raise Trap(StopCause.STORE_FAULT if store else StopCause.LOAD_FAULT)
        return addr

    def llm_lanes(self, ins: Instruction, store: bool) -> tuple[np.ndarray, np.ndarray]:
        """(active lanes, byte address per lane) of VLOADL/VSTOREL; traps on
        the lowest faulting active lane (misalignment before range)."""
        base = self.m.v[ins.rs1].astype(np.int64)
        active = base >= 0
        addr = base + ins.imm
        for lane in np.flatnonzero(active):
            a = int(addr[lane])
            if a % 2:
                raise Trap(StopCause.MISALIGNED_STORE if store else StopCause.MISALIGNED_LOAD)
            if a < 0 or a + 2 > self.cfg.llm_size:
                raise Trap(StopCause.STORE_FAULT if store else StopCause.LOAD_FAULT)
        return active, addr

    def rng_advance(self) -> np.ndarray:
        out, s0, s1 = lanes.rng_next(self.m.s0, self.m.s1)
        self.m.s0[:] = s0
        self.m.s1[:] = s1
        return out

    # --- RV32I ------------------------------------------------------------

    def op_lui(self, i, pc, now):
        self.wx(i.rd, i.imm << 12)

    def op_auipc(self, i, pc, now):
        self.wx(i.rd, pc + (i.imm << 12))

    def op_jal(self, i, pc, now):
        target = self.jump(pc + i.imm)
        self.wx(i.rd, pc + 4)
        return target

    def op_jalr(self, i, pc, now):
        target = self.jump((self.rx(i.rs1) + i.imm) & ~1)
        self.wx(i.rd, pc + 4)
        return target

    def _branch(self, i, pc, cond: bool):
        return self.jump(pc + i.imm) if cond else None

    def op_beq(self, i, pc, now):
        return self._branch(i, pc, self.rx(i.rs1) == self.rx(i.rs2))

    def op_bne(self, i, pc, now):
        return self._branch(i, pc, self.rx(i.rs1) != self.rx(i.rs2))

    def op_blt(self, i, pc, now):
        return self._branch(i, pc, s32(self.rx(i.rs1)) < s32(self.rx(i.rs2)))

    def op_bge(self, i, pc, now):
        return self._branch(i, pc, s32(self.rx(i.rs1)) >= s32(self.rx(i.rs2)))

    def op_bltu(self, i, pc, now):
        return self._branch(i, pc, self.rx(i.rs1) < self.rx(i.rs2))

    def op_bgeu(self, i, pc, now):
        return self._branch(i, pc, self.rx(i.rs1) >= self.rx(i.rs2))

    def _load(self, i, size: int, signed: bool):
        addr = (self.rx(i.rs1) + i.imm) & M32
        if addr % size:
            raise Trap(StopCause.MISALIGNED_LOAD)
        if addr + size > self.cfg.dmem_size:
            raise Trap(StopCause.LOAD_FAULT)
        value = int.from_bytes(self.m.dmem[addr:addr + size].tobytes(), "little", signed=signed)
        self.wx(i.rd, value)

    def op_lb(self, i, pc, now):
        self._load(i, 1, True)

    def op_lh(self, i, pc, now):
        self._load(i, 2, True)

    def op_lw(self, i, pc, now):
        self._load(i, 4, False)

    def op_lbu(self, i, pc, now):
        self._load(i, 1, False)

    def op_lhu(self, i, pc, now):
        self._load(i, 2, False)

    def _store(self, i, size: int):
        addr = (self.rx(i.rs1) + i.imm) & M32
        if addr % size:
            raise Trap(StopCause.MISALIGNED_STORE)
        if addr + size > self.cfg.dmem_size:
            raise Trap(StopCause.STORE_FAULT)
        data = (self.rx(i.rs2) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        self.m.dmem[addr:addr + size] = np.frombuffer(data, dtype=np.uint8)

    def op_sb(self, i, pc, now):
        self._store(i, 1)

    def op_sh(self, i, pc, now):
        self._store(i, 2)

    def op_sw(self, i, pc, now):
        self._store(i, 4)

    def op_addi(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) + i.imm)

    def op_slti(self, i, pc, now):
        self.wx(i.rd, int(s32(self.rx(i.rs1)) < i.imm))

    def op_sltiu(self, i, pc, now):
        self.wx(i.rd, int(self.rx(i.rs1) < (i.imm & M32)))

    def op_xori(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) ^ (i.imm & M32))

    def op_ori(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) | (i.imm & M32))

    def op_andi(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) & (i.imm & M32))

    def op_slli(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) << i.imm)

    def op_srli(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) >> i.imm)

    def op_srai(self, i, pc, now):
        self.wx(i.rd, s32(self.rx(i.rs1)) >> i.imm)

    def op_add(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) + self.rx(i.rs2))

    def op_sub(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) - self.rx(i.rs2))

    def op_sll(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) << (self.rx(i.rs2) & 31))

    def op_slt(self, i, pc, now):
        self.wx(i.rd, int(s32(self.rx(i.rs1)) < s32(self.rx(i.rs2))))

    def op_sltu(self, i, pc, now):
        self.wx(i.rd, int(self.rx(i.rs1) < self.rx(i.rs2)))

    def op_xor(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) ^ self.rx(i.rs2))

    def op_srl(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) >> (self.rx(i.rs2) & 31))

    def op_sra(self, i, pc, now):
        self.wx(i.rd, s32(self.rx(i.rs1)) >> (self.rx(i.rs2) & 31))

    def op_or(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) | self.rx(i.rs2))

    def op_and(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) & self.rx(i.rs2))

    def op_fence(self, i, pc, now):
        return None

    def op_fence_i(self, i, pc, now):
        return None

    def op_ecall(self, i, pc, now):  # handled by the loop (stops without retiring)
        raise AssertionError("unreachable")

    op_ebreak = op_ecall

    # --- Zicsr ------------------------------------------------------------

    def csr_read(self, num: int, now: int) -> int:
        core = self.m.core
        if num == csrs.MCOUNTINHIBIT:
            return int(core[CORE["mcountinhibit"]])
        if num in (csrs.MCYCLE, csrs.MCYCLEH, csrs.MINSTRET, csrs.MINSTRETH):
            counter = int(core[CORE["mcycle" if num in (csrs.MCYCLE, csrs.MCYCLEH) else "minstret"]])
            return counter >> 32 if num in (csrs.MCYCLEH, csrs.MINSTRETH) else counter & M32
        if num == csrs.MHARTID:
            return self.cfg.hartid & M32
        if num in DMA_CSRS:
            return self.m.dma_channels.read(*DMA_CSRS[num], now)
        return 0

    def csr_write(self, num: int, value: int, now: int) -> None:
        if num == csrs.MCOUNTINHIBIT:
            self.m.core[CORE["mcountinhibit"]] = value & 0b101
        elif num in DMA_CSRS:
            ch, reg = DMA_CSRS[num]
            self.m.dma_channels.write(ch, reg, value & M32, now)
        # Read-only and unlisted CSRs ignore writes.

    def _csr(self, i, now, operand: int, kind: str, writes: bool):
        if i.imm in DMA_CSRS:
            # The DMA sees the access in the cycle the instruction executes: after its load-use stall.
            xload = int(self.m.core[CORE["xload_dest"]])
            if xload and scalar_source_mask(i) >> xload & 1:
                now += self.cfg.cycle_model.load_use_stall
            self.m.dma_channels.advance(now)
        old = self.csr_read(i.imm, now)
        if writes:
            new = {"w": operand, "s": old | operand, "c": old & ~operand}[kind]
            self.csr_write(i.imm, new & M32, now)
        self.wx(i.rd, old)

    def op_csrrw(self, i, pc, now):
        self._csr(i, now, self.rx(i.rs1), "w", True)

    def op_csrrs(self, i, pc, now):
        self._csr(i, now, self.rx(i.rs1), "s", i.rs1 != 0)

    def op_csrrc(self, i, pc, now):
        self._csr(i, now, self.rx(i.rs1), "c", i.rs1 != 0)

    def op_csrrwi(self, i, pc, now):
        self._csr(i, now, i.rs1, "w", True)

    def op_csrrsi(self, i, pc, now):
        self._csr(i, now, i.rs1, "s", i.rs1 != 0)

    def op_csrrci(self, i, pc, now):
        self._csr(i, now, i.rs1, "c", i.rs1 != 0)

    # --- M ----------------------------------------------------------------

    def op_mul(self, i, pc, now):
        self.wx(i.rd, self.rx(i.rs1) * self.rx(i.rs2))

    def op_mulh(self, i, pc, now):
        self.wx(i.rd, (s32(self.rx(i.rs1)) * s32(self.rx(i.rs2))) >> 32)

    def op_mulhsu(self, i, pc, now):
        self.wx(i.rd, (s32(self.rx(i.rs1)) * self.rx(i.rs2)) >> 32)

    def op_mulhu(self, i, pc, now):
        self.wx(i.rd, (self.rx(i.rs1) * self.rx(i.rs2)) >> 32)

    @staticmethod
    def _div_signed(a: int, b: int) -> tuple[int, int]:
        """RISC-V signed division: quotient truncates toward zero; x/0 = -1
        remainder x; -2^31 / -1 = -2^31 remainder 0."""
        if b == 0:
            return -1, a
        if a == -(1 << 31) and b == -1:
            return a, 0
        q = abs(a) // abs(b)
        q = q if (a < 0) == (b < 0) else -q
        return q, a - q * b

    def op_div(self, i, pc, now):
        self.wx(i.rd, self._div_signed(s32(self.rx(i.rs1)), s32(self.rx(i.rs2)))[0])

    def op_rem(self, i, pc, now):
        self.wx(i.rd, self._div_signed(s32(self.rx(i.rs1)), s32(self.rx(i.rs2)))[1])

    def op_divu(self, i, pc, now):
        b = self.rx(i.rs2)
        self.wx(i.rd, M32 if b == 0 else self.rx(i.rs1) // b)

    def op_remu(self, i, pc, now):
        b = self.rx(i.rs2)
        self.wx(i.rd, self.rx(i.rs1) if b == 0 else self.rx(i.rs1) % b)

    # --- Zbb subset -------------------------------------------------------

    def op_clz(self, i, pc, now):
        self.wx(i.rd, 32 - self.rx(i.rs1).bit_length())

    def op_ctz(self, i, pc, now):
        a = self.rx(i.rs1)
        self.wx(i.rd, 32 if a == 0 else (a & -a).bit_length() - 1)

    def op_cpop(self, i, pc, now):
        self.wx(i.rd, bin(self.rx(i.rs1)).count("1"))

    def op_sext_b(self, i, pc, now):
        a = self.rx(i.rs1) & 0xFF
        self.wx(i.rd, a - 0x100 if a & 0x80 else a)

    def op_sext_h(self, i, pc, now):
        a = self.rx(i.rs1) & 0xFFFF
        self.wx(i.rd, a - 0x10000 if a & 0x8000 else a)

    # --- vector arithmetic ------------------------------------------------

    def _vsop(self, i, fn):
        v = self.m.v
        v[i.rd] = fn(v[i.rs1], v[i.rs2], sat=i.spec.sat)

    def op_vadd(self, i, pc, now):
        self._vsop(i, lanes.vadd)

    def op_vsub(self, i, pc, now):
        self._vsop(i, lanes.vsub)

    def op_vand(self, i, pc, now):
        self._vsop(i, lanes.vand)

    def op_vsll(self, i, pc, now):
        self._vsop(i, lanes.vsll)

    def op_vsra(self, i, pc, now):
        self._vsop(i, lanes.vsra)

    def _rounding_rng(self, i) -> np.ndarray | None:
        # Stochastic rounding advances the RNG once per instruction, also with shift 0.
        return self.rng_advance() if i.spec.stochastic else None

    def op_vmul(self, i, pc, now):
        v = self.m.v
        a, b = v[i.rs1].copy(), v[i.rs2].copy()
        v[i.rd] = lanes.vmul(a, b, i.imm, i.spec.round, i.spec.sat, self._rounding_rng(i))

    def op_vslli(self, i, pc, now):
        self.m.v[i.rd] = lanes.vslli(self.m.v[i.rs1], i.imm)

    def op_vsrai(self, i, pc, now):
        a = self.m.v[i.rs1].copy()
        self.m.v[i.rd] = lanes.vsrai(a, i.imm, i.spec.round, self._rounding_rng(i))

    def _vtst(self, i):
        self.wx(i.rd, lanes.vtst(i.op, self.m.v[i.rs1], self.m.v[i.rs2]))

    op_vteq = op_vtne = op_vtlt = op_vtge = lambda self, i, pc, now: self._vtst(i)

    def op_vsel(self, i, pc, now):
        v = self.m.v
        v[i.rd] = np.where(lanes.mask_lanes(self.rx(i.rs1)), v[i.rs2], v[i.rd])

    def op_vlui(self, i, pc, now):
        self.m.v[i.rd] = np.uint16(i.imm).view(np.int16)

    def op_vfill(self, i, pc, now):
        self.m.v[i.rd] = lanes.vfill_value(self.rx(i.rs1))

    def op_vextract(self, i, pc, now):
        self.wx(i.rd, int(self.m.v[i.rs1, i.imm]))

    def op_vrng(self, i, pc, now):
        self.m.v[i.rd] = lanes.vrng_value(self.rng_advance())

    def op_vandadd(self, i, pc, now):
        self.m.v[i.rd] = lanes.vandadd(self.m.v[i.rs1], self.rx(i.rs2), i.imm)

    # --- vector memory ----------------------------------------------------

    def op_vloadv(self, i, pc, now):
        a = self.vmem_row((self.rx(i.rs1) + i.imm) & M32, store=False)
        self.m.v[i.rd] = self.m.vmem[a:a + VMEM_ROW].view("<i2")

    def _vloadr(self, i, state: np.ndarray):
        a = self.vmem_row((self.rx(i.rs1) + i.imm) & M32, store=False)
        state[:] = self.m.vmem[a:a + VMEM_ROW].view("<u2")

    def op_vloadr0(self, i, pc, now):
        self._vloadr(i, self.m.s0)

    def op_vloadr1(self, i, pc, now):
        self._vloadr(i, self.m.s1)

    def op_vstorev(self, i, pc, now):
        a = self.vmem_row((self.rx(i.rs1) + i.imm) & M32, store=True)
        self.m.vmem[a:a + VMEM_ROW] = self.m.v[i.rs2].astype("<i2").view(np.uint8)

    def op_vloadl(self, i, pc, now):
        active, addr = self.llm_lanes(i, store=False)
        llm, row = self.m.llm, self.m.v[i.rd].copy()
        for lane in np.flatnonzero(active):
            a = int(addr[lane])
            row[lane] = np.int16(np.uint16(int(llm[lane, a]) | int(llm[lane, a + 1]) << 8).view(np.int16))
        self.m.v[i.rd] = row

    def op_vstorel(self, i, pc, now):
        active, addr = self.llm_lanes(i, store=True)
        data = self.m.v[i.rs2].view(np.uint16)
        for lane in np.flatnonzero(active):
            a, value = int(addr[lane]), int(data[lane])
            self.m.llm[lane, a] = value & 0xFF
            self.m.llm[lane, a + 1] = value >> 8
