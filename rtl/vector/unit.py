"""The vector unit: a two-stage pipeline beside the core's execute and writeback.

- ``x_`` (execute, the issue cycle): decode the word, read v[rs1], v[rs2]
  (with forwarding from writeback), compute every lane, check memory
  addresses (a fault is answered at once and nothing is committed), issue the
  VMEM/LLM access (writes take effect here), advance the RNG.
- ``w_`` (writeback, the next cycle): write v[rd] from the lane results, the
  VMEM row (VLOADV) or the LLM halfwords (VLOADL); load the RNG state
  (VLOADR); hand the scalar result (VTST mask, VEXTRACT lane) to the core.

One instruction per cycle, never a stall (``x_ready`` is constant 1). The
only delay visible to programs is the load-use slot of docs/isa.md section 6:
VLOADV/VLOADL data arrives in writeback, too late for the next execute stage.
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa.table import LLM, VMEM
from fenn_dma.rtl.causes import RtlCause
from fenn_dma.rtl.vector_if import vector_issue_signature

from .arith import S16
from .config import VectorConfig
from .decoder import VECTOR_SPECS, VectorDecoder, VectorOp, vector_op
from .interface import LanePortSignature, RowPortSignature
from .lane import VectorLane
from .llm import LaneLocalMemory
from .regfile import VectorRegFile


def _ops(predicate) -> tuple:
    """The VectorOps (table order, each once) of the vector specs for which ``predicate`` holds."""
    return tuple(dict.fromkeys(vector_op(s.op) for s in VECTOR_SPECS if predicate(s)))


# Classes of ops, from the table.
WRITES_VRD = _ops(lambda s: s.vector_dest() == "rd")
VMEM_LOADS = _ops(lambda s: s.memory == VMEM and s.is_load)          # vloadv, vloadr0, vloadr1
VMEM_STORES = _ops(lambda s: s.memory == VMEM and s.is_store)        # vstorev
LLM_LOADS = _ops(lambda s: s.memory == LLM and s.is_load)            # vloadl
LLM_STORES = _ops(lambda s: s.memory == LLM and s.is_store)          # vstorel
VMEM_TO_VRD = _ops(lambda s: s.memory == VMEM and s.is_load and s.vector_dest())   # vloadv
LLM_TO_VRD = _ops(lambda s: s.memory == LLM and s.is_load and s.vector_dest())     # vloadl


def _is(op, ops) -> object:
    """``op`` is one of ``ops`` (an Amaranth condition)."""
    return op == ops[0] if len(ops) == 1 else op.as_value().matches(*ops)


class WbSource(enum.Enum, shape=2):
    LANES = 0
    VMEM = 1
    LLM = 2


def lowest_set(bits):
    """One-hot of the lowest set bit of ``bits`` (zero if none)."""
    return (bits & (~bits + 1))[:len(bits)]


class VectorUnit(wiring.Component):
    """``issue``: from the core (rtl/vector_if.py); ``vmem``: this unit's port
    of VMEM (``VectorMemory.unit``); ``llm_ext``: host access to the LLMs.
    ``regfile`` and ``llm`` are public for tests that inspect state."""

    def __init__(self, config: VectorConfig):
        self.config = config
        self.regfile = VectorRegFile(lanes=config.lanes)
        self.llm = LaneLocalMemory(config)
        super().__init__({
            "issue": In(vector_issue_signature()),
            "vmem": Out(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes)),
            "llm_ext": In(LanePortSignature(lanes=config.lanes, words=config.llm_bytes // 4)),
            # Clearing (the core is stopped): zero v[clear_addr % 32], fill LLM word
            # clear_addr % words of every lane with ISS_FILL, zero the RNG.
            "clear": In(1), "clear_addr": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        lanes = cfg.lanes
        row = data.ArrayLayout(S16, lanes)
        issue = self.issue

        m.submodules.decoder = decoder = VectorDecoder()
        m.submodules.regfile = vrf = self.regfile
        m.submodules.llm = llm = self.llm
        wiring.connect(m, wiring.flipped(self.llm_ext), llm.ext)
        m.d.comb += [vrf.clear.eq(self.clear), vrf.clear_addr.eq(self.clear_addr),
                     llm.clear.eq(self.clear), llm.clear_addr.eq(self.clear_addr)]
        lane_units = []
        for i in range(lanes):
            lane = VectorLane(index=i, llm_bytes=cfg.llm_bytes)
            m.submodules[f"lane{i}"] = lane
            lane_units.append(lane)

        # ---- execute ----------------------------------------------------------
        m.d.comb += decoder.word.eq(issue.x_word)
        ctrl = decoder.ctrl
        op = ctrl.op
        m.d.comb += [vrf.x_rs1_addr.eq(ctrl.rs1), vrf.x_rs2_addr.eq(ctrl.rs2)]
        a_row, b_row = vrf.x_rs1_data, vrf.x_rs2_data

        commit = Signal()
        for i, lane in enumerate(lane_units):
            m.d.comb += [lane.x_ctrl.eq(ctrl), lane.x_a.eq(a_row[i]), lane.x_b.eq(b_row[i]),
                         lane.x_x1.eq(issue.x_src1), lane.x_x2.eq(issue.x_src2), lane.x_commit.eq(commit)]

        # Addresses and faults. VMEM: misalignment before range. VLOADL/VSTOREL:
        # the lowest faulting active lane decides (misalignment before range in it).
        vaddr = Signal(32)
        m.d.comb += vaddr.eq(issue.x_src1 + ctrl.imm)
        offset_bits = (cfg.row_bytes - 1).bit_length()
        v_misaligned = vaddr[:offset_bits] != 0
        v_out_of_range = vaddr >= cfg.vmem_bytes
        lane_fault = Cat(ln.x_llm_active & (ln.x_llm_misaligned | ln.x_llm_out_of_range) for ln in lane_units)
        lane_misaligned = Cat(ln.x_llm_misaligned for ln in lane_units)
        l_faults = lane_fault.any()
        l_misaligned = (lowest_set(lane_fault) & lane_misaligned).any()

        cause = Signal(4)
        load_cause = Mux(v_misaligned, RtlCause.MISALIGNED_LOAD, RtlCause.LOAD_FAULT)
        store_cause = Mux(v_misaligned, RtlCause.MISALIGNED_STORE, RtlCause.STORE_FAULT)
        with m.Switch(op):
            with m.Case(*VMEM_LOADS):
                with m.If(v_misaligned | v_out_of_range):
                    m.d.comb += cause.eq(load_cause)
            with m.Case(*VMEM_STORES):
                with m.If(v_misaligned | v_out_of_range):
                    m.d.comb += cause.eq(store_cause)
            with m.Case(*LLM_LOADS):
                with m.If(l_faults):
                    m.d.comb += cause.eq(Mux(l_misaligned, RtlCause.MISALIGNED_LOAD, RtlCause.LOAD_FAULT))
            with m.Case(*LLM_STORES):
                with m.If(l_faults):
                    m.d.comb += cause.eq(Mux(l_misaligned, RtlCause.MISALIGNED_STORE, RtlCause.STORE_FAULT))
        # Whether it faults, flat (the cause's priority logic stays off the commit path).
        fault = Signal()
        m.d.comb += fault.eq((_is(op, VMEM_LOADS + VMEM_STORES) & (v_misaligned | v_out_of_range)) |
                             (_is(op, LLM_LOADS + LLM_STORES) & l_faults))
        m.d.comb += [issue.x_ready.eq(1), issue.x_cause.eq(cause), issue.x_fault.eq(fault),
                     commit.eq(issue.x_valid & ~fault)]

        # Memory accesses (writes happen now, reads return in writeback).
        m.d.comb += [self.vmem.addr.eq(vaddr[offset_bits:]),
                     self.vmem.r_en.eq(commit & _is(op, VMEM_LOADS)),
                     self.vmem.w_en.eq(commit & _is(op, VMEM_STORES)),
                     self.vmem.w_data.eq(b_row)]
        for i, lane in enumerate(lane_units):
            m.d.comb += [llm.x_addr[i].eq(lane.x_llm_addr),
                         llm.x_r_en[i].eq(commit & _is(op, LLM_LOADS) & lane.x_llm_active),
                         llm.x_w_en[i].eq(commit & _is(op, LLM_STORES) & lane.x_llm_active),
                         llm.x_w_data[i].eq(b_row[i])]

        # Scalar result: VEXTRACT's lane, sign-extended, or VTST's mask (now, and again in writeback).
        x_scalar = Signal(32)
        with m.If(op == VectorOp.VEXTRACT):
            m.d.comb += x_scalar.eq(a_row[ctrl.imm[:5]])
        with m.Else():
            m.d.comb += x_scalar.eq(Cat(ln.x_cmp for ln in lane_units))

        # ---- writeback ------------------------------------------------------
        w_write = Signal()
        w_rd = Signal(5)
        w_lanes = Signal(lanes)
        w_result = Signal(row)
        w_source = Signal(WbSource)
        w_load_s0 = Signal()
        w_load_s1 = Signal()
        w_scalar = Signal(32)
        source = Mux(_is(op, VMEM_TO_VRD), WbSource.VMEM, Mux(_is(op, LLM_TO_VRD), WbSource.LLM, WbSource.LANES))
        m.d.sync += [w_write.eq(commit & _is(op, WRITES_VRD)), w_rd.eq(ctrl.rd),
                     w_lanes.eq(Cat(ln.x_write for ln in lane_units)),
                     w_result.eq(Cat(ln.x_result for ln in lane_units)), w_source.eq(source),
                     w_load_s0.eq(commit & (op == VectorOp.VLOADR0)),
                     w_load_s1.eq(commit & (op == VectorOp.VLOADR1)),
                     w_scalar.eq(x_scalar)]
        # The register file's forward enables, registered (= the write's lanes when from the lanes).
        w_forward_lanes = Signal(lanes)
        m.d.sync += w_forward_lanes.eq(Mux(commit & _is(op, WRITES_VRD) & (source == WbSource.LANES),
                                           Cat(ln.x_write for ln in lane_units), 0))
        m.d.comb += [issue.x_result.eq(x_scalar), issue.w_result.eq(w_scalar),
                     issue.busy.eq(w_write | w_load_s0 | w_load_s1)]

        w_data = Signal(row)
        with m.Switch(w_source):
            with m.Case(WbSource.VMEM):
                m.d.comb += w_data.eq(self.vmem.r_data)
            with m.Case(WbSource.LLM):
                m.d.comb += w_data.eq(llm.w_r_data)
            with m.Default():
                m.d.comb += w_data.eq(w_result)
        m.d.comb += [vrf.w_addr.eq(w_rd), vrf.w_en.eq(Mux(w_write, w_lanes, 0)), vrf.w_data.eq(w_data),
                     vrf.w_forward_lanes.eq(w_forward_lanes), vrf.w_forward_data.eq(w_result)]
        vmem_row = data.View(row, self.vmem.r_data)
        for i, lane in enumerate(lane_units):
            m.d.comb += [lane.w_load_s0.eq(w_load_s0), lane.w_load_s1.eq(w_load_s1), lane.w_row.eq(vmem_row[i]),
                         lane.clear.eq(self.clear)]
        return m
