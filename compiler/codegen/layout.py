"""The memory plan of a program: every buffer placed (compiler/memory.py), the
connections' weights placed in VMEM or DRAM (compiler/placement.py), and the
initial contents of DMEM, VMEM and DRAM; the result is a frozen
:class:`ProgramLayout` that the code generator's other parts only read.

Also the machine sizes and compile options (``MachineSizes``, ``CompileOptions``)
and the DMEM control block of the FeNN ABI (``CONTROL``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from fenn_dma.arch import DEFAULT_SPEC, LLM_OFFSET_LIMIT, ROW_BYTES, MachineSpec

from fenn_dma.isa.csrs import DMA_ALIGN

from ..errors import ModelError, ResourceError
from ..memory import MemoryPlan, Region
from ..placement import (ConnectionData, PlacementRequest, buffer_bytes, choose_placements, connection_data,
                         fuse_key)
from ..quantise import LANES, QConnection, QNetwork, QPopulation, suffix
from ..schedule import Group
from .delay_ring_layout import check_vmem_fits, choose_ring_memory, plan_rings, slot_vectors, vmem_ring_bytes

# DMEM control block (word 0 is the host/firmware "ready" flag of the FeNN ABI).
# dma_status / dma_src: written by the firmware before it stops with ebreak on a
# DMA error (the MM2S status word and the DRAM address of the failed transfer).
@dataclass(frozen=True)
class ControlBlock:
    """Byte offsets of the control words in DMEM."""

    ready: int = 0
    steps: int = 4
    init: int = 8
    t: int = 12
    dma_status: int = 16
    dma_src: int = 20

    def offsets(self) -> dict[str, int]:
        """``{word: offset}``, as the I/O map's ``control`` entry."""
        return asdict(self)


CONTROL = ControlBlock()
CTRL = CONTROL.offsets()      # (the same as a dict, for the I/O map and importers)
CTRL_SIZE = 64
# Most rows of consecutive spiking sources that one transfer of the prefetched pass brings
# (buffer room permitting; below 32, the spike-word shift that takes a run). Longer runs
# expose their first transfer beyond what the prefetch overlaps: the 2560-target kernel of
# benchmarks/va_benchmark.py (8 inputs spiking, 4 MiB VMEM) takes 4.84 / 4.51 / 4.42 / 4.36
# / 4.74 / 6.20 cycles per 32 synapses at ddr4 with runs of up to 1 / 2 / 3 / 4 / 5 / 8 rows.
STREAM_RUN = 4
VEC = ROW_BYTES  # bytes per vector


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


RECORD_MEMORIES = ("auto", "vmem", "dram")


@dataclass
class CompileOptions:
    window: int = 1024            # most steps per run call (input and record buffers)
    # Where V records collect (docs/compiler.md "Records in DRAM"): "vmem", a window of
    # rows in VMEM; "dram", two VMEM rows sets that S2MM copies to a DRAM window step by
    # step; "auto", DRAM on a machine with the DMA when VMEM would shorten the window.
    record_memory: str = "auto"
    resident_registers: int = 12  # vector registers for register-resident accumulators
    unroll: int = 8               # chunks per iteration of the dense VMEM-accumulator loop
    delay_ring: str = "auto"      # delay rings in "llm", "vmem" or "auto" (codegen/delay_ring.py)
    sizes: MachineSizes = field(default_factory=MachineSizes)


@dataclass(frozen=True)
class PopLayout:
    """Where one population's state lives."""

    state: Region | None = None               # per-chunk state block (VMEM); None for inputs
    stride: int = 0                           # bytes per chunk in the state block
    offsets: dict[str, int] = field(default_factory=dict)   # variable -> byte offset in a chunk's block
    dynamic: tuple[str, ...] = ()             # offsets zeroed at init
    params_vector: tuple[str, ...] = ()       # per-neuron parameters stored in the block
    spikes: Region | None = None              # current spike words (DMEM)
    ring_base: dict[int, int] = field(default_factory=dict)            # ring per synapse group (LLM or VMEM)
    ring_memory: str = "llm"                  # where the rings are: "llm" | "vmem" (codegen/delay_ring.py)
    resident: dict[int, tuple[str, ...]] = field(default_factory=dict)  # owner names of register-resident
    #                                                                     accumulators per group (one per chunk)


