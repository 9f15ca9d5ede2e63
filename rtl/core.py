"""The scalar RV32 core: a four-stage in-order pipeline with full forwarding.

Stages (port and signal prefixes name them, as in Minerva):

- ``f`` fetch: the next pc is sent to the instruction RAM (synchronous read).
- ``d`` decode: the word arrives; decode (from isa/table.py), register read
  and forwarding from execute and writeback.
- ``x`` execute: ALU, branch resolution, CSR access, data RAM address and
  store, exceptions. A taken branch or jump redirects the fetch address in
  the same cycle, so only the instruction in decode is lost (penalty 1).
- ``w`` writeback: load data arrives from the data RAM and is extended;
  the register file is written.

One instruction per cycle on straight-line code. Stalls: a scalar load
followed by an instruction reading its rd costs one cycle (a VTST/VEXTRACT
result is forwarded from execute like an ALU result); a vector unit that is
not ready holds execute.

Timing on an FPGA (docs/rtl.md, "Timing closure"): the instruction RAM's
output is not registered, so decode gets what is left of the cycle after the
RAM's clock-to-out. Decode therefore only notes a load-use hazard (x_wait,
x_fwd1/2, registered): the dependent instruction waits one cycle in execute and
takes the loaded value from writeback, the same one cycle the ISS charges. In
execute, nothing with a long path waits for the stop decision: fetch follows
a taken branch, the pipeline advances and a load reads, and a stop (the OR of
its causes) then discards what moved; a store waits only for its own checks
(rtl/loadstore.py), and retire, the CSR write and the counters for the stop.

Cycles: a run of n retired instructions costs n + 3 cycles (two to fill
fetch and decode, one for the stopping instruction in execute) plus one per
taken branch or jump and one per load-use stall: the ISS's cycle model with
pipeline_fill = 3 and penalties of 1. Built with ``mul_extra`` (the ecp5 profile), every
``mul*`` holds execute one cycle more (its partial products registered, rtl/alu.py):
the ISS's ``mul_extra = 1``.

Built with ``fetch_extra`` (the ECP5 profiles), the instruction RAM's output is
registered: a second fetch stage ``f2`` holds the address whose word the RAM
outputs, and decode reads the word from a register (``d_word``) instead of the
RAM's late output. A run then costs one cycle more and every taken branch or
jump 2 (the words in f2 and decode are flushed): the ISS's
``CycleModel.of_pipeline(fetch_extra=1)``.

A run starts on ``start`` (pc = ``entry``); ``ecall``, ``ebreak`` and every
exception stop the core in execute, with the cause and pc held for the host.
Older instructions complete; younger ones never have effects.
"""
from __future__ import annotations

from functools import reduce
from operator import or_

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import fields as F
from fenn_dma.isa.table import DMEM, Kind

from .alu import Adder, Bitmanip, Compare, Divider, Logic, Multiplier, Shifter
from .bus import sram_bus
from .causes import RtlCause
from .config import SocConfig
from .csr import CsrFile
from .dma.interface import csr_port_signature
from .decoder import Decoder, core_extensions, decoded_layout, scalar_specs
from .loadstore import SIZE_BYTE, SIZE_HALF, SIZE_WORD, LoadStore
from .vector_if import vector_issue_signature


def _ops(specs, predicate) -> tuple[str, ...]:
    """The semantic ops (table order, each once) of the specs for which ``predicate`` holds."""
    return tuple(dict.fromkeys(s.op for s in specs if predicate(s)))


def dx_layout(extensions) -> data.StructLayout:
    """Decode -> execute payload."""
    return data.StructLayout({
        "pc": 32, "word": 32, "fetch_fault": 1,
        "d": decoded_layout(extensions),
        "src1": 32, "src2": 32,     # x[rs1], x[rs2] after forwarding
    })


XW_LAYOUT = data.StructLayout({
    "rd": 5, "write": 1, "result": 32,
    "load": 1, "vector": 1, "size": 2, "unsigned": 1, "offset": 2,
})


