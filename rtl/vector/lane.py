"""One lane of the vector unit's execute stage: operand selection, ALU,
multiplier, RNG, compare, LLM address, and the lane's result and write enable.

Every vector op of the instruction table must be accounted for here: a lane
result (``LANE_RESULT_OPS``), a comparison (``COMPARE_OPS``) or an effect of
the unit that the lane does not compute (``UNIT_OPS``). ``VectorLane`` checks
this at elaboration, so a new vector instruction cannot silently write zeros.
"""

from functools import reduce
from operator import or_

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import table
from fenn_dma.isa.table import ROUND_STOCHASTIC, Kind

from .arith import S16
from .decoder import VectorControl, VectorOp
from .lane_alu import AluOp, LaneAlu
from .lane_mul import LaneMultiplier
from .lane_rng import LaneRng

# Ops executed by the ALU, and how.
ALU_OPS = {VectorOp.VADD: AluOp.ADD, VectorOp.VSUB: AluOp.SUB, VectorOp.VAND: AluOp.AND,
           VectorOp.VSLL: AluOp.SLL, VectorOp.VSRA: AluOp.SRA, VectorOp.VSLLI: AluOp.SLL,
           VectorOp.VANDADD: AluOp.ADD}
# Ops whose v[rd] lane value the lane computes (``x_result``): the ALU's and these.
LANE_RESULT_OPS = tuple(ALU_OPS) + (VectorOp.VMUL, VectorOp.VSRAI, VectorOp.VRNG, VectorOp.VLUI, VectorOp.VFILL,
                                    VectorOp.VSEL)
COMPARE_OPS = (VectorOp.VTEQ, VectorOp.VTNE, VectorOp.VTLT, VectorOp.VTGE)
# Ops done by the unit around the lanes: memory rows and halfwords, the RNG state load, VEXTRACT.
# (The lane gives VLOADL its write enable and VLOADL/VSTOREL their LLM address.)
UNIT_OPS = (VectorOp.VLOADV, VectorOp.VLOADL, VectorOp.VLOADR0, VectorOp.VLOADR1, VectorOp.VSTOREV,
            VectorOp.VSTOREL, VectorOp.VEXTRACT)


def unhandled_vector_ops() -> list[str]:
    """Vector ops of the instruction table that the lane and the unit do not implement."""
    handled = {o.name.lower() for o in LANE_RESULT_OPS + COMPARE_OPS + UNIT_OPS}
    return sorted({s.op for s in table.SPECS if s.is_vector} - handled)


def _is(op, ops):
    """``op`` is one of ``ops`` (an Amaranth condition)."""
    return reduce(or_, (op == o for o in ops))


def _rng_draw_ops() -> tuple:
    """Ops that advance the RNG in every lane when committed (VRNG) and ops that do when
    stochastically rounded (VMUL, VSRAI), from the table."""
    vector = [s for s in table.SPECS if s.is_vector]
    draws = tuple(dict.fromkeys(VectorOp[s.op.upper()] for s in vector if s.kind == Kind.VRNG))
    rounded = tuple(dict.fromkeys(VectorOp[s.op.upper()] for s in vector if s.stochastic))
    return draws, rounded