@dataclass(frozen=True)
class ConnectionLayout:
    """Where one connection's weights live (the fields its placement uses)."""

    weights: Region | None = None             # VMEM dense rows
    delays: Region | None = None              # VMEM dense rows of 2 x delay (ring mode)
    columns: Region | None = None             # VMEM packed ELL columns (sparse)
    rows: Region | None = None                # DMEM column start per source (sparse, VMEM)
    counts: Region | None = None              # DMEM used columns per source row (sparse, DRAM)
    dram: Region | None = None                # DRAM rows (a dense one shares its fused row region)
    row_offset: int = 0                       # bytes into the fused DRAM row (dense, DRAM)
    stream_unit: str | None = None            # streamed: the first connection of its DRAM row


@dataclass(frozen=True)
class RecordWindow:
    population: str
    var: str                                  # "spikes" | "v"
    region: Region                            # the window (DMEM, VMEM), or the VMEM slots of a DRAM record
    dram: Region | None = None                # DRAM record: the window S2MM fills, one row set per step
    dram_ptr: Region | None = None            # ... and the DMEM word holding its next DRAM address

    @property
    def slot(self) -> int:                    # DRAM record: bytes per VMEM slot (a step, with its tail)
        return self.region.size // 2

    @property
    def key(self) -> str:                     # the record's public name (runtime, io map)
        return f"{self.population}.{self.var}"


@dataclass(frozen=True)
class ProgramLayout:
    plan: MemoryPlan                          # (the code generator adds the "code" region at the end)
    populations: dict[str, PopLayout]
    connections: dict[str, ConnectionLayout]
    window: int                               # steps per run call
    inputs: dict[str, Region]                 # input population -> its window of spike words (DMEM)
    records: tuple[RecordWindow, ...]         # spike records, then V records (the order of their pointers)
    dma_buffers: tuple[int, int] | None       # VMEM ping-pong buffers of streamed rows
    dmem_data: tuple[tuple[int, bytes], ...]  # initial contents (offset, bytes)
    vmem_data: tuple[tuple[int, bytes], ...]
    dram_data: tuple[tuple[int, bytes], ...]
    delay_rings: tuple = ()                   # codegen/delay_ring.RingPass per pass onto a VMEM ring
    ring_buffers: tuple[int, int] | None = None   # their VMEM ping-pong row buffers

    def record(self, population: str, var: str) -> RecordWindow | None:
        for r in self.records:
            if r.population == population and r.var == var:
                return r
        return None


def plan_layout(qnet: QNetwork, options: CompileOptions) -> ProgramLayout:
    """Place every buffer of the program (``qnet``'s connections get their final
    ``placement``); raises ResourceError when something does not fit."""
    return _Planner(qnet, options).run()


