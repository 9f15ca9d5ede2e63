"""Control code: the entry (``_start``: initialise on the host's request), the
initialisation kernel, the run preamble that loads the program-long registers
(:class:`ProgramRegisters`), the end of a step, the exit (save ``t``, set the
ready flag, ``ecall``) and the DMA error exit (``ebreak``)."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.isa import csrs

from ..quantise import QNetwork, QPopulation
from .emitter import Emitter
from .layout import CONTROL, VEC, ProgramLayout

DMA_ERROR_LABEL = ".Ldma_error"          # MM2S (streamed weights)
S2MM_ERROR_LABEL = ".Ls2mm_error"        # S2MM (records in DRAM, codegen/record_dma.py)
DMA_BUSY = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
DMA_ERRORS = csrs.DMA_INTERNAL_ERROR | csrs.DMA_DECODE_ERROR | csrs.DMA_SLAVE_ERROR


@dataclass(frozen=True)
class ProgramRegisters:
    """Registers held for the whole run call."""

    steps_left: str
    t: str                                    # the global step counter
    zero: str                                 # a vector of zeros
    resident: dict[str, dict[int, list[str]]]  # population -> synapse group -> accumulator per chunk
    in_prev: dict[str, str]                   # input population -> its spike words of the latest step
    in_cur: dict[str, str]                    # input population -> its next step's words in the window
    records: dict[str, str]                   # record key ("pop.spikes", "pop.v") -> record pointer

    def record_ptr(self, population: str, var: str) -> str | None:
        return self.records.get(f"{population}.{var}")


def emit_start(em: Emitter) -> None:
    """``_start``: jump to the initialisation when the host set ``init``, else to the run."""
    em.region = "control"
    em.label("_start")
    with em.scope() as s:
        t0 = s.x("tmp")
        em.op("lw", t0, CONTROL.init, "zero")
        em.op("bne", t0, "zero", ".Linit")
        em.op("jal", "zero", ".Lrun")
    em.region = "init"
    em.label(".Linit")


def emit_init(em: Emitter, q: QNetwork, layout: ProgramLayout) -> None:
    """Zero the state (V to its initial value), the rings (LLM, VMEM) and the spike words; seed the RNG; t = 0."""
    with em.scope() as s:
        vz = s.v("zero")
        em.op("vlui", vz, 0)
        p_ptr, p_end, t0 = s.x("ptr"), s.x("end"), s.x("tmp")
        for p in q.populations.values():
            lay = layout.populations[p.name]
            if lay.state is None:
                continue
            lab = em.new_label("init_state")
            em.li(p_ptr, lay.state.offset)
            em.li(p_end, lay.state.end)
            with em.scope() as sv:
                start = {}          # initial value register per variable (default: zero)
                if p.readout == "v_max":
                    start["ro"] = sv.v("min")
                    em.op("vlui", start["ro"], -32768)
                if p.initial_v is not None:
                    start["V"] = sv.v("initial V")
                    if "V0" not in lay.offsets:
                        em.op("vlui", start["V"], int(p.initial_v[0]) & 0xFFFF)
                em.label(lab)
                if "V0" in lay.offsets:
                    em.op("vloadv", start["V"], lay.offsets["V0"], p_ptr, comment="initial V")
                for var in lay.dynamic:
                    em.op("vstorev", start.get(var, vz), lay.offsets[var], p_ptr)
                em.addi(p_ptr, p_ptr, lay.stride)
                em.op("bne", p_ptr, p_end, lab)
        llm = layout.plan.used["llm"]
        if llm:
            with em.scope() as sv:
                va = sv.v("address")
                lab = em.new_label("init_llm")
                em.op("addi", p_ptr, "zero", 0)
                em.li(p_end, llm)
                em.label(lab)
                em.op("vfill", va, p_ptr)
                em.op("vstorel", vz, 0, va)
                em.op("addi", p_ptr, p_ptr, 2)
                em.op("bne", p_ptr, p_end, lab)
        for r in {rp.ring.name: rp.ring for rp in layout.delay_rings}.values():     # VMEM delay rings
            lab = em.new_label("init_vring")
            em.li(p_ptr, r.offset)
            em.li(p_end, r.end)
            em.label(lab)
            em.op("vstorev", vz, 0, p_ptr)
            em.addi(p_ptr, p_ptr, VEC)
            em.op("bne", p_ptr, p_end, lab)
        for p in q.populations.values():
            lay = layout.populations[p.name]
            if lay.spikes is not None:
                for w in range(p.words):
                    em.li(t0, lay.spikes.offset + 4 * w)
                    em.op("sw", "zero", 0, t0)
        seed = layout.plan.region("rng_seed").offset
        em.li(t0, seed)
        em.op("vloadr0", 0, t0)
        em.op("vloadr1", VEC, t0)
        em.op("sw", "zero", CONTROL.t, "zero")
        em.op("sw", "zero", CONTROL.init, "zero")


def emit_run_preamble(em: Emitter, q: QNetwork, layout: ProgramLayout, dram_base: int = 0) -> ProgramRegisters:
    """``.Lrun``: load the steps to run and ``t``, clear the register-resident
    accumulators, point at the input and record windows (a DRAM record's pointer
    word at its DRAM window, ``dram_base`` + offset); ``.Lstep`` follows."""
    em.region = "control"
    em.label(".Lrun")
    hold = em.program
    steps_left, t = hold.x("steps left"), hold.x("t")
    em.op("lw", steps_left, CONTROL.steps, "zero", comment="steps to run")
    em.op("lw", t, CONTROL.t, "zero", comment="global step counter")
    zero = hold.v("zero")
    em.op("vlui", zero, 0)
    resident: dict[str, dict[int, list[str]]] = {}
    for name, lay in layout.populations.items():
        resident[name] = {}
        for k, owners in lay.resident.items():
            resident[name][k] = [hold.v(n) for n in owners]
            for r in resident[name][k]:
                em.op("vlui", r, 0, comment="register-resident accumulator")
    in_prev, in_cur = {}, {}
    for p in q.populations.values():
        if p.is_input:
            in_prev[p.name] = hold.x(f"{p.name} previous words")
            in_cur[p.name] = hold.x(f"{p.name} current words")
            em.li(in_prev[p.name], layout.populations[p.name].spikes.offset)
            em.li(in_cur[p.name], layout.inputs[p.name].offset)
    records = {}
    for r in layout.records:
        records[r.key] = hold.x(f"{r.key} record pointer")
        em.li(records[r.key], r.region.offset)
        if r.dram is not None:
            with em.scope() as s:
                t0, word = s.x("tmp"), s.x("pointer word")
                em.li(t0, dram_base + r.dram.offset)
                em.li(word, r.dram_ptr.offset)
                em.op("sw", t0, 0, word, comment=f"{r.key}: DRAM window start")
    em.op("bne", steps_left, "zero", ".Lstep")
    em.op("jal", "zero", ".Ldone")
    em.label(".Lstep")
    return ProgramRegisters(steps_left, t, zero, resident, in_prev, in_cur, records)


def point_at_spike_words(em: Emitter, regs: ProgramRegisters, layout: ProgramLayout, src: QPopulation,
                         xw: str, xend: str) -> None:
    """``xw`` .. ``xend``: the latest step's spike words of ``src`` (an input's in its window),
    the words every propagation pass over ``src`` scans."""
    if src.is_input:
        em.op("addi", xw, regs.in_prev[src.name], 0)
    else:
        em.li(xw, layout.populations[src.name].spikes.offset)
    em.addi(xend, xw, 4 * src.words)


def emit_input_step(em: Emitter, p: QPopulation, regs: ProgramRegisters) -> None:
    """An input population's update: this step's words become its latest spikes."""
    em.region = "input"
    em.op("addi", regs.in_prev[p.name], regs.in_cur[p.name], 0, comment=f"{p.name}: this step's words")
    em.addi(regs.in_cur[p.name], regs.in_cur[p.name], 4 * p.words)


def emit_step_end(em: Emitter, regs: ProgramRegisters) -> None:
    """t += 1; the next step or ``.Ldone``."""
    em.region = "control"
    em.op("addi", regs.t, regs.t, 1)
    em.op("addi", regs.steps_left, regs.steps_left, -1)
    em.op("beq", regs.steps_left, "zero", ".Ldone")
    em.op("jal", "zero", ".Lstep", comment="(jal: the step may be longer than a branch reaches)")


def emit_exit(em: Emitter, q: QNetwork, layout: ProgramLayout, regs: ProgramRegisters) -> None:
    """``.Ldone``: keep the inputs' latest words, save ``t``, set ready, ``ecall``."""
    em.label(".Ldone")
    with em.scope() as s:
        t0, t1 = s.x("tmp"), s.x("tmp2")
        for name, prev in regs.in_prev.items():
            em.li(t1, layout.populations[name].spikes.offset)
            for w in range(q.populations[name].words):
                em.op("lw", t0, 4 * w, prev)
                em.op("sw", t0, 4 * w, t1)
        em.op("sw", regs.t, CONTROL.t, "zero")
        if any(r.dram is not None for r in layout.records):
            wait_s2mm(em)           # the last record copy in DRAM before the host reads it
        em.op("addi", t0, "zero", 1)
        em.op("sw", t0, CONTROL.ready, "zero")
        em.op("ecall")