def _any(*bits):
    return Cat(*bits).any()


class Core(wiring.Component):
    def __init__(self, config: SocConfig, vector: bool = False):
        self.config = config
        self.has_vector = vector
        self.has_dma = vector and config.dma
        self.extensions = core_extensions(config.full_m, vector)
        members = {
            "imem": Out(sram_bus((config.imem_words - 1).bit_length())),
            "dmem": Out(sram_bus((config.dmem_words - 1).bit_length())),
            # Run control and status, for the host.
            "start": In(1), "entry": In(32), "halt": In(1),
            "running": Out(1), "stopped": Out(1), "cause": Out(4), "stop_pc": Out(32),
            "cycles": Out(64), "instret": Out(64), "mcycle": Out(64), "minstret": Out(64),
            # Register file access for the host while the core is stopped.
            "dbg_addr": In(5), "dbg_r_data": Out(32), "dbg_w_en": In(1), "dbg_w_data": In(32),
        }
        if vector:
            members["vector"] = Out(vector_issue_signature())
        if self.has_dma:
            members["dma"] = Out(csr_port_signature())     # the DMA CSRs (rtl/dma/regs.py)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, ext = self.config, self.extensions
        specs = scalar_specs(ext)

        m.submodules.decoder = decoder = Decoder(ext)
        m.submodules.adder = adder = Adder()
        m.submodules.compare = compare = Compare()
        m.submodules.logic = logic = Logic()
        m.submodules.shifter = shifter = Shifter()
        m.submodules.bitmanip = bitmanip = Bitmanip()
        m.submodules.multiplier = multiplier = Multiplier(high=cfg.full_m, stages=1 + cfg.mul_extra)
        m.submodules.loadstore = lsu = LoadStore(cfg.dmem_size)
        m.submodules.csrs = csrf = CsrFile(cfg.hart_id)
        m.submodules.regfile = regfile = Memory(shape=32, depth=32, init=[])
        rf_rs1 = regfile.read_port(domain="comb")
        rf_rs2 = regfile.read_port(domain="comb")
        rf_dbg = regfile.read_port(domain="comb")
        rf_w = regfile.write_port()
        wiring.connect(m, wiring.flipped(self.dmem), lsu.dmem)

        running = self.running
        # Pipeline registers.
        f_last = Signal(32)            # the address fetched last (entry - 4 before the first fetch)
        d_valid, d_pc, d_fetch_fault = Signal(name="d_valid"), Signal(32, name="d_pc"), Signal(name="d_fetch_fault")
        # With fetch_extra, the instruction RAM's output is registered: the second fetch stage f2
        # holds the address whose word the RAM outputs, and decode takes the word from a register.
        fx = cfg.fetch_extra
        if fx:
            f2_valid, f2_pc = Signal(name="f2_valid"), Signal(32, name="f2_pc")
            f2_fetch_fault = Signal(name="f2_fetch_fault")
            d_word = Signal(32, name="d_word")
        else:
            d_word = self.imem.r_data
        x_valid, x = Signal(name="x_valid"), Signal(dx_layout(ext), name="x")
        # Load-use: execute holds an instruction that read the rd of the load just ahead of it
        # (x_wait, one cycle) and takes the loaded value from writeback for src1/src2 (x_fwd1/2).
        x_wait, x_fwd1, x_fwd2 = Signal(name="x_wait"), Signal(name="x_fwd1"), Signal(name="x_fwd2")
        w_valid, w = Signal(name="w_valid"), Signal(XW_LAYOUT, name="w")

        # ---------------------------------------------------------------- decode
        m.d.comb += decoder.d_word.eq(d_word)
        dd = decoder.d_decoded
        m.d.comb += [rf_rs1.addr.eq(dd.rs1), rf_rs2.addr.eq(dd.rs2), rf_dbg.addr.eq(self.dbg_addr),
                     self.dbg_r_data.eq(rf_dbg.data)]

        x_result = Signal(32)          # execute's result (not valid for loads / vector results)
        w_value = Signal(32)           # writeback's value, load data included
        x_late = Signal()              # execute's rd value only exists in writeback
        x_writes = Signal()
        m.d.comb += x_writes.eq(x_valid & (x.d.writes_rd | x.d.vector_writes_rd) & (x.d.rd != 0))

        def forward(index, rf_data):
            return Mux(x_writes & (x.d.rd == index), x_result,
                       Mux(w_valid & w.write & (w.rd == index), w_value, rf_data))

        d_src1, d_src2 = Signal(32, name="d_src1"), Signal(32, name="d_src2")
        m.d.comb += [d_src1.eq(forward(dd.rs1, rf_rs1.data)), d_src2.eq(forward(dd.rs2, rf_rs2.data))]
        # Decode only notes a load-use hazard; the stall happens in execute from the registered note,
        # so the instruction RAM's late output does not reach every pipeline enable.
        x_load = Signal()
        d_fwd1, d_fwd2 = Signal(name="d_fwd1"), Signal(name="d_fwd2")
        m.d.comb += [x_load.eq(x_writes & x_late),
                     d_fwd1.eq(x_load & dd.reads_rs1 & (dd.rs1 == x.d.rd)),
                     d_fwd2.eq(x_load & dd.reads_rs2 & (dd.rs2 == x.d.rd))]
        x_go = Signal()                # execute's instruction acts this cycle (valid, not waiting)
        m.d.comb += x_go.eq(x_valid & ~x_wait)

        # --------------------------------------------------------------- execute
        op = x.d.op
        b = Mux(x.d.imm_b, x.d.imm.as_unsigned(), x.src2)
        m.d.comb += [
            adder.x_a.eq(x.src1), adder.x_b.eq(b), adder.x_sub.eq(op.sub),
            compare.x_a.eq(x.src1), compare.x_b.eq(b),
            logic.x_a.eq(x.src1), logic.x_b.eq(b),
            shifter.x_value.eq(x.src1), shifter.x_amount.eq(b[:5]),
            shifter.x_left.eq(op.sll | op.slli), shifter.x_arith.eq(op.sra | op.srai),
            bitmanip.x_a.eq(x.src1),
            multiplier.x_a.eq(x.src1), multiplier.x_b.eq(x.src2),
        ]
        if cfg.full_m:
            m.submodules.divider = divider = Divider()
            m.d.comb += [
                multiplier.x_a_signed.eq(op.mulh | op.mulhsu), multiplier.x_b_signed.eq(op.mulh),
                divider.x_a.eq(x.src1), divider.x_b.eq(x.src2), divider.x_signed.eq(op.div | op.rem),
            ]

        is_load = _any(*(op[n] for n in _ops(specs, lambda s: s.kind == Kind.LOAD)))
        is_mul = _any(*(op[n] for n in _ops(specs, lambda s: s.kind == Kind.MUL)))
        is_store = _any(*(op[n] for n in _ops(specs, lambda s: s.kind == Kind.STORE)))
        m.d.comb += x_late.eq(is_load)

        # Branches and jumps.
        taken = _any(op.beq & compare.x_eq, op.bne & ~compare.x_eq, op.blt & compare.x_lt,
                     op.bge & ~compare.x_lt, op.bltu & compare.x_ltu, op.bgeu & ~compare.x_ltu,
                     op.jal, op.jalr)
        target = Signal(32)
        m.d.comb += target.eq(Mux(op.jalr, adder.x_result & ~1, x.pc + x.d.imm))
        link = x.pc + 4

        # CSR access: csrrs/csrrc (and the immediate forms) with rs1 = x0 / zimm = 0 do not write.
        csr_imm = _any(*(op[n] for n in _ops(specs, lambda s: s.kind == Kind.CSR and F.XS1 not in s.operands)))
        csr_src = Mux(csr_imm, x.d.rs1, x.src1)
        csr_op = _any(*(op[n] for n in _ops(specs, lambda s: s.kind == Kind.CSR)))
        # The CSR read: the CSR file's, OR the DMA's (each reads 0 for a number that is not its own).
        csr_read = csrf.x_r_data
        if self.has_dma:
            csr_read = Signal(32)
            m.d.comb += csr_read.eq(csrf.x_r_data | self.dma.r_data)
        csr_new = Mux(op.csrrw | op.csrrwi, csr_src,
                      Mux(op.csrrs | op.csrrsi, csr_read | csr_src, csr_read & ~csr_src))
        csr_writes = (op.csrrw | op.csrrwi) | (csr_op & (x.d.rs1 != 0))

        # The result: an AND-OR multiplexer over the units (the op is one-hot).
        results = [
            (op.lui, (x.d.imm << 12)[:32]),
            (op.auipc, x.pc + (x.d.imm << 12)[:32]),
            (op.jal | op.jalr, link),
            (op.add | op.addi | op.sub, adder.x_result),
            (op.slt | op.slti, compare.x_lt),
            (op.sltu | op.sltiu, compare.x_ltu),
            (op.xor | op.xori, logic.x_xor),
            (op["or"] | op.ori, logic.x_or),
            (op["and"] | op.andi, logic.x_and),
            (_any(op.sll, op.slli, op.srl, op.srli, op.sra, op.srai), shifter.x_result),
            (op.mul, multiplier.x_low),
            (op.clz, bitmanip.x_clz), (op.ctz, bitmanip.x_ctz), (op.cpop, bitmanip.x_cpop),
            (op.sext_b, bitmanip.x_sext_b), (op.sext_h, bitmanip.x_sext_h),
            (csr_op, csr_read),
        ]
        if self.has_vector:
            results.append((x.d.vector_writes_rd, self.vector.x_result))   # VTST / VEXTRACT
        if cfg.full_m:
            results += [
                (op.mulh | op.mulhsu | op.mulhu, multiplier.x_high),
                (op.div | op.divu, divider.x_quotient),
                (op.rem | op.remu, divider.x_remainder),
            ]
        acc = 0
        for sel, value in results:
            acc = acc | (Mux(sel, value, 0))
        m.d.comb += x_result.eq(acc)

        # Load/store unit.
        def width_ops(width):
            return _any(*(op[n] for n in _ops(specs, lambda s: s.memory == DMEM and s.width == width)))
        size = Mux(width_ops(4), SIZE_WORD, Mux(width_ops(2), SIZE_HALF, SIZE_BYTE))
        stop = Signal()
        m.d.comb += [
            lsu.x_base.eq(x.src1), lsu.x_offset.eq(x.d.imm), lsu.x_store_data.eq(x.src2),
            lsu.x_size.eq(size), lsu.x_load.eq(is_load), lsu.x_store.eq(is_store),
            lsu.x_enable.eq(x_go & running & ~x.fetch_fault & ~x.d.illegal),
        ]

        # Exceptions and normal stops, in priority order. Whether the core stops is the OR of them
        # all (the priority only chooses the cause): a short path to retire and the RAM enables.
        causes = [
            (x.fetch_fault, RtlCause.FETCH_FAULT),
            (x.d.illegal, RtlCause.ILLEGAL_INSTRUCTION),
            (op.ecall, RtlCause.ECALL),
            (op.ebreak, RtlCause.EBREAK),
            (taken & target[1], RtlCause.MISALIGNED_FETCH),
            (is_load & lsu.x_misaligned, RtlCause.MISALIGNED_LOAD),
            (is_load & lsu.x_fault, RtlCause.LOAD_FAULT),
            (is_store & lsu.x_misaligned, RtlCause.MISALIGNED_STORE),
            (is_store & lsu.x_fault, RtlCause.STORE_FAULT),
        ]
        if self.has_vector:
            # A faulting vector memory access (its own cause; never depends on x_valid).
            causes.append((x.d.vector & self.vector.x_fault, self.vector.x_cause))
        cause = Signal(RtlCause)
        m.d.comb += cause.eq(reduce(lambda rest, c: Mux(c[0], c[1], rest), reversed(causes), RtlCause.NONE))
        m.d.comb += stop.eq(x_go & running & _any(*(c[0] for c in causes)))

        # Vector issue (execute) and its stall; a two-cycle multiply's first cycle (its partial
        # products are registered at its end; from registers only, off the stop path).
        x_hold = Signal()               # execute keeps its instruction this cycle
        holds = []
        x_mul_first = Signal()          # the multiply in execute is in its first cycle
        x_mul_done = Signal()           # ... in its second
        if cfg.mul_extra:
            m.d.comb += x_mul_first.eq(x_go & is_mul & ~x_mul_done)
            holds.append(x_mul_first)
        if self.has_vector:
            vec = self.vector
            m.d.comb += [
                vec.x_valid.eq(x_go & running & x.d.vector & ~stop),
                vec.x_word.eq(x.word), vec.x_src1.eq(x.src1), vec.x_src2.eq(x.src2),
            ]
            holds.append(vec.x_valid & ~vec.x_ready)
        if holds:
            m.d.comb += x_hold.eq(_any(*holds))

        retire = Signal()
        redirect = Signal()             # a retiring taken branch or jump
        redirect_f = Signal()           # fetch follows the branch without waiting for the stop decision:
                                        # a stop discards whatever is fetched after it
        bubbles = Signal(15)   # stall cycles since the last retirement, charged to the next one
        m.d.comb += [
            retire.eq(x_go & running & ~stop & ~x_hold),
            redirect.eq(retire & taken),
            redirect_f.eq(x_go & taken),
            csrf.x_addr.eq(x.d.imm[:12]),
            csrf.x_w_en.eq(retire & csr_writes),
            csrf.x_w_data.eq(csr_new),
            csrf.retire.eq(retire),
            csrf.charge.eq(1 + Mux(taken, 1 + fx, 0) + bubbles),
            self.mcycle.eq(csrf.mcycle), self.minstret.eq(csrf.minstret),
        ]

        if self.has_dma:
            m.d.comb += [self.dma.addr.eq(x.d.imm[:12]), self.dma.w_en.eq(retire & csr_writes),
                         self.dma.w_data.eq(csr_new)]

        # ----------------------------------------------------------------- fetch
        hold = x_wait | x_hold          # execute, decode and fetch keep their instructions
        fetch_addr = Signal(32)
        f_next = Signal(32)             # the next sequential fetch (off the redirect path)
        # Out of IMEM (a power of two): an address bit above it set, for each candidate before the
        # redirect mux (not a compare after it, on the branch decision's path).
        imem_bits = (cfg.imem_size - 1).bit_length()
        fetch_fault = Signal()
        m.d.comb += [
            f_next.eq(f_last + 4),
            fetch_addr.eq(Mux(redirect_f, target, f_next)),
            fetch_fault.eq(Mux(redirect_f, target[imem_bits:].any(), f_next[imem_bits:].any())),
            self.imem.addr.eq(fetch_addr[2:]),
            self.imem.r_en.eq(~hold),
        ]

        # ------------------------------------------------------------- writeback
        m.d.comb += lsu.w_size.eq(w.size), lsu.w_unsigned.eq(w.unsigned), lsu.w_offset.eq(w.offset)
        w_late = lsu.w_data
        if self.has_vector:
            w_late = Mux(w.vector, self.vector.w_result, lsu.w_data)
        m.d.comb += w_value.eq(Mux(w.load | w.vector, w_late, w.result))
        with m.If(w_valid & w.write):
            m.d.comb += [rf_w.addr.eq(w.rd), rf_w.data.eq(w_value), rf_w.en.eq(1)]
        with m.Elif(~running & self.dbg_w_en & (self.dbg_addr != 0)):
            m.d.comb += [rf_w.addr.eq(self.dbg_addr), rf_w.data.eq(self.dbg_w_data), rf_w.en.eq(1)]

        # ------------------------------------------------------ pipeline update
        m.d.sync += [
            w_valid.eq(retire),
            w.rd.eq(x.d.rd),
            w.write.eq((x.d.writes_rd | x.d.vector_writes_rd) & (x.d.rd != 0)),
            w.result.eq(x_result),
            w.load.eq(is_load),
            w.vector.eq(x.d.vector),
            w.size.eq(size),
            w.unsigned.eq(reduce(or_, (op[n] for n in _ops(specs, lambda s: s.zero_extends)))),
            w.offset.eq(lsu.x_addr[:2]),
        ]
        with m.If(running):
            m.d.sync += bubbles.eq(Mux(retire, hold, bubbles + hold))
            m.d.sync += self.cycles.eq(self.cycles + 1)
            if cfg.mul_extra:
                m.d.sync += x_mul_done.eq(x_mul_first)
            with m.If(retire):          # an enable, not an addend: retire comes late
                m.d.sync += self.instret.eq(self.instret + 1)
            with m.If(x_wait):
                # The load ahead is in writeback now: take its value.
                m.d.sync += x_wait.eq(0)
                with m.If(x_fwd1):
                    m.d.sync += x.src1.eq(w_value)
                with m.If(x_fwd2):
                    m.d.sync += x.src2.eq(w_value)
            with m.Elif(x_hold):
                pass
            with m.Else():
                if fx:
                    m.d.sync += [
                        f2_valid.eq(1), f2_pc.eq(fetch_addr), f2_fetch_fault.eq(fetch_fault),
                        d_valid.eq(f2_valid & ~redirect_f), d_pc.eq(f2_pc), d_fetch_fault.eq(f2_fetch_fault),
                        d_word.eq(self.imem.r_data),
                    ]
                else:
                    m.d.sync += [d_valid.eq(1), d_pc.eq(fetch_addr), d_fetch_fault.eq(fetch_fault)]
                m.d.sync += [
                    f_last.eq(fetch_addr),
                    x_valid.eq(d_valid & ~redirect_f),
                    x_wait.eq(d_valid & ~redirect_f & (d_fwd1 | d_fwd2)), x_fwd1.eq(d_fwd1), x_fwd2.eq(d_fwd2),
                    x.pc.eq(d_pc), x.word.eq(d_word), x.fetch_fault.eq(d_fetch_fault),
                    x.d.eq(dd), x.src1.eq(d_src1), x.src2.eq(d_src2),
                ]
            # Last, so that it wins: the advance above does not wait for the stop decision (a long
            # path); whatever it moved into fetch, decode and execute is discarded.
            with m.If(stop | self.halt):
                # Stall cycles spent on the stopping instruction are not charged (as in the ISS;
                # a load-use wait in progress is one of them).
                m.d.sync += [running.eq(0), self.stopped.eq(1), d_valid.eq(0), x_valid.eq(0), x_wait.eq(0),
                             x_mul_done.eq(0),
                             self.cycles.eq(self.cycles + 1 - bubbles - x_wait)]
                if fx:
                    m.d.sync += f2_valid.eq(0)
                with m.If(stop):
                    m.d.sync += [self.cause.eq(cause), self.stop_pc.eq(x.pc)]
                with m.Else():
                    fetched = Mux(f2_valid, f2_pc, f_next) if fx else f_next
                    m.d.sync += [self.cause.eq(RtlCause.HALTED),
                                 self.stop_pc.eq(Mux(x_valid & ~retire, x.pc,
                                                     Mux(redirect, target, Mux(d_valid, d_pc, fetched))))]
        with m.If(self.start):
            m.d.sync += [
                running.eq(1), self.stopped.eq(0), self.cause.eq(RtlCause.NONE), self.stop_pc.eq(0),
                f_last.eq(self.entry - 4), d_valid.eq(0), x_valid.eq(0), x_wait.eq(0), w_valid.eq(0),
                x_mul_done.eq(0), bubbles.eq(0),
                self.cycles.eq(0), self.instret.eq(0),
            ]
            if fx:
                m.d.sync += f2_valid.eq(0)
        m.d.comb += csrf.clear.eq(self.start)
        return m