class _Planner:
    def __init__(self, qnet: QNetwork, options: CompileOptions):
        self.q = qnet
        self.opt = options
        s = options.sizes
        self.plan = MemoryPlan({"imem": s.imem, "dmem": s.dmem, "vmem": s.vmem, "llm": s.llm, "dram": s.dram})
        self.pops: dict[str, PopLayout] = {p: PopLayout() for p in qnet.populations}
        self.conns: dict[str, ConnectionLayout] = {}
        self.vmem_data: list[tuple[int, bytes]] = []
        self.dmem_data: list[tuple[int, bytes]] = []
        self.dram_data: list[tuple[int, bytes]] = []
        self.dma_buffers: tuple[int, int] | None = None
        self.delay_rings: tuple = ()                      # (codegen/delay_ring_layout.py)
        self.ring_buffers: tuple[int, int] | None = None

    def _set_pop(self, name: str, **changes) -> None:
        self.pops[name] = replace(self.pops[name], **changes)

    def run(self) -> ProgramLayout:
        q, plan = self.q, self.plan
        plan.place("dmem", "control", CTRL_SIZE, note="ready, steps, init, t, DMA error")
        n_rec = sum(len(p.record) for p in q.populations.values())
        plan.place("dmem", "spill", 4 * max(n_rec, 1), note="record pointers during long passes")
        spiking = [p for p in q.populations.values() if p.spiking]
        for p in spiking:
            self._set_pop(p.name, spikes=plan.place("dmem", f"{p.name}.spikes", 4 * p.words,
                                                    note="spike words of the latest step"))
        seed = plan.place("vmem", "rng_seed", 2 * VEC, align=VEC, note="Xoroshiro32++ s0, s1")
        self.vmem_data.append((seed.offset, self.q.rng_seed.astype("<u2").tobytes()))
        budget = self.opt.resident_registers
        llm_limit = min(self.opt.sizes.llm, LLM_OFFSET_LIMIT)
        self.ring_memory = choose_ring_memory(q, self.opt.delay_ring, llm_limit)
        for p in q.populations.values():
            if p.is_input:
                continue
            resident: dict[int, tuple[str, ...]] = {}
            # V, the currents, the neuron model's own state (e.g. A, rc), the readout
            dyn = ["V"] + [f"I{suffix(k)}" for k in p.exp_groups] + list(p.state_vars()) \
                + (["ro"] if p.readout else [])
            for k, g in enumerate(p.synapses):
                if g.has_direct and p.chunks <= budget:
                    resident[k] = tuple(f"{p.name}.acc{suffix(k)}.{c}" for c in range(p.chunks))
                    budget -= p.chunks
                elif g.has_direct:
                    dyn.append(f"acc{suffix(k)}")
            values = dict(p.params)
            if p.initial_v is not None:
                values["V0"] = p.initial_v      # copied to V at initialisation
            params = [k for k, a in values.items() if np.unique(a).size > 1]
            names = list(dyn) + params
            offsets = {n: VEC * i for i, n in enumerate(names)}
            stride = VEC * len(names)
            state = plan.place("vmem", f"{p.name}.state", stride * p.chunks, align=VEC,
                               note="per chunk: " + ", ".join(names))
            if params:
                block = np.zeros((p.chunks, len(names), LANES), np.int16)
                for k in params:
                    block[:, names.index(k), :].flat[:p.size] = values[k]
                self.vmem_data.append((state.offset, block.astype("<i2").tobytes()))
            ring_base: dict[int, int] = {}
            memory = self.ring_memory.get(p.name, "llm")
            for k, g in enumerate(p.synapses):
                if g.has_ring and memory == "vmem":
                    ring_base[k] = plan.place("vmem", f"{p.name}.vring{suffix(k)}",
                                              vmem_ring_bytes(p.chunks, p.ring_depth), align=VEC,
                                              note=f"{p.ring_depth} slots x {slot_vectors(p.chunks)} vectors "
                                                   f"({p.chunks} chunks)").offset
                elif g.has_ring:
                    r = plan.place("llm", f"{p.name}.ring{suffix(k)}", p.chunks * 2 * p.ring_depth, align=2,
                                   note=f"{p.ring_depth} slots x {p.chunks} rows per lane")
                    ring_base[k] = r.offset
            self._set_pop(p.name, state=state, stride=stride, offsets=offsets, dynamic=tuple(dyn),
                          params_vector=tuple(params), ring_base=ring_base, resident=resident, ring_memory=memory)
        self._place_connections()
        check_vmem_fits(q, plan, self.ring_memory, llm_limit)
        window, inputs, records = self._place_windows()
        plan.check()
        if plan.used["llm"] > LLM_OFFSET_LIMIT:
            raise ResourceError(f"ring buffers need {plan.used['llm']} bytes per lane; LLM addresses are "
                                f"reached by 12-bit offsets, so at most {LLM_OFFSET_LIMIT} are usable")
        return ProgramLayout(plan, self.pops, self.conns, window, inputs, records, self.dma_buffers,
                             tuple(self.dmem_data), tuple(self.vmem_data), tuple(self.dram_data),
                             self.delay_rings, self.ring_buffers)

    def _place_connections(self) -> None:
        """Weights in VMEM while they fit (or as the connection asks), else in the DRAM
        image, streamed per spike into two VMEM row buffers (compiler/placement.py)."""
        q, plan = self.q, self.plan
        vring = {c.name: c for c in q.connections.values()
                 if c.mode == "ring" and self.pops[c.target].ring_memory == "vmem"}
        self._place_rings(vring)
        data = {c.name: connection_data(c, q.populations[c.target],
                                        self.pops[c.target].ring_base.get(c.group, 0))
                for c in q.connections.values() if c.name not in vring}
        reserve = sum(2 * p.padded for p in q.populations.values() if "v" in p.record)   # one step of V records
        requests = [PlacementRequest(c.name, c.placement, data[c.name].vmem_bytes, data[c.name].row_bytes,
                                     fuse_key(c), c.sparse) for c in q.connections.values() if c.name in data]
        choice = choose_placements(requests, plan.free("vmem") - reserve)
        for c in q.connections.values():
            c.placement = choice.get(c.name, c.placement)
        streamed = [c for c in q.connections.values() if c.placement == "dram" and c.name in data]
        if streamed:
            size = buffer_bytes([r for r in requests if choice[r.name] == "dram"])
            run = self._run_rows(data, requests, choice)
            note = "streamed row" if run is None else f"streamed rows (up to {run[0]} of {run[1]} B)"
            if run is not None:
                size = max(size, run[0] * run[1])
            a = plan.place("vmem", "dma_buffer0", size, align=VEC, note=note + " (ping)")
            bb = plan.place("vmem", "dma_buffer1", size, align=VEC, note=note + " (pong)")
            self.dma_buffers = (a.offset, bb.offset)
        for c in q.connections.values():
            if c.name in data:
                self.conns[c.name] = self._place_connection(c, data[c.name])
        for fused in _fused_runs(streamed):     # dense rows streamed one after the other: one transfer
            rows = np.concatenate([data[c.name].dense_rows() for c in fused], axis=1)
            region = plan.place("dram", "+".join(c.name for c in fused) + ".rows", rows.nbytes, align=VEC,
                                note=f"{rows.shape[0]} rows x {rows.shape[1] * 2} B: "
                                     + " | ".join(c.name + (" (weights | 2 x delays)" if c.mode == "ring" else "")
                                                  for c in fused))
            self.dram_data.append((region.offset, rows.astype("<i2").tobytes()))
            off = 0
            for c in fused:
                self.conns[c.name] = replace(self.conns[c.name], dram=region, row_offset=off,
                                              stream_unit=fused[0].name)
                off += data[c.name].row_bytes

    def _run_rows(self, data: dict[str, ConnectionData], requests: list[PlacementRequest],
                  choice: dict[str, str]) -> tuple[int, int] | None:
        """(rows, bytes per row) that one transfer of the prefetched pass may bring when
        its sources spike one after the other (codegen/streaming.py), or None: the pass
        must stream one dense DRAM row per spike, and the buffers of ``rows`` rows must
        fit VMEM beside the weights and a whole window of V records (so that the
        window does not shrink)."""
        pf = prefetched_pass(self.q)
        if pf is None:
            return None
        conns = [self.q.connections[n] for n in pf[0].connections]
        streamed = [c for c in conns if c.placement == "dram"]
        if any(c.sparse for c in streamed) or len(_fused_runs(streamed)) != 1:
            return None
        row = sum(data[c.name].row_bytes for c in streamed)
        weights = sum(-(-r.vmem_bytes // VEC) * VEC for r in requests if choice[r.name] == "vmem")
        vmem_step, vmem_slack = self._vmem_record_step()
        spare = self.plan.free("vmem") - weights - self.opt.window * vmem_step - vmem_slack
        rows = min(STREAM_RUN, spare // (2 * row))
        return (rows, row) if rows >= 2 else None

    def _vmem_record_step(self) -> tuple[int, int]:
        """VMEM bytes of V records per step, and the slack after the last (_place_windows)."""
        rec_v = [p for p in self.q.populations.values() if "v" in p.record]
        return (sum(VEC * p.recorded_chunks("v") for p in rec_v),
                sum(VEC * (p.chunks - p.recorded_chunks("v")) for p in rec_v))

    def _place_rings(self, conns: dict[str, QConnection]) -> None:
        """The rows of the connections onto VMEM rings (codegen/delay_ring_layout.py)."""
        base = {p: lay.ring_base for p, lay in self.pops.items() if lay.ring_memory == "vmem"}
        passes, self.ring_buffers, dram, dmem = plan_rings(self.q, self.plan, base)
        self.delay_rings = passes
        self.dram_data.extend(dram)
        self.dmem_data.extend(dmem)
        for rp in passes:
            for n in rp.connections:
                self.conns[n] = ConnectionLayout(dram=rp.rows)

    def _place_connection(self, c: QConnection, d: ConnectionData) -> ConnectionLayout:
        tgt = self.q.populations[c.target]
        plan = self.plan
        if c.placement == "dram":
            if c.sparse:
                dram = plan.place("dram", f"{c.name}.columns", d.dram_bytes, align=VEC,
                                  note=f"{c.exists.shape[0]} rows x {d.layout.max_columns} ELL columns, "
                                       + _ell_note(c))
                self.dram_data.append((dram.offset, d.layout.padded_rows().astype("<i2").tobytes()))
                counts = d.layout.counts.astype("<u1" if d.count_bytes == 1 else "<u2")
                regs = plan.place("dmem", f"{c.name}.counts", counts.nbytes, note="used columns per source row")
                self.dmem_data.append((regs.offset, counts.tobytes()))
                return ConnectionLayout(dram=dram, counts=regs, stream_unit=c.name)
            return ConnectionLayout()            # dense: placed per source later (rows fused)
        if not c.sparse:
            rows = d.dense_weights()
            weights = plan.place("vmem", f"{c.name}.weights", rows.nbytes, align=VEC,
                                 note=f"{rows.shape[0]} rows x {tgt.chunks} vectors")
            self.vmem_data.append((weights.offset, rows.astype("<i2").tobytes()))
            delays = None
            if c.mode == "ring":
                dl = d.dense_delays()
                delays = plan.place("vmem", f"{c.name}.delays", dl.nbytes, align=VEC, note="2 x delay per synapse")
                self.vmem_data.append((delays.offset, dl.astype("<i2").tobytes()))
            return ConnectionLayout(weights=weights, delays=delays)
        cols, starts = d.layout.words, d.layout.starts
        columns = plan.place("vmem", f"{c.name}.columns", cols.nbytes, align=VEC,
                             note=f"{cols.shape[0]} ELL columns, " + _ell_note(c))
        base = columns.offset
        self.vmem_data.append((base, cols.astype("<i2").tobytes()))
        table = (base + VEC * starts).astype("<u4")
        rows_r = plan.place("dmem", f"{c.name}.rows", table.nbytes, note="column start per source")
        self.dmem_data.append((rows_r.offset, table.tobytes()))
        return ConnectionLayout(columns=columns, rows=rows_r)

    def _place_windows(self) -> tuple[int, dict[str, Region], tuple[RecordWindow, ...]]:
        q, plan = self.q, self.plan
        ins = [p for p in q.populations.values() if p.is_input]
        rec_s = [p for p in q.populations.values() if "spikes" in p.record]
        rec_v = [p for p in q.populations.values() if "v" in p.record]
        # a record of the first N neurons keeps ceil(N / 32) words (vectors) per step; each step
        # still writes all of them, its tail overwritten by the next step's: a tail of slack
        dmem_step = sum(4 * p.words for p in ins) + sum(4 * p.recorded_chunks("spikes") for p in rec_s)
        dmem_slack = sum(4 * (p.words - p.recorded_chunks("spikes")) for p in rec_s)
        window = self.opt.window
        if dmem_step:
            window = min(window, max(plan.free("dmem") - dmem_slack, 0) // dmem_step)
        in_dram, window = self._v_record_memory(rec_v, window)
        if in_dram:
            # two VMEM slots of a whole step each (S2MM reads one while the next step writes
            # the other) and a DRAM pointer word per record: no VMEM per step
            vmem_step = 0
            if dmem_step:
                window = min(window, max(plan.free("dmem") - dmem_slack - 4 * len(rec_v), 0) // dmem_step)
        else:
            vmem_step, vmem_slack = self._vmem_record_step()
            window = min(window, max(plan.free("vmem") - vmem_slack, 0) // vmem_step) if vmem_step else window
        if window < 1:      # (the VMEM slots of DRAM records: plan.check names an overflow)
            raise ResourceError(f"memory overflow: no room for one step of inputs/records "
                                f"(dmem needs {dmem_step} B per step, {plan.free('dmem')} free; "
                                f"vmem needs {vmem_step} B per step, {plan.free('vmem')} free)")
        inputs = {}
        for p in ins:
            inputs[p.name] = plan.place("dmem", f"{p.name}.input", 4 * p.words * window,
                                        note=f"{window} steps x {p.words} spike words")
        records = []
        for p in rec_s:
            w = p.recorded_chunks("spikes")
            tail = 4 * (p.words - w)
            records.append(RecordWindow(p.name, "spikes", plan.place(
                "dmem", f"{p.name}.spike_record", 4 * w * window + tail,
                note=f"{window} steps x {w} words" + _sample_note(p, "spikes", tail))))
        for p in rec_v:
            c = p.recorded_chunks("v")
            tail = VEC * (p.chunks - c)
            if in_dram:
                slots = plan.place("vmem", f"{p.name}.v_slots", 2 * VEC * p.chunks, align=VEC,
                                   note=f"2 steps x {p.chunks} vectors, copied to DRAM by S2MM")
                dram = plan.place("dram", f"{p.name}.v_record", VEC * c * window, align=DMA_ALIGN,
                                  note=f"{window} steps x {c} vectors" + _sample_note(p, "v"))
                ptr = plan.place("dmem", f"{p.name}.v_record_ptr", 4, note="next DRAM address of the V record")
                records.append(RecordWindow(p.name, "v", slots, dram, ptr))
                continue
            records.append(RecordWindow(p.name, "v", plan.place(
                "vmem", f"{p.name}.v_record", VEC * c * window + tail, align=VEC,
                note=f"{window} steps x {c} vectors" + _sample_note(p, "v", tail))))
        return window, inputs, tuple(records)

    def _v_record_memory(self, rec_v: list[QPopulation], window: int) -> tuple[bool, int]:
        """Whether the V records go to DRAM (CompileOptions.record_memory), and the window
        (``window`` steps at most) DRAM then holds."""
        mode, spec, plan = self.opt.record_memory, self.opt.sizes.machine, self.plan
        if mode not in RECORD_MEMORIES:
            raise ModelError(f"record_memory {mode!r}: allowed are {', '.join(map(repr, RECORD_MEMORIES))}")
        if not rec_v or mode == "vmem":
            return False, window
        names = ", ".join(p.name for p in rec_v)
        if not spec.dma:
            if mode == "dram":
                raise ModelError(f"record_memory 'dram': machine {spec.name!r} has no DMA to copy the V records "
                                 f"of {names} to DRAM (choose 'vmem' or a machine with dma = True)")
            return False, window
        dram_step = sum(VEC * p.recorded_chunks("v") for p in rec_v)
        in_dram = min(window, max(plan.free("dram") - -plan.used["dram"] % DMA_ALIGN, 0) // dram_step)
        slots = sum(2 * VEC * p.chunks for p in rec_v)
        if mode == "dram":
            if in_dram < 1:
                raise ResourceError(f"record_memory 'dram': the V records of {names} need {dram_step} B of DRAM "
                                    f"per step, {plan.free('dram')} B are free")
            return True, in_dram
        in_vmem = max(plan.free("vmem") - sum(VEC * (p.chunks - p.recorded_chunks("v")) for p in rec_v), 0) \
            // dram_step
        # auto: DRAM where it gives the longer window (fewer calls; on a board, records read
        # from the DMA buffer instead of word by word through the host port's VMEM window)
        if in_vmem < window and in_dram > in_vmem and plan.free("vmem") >= slots:
            return True, in_dram
        return False, window

def _sample_note(p: QPopulation, var: str, tail: int | None = None) -> str:
    n = p.recorded(var)
    return f" (neurons 0..{n - 1} of {p.size}{'' if tail is None else f'; {tail} B tail'})" if n < p.size else ""


def prefetched_pass(q: QNetwork) -> tuple[Group, bool] | None:
    """The step's one pass with streamed rows, when exactly one has them (nothing else then
    uses the MM2S channel or the row buffers between its passes), and whether it comes
    before the point where its source's next spikes are known (its input step or update):
    then that point prepares the next step's pass (codegen/streaming.py ``Prefetch``)."""
    sch = q.schedule
    placed = [(g, None) for g in sch.phase1] + [(g, name) for name in sch.order for g in sch.before_update[name]]
    streamed = [(g, name) for g, name in placed
                if any(q.connections[c].placement == "dram" for c in g.connections)]
    if len(streamed) != 1:
        return None
    g, before = streamed[0]
    return g, before is None or sch.order.index(before) <= sch.order.index(g.source)


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
