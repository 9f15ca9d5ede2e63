"""Code generation: a quantised network -> memory plan + vector firmware.

Program structure (one call runs ``steps`` timesteps, then ``ecall``)::

    _start:  if INIT: zero state, rings, spike words; seed the RNG; t = 0
    run:     for each of ``steps`` steps:
               phase 1   deliver spikes of t-1 (latency >= 1 connections)
               per population in schedule order:
                   deliver latency-0 input, then update (or load input spikes)
               t += 1
             save t; DMEM word 0 = 1 (ready); ecall

Kernels (their names are the listing's regions and the profile's rows):
``input propagation`` / ``<pop> propagation`` (bit loops over 32-bit spike
words with ctz), ``<pop> update`` (vectorised neuron update with VTST/VSEL
predication), ``init``, ``control``.

Synaptic input goes to one of two accumulators per target population:
- *direct*: dense, undelayed, arriving next step: either held in vector
  registers for the whole step (vloadv weight + vadd_s per 32 synapses) or in
  VMEM (vloadv weight, vloadv acc, vadd_s, vstorev);
- *ring*: a dendritic ring buffer in the lane-local memories, lane ``i % 32``
  holding neuron ``i``: LLM byte address ``ring_base + (i // 32) * 2D + 2 slot``.
  Sparse rows are ELL columns of packed ``(weight | address)`` words split with
  VANDADD and delivered with VLOADL/VSTOREL; dense delayed rows carry a
  parallel row of ``2 * delay``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .emit import Assembled, Builder, RegisterPool, assemble_items, fill_load_use_slots
from .errors import ResourceError
from .memory import MemoryPlan, Region
from .placement import (ConnectionData, PlacementRequest, buffer_bytes, choose_placements, connection_data,
                        fuse_key)
from .streaming import StreamingMixin
from .quantise import DECAY_SHIFT, LANES, QConnection, QNetwork, QPopulation, suffix
from .reference import readout_round
from fenn_dma.arch import DEFAULT_SPEC, MachineSpec
from fenn_dma.isa.table import ROUND_NEAREST, ROUND_SUFFIX

# DMEM control block (word 0 is the host/firmware "ready" flag of the FeNN ABI).
# dma_status / dma_src: written by the firmware before it stops with ebreak on a
# DMA error (the MM2S status word and the DRAM address of the failed transfer).
CTRL = {"ready": 0, "steps": 4, "init": 8, "t": 12, "dma_status": 16, "dma_src": 20}
CTRL_SIZE = 64
VEC = 64  # bytes per vector


@dataclass
class MachineSizes:
    """The target machine as the compiler sees it: a ``MachineSpec``'s memory sizes
    (``machine`` is the rest: name, extensions, units). Sizes may be changed for a
    variant; ``spec`` is then the variant (named ``NAME-custom``)."""
    imem: int = DEFAULT_SPEC.imem_size
    dmem: int = DEFAULT_SPEC.dmem_size
    vmem: int = DEFAULT_SPEC.vmem_size
    llm: int = DEFAULT_SPEC.llm_size
    dram: int = DEFAULT_SPEC.dram_size          # DRAM the program may use for streamed weights
    dram_base: int = DEFAULT_SPEC.dram_base     # physical address of the program's DRAM image
    machine: MachineSpec = DEFAULT_SPEC

    @classmethod
    def from_spec(cls, spec: MachineSpec) -> "MachineSizes":
        return cls(spec.imem_size, spec.dmem_size, spec.vmem_size, spec.llm_size, spec.dram_size, spec.dram_base,
                   spec)

    @classmethod
    def from_config(cls, cfg) -> "MachineSizes":
        """From a configuration with a ``spec`` (an ISS ``MachineConfig``)."""
        return cls.from_spec(cfg.spec)

    @property
    def spec(self) -> MachineSpec:
        return self.machine.with_sizes(imem_size=self.imem, dmem_size=self.dmem, vmem_size=self.vmem,
                                       llm_size=self.llm, dram_size=self.dram, dram_base=self.dram_base)


@dataclass
class CompileOptions:
    window: int = 1024            # most steps per run call (input and record buffers)
    resident_registers: int = 12  # vector registers for register-resident accumulators
    unroll: int = 8               # chunks per iteration of the dense VMEM-accumulator loop
    sizes: MachineSizes = field(default_factory=MachineSizes)


@dataclass
class PopLayout:
    state: Region | None = None
    stride: int = 0                           # bytes per chunk in the state block
    offsets: dict[str, int] = field(default_factory=dict)
    dynamic: tuple[str, ...] = ()             # offsets zeroed at init
    params_vector: tuple[str, ...] = ()       # per-neuron parameters stored in the block
    spikes: Region | None = None              # current spike words (DMEM)
    ring_base: dict[int, int] = field(default_factory=dict)       # LLM ring per synapse group
    resident: dict[int, list[str]] = field(default_factory=dict)  # accumulator registers per group


@dataclass
class Compiled:
    qnet: QNetwork
    plan: MemoryPlan
    asm: Assembled
    images: dict[str, bytes]
    io: dict
    window: int


def _bits(stride: int) -> int | None:
    return stride.bit_length() - 1 if stride & (stride - 1) == 0 else None


class CodeGenerator(StreamingMixin):
    def __init__(self, qnet: QNetwork, options: CompileOptions | None = None):
        self.q = qnet
        self.opt = options or CompileOptions()
        s = self.opt.sizes
        self.plan = MemoryPlan({"imem": s.imem, "dmem": s.dmem, "vmem": s.vmem, "llm": s.llm, "dram": s.dram})
        self.layout: dict[str, PopLayout] = {p: PopLayout() for p in qnet.populations}
        self.vmem_data: list[tuple[int, bytes]] = []
        self.dmem_data: list[tuple[int, bytes]] = []
        self.dram_data: list[tuple[int, bytes]] = []
        self.dma_buffers: tuple[int, int] | None = None     # VMEM ping-pong buffers of streamed rows
        self.stream_unit: dict[str, str] = {}    # streamed connection -> first connection of its DRAM row
        self.conn_regions: dict[str, dict[str, Region]] = {}
        self.b = Builder()
        self.v = RegisterPool("vector", list(range(32)))
        # temporaries and argument registers first, so listings read naturally
        self.x = RegisterPool("scalar", [5, 6, 7, 28, 29, 30, 31] + list(range(10, 18)) + [8, 9]
                              + list(range(18, 28)) + [1, 3, 4, 2])

    # ------------------------------------------------------------------ memory
    def plan_memory(self) -> None:
        q, plan = self.q, self.plan
        plan.place("dmem", "control", CTRL_SIZE, note="ready, steps, init, t, DMA error")
        n_rec = sum(len(p.record) for p in q.populations.values())
        plan.place("dmem", "spill", 4 * max(n_rec, 1), note="record pointers during long passes")
        spiking = [p for p in q.populations.values() if p.spiking]
        for p in spiking:
            self.layout[p.name].spikes = plan.place("dmem", f"{p.name}.spikes", 4 * p.words,
                                                    note="spike words of the latest step")
        seed = plan.place("vmem", "rng_seed", 2 * VEC, align=VEC, note="Xoroshiro32++ s0, s1")
        self.vmem_data.append((seed.offset, self.q.rng_seed.astype("<u2").tobytes()))
        budget = self.opt.resident_registers
        for p in q.populations.values():
            if p.kind == "input":
                continue
            lay = self.layout[p.name]
            dyn = ["V"] + [f"I{suffix(k)}" for k in p.exp_groups] + (["A"] if p.kind == "ALIF" else []) \
                + (["rc"] if p.refractory > 0 else []) + (["ro"] if p.readout else [])
            for k, g in enumerate(p.synapses):
                if g.has_direct and p.chunks <= budget:
                    lay.resident[k] = [f"{p.name}.acc{suffix(k)}.{c}" for c in range(p.chunks)]
                    budget -= p.chunks
                elif g.has_direct:
                    dyn.append(f"acc{suffix(k)}")
            values = dict(p.params)
            if p.initial_v is not None:
                values["V0"] = p.initial_v      # copied to V at initialisation
            params = [k for k, a in values.items() if np.unique(a).size > 1]
            lay.dynamic, lay.params_vector = tuple(dyn), tuple(params)
            names = list(dyn) + params
            lay.offsets = {n: VEC * i for i, n in enumerate(names)}
            lay.stride = VEC * len(names)
            lay.state = plan.place("vmem", f"{p.name}.state", lay.stride * p.chunks, align=VEC,
                                   note="per chunk: " + ", ".join(names))
            if params:
                block = np.zeros((p.chunks, len(names), LANES), np.int16)
                for k in params:
                    block[:, names.index(k), :].flat[:p.size] = values[k]
                self.vmem_data.append((lay.state.offset, block.astype("<i2").tobytes()))
            for k, g in enumerate(p.synapses):
                if g.has_ring:
                    r = plan.place("llm", f"{p.name}.ring{suffix(k)}", p.chunks * 2 * p.ring_depth, align=2,
                                   note=f"{p.ring_depth} slots x {p.chunks} rows per lane")
                    lay.ring_base[k] = r.offset
        self._place_connections()
        self._place_windows()
        plan.check()
        if plan.used["llm"] > 2048:
            raise ResourceError(f"ring buffers need {plan.used['llm']} bytes per lane; LLM addresses are "
                                "reached by 12-bit offsets, so at most 2048 are usable")

    def _place_connections(self) -> None:
        """Weights in VMEM while they fit (or as the connection asks), else in the DRAM
        image, streamed per spike into two VMEM row buffers (compiler/placement.py)."""
        q, plan = self.q, self.plan
        data = {c.name: connection_data(c, q.populations[c.target],
                                        self.layout[c.target].ring_base.get(c.group, 0))
                for c in q.connections.values()}
        reserve = sum(2 * p.padded for p in q.populations.values() if "v" in p.record)   # one step of V records
        requests = [PlacementRequest(c.name, c.placement, data[c.name].vmem_bytes, data[c.name].row_bytes,
                                     fuse_key(c), c.sparse) for c in q.connections.values()]
        choice = choose_placements(requests, plan.free("vmem") - reserve)
        for c in q.connections.values():
            c.placement = choice[c.name]
        streamed = [c for c in q.connections.values() if c.placement == "dram"]
        if streamed:
            size = buffer_bytes([r for r in requests if choice[r.name] == "dram"])
            a = plan.place("vmem", "dma_buffer0", size, align=VEC, note="streamed row (ping)")
            bb = plan.place("vmem", "dma_buffer1", size, align=VEC, note="streamed row (pong)")
            self.dma_buffers = (a.offset, bb.offset)
        for c in q.connections.values():
            self._place_connection(c, data[c.name])
        for fused in _fused_runs(streamed):     # dense rows streamed one after the other: one transfer
            rows = np.concatenate([data[c.name].dense_rows() for c in fused], axis=1)
            region = plan.place("dram", "+".join(c.name for c in fused) + ".rows", rows.nbytes, align=VEC,
                                note=f"{rows.shape[0]} rows x {rows.shape[1] * 2} B: "
                                     + " | ".join(c.name + (" (weights | 2 x delays)" if c.mode == "ring" else "")
                                                  for c in fused))
            self.dram_data.append((region.offset, rows.astype("<i2").tobytes()))
            off = 0
            for c in fused:
                self.conn_regions[c.name]["dram"] = region
                self.conn_regions[c.name]["row_offset"] = off
                self.stream_unit[c.name] = fused[0].name
                off += data[c.name].row_bytes

    def _place_connection(self, c: QConnection, d: "ConnectionData") -> None:
        tgt = self.q.populations[c.target]
        regs: dict[str, Region] = {}
        plan = self.plan
        if c.placement == "dram":
            if c.sparse:
                regs["dram"] = plan.place("dram", f"{c.name}.columns", d.dram_bytes, align=VEC,
                                          note=f"{c.exists.shape[0]} rows x {d.layout.max_columns} ELL columns, "
                                               + _ell_note(c))
                self.dram_data.append((regs["dram"].offset, d.layout.padded_rows().astype("<i2").tobytes()))
                counts = d.layout.counts.astype("<u1" if d.count_bytes == 1 else "<u2")
                regs["counts"] = plan.place("dmem", f"{c.name}.counts", counts.nbytes,
                                            note="used columns per source row")
                self.dmem_data.append((regs["counts"].offset, counts.tobytes()))
                self.stream_unit[c.name] = c.name
            # dense: placed per source below (rows fused)
        elif not c.sparse:
            rows = d.dense_weights()
            regs["weights"] = plan.place("vmem", f"{c.name}.weights", rows.nbytes, align=VEC,
                                         note=f"{rows.shape[0]} rows x {tgt.chunks} vectors")
            self.vmem_data.append((regs["weights"].offset, rows.astype("<i2").tobytes()))
            if c.mode == "ring":
                dl = d.dense_delays()
                regs["delays"] = plan.place("vmem", f"{c.name}.delays", dl.nbytes, align=VEC,
                                            note="2 x delay per synapse")
                self.vmem_data.append((regs["delays"].offset, dl.astype("<i2").tobytes()))
        else:
            cols, starts = d.layout.words, d.layout.starts
            regs["columns"] = plan.place("vmem", f"{c.name}.columns", cols.nbytes, align=VEC,
                                         note=f"{cols.shape[0]} ELL columns, " + _ell_note(c))
            base = regs["columns"].offset
            self.vmem_data.append((base, cols.astype("<i2").tobytes()))
            table = (base + VEC * starts).astype("<u4")
            regs["rows"] = plan.place("dmem", f"{c.name}.rows", table.nbytes, note="column start per source")
            self.dmem_data.append((regs["rows"].offset, table.tobytes()))
        self.conn_regions[c.name] = regs

    def _place_windows(self) -> None:
        q, plan = self.q, self.plan
        ins = [p for p in q.populations.values() if p.kind == "input"]
        rec_s = [p for p in q.populations.values() if "spikes" in p.record]
        rec_v = [p for p in q.populations.values() if "v" in p.record]
        dmem_step = sum(4 * p.words for p in ins + rec_s)
        vmem_step = sum(2 * p.padded for p in rec_v)
        window = self.opt.window
        if dmem_step:
            window = min(window, plan.free("dmem") // dmem_step)
        if vmem_step:
            window = min(window, plan.free("vmem") // vmem_step)
        if window < 1:
            raise ResourceError(f"memory overflow: no room for one step of inputs/records "
                                f"(dmem needs {dmem_step} B per step, {plan.free('dmem')} free; "
                                f"vmem needs {vmem_step} B per step, {plan.free('vmem')} free)")
        self.window = window
        self.windows = {}
        for p in ins:
            self.windows[f"{p.name}.input"] = plan.place("dmem", f"{p.name}.input", 4 * p.words * window,
                                                         note=f"{window} steps x {p.words} spike words")
        for p in rec_s:
            self.windows[f"{p.name}.spikes"] = plan.place("dmem", f"{p.name}.spike_record", 4 * p.words * window,
                                                          note=f"{window} steps x {p.words} words")
        for p in rec_v:
            self.windows[f"{p.name}.v"] = plan.place("vmem", f"{p.name}.v_record", 2 * p.padded * window,
                                                     align=VEC, note=f"{window} steps x {p.chunks} vectors")

    # ------------------------------------------------------------------ code
    def generate(self) -> Compiled:
        self.plan_memory()
        b, q = self.b, self.q
        x, v = self.x, self.v
        b.region = "control"
        b.label("_start")
        t0 = x.get("tmp")
        b.op("lw", t0, CTRL["init"], "zero")
        b.op("bne", t0, "zero", ".Linit")
        b.op("jal", "zero", ".Lrun")
        x.put(t0)
        b.region = "init"
        b.label(".Linit")
        self._emit_init()
        b.region = "control"
        b.label(".Lrun")
        self.s_left = x.get("steps left")
        self.s_t = x.get("t")
        b.op("lw", self.s_left, CTRL["steps"], "zero", comment="steps to run")
        b.op("lw", self.s_t, CTRL["t"], "zero", comment="global step counter")
        self.vzero = v.get("zero")
        b.op("vlui", self.vzero, 0)
        for lay in self.layout.values():
            for k, names in lay.resident.items():
                lay.resident[k] = [v.get(n) for n in names]
                for r in lay.resident[k]:
                    b.op("vlui", r, 0, comment="register-resident accumulator")
        self.in_prev, self.in_cur = {}, {}
        for p in q.populations.values():
            if p.kind == "input":
                self.in_prev[p.name] = x.get(f"{p.name} previous words")
                self.in_cur[p.name] = x.get(f"{p.name} current words")
                b.li(self.in_prev[p.name], self.layout[p.name].spikes.offset)
                b.li(self.in_cur[p.name], self.windows[f"{p.name}.input"].offset)
        self.rec_ptr = {}
        for key, r in self.windows.items():
            if not key.endswith(".input"):
                self.rec_ptr[key] = x.get(f"{key} record pointer")
                b.li(self.rec_ptr[key], r.offset)
        b.op("bne", self.s_left, "zero", ".Lstep")
        b.op("jal", "zero", ".Ldone")
        b.label(".Lstep")
        for g in q.schedule.phase1:
            self._emit_group(g, phase=1)
        for name in q.schedule.order:
            for g in q.schedule.before_update[name]:
                self._emit_group(g, phase=2)
            pop = q.populations[name]
            if pop.kind == "input":
                b.region = "input"
                b.op("addi", self.in_prev[name], self.in_cur[name], 0, comment=f"{name}: this step's words")
                self._addi(self.in_cur[name], self.in_cur[name], 4 * pop.words)
            else:
                b.region = f"{name} update"
                self._emit_update(pop)
        b.region = "control"
        b.op("addi", self.s_t, self.s_t, 1)
        b.op("addi", self.s_left, self.s_left, -1)
        b.op("beq", self.s_left, "zero", ".Ldone")
        b.op("jal", "zero", ".Lstep", comment="(jal: the step may be longer than a branch reaches)")
        b.label(".Ldone")
        t0, t1 = x.get("tmp"), x.get("tmp2")
        for name, prev in self.in_prev.items():
            b.li(t1, self.layout[name].spikes.offset)
            for w in range(q.populations[name].words):
                b.op("lw", t0, 4 * w, prev)
                b.op("sw", t0, 4 * w, t1)
        x.put(t1)
        b.op("sw", self.s_t, CTRL["t"], "zero")
        b.op("addi", t0, "zero", 1)
        b.op("sw", t0, CTRL["ready"], "zero")
        b.op("ecall")
        if self.dma_buffers is not None:
            self._emit_dma_error_handler(CTRL)
        b.finish()
        items, filled, nops = fill_load_use_slots(b.items)
        asm = assemble_items(items, filled, nops)
        self.plan.place("imem", "code", 4 * len(asm.words), note=f"{len(asm.words)} instructions")
        self.plan.check()
        return Compiled(q, self.plan, asm, self._images(asm), self._io_map(), self.window)

    def _addi(self, rd: str, rs: str, value: int) -> None:
        """rd = rs + value for any 32-bit value (through a temporary beyond 12 bits)."""
        if -2048 <= value < 2048:
            self.b.op("addi", rd, rs, value)
            return
        tmp = self.x.get("constant")
        self.b.add_const(rd, rs, value, tmp)
        self.x.put(tmp)

    # ------------------------------------------------------------------ init
    def _emit_init(self) -> None:
        b, x, v = self.b, self.x, self.v
        vz = v.get("zero")
        b.op("vlui", vz, 0)
        p_ptr, p_end, t0 = x.get("ptr"), x.get("end"), x.get("tmp")
        for p in self.q.populations.values():
            lay = self.layout[p.name]
            if lay.state is None:
                continue
            lab = b.new_label("init_state")
            b.li(p_ptr, lay.state.offset)
            b.li(p_end, lay.state.end)
            start = {}          # initial value register per variable (default: zero)
            if p.readout == "v_max":
                start["ro"] = v.get("min")
                b.op("vlui", start["ro"], -32768)
            if p.initial_v is not None:
                start["V"] = v.get("initial V")
                if "V0" not in lay.offsets:
                    b.op("vlui", start["V"], int(p.initial_v[0]) & 0xFFFF)
            b.label(lab)
            if "V0" in lay.offsets:
                b.op("vloadv", start["V"], lay.offsets["V0"], p_ptr, comment="initial V")
            for var in lay.dynamic:
                b.op("vstorev", start.get(var, vz), lay.offsets[var], p_ptr)
            self._addi(p_ptr, p_ptr, lay.stride)
            b.op("bne", p_ptr, p_end, lab)
            v.put(*start.values())
        llm = self.plan.used["llm"]
        if llm:
            va = v.get("address")
            lab = b.new_label("init_llm")
            b.op("addi", p_ptr, "zero", 0)
            b.li(p_end, llm)
            b.label(lab)
            b.op("vfill", va, p_ptr)
            b.op("vstorel", vz, 0, va)
            b.op("addi", p_ptr, p_ptr, 2)
            b.op("bne", p_ptr, p_end, lab)
            v.put(va)
        for p in self.q.populations.values():
            lay = self.layout[p.name]
            if lay.spikes is not None:
                for w in range(p.words):
                    b.li(t0, lay.spikes.offset + 4 * w)
                    b.op("sw", "zero", 0, t0)
        seed = self.plan.region("rng_seed").offset
        b.li(t0, seed)
        b.op("vloadr0", 0, t0)
        b.op("vloadr1", VEC, t0)
        b.op("sw", "zero", CTRL["t"], "zero")
        b.op("sw", "zero", CTRL["init"], "zero")
        x.put(p_ptr, p_end, t0)
        v.put(vz)

    # ------------------------------------------------------------------ propagation
    def _emit_group(self, g, phase: int) -> None:
        """One pass over the spike words of ``g.source`` delivering every connection of ``g``.
        Record pointers (live through the whole step) are spilled to DMEM around a pass
        that may need their registers."""
        conns = [self.q.connections[n] for n in g.connections]
        spill = list(self.rec_ptr.items()) if self.x.available < 14 + 4 * len(conns) else []
        base = self.plan.region("spill").offset
        for k, (key, reg) in enumerate(spill):
            self.b.op("sw", reg, base + 4 * k, "zero", comment="spill during the pass")
            self.x.put(reg)
        self._emit_pass(g, conns)
        for k, (key, reg) in enumerate(spill):
            self.x.take(reg, f"{key} record pointer")
            self.b.op("lw", reg, base + 4 * k, "zero")

    def _emit_pass(self, g, conns) -> None:
        b, x, v, q = self.b, self.x, self.v, self.q
        src = q.populations[g.source]
        b.region = "input propagation" if src.kind == "input" else f"{src.name} propagation"
        self._begin_pass()
        if any(c.placement == "dram" for c in conns):
            self._emit_streamed_group(src, conns)
            self._end_pass()
            return
        xw, xend, word, idx, tmp = (x.get(n) for n in ("word ptr", "word end", "word", "index", "tmp"))
        if src.kind == "input":
            b.op("addi", xw, self.in_prev[src.name], 0)
        else:
            b.li(xw, self.layout[src.name].spikes.offset)
        self._addi(xend, xw, 4 * src.words)
        states = [self._conn_setup(c) for c in conns]
        loop, skip, bits = b.new_label("word"), b.new_label("next_word"), b.new_label("spike")
        b.label(loop)
        b.op("lw", word, 0, xw)
        b.op("beq", word, "zero", skip)
        b.label(bits)
        b.op("ctz", idx, word, comment="next spiking neuron in this word")
        for c, st in zip(conns, states):
            self._conn_body(c, st, idx)
        b.op("addi", tmp, word, -1)
        b.op("and", word, word, tmp, comment="clear lowest set bit")
        b.op("bne", word, "zero", bits)
        b.label(skip)
        b.op("addi", xw, xw, 4)
        for c, st in zip(conns, states):
            self._addi(st["row"], st["row"], st["word_step"])
        b.op("bne", xw, xend, loop)
        for st in states:
            x.put(*st["xregs"])
            v.put(*st["vregs"])
        x.put(xw, xend, word, idx, tmp)
        self._end_pass()

    def _conn_setup(self, c: QConnection) -> dict:
        """Registers and constants of one connection for a pass over its source's
        spikes (``word_step``: row base advance per spike word, for the bit loop)."""
        b, x, v = self.b, self.x, self.v
        tgt = self.q.populations[c.target]
        regs = self.conn_regions[c.name]
        st: dict = {"xregs": [], "vregs": []}

        def xr(name):
            r = x.get(f"{c.name} {name}")
            st["xregs"].append(r)
            return r

        def vr(name):
            r = v.get(f"{c.name} {name}")
            st["vregs"].append(r)
            return r

        if c.placement == "dram":
            self._stream_setup(c, st, xr)     # rows come from the DMA buffer (compiler/streaming.py)
        elif c.sparse:
            st["row"] = xr("row base")
            b.li(st["row"], regs["rows"].offset)
            st["word_step"] = 4 * LANES
        else:
            st["row"] = xr("row base")
            b.li(st["row"], regs["weights"].offset)
            st["word_step"] = LANES * tgt.padded * 2
            stride = tgt.padded * 2
            if _bits(stride) is None:
                st["stride"] = self._shared_x(stride, "row stride")
        if c.mode == "ring":
            lay = self.layout[tgt.name]
            D = tgt.ring_depth
            if D > 1:
                st["vT"] = self._shared_v(("2(t+offset)", c.offset), lambda r: self._fill_time(r, c.offset))
            if not (c.sparse and c.constant_weight is not None):
                st["ring"] = self._shared_x(lay.ring_base[c.group], "ring base")
            if c.sparse and c.constant_weight is not None:
                st["vw"] = self._shared_v(("weight", c.constant_weight),
                                          lambda r: b.op("vlui", r, c.constant_weight & 0xFFFF,
                                                         comment="the connection's one weight"))
            elif c.sparse:
                hi = (~((1 << c.index_bits) - 1)) & 0xFFFF
                st["vhi"] = self._shared_v(("mask", hi), lambda r: b.op("vlui", r, hi, comment="weight mask"))
                if D > 1:
                    lo = ((1 << c.index_bits) - 1) & ~(2 * D - 1)
                    st["vrow"] = self._shared_v(("mask", lo), lambda r: b.op("vlui", r, lo, comment="row mask"))
            else:
                st["doff"] = self._shared_x(tgt.padded * 2 if c.placement == "dram" else
                                            regs["delays"].offset - regs["weights"].offset, "delay row offset")
        return st

    # Constants of a pass over a source's spikes, one register per value, shared by
    # its connections (scalar registers are the scarce resource of passes with many).
    def _begin_pass(self) -> None:
        self.pass_x: dict[int, str] = {}
        self.pass_v: dict[tuple, str] = {}

    def _end_pass(self) -> None:
        self.x.put(*self.pass_x.values())
        self.v.put(*self.pass_v.values())

    def _shared_x(self, value: int, name: str) -> str:
        if value not in self.pass_x:
            self.pass_x[value] = self.x.get(f"{name} {value}")
            self.b.li(self.pass_x[value], value)
        return self.pass_x[value]

    def _shared_v(self, key: tuple, emit) -> str:
        if key not in self.pass_v:
            self.pass_v[key] = self.v.get(f"{key[0]} {key[1]}")
            emit(self.pass_v[key])
        return self.pass_v[key]

    def _fill_time(self, r: str, offset: int) -> None:
        tmp = self.x.get("tmp")
        self._addi(tmp, self.s_t, offset)
        self.b.op("slli", tmp, tmp, 1)
        self.b.op("vfill", r, tmp)
        self.x.put(tmp)

    def _row_address(self, c, st, idx, out) -> None:
        b = self.b
        stride = self.q.populations[c.target].padded * 2
        sh = _bits(stride)
        if sh is None:
            b.op("mul", out, idx, st["stride"])
        else:
            b.op("slli", out, idx, sh)
        b.op("add", out, out, st["row"])

    def _conn_body(self, c: QConnection, st: dict, idx: str) -> None:
        b, x, v = self.b, self.x, self.v
        tgt = self.q.populations[c.target]
        lay = self.layout[tgt.name]
        if c.sparse:
            self._sparse_body(c, st, idx, tgt)
            return
        row = x.get("row")
        self._row_address(c, st, idx, row)
        self._dense_row(c, st, row)
        x.put(row)

    def _dense_row(self, c: QConnection, st: dict, row: str) -> None:
        """Add the dense row at VMEM address ``row`` (advanced by the loops) to the
        target's accumulator."""
        b, x, v = self.b, self.x, self.v
        tgt = self.q.populations[c.target]
        lay = self.layout[tgt.name]
        if c.mode == "direct" and c.group in lay.resident:
            w = [v.get("weight a"), v.get("weight b")]
            for k, acc in enumerate(lay.resident[c.group]):
                b.op("vloadv", w[k % 2], VEC * k, row)
                b.op("vadd_s", acc, acc, w[k % 2])
            v.put(*w)
        elif c.mode == "direct":
            self._dense_vmem_accumulate(c, row, lay, tgt)
        else:
            D = tgt.ring_depth
            vw, vd, va, vacc = v.get("weight"), v.get("delay"), v.get("address"), v.get("acc")
            drow, xb, end = x.get("delay row"), x.get("ring row"), x.get("row end")
            b.op("add", drow, row, st["doff"])
            b.op("addi", xb, st["ring"], 0)
            self._addi(end, row, tgt.padded * 2)
            lab = b.new_label("chunk")
            b.label(lab)
            b.op("vloadv", vw, 0, row)
            b.op("vloadv", vd, 0, drow)
            b.op("addi", row, row, VEC)
            if D > 1:
                b.op("vadd", vd, vd, st["vT"])
            b.op("vandadd", va, vd, xb, (2 * D - 1).bit_length(), comment="slot (t+offset+d) mod D")
            b.op("vloadl", vacc, 0, va)
            b.op("addi", drow, drow, VEC)
            b.op("vadd_s", vacc, vacc, vw)
            b.op("vstorel", vacc, 0, va)
            self._addi(xb, xb, 2 * D)
            b.op("bne", row, end, lab)
            v.put(vw, vd, va, vacc)
            x.put(drow, xb, end)

    def _dense_vmem_accumulate(self, c: QConnection, row: str, lay: PopLayout, tgt: QPopulation) -> None:
        """acc[k] += row[k] for every chunk k, accumulators in VMEM (state stride apart):
        4 instructions per 32 synapses, unrolled ``opt.unroll`` times, two register
        pairs in turn so that no add follows the load it reads."""
        b, x, v = self.b, self.x, self.v
        stride = lay.stride
        U = max(1, min(self.opt.unroll, tgt.chunks, 2048 // stride, 32))
        w, a = (v.get("weight a"), v.get("weight b")), (v.get("acc a"), v.get("acc b"))
        ptr, end = x.get("acc ptr"), x.get("row end")
        b.li(ptr, lay.state.offset + lay.offsets[f"acc{suffix(c.group)}"])
        self._addi(end, row, tgt.padded * 2)

        def block(n: int) -> None:
            def load(k):
                b.op("vloadv", w[k % 2], VEC * k, row)
                b.op("vloadv", a[k % 2], stride * k, ptr)

            def add_store(k):
                b.op("vadd_s", a[k % 2], a[k % 2], w[k % 2])
                b.op("vstorev", a[k % 2], stride * k, ptr)

            load(0)
            for k in range(1, n):
                load(k)
                add_store(k - 1)
            b.op("addi", row, row, VEC * n)
            add_store(n - 1)
            self._addi(ptr, ptr, stride * n)

        rest = tgt.chunks % U
        if rest:
            block(rest)
        if tgt.chunks >= U:
            lab = b.new_label("chunks")
            b.label(lab)
            block(U)
            b.op("bne", row, end, lab)
        v.put(*w, *a)
        x.put(ptr, end)

    def _sparse_body(self, c: QConnection, st: dict, idx: str, tgt: QPopulation) -> None:
        b, x, v = self.b, self.x, self.v
        D = tgt.ring_depth
        ent, col, end = x.get("row entry"), x.get("column"), x.get("column end")
        b.op("slli", ent, idx, 2)
        b.op("add", ent, ent, st["row"])
        b.op("lw", col, 0, ent)
        b.op("lw", end, 4, ent)
        self._sparse_columns(c, st, col, end, tgt)
        x.put(ent, col, end)

    def _sparse_columns(self, c: QConnection, st: dict, col: str, end: str, tgt: QPopulation) -> None:
        """Deliver the packed ELL columns at VMEM [col, end) (``col`` advances)."""
        b, v = self.b, self.v
        D = tgt.ring_depth
        done, lab = b.new_label("row_done"), b.new_label("column")
        b.op("beq", col, end, done)
        if c.constant_weight is not None:
            # words are LLM addresses (unused lanes -1: skipped), the weight a register;
            # two columns per iteration so that no add follows the load it reads
            p, a = (v.get("address a"), v.get("address b")), (v.get("acc a"), v.get("acc b"))
            odd = b.new_label("last_column")
            b.label(lab)
            b.op("vloadv", p[0], 0, col)
            b.op("addi", col, col, VEC)
            b.op("vloadl", a[0], 0, p[0])
            b.op("beq", col, end, odd)
            b.op("vloadv", p[1], 0, col)
            b.op("vadd_s", a[0], a[0], st["vw"])
            b.op("addi", col, col, VEC)
            b.op("vloadl", a[1], 0, p[1])
            b.op("vstorel", a[0], 0, p[0])
            b.op("vadd_s", a[1], a[1], st["vw"])
            b.op("vstorel", a[1], 0, p[1])
            b.op("bne", col, end, lab)
            b.op("jal", "zero", done)
            b.label(odd)
            b.op("vadd_s", a[0], a[0], st["vw"])
            b.op("vstorel", a[0], 0, p[0])
            b.label(done)
            v.put(*p, *a)
            return
        vp, va, vacc, vw = v.get("packed"), v.get("address"), v.get("acc"), v.get("weight")
        b.label(lab)
        b.op("vloadv", vp, 0, col)
        b.op("addi", col, col, VEC)
        if D > 1:
            vr = v.get("row part")
            b.op("vadd", va, vp, st["vT"])
            b.op("vandadd", va, va, st["ring"], (2 * D - 1).bit_length(), comment="slot (t+offset+d) mod D")
            b.op("vand", vr, vp, st["vrow"])
            b.op("vadd", va, va, vr)
            v.put(vr)
        else:
            b.op("vandadd", va, vp, st["ring"], c.index_bits, comment="target address in the lane")
        b.op("vloadl", vacc, 0, va)
        b.op("vand", vw, vp, st["vhi"], comment="weight bits")
        b.op("vadd_s", vacc, vacc, vw)
        b.op("vstorel", vacc, 0, va)
        b.op("bne", col, end, lab)
        b.label(done)
        v.put(vp, va, vacc, vw)

    # ------------------------------------------------------------------ neuron update
    def _emit_update(self, p: QPopulation) -> None:
        b, x, v, q = self.b, self.x, self.v, self.q
        lay = self.layout[p.name]
        consts: dict[str, str] = {}
        held_v: list[str] = []

        def const(name: str, value: int) -> str:
            if name not in consts:
                consts[name] = v.get(f"{p.name} {name}")
                held_v.append(consts[name])
                b.op("vlui", consts[name], int(value) & 0xFFFF)
            return consts[name]

        for k, a in p.params.items():
            if k not in lay.params_vector and not (k == "bias" and not a.any()):
                const(k, a[0])
        if p.kind != "LI":
            if p.refractory > 0:
                const("one", 1)
                const("R", p.refractory)
            if p.kind == "ALIF":
                const("oneA", 1 << p.a_fmt.frac_bits)
        if p.readout == "spike_count":
            const("one", 1)
        held_x = []
        xs = x.get(f"{p.name} state ptr")
        held_x.append(xs)
        b.li(xs, lay.state.offset)
        vslot = None
        if p.ring_depth:
            vslot = v.get(f"{p.name} ring slot")
            held_v.append(vslot)
            tmp = x.get("tmp")
            b.op("andi", tmp, self.s_t, p.ring_depth - 1)
            b.op("slli", tmp, tmp, 1)
            b.op("vfill", vslot, tmp, comment="this step's ring slot (+ ring base + row as offsets)")
            x.put(tmp)
        xspk = None
        if p.spiking:
            xspk = x.get(f"{p.name} spike ptr")
            held_x.append(xspk)
            b.li(xspk, lay.spikes.offset)
        last_mask = None
        if p.spiking and p.size % LANES:
            last_mask = x.get("last word mask")
            held_x.append(last_mask)
            b.li(last_mask, (1 << (p.size % LANES)) - 1)
        unrolled = bool(lay.resident) or p.chunks <= 4
        if unrolled:
            bump = (p.chunks - 1) * lay.stride + lay.stride > 2048    # offsets beyond 12 bits
            for c in range(p.chunks):
                if bump and c:
                    self._addi(xs, xs, lay.stride)
                self._update_chunk(p, consts, xs, 0 if bump else c * lay.stride, vslot, 2 * p.ring_depth * c,
                                   xspk, 4 * c, VEC * c, c, last_mask if c == p.chunks - 1 else None)
            for key, step in ((f"{p.name}.v", 2 * p.padded), (f"{p.name}.spikes", 4 * p.words)):
                if key in self.rec_ptr:
                    self._addi(self.rec_ptr[key], self.rec_ptr[key], step)
        else:
            xend = x.get("state end")
            b.li(xend, lay.state.end)
            lab = b.new_label(f"{p.name}_chunk")
            vstep = None
            if vslot is not None:
                vstep = v.get("ring row step")
                b.op("vlui", vstep, 2 * p.ring_depth)
            b.label(lab)
            self._update_chunk(p, consts, xs, 0, vslot, 0, xspk, 0, 0, None, None)   # (no resident accumulators)
            self._addi(xs, xs, lay.stride)
            if xspk:
                b.op("addi", xspk, xspk, 4)
            if vslot is not None:
                b.op("vadd", vslot, vslot, vstep)
            for key, step in ((f"{p.name}.v", VEC), (f"{p.name}.spikes", 4)):
                if key in self.rec_ptr:
                    self._addi(self.rec_ptr[key], self.rec_ptr[key], step)
            b.op("bne", xs, xend, lab)
            if last_mask is not None:
                t0 = x.get("tmp")
                b.op("lw", t0, -4, xspk)
                b.op("and", t0, t0, last_mask, comment="drop padding lanes")
                b.op("sw", t0, -4, xspk)
                if f"{p.name}.spikes" in self.rec_ptr:
                    b.op("sw", t0, -4, self.rec_ptr[f"{p.name}.spikes"])
                x.put(t0)
            x.put(xend)
            if vstep:
                v.put(vstep)
        x.put(*held_x)
        v.put(*held_v)

    def _update_chunk(self, p, consts, xs, soff, vslot, ring_off, xspk, spk_off, rec_off, chunk, last_mask):
        """One 32-neuron chunk; ``chunk``: its index when unrolled (register-resident
        accumulators are per chunk), None inside the chunk loop."""
        b, x, v, q = self.b, self.x, self.v, self.q
        lay = self.layout[p.name]
        sat = "_s" if p.saturate else ""
        rnd = ROUND_SUFFIX[q.round_code]
        mul = "vmul" + sat + rnd
        add = "vadd" + sat
        temps: list[str] = []
        loaded: dict[str, str] = {}

        def tmpv(name):
            r = v.get(name)
            temps.append(r)
            return r

        def par(name):
            if name in consts:
                return consts[name]
            if name not in loaded:
                loaded[name] = tmpv(name)
                b.op("vloadv", loaded[name], soff + lay.offsets[name], xs)
            return loaded[name]

        def off(var):
            return soff + lay.offsets[var]

        V = tmpv("V")
        b.op("vloadv", V, off("V"), xs)
        I = {}
        for k in p.exp_groups:
            I[k] = tmpv(f"I{suffix(k)}")
            b.op("vloadv", I[k], off(f"I{suffix(k)}"), xs)
        inp: dict[int, str | None] = {}
        resident = []
        for k, g in enumerate(p.synapses):
            val = None
            if k in lay.resident:
                val = lay.resident[k][chunk]
                resident.append(val)
            elif g.has_direct:
                val = tmpv(f"input{suffix(k)}")
                b.op("vloadv", val, off(f"acc{suffix(k)}"), xs)
                b.op("vstorev", self.vzero, off(f"acc{suffix(k)}"), xs)
            if g.has_ring:
                r = tmpv(f"ring input{suffix(k)}")
                b.op("vloadl", r, ring_off + lay.ring_base[k], vslot)
                b.op("vstorel", self.vzero, ring_off + lay.ring_base[k], vslot)
                if val is not None:
                    s = tmpv(f"input sum{suffix(k)}")
                    b.op("vadd_s", s, val, r)
                    val = s
                else:
                    val = r
            inp[k] = val
        has_bias = bool(p.params["bias"].any())
        for k in p.exp_groups:
            b.op(mul, I[k], I[k], par(f"alpha{suffix(k)}"), DECAY_SHIFT)
            if inp[k] is not None:
                b.op(add, I[k], I[k], inp[k])
            if has_bias and k == p.bias_group:
                b.op(add, I[k], I[k], par("bias"))
        b.op(mul, V, V, par("beta"), DECAY_SHIFT)
        for k in p.exp_groups:
            b.op(add, V, V, I[k])
        for k, g in enumerate(p.synapses):
            if g.kind == "delta" and inp[k] is not None:
                b.op(add, V, V, inp[k])
        if has_bias and p.bias_group is None:
            b.op(add, V, V, par("bias"))
        for acc in resident:
            b.op("vlui", acc, 0, comment="accumulator ready for the next step")
        xz = None
        if p.kind != "LI":
            xz = x.get("spike mask")
            if p.refractory > 0:
                rc = tmpv("rc")
                xh = x.get("refractory mask")
                b.op("vloadv", rc, off("rc"), xs)
                b.op("vsub_s", rc, rc, consts["one"])
                b.op("vtge", xh, rc, self.vzero, comment="refractory: rc >= 0")
                b.op("vsel", V, xh, par("reset"), comment="held at v_reset")
                x.put(xh)
            thr = par("thr")
            if p.kind == "ALIF":
                A = tmpv("A")
                t = tmpv("threshold")
                b.op("vloadv", A, off("A"), xs)
                b.op(mul, t, A, par("badapt"), p.badapt_shift)
                b.op(add, t, t, thr)
                thr = t
            b.op("vtlt", xz, thr, V, comment="spike: V > threshold")
            b.op("vsel", V, xz, par("reset"))
            if p.refractory > 0:
                b.op("vsel", rc, xz, consts["R"])
                b.op("vstorev", rc, off("rc"), xs)
            if p.kind == "ALIF":
                b.op(mul, A, A, par("rho"), DECAY_SHIFT)
                t2 = tmpv("A+1")
                b.op(add, t2, A, consts["oneA"])
                b.op("vsel", A, xz, t2)
                b.op("vstorev", A, off("A"), xs)
        if p.readout:
            ro = tmpv("readout")
            b.op("vloadv", ro, off("ro"), xs)
            if p.readout == "v_sum":
                term = V
                if p.readout_shift:
                    term = tmpv("V shifted")
                    b.op("vsrai" + ROUND_SUFFIX[readout_round(q)], term, V, p.readout_shift)
                b.op("vadd_s", ro, ro, term)
            elif p.readout == "v_max":
                xm = x.get("max mask")
                b.op("vtlt", xm, ro, V)
                b.op("vsel", ro, xm, V)
                x.put(xm)
            else:
                t3 = tmpv("count+1")
                b.op("vadd_s", t3, ro, consts["one"])
                b.op("vsel", ro, xz, t3)
            b.op("vstorev", ro, off("ro"), xs)
        b.op("vstorev", V, off("V"), xs)
        for k, reg in I.items():
            b.op("vstorev", reg, off(f"I{suffix(k)}"), xs)
        if f"{p.name}.v" in self.rec_ptr:
            b.op("vstorev", V, rec_off, self.rec_ptr[f"{p.name}.v"])
        if xz is not None:
            if last_mask is not None:
                b.op("and", xz, xz, last_mask, comment="drop padding lanes")
            b.op("sw", xz, spk_off, xspk)
            if f"{p.name}.spikes" in self.rec_ptr:
                b.op("sw", xz, spk_off, self.rec_ptr[f"{p.name}.spikes"])
            x.put(xz)
        v.put(*temps)

    # ------------------------------------------------------------------ outputs
    def _images(self, asm: Assembled) -> dict[str, bytes]:
        imem = b"".join(w.to_bytes(4, "little") for w in asm.words)
        dmem = bytearray(self.plan.used["dmem"])
        vmem = bytearray(-(-self.plan.used["vmem"] // VEC) * VEC)
        for off, data in self.dmem_data:
            dmem[off:off + len(data)] = data
        for off, data in self.vmem_data:
            vmem[off:off + len(data)] = data
        dmem[CTRL["init"]:CTRL["init"] + 4] = (1).to_bytes(4, "little")
        images = {"imem": imem, "dmem": bytes(dmem), "vmem": bytes(vmem)}
        if self.dram_data:
            dram = bytearray(self.plan.used["dram"])
            for off, data in self.dram_data:
                dram[off:off + len(data)] = data
            images["dram"] = bytes(dram)
        return images

    def _io_map(self) -> dict:
        q = self.q
        io = {"control": dict(CTRL), "window": self.window, "inputs": {}, "records": {}, "readouts": {},
              "state": {}, "dram_base": self.opt.sizes.dram_base,
              "dram_regions": {r.name: [self.opt.sizes.dram_base + r.offset, r.size,
                                        sorted(n for n, regs in self.conn_regions.items()
                                               if regs.get("dram") is r)]
                               for r in self.plan.regions if r.memory == "dram"}}
        for p in q.populations.values():
            lay = self.layout[p.name]
            if p.kind == "input":
                io["inputs"][p.name] = {"memory": "dmem", "addr": self.windows[f"{p.name}.input"].offset,
                                        "words": p.words, "size": p.size}
                continue
            io["state"][p.name] = {"addr": lay.state.offset, "stride": lay.stride, "chunks": p.chunks,
                                   "size": p.size, "offsets": lay.offsets}
            if p.readout:
                io["readouts"][p.name] = {"memory": "vmem", "addr": lay.state.offset + lay.offsets["ro"],
                                          "stride": lay.stride, "chunks": p.chunks, "size": p.size,
                                          "kind": p.readout}
        for key, r in self.windows.items():
            if key.endswith(".input"):
                continue
            name, var = key.rsplit(".", 1)
            p = q.populations[name]
            if var == "spikes":
                io["records"][key] = {"memory": "dmem", "addr": r.offset, "words": p.words, "size": p.size}
            else:
                io["records"][key] = {"memory": "vmem", "addr": r.offset, "row_bytes": 2 * p.padded,
                                      "size": p.size}
        return io


def _fused_runs(streamed: list[QConnection]) -> list[list[QConnection]]:
    """Streamed dense connections whose rows share one DRAM row: within one pass over
    a source (placement.fuse_key), runs of dense ones that no streamed sparse one
    separates in definition order (the pass consumes DRAM rows in that order)."""
    runs: list[list[QConnection]] = []
    for key in dict.fromkeys(fuse_key(c) for c in streamed):
        cur: list[QConnection] = []
        for c in (c for c in streamed if fuse_key(c) == key):
            if c.sparse:
                runs.append(cur)
                cur = []
            else:
                cur.append(c)
        runs.append(cur)
    return [r for r in runs if r]


def _ell_note(c: QConnection) -> str:
    if c.constant_weight is not None:
        return f"addresses only, weight {c.constant_weight}"
    return f"{c.index_bits} index bits"


def compile_network(qnet: QNetwork, options: CompileOptions | None = None) -> Compiled:
    return CodeGenerator(qnet, options).generate()