def wait_mm2s(em: Emitter, tmp: str, hint: str = "dma") -> None:
    """Poll MM2S_STATUS (into ``tmp``) until idle | done; an error bit jumps to the MM2S exit."""
    with em.scope() as t:
        t2 = t.x("status")
        poll, ok = em.new_label(f"{hint}_wait"), em.new_label(f"{hint}_ok")
        em.label(poll)
        em.op("csrrs", tmp, csrs.MM2S_STATUS, "zero")
        em.op("xori", t2, tmp, csrs.DMA_IDLE | csrs.DMA_DONE)
        em.op("beq", t2, "zero", ok)
        em.op("andi", t2, tmp, DMA_ERRORS)
        em.op("beq", t2, "zero", poll, comment="still transferring")
        em.op("jal", "zero", DMA_ERROR_LABEL)
        em.label(ok)


def wait_s2mm(em: Emitter) -> None:
    """Poll S2MM_STATUS until the channel is not busy; an error bit jumps to the S2MM exit."""
    with em.scope() as s:
        st, t = s.x("status"), s.x("bits")
        poll = em.new_label("s2mm_wait")
        em.label(poll)
        em.op("csrrs", st, csrs.S2MM_STATUS, "zero")
        em.op("andi", t, st, DMA_BUSY)
        em.op("bne", t, "zero", poll, comment="the previous copy still runs")
        em.op("andi", t, st, DMA_ERRORS)
        em.op("bne", t, "zero", S2MM_ERROR_LABEL)


def emit_dma_error_handler(em: Emitter, channel: str = "mm2s") -> None:
    """The shared exit of a failed DMA transfer (codegen/streaming.py, codegen/record_dma.py
    jump here): the channel's STATUS and its DRAM address (MM2S_SRC_ADDR, S2MM_DST_ADDR)
    into the control block, then ``ebreak``; the runtime tells the channels apart by the
    DRAM region the address is in."""
    label, status, addr = {"mm2s": (DMA_ERROR_LABEL, csrs.MM2S_STATUS, csrs.MM2S_SRC_ADDR),
                           "s2mm": (S2MM_ERROR_LABEL, csrs.S2MM_STATUS, csrs.S2MM_DST_ADDR)}[channel]
    em.region = "control"
    em.label(label)
    em.op("csrrs", "t0", status, "zero")
    em.op("sw", "t0", CONTROL.dma_status, "zero", comment="DMA error: status for the host")
    em.op("csrrs", "t0", addr, "zero")
    em.op("sw", "t0", CONTROL.dma_src, "zero")
    em.op("ebreak")
