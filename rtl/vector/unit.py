"""The vector unit: a two-stage pipeline behind the core's execute stage.

- ``x_`` (execute, the issue cycle): read v[rs1], v[rs2] (with forwarding
  from writeback), compute every lane, check memory addresses, issue the
  VMEM/LLM access (writes take effect here), advance the RNG, answer the core
  with the scalar result (VTST/VEXTRACT) or a fault.
- ``w_`` (writeback, the next cycle): write v[rd] from the lane results, the
  VMEM row (VLOADV) or the LLM halfwords (VLOADL); load the RNG state (VLOADR).

One instruction per cycle, never a stall. The only delay visible to programs
is the load-use slot of isa.md section 6: VLOADV/VLOADL data arrives in
writeback, too late for the next instruction's execute stage.
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from .arith import S16
from .config import VectorConfig
from .decoder import VECTOR_SPECS, VectorOp, vector_op
from .interface import LanePortSignature, RowPortSignature, VectorFault, VectorIssueSignature
from .lane import VectorLane
from .llm import LaneLocalMemory
from .regfile import VectorRegFile

# Ops that write v[rd] (from the table).
WRITES_VRD = tuple(dict.fromkeys(vector_op(s.op) for s in VECTOR_SPECS if s.vector_dest() == "rd"))
VMEM_LOADS = (VectorOp.VLOADV, VectorOp.VLOADR0, VectorOp.VLOADR1)


class WbSource(enum.Enum, shape=2):
    LANES = 0
    VMEM = 1
    LLM = 2


class VectorUnit(wiring.Component):
    """``issue`` from the core; ``vmem``: this unit's port of VMEM
    (``VectorMemory.unit``); ``llm_ext``: host access to the lane-local memories."""

    def __init__(self, config: VectorConfig):
        self.config = config
        super().__init__({
            "issue": In(VectorIssueSignature()),
            "vmem": Out(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes)),
            "llm_ext": In(LanePortSignature(lanes=config.lanes, halfwords=config.llm_halfwords)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        lanes = cfg.lanes
        row = data.ArrayLayout(S16, lanes)
        issue, ctrl, op = self.issue, self.issue.ctrl, self.issue.ctrl.op

        m.submodules.regfile = vrf = VectorRegFile(lanes=lanes)
        m.submodules.llm = llm = LaneLocalMemory(cfg)
        wiring.connect(m, wiring.flipped(self.llm_ext), llm.ext)
        lane_units = []
        for i in range(lanes):
            lane = VectorLane(index=i, llm_bytes=cfg.llm_bytes)
            m.submodules[f"lane{i}"] = lane
            lane_units.append(lane)

        # ---- execute ----------------------------------------------------------
        m.d.comb += [vrf.x_rs1_addr.eq(ctrl.rs1), vrf.x_rs2_addr.eq(ctrl.rs2)]
        a_row, b_row = vrf.x_rs1_data, vrf.x_rs2_data

        commit = Signal()
        for i, lane in enumerate(lane_units):
            m.d.comb += [lane.x_ctrl.eq(ctrl), lane.x_a.eq(a_row[i]), lane.x_b.eq(b_row[i]),
                         lane.x_x1.eq(issue.x_rs1), lane.x_x2.eq(issue.x_rs2), lane.x_commit.eq(commit)]

        # Addresses and faults (isa.md section 6: misalignment before range).
        vaddr = Signal(32)
        m.d.comb += vaddr.eq(issue.x_rs1 + ctrl.imm)
        offset_bits = (cfg.row_bytes - 1).bit_length()
        v_misaligned = vaddr[:offset_bits] != 0
        v_out_of_range = vaddr >= cfg.vmem_bytes
        l_misaligned = Cat(ln.x_llm_active & ln.x_llm_misaligned for ln in lane_units).any()
        l_out_of_range = Cat(ln.x_llm_active & ln.x_llm_out_of_range for ln in lane_units).any()
        cause = Signal(VectorFault)
        with m.Switch(op):
            with m.Case(*VMEM_LOADS):
                with m.If(v_misaligned):
                    m.d.comb += cause.eq(VectorFault.MISALIGNED_LOAD)
                with m.Elif(v_out_of_range):
                    m.d.comb += cause.eq(VectorFault.LOAD_FAULT)
            with m.Case(VectorOp.VSTOREV):
                with m.If(v_misaligned):
                    m.d.comb += cause.eq(VectorFault.MISALIGNED_STORE)
                with m.Elif(v_out_of_range):
                    m.d.comb += cause.eq(VectorFault.STORE_FAULT)
            with m.Case(VectorOp.VLOADL):
                with m.If(l_misaligned):
                    m.d.comb += cause.eq(VectorFault.MISALIGNED_LOAD)
                with m.Elif(l_out_of_range):
                    m.d.comb += cause.eq(VectorFault.LOAD_FAULT)
            with m.Case(VectorOp.VSTOREL):
                with m.If(l_misaligned):
                    m.d.comb += cause.eq(VectorFault.MISALIGNED_STORE)
                with m.Elif(l_out_of_range):
                    m.d.comb += cause.eq(VectorFault.STORE_FAULT)
        m.d.comb += [issue.fault_cause.eq(cause),
                     issue.fault.eq(issue.valid & (cause != VectorFault.NONE)),
                     commit.eq(issue.valid & (cause == VectorFault.NONE))]

        # Memory accesses (writes happen now, reads return in writeback).
        m.d.comb += [self.vmem.addr.eq(vaddr[offset_bits:]),
                     self.vmem.r_en.eq(commit & op.as_value().matches(*VMEM_LOADS)),
                     self.vmem.w_en.eq(commit & (op == VectorOp.VSTOREV)),
                     self.vmem.w_data.eq(b_row)]
        for i, lane in enumerate(lane_units):
            m.d.comb += [llm.x_addr[i].eq(lane.x_llm_addr),
                         llm.x_r_en[i].eq(commit & (op == VectorOp.VLOADL) & lane.x_llm_active),
                         llm.x_w_en[i].eq(commit & (op == VectorOp.VSTOREL) & lane.x_llm_active),
                         llm.x_w_data[i].eq(b_row[i])]

        # Scalar result: VEXTRACT's lane, sign-extended, or VTST's mask.
        with m.If(op == VectorOp.VEXTRACT):
            m.d.comb += issue.x_result.eq(a_row[ctrl.imm[:5]])
        with m.Else():
            m.d.comb += issue.x_result.eq(Cat(ln.x_cmp for ln in lane_units))

        # ---- writeback ------------------------------------------------------
        w_write = Signal()
        w_rd = Signal(5)
        w_lanes = Signal(lanes)
        w_result = Signal(row)
        w_source = Signal(WbSource)
        w_load_s0 = Signal()
        w_load_s1 = Signal()
        source = Mux(op == VectorOp.VLOADV, WbSource.VMEM, Mux(op == VectorOp.VLOADL, WbSource.LLM, WbSource.LANES))
        m.d.sync += [w_write.eq(commit & op.as_value().matches(*WRITES_VRD)), w_rd.eq(ctrl.rd),
                     w_lanes.eq(Cat(ln.x_write for ln in lane_units)),
                     w_result.eq(Cat(ln.x_result for ln in lane_units)), w_source.eq(source),
                     w_load_s0.eq(commit & (op == VectorOp.VLOADR0)),
                     w_load_s1.eq(commit & (op == VectorOp.VLOADR1))]

        w_data = Signal(row)
        with m.Switch(w_source):
            with m.Case(WbSource.VMEM):
                m.d.comb += w_data.eq(self.vmem.r_data)
            with m.Case(WbSource.LLM):
                m.d.comb += w_data.eq(llm.w_r_data)
            with m.Default():
                m.d.comb += w_data.eq(w_result)
        m.d.comb += [vrf.w_addr.eq(w_rd), vrf.w_en.eq(Mux(w_write, w_lanes, 0)), vrf.w_data.eq(w_data),
                     vrf.w_forward.eq(w_source == WbSource.LANES)]
        vmem_row = data.View(row, self.vmem.r_data)
        for i, lane in enumerate(lane_units):
            m.d.comb += [lane.w_load_s0.eq(w_load_s0), lane.w_load_s1.eq(w_load_s1), lane.w_row.eq(vmem_row[i])]
        return m