class VectorLane(wiring.Component):
    """Lane ``index`` (which bit of a scalar mask it owns). ``x_commit``: the
    instruction in execute takes effect (valid and not faulting); it gates the
    RNG advance. ``x_llm_*``: this lane's LLM halfword address for VLOADL/
    VSTOREL, whether the lane takes part (address lane >= 0), and its faults."""

    x_ctrl: In(VectorControl)
    x_a: In(S16)            # lane of v[rs1]
    x_b: In(S16)            # lane of v[rs2]
    x_x1: In(32)            # scalar x[rs1]
    x_x2: In(32)            # scalar x[rs2]
    x_commit: In(1)
    x_result: Out(S16)
    x_write: Out(1)         # lane enable of the register write (VSEL mask, VLOADL active)
    x_cmp: Out(1)           # VTST comparison
    x_llm_addr: Out(14)     # halfword index (LLMs are at most 32 KiB)
    x_llm_active: Out(1)
    x_llm_misaligned: Out(1)
    x_llm_out_of_range: Out(1)
    w_load_s0: In(1)
    w_load_s1: In(1)
    w_row: In(S16)          # this lane of the VMEM row read by the instruction in writeback
    clear: In(1)            # RNG back to its reset state

    def __init__(self, *, index: int, llm_bytes: int):
        self.index, self.llm_bytes = index, llm_bytes
        super().__init__()

    def elaborate(self, platform):
        missing = unhandled_vector_ops()
        if missing:
            raise NotImplementedError(f"VectorLane does not implement the vector op(s) {', '.join(missing)} of "
                                      "the instruction table (rtl/vector/lane.py: add them to LANE_RESULT_OPS, "
                                      "COMPARE_OPS or UNIT_OPS with their logic)")
        m = Module()
        m.submodules.alu = alu = LaneAlu()
        m.submodules.mul = mul = LaneMultiplier()
        m.submodules.rng = rng = LaneRng()
        ctrl, op, a, b = self.x_ctrl, self.x_ctrl.op, self.x_a, self.x_b

        # ALU: VSLLI shifts by the immediate, VANDADD masks a and adds x[rs2][15:0].
        alu_a, alu_b = Signal(S16), Signal(S16)
        m.d.comb += [alu_a.eq(a), alu_b.eq(b), alu.x_sat.eq(ctrl.sat)]
        with m.Switch(op):
            for vop, aop in ALU_OPS.items():
                with m.Case(vop):
                    m.d.comb += alu.x_op.eq(aop)
                    if vop == VectorOp.VSLLI:
                        m.d.comb += alu_b.eq(ctrl.imm[:4])
                    elif vop == VectorOp.VANDADD:
                        m.d.comb += [alu_a.eq(a & ((Const(1, 17) << ctrl.imm[:4]) - 1)), alu_b.eq(self.x_x2[:16])]
        m.d.comb += [alu.x_a.eq(alu_a), alu.x_b.eq(alu_b)]

        # Multiplier: VSRAI is (a * 1 + r) >> shift, wrapped (ctrl.mul_b_one: VSRAI, from the word).
        draws, rounded = _rng_draw_ops()
        m.d.comb += [mul.x_a.eq(a), mul.x_b.eq(Mux(ctrl.mul_b_one, 1, b)), mul.x_shift.eq(ctrl.imm[:4]),
                     mul.x_round.eq(ctrl.round), mul.x_sat.eq(ctrl.sat & ~ctrl.mul_b_one), mul.x_rng.eq(rng.x_output)]

        # RNG: VRNG and every stochastically rounded instruction advance it once.
        m.d.comb += [rng.w_load_s0.eq(self.w_load_s0), rng.w_load_s1.eq(self.w_load_s1),
                     rng.w_data.eq(self.w_row), rng.clear.eq(self.clear),
                     rng.x_advance.eq(self.x_commit & (_is(op, draws) |
                                                       (_is(op, rounded) & (ctrl.round == ROUND_STOCHASTIC))))]

        # Result and lane write enable. The multiplier's rounding carry (from the RNG output,
        # which a VLOADR0/1 in writeback bypasses from VMEM) selects q + 1 last, after this mux.
        result = Signal(S16)
        m.d.comb += self.x_write.eq(1)
        with m.Switch(op):
            with m.Case(*ALU_OPS):
                m.d.comb += result.eq(alu.x_result)
            with m.Case(VectorOp.VMUL, VectorOp.VSRAI):
                m.d.comb += result.eq(mul.x_q0)
            with m.Case(VectorOp.VRNG):
                m.d.comb += result.eq(rng.x_output[1:])
            with m.Case(VectorOp.VLUI):
                m.d.comb += result.eq(ctrl.imm[:16])
            with m.Case(VectorOp.VFILL):
                m.d.comb += result.eq(Cat(self.x_x1[:15], self.x_x1[31]))
            with m.Case(VectorOp.VSEL):
                m.d.comb += [result.eq(b), self.x_write.eq(self.x_x1[self.index])]
            with m.Case(VectorOp.VLOADL):
                m.d.comb += self.x_write.eq(self.x_llm_active)
        is_mul = _is(op, (VectorOp.VMUL, VectorOp.VSRAI))
        m.d.comb += self.x_result.eq(Mux(is_mul & mul.x_carry, mul.x_q1, result))

        # Compare (VTST).
        with m.Switch(op):
            with m.Case(VectorOp.VTEQ):
                m.d.comb += self.x_cmp.eq(a == b)
            with m.Case(VectorOp.VTNE):
                m.d.comb += self.x_cmp.eq(a != b)
            with m.Case(VectorOp.VTLT):
                m.d.comb += self.x_cmp.eq(a < b)
            with m.Case(VectorOp.VTGE):
                m.d.comb += self.x_cmp.eq(a >= b)

        # LLM address: v[rs1] lane + offset, only for lanes whose address is >= 0.
        byte_addr = Signal(signed(18))
        m.d.comb += [byte_addr.eq(a + ctrl.imm[:12].as_signed()),
                     self.x_llm_active.eq(a >= 0),
                     self.x_llm_misaligned.eq(byte_addr[0]),
                     self.x_llm_out_of_range.eq((byte_addr < 0) | (byte_addr > self.llm_bytes - 2)),
                     self.x_llm_addr.eq(byte_addr[1:])]
        return m
