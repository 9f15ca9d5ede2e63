"""The neuron-update driver: per population, the constants and pointers of its
update (``emit_update``), then the update of each 32-neuron chunk
(``update_chunk``, unrolled or in a loop): load the state, take the synaptic
input (register-resident or VMEM accumulators, ring slot), integrate, spike,
reset, readout, store; spike words and records.

The part common to every neuron model (synaptic input, currents, bias, readout,
spike words and records) is :meth:`UpdateDriver.update_chunk`; the model's own
part comes from its unit (compiler/neurons): ``emit_leak`` before the input is
added, ``emit_fire`` after it, both through :class:`ChunkCode`, which implements
the units' ``UpdateEmitter`` interface on the emitter (codegen/emitter.py): ``op``
for instructions, chunk temporaries (freed when the chunk is done), ``par`` /
``const`` for parameters and the population's constant registers (the unit's
``constants``), ``load`` / ``store`` for state variables of the chunk's block.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from fenn_dma.isa.table import ROUND_SUFFIX

from ..neurons import UpdateEmitter

from ..quantise import DECAY_SHIFT, LANES, QNetwork, QPopulation, suffix
from ..reference import readout_round
from .control import ProgramRegisters
from .emitter import Emitter, Scope
from .delay_ring_layout import slot_vectors
from .layout import VEC, PopLayout, ProgramLayout


@dataclass(frozen=True)
class ChunkArgs:
    """Where one chunk's update finds its data (``chunk``: its index when
    unrolled, for the register-resident accumulators; None inside the chunk loop)."""

    p: QPopulation
    consts: dict[str, str]        # parameter / constant name -> vector register holding it
    state: str                    # scalar: the state block pointer
    state_offset: int             # bytes from ``state`` to this chunk's block
    ring_slot: str | None         # vector: this step's ring slot (+ ring base + row as offsets)
    ring_offset: int              # bytes added to the ring slot for this chunk's ring row
    spikes: str | None            # scalar: the spike word pointer
    spike_offset: int             # bytes from ``spikes`` to this chunk's word
    record_offset: int            # bytes from the V record pointer to this chunk's vector
    chunk: int | None
    last_mask: str | None         # scalar: the valid lanes of the last spike word (last chunk only)
    vring: dict[int, str] = field(default_factory=dict)   # synapse group -> scalar: this step's VMEM ring
    #                                                       slot (chunk 0, or this chunk's in the loop)


class ChunkCode(UpdateEmitter):
    """The emitter interface of one chunk's update code (the neuron units'
    ``UpdateEmitter``): instructions (``op``), vector and scalar temporaries of the
    chunk (``tmp``/``vtemp`` / ``xtmp``/``scalar_keep``, freed when the chunk is
    done; ``scalar``: a scalar for a block), parameters (``par``: the population's
    constant register, or the chunk's per-neuron values loaded once), state
    variables (``off``: byte offset in the chunk's block from ``args.state``;
    ``load`` / ``store``), multiplies and adds with the population's saturation and
    rounding (``mul`` / ``add``; their mnemonics ``mul_op`` / ``add_op``) and a zero vector."""

    def __init__(self, em: Emitter, scope: Scope, args: ChunkArgs, lay: PopLayout, round_code: int, zero: str):
        self.em, self.scope, self.args, self.lay = em, scope, args, lay
        sat = "_s" if args.p.saturate else ""
        self.mul_op = "vmul" + sat + ROUND_SUFFIX[round_code]
        self.add_op = "vadd" + sat
        self.zero = zero
        self._loaded: dict[str, str] = {}

    def op(self, mnemonic: str, *operands, comment: str = "") -> None:
        self.em.op(mnemonic, *operands, comment=comment or "")

    def mul(self, dst: str, a: str, b: str, shift: int | None = None) -> None:
        self.op(self.mul_op, dst, a, b, DECAY_SHIFT if shift is None else shift)

    def add(self, dst: str, a: str, b: str) -> None:
        self.op(self.add_op, dst, a, b)

    def tmp(self, name: str) -> str:
        return self.scope.v(name)

    vtemp = tmp

    def scalar_keep(self, name: str) -> str:
        return self.scope.x(name)

    @contextmanager
    def scalar(self, name: str):
        with self.em.scope() as t:
            yield t.x(name)

    def xtmp(self, name: str) -> str:
        return self.scope.x(name)

    def const(self, name: str) -> str:
        return self.args.consts[name]

    def par(self, name: str) -> str:
        if name in self.args.consts:
            return self.args.consts[name]
        if name not in self._loaded:
            self._loaded[name] = self.tmp(name)
            self.op("vloadv", self._loaded[name], self.off(name), self.args.state)
        return self._loaded[name]

    def par_into(self, name: str, reg: str) -> str:
        if name in self.args.consts:
            return self.args.consts[name]
        self.op("vloadv", reg, self.off(name), self.args.state)
        return reg

    def off(self, var: str) -> int:
        return self.args.state_offset + self.lay.offsets[var]

    def load(self, var: str, name: str | None = None) -> str:
        r = self.tmp(name or var)
        self.op("vloadv", r, self.off(var), self.args.state)
        return r

    def store(self, reg: str, var: str) -> None:
        self.op("vstorev", reg, self.off(var), self.args.state)


class UpdateDriver:
    def __init__(self, em: Emitter, q: QNetwork, layout: ProgramLayout, regs: ProgramRegisters):
        self.em, self.q, self.layout, self.regs = em, q, layout, regs

    def emit_update(self, p: QPopulation) -> None:
        """The update of population ``p`` (kernel region ``<p> update``)."""
        em = self.em
        em.region = f"{p.name} update"
        lay = self.layout.populations[p.name]
        with em.scope() as held:
            consts: dict[str, str] = {}

            def const(name: str, value: int) -> str:
                if name not in consts:
                    consts[name] = held.v(f"{p.name} {name}")
                    em.op("vlui", consts[name], int(value) & 0xFFFF)
                return consts[name]

            for k, a in p.params.items():
                if k not in lay.params_vector and not (k == "bias" and not a.any()):
                    const(k, a[0])
            for name, value in p.model.constants(p):
                const(name, value)
            if p.readout == "spike_count":
                const("one", 1)
            xs = held.x(f"{p.name} state ptr")
            em.li(xs, lay.state.offset)
            vslot = None
            vring = self._vmem_ring_slots(p, lay, held)
            if p.ring_depth and not vring:
                vslot = held.v(f"{p.name} ring slot")
                with em.scope() as t:
                    tmp = t.x("tmp")
                    em.op("andi", tmp, self.regs.t, p.ring_depth - 1)
                    em.op("slli", tmp, tmp, 1)
                    em.op("vfill", vslot, tmp, comment="this step's ring slot (+ ring base + row as offsets)")
            xspk = None
            if p.spiking:
                xspk = held.x(f"{p.name} spike ptr")
                em.li(xspk, lay.spikes.offset)
            last_mask = None
            if p.spiking and p.size % LANES:
                last_mask = held.x("last word mask")
                em.li(last_mask, (1 << (p.size % LANES)) - 1)
            rec_v, rec_s = self.regs.record_ptr(p.name, "v"), self.regs.record_ptr(p.name, "spikes")
            unrolled = bool(lay.resident) or p.chunks <= 4
            if unrolled:
                bump = (p.chunks - 1) * lay.stride + lay.stride > 2048    # offsets beyond 12 bits
                for c in range(p.chunks):
                    if bump and c:
                        em.addi(xs, xs, lay.stride)
                    self.update_chunk(ChunkArgs(p, consts, xs, 0 if bump else c * lay.stride, vslot,
                                                2 * p.ring_depth * c, xspk, 4 * c, VEC * c, c,
                                                last_mask if c == p.chunks - 1 else None, vring))
                for ptr, step in ((rec_v, VEC * p.recorded_chunks("v")), (rec_s, 4 * p.recorded_chunks("spikes"))):
                    if ptr is not None:
                        em.addi(ptr, ptr, step)
            else:
                with em.scope() as t:
                    xend = t.x("state end")
                    em.li(xend, lay.state.end)
                    lab = em.new_label(f"{p.name}_chunk")
                    vstep = None
                    if vslot is not None:
                        vstep = t.v("ring row step")
                        em.op("vlui", vstep, 2 * p.ring_depth)
                    em.label(lab)
                    # (no resident accumulators)
                    self.update_chunk(ChunkArgs(p, consts, xs, 0, vslot, 0, xspk, 0, 0, None, None, vring))
                    for reg in vring.values():
                        em.op("addi", reg, reg, VEC)
                    em.addi(xs, xs, lay.stride)
                    if xspk:
                        em.op("addi", xspk, xspk, 4)
                    if vslot is not None:
                        em.op("vadd", vslot, vslot, vstep)
                    for ptr, step in ((rec_v, VEC), (rec_s, 4)):
                        if ptr is not None:
                            em.addi(ptr, ptr, step)
                    em.op("bne", xs, xend, lab)
                    if last_mask is not None:
                        with em.scope() as t2:
                            t0 = t2.x("tmp")
                            em.op("lw", t0, -4, xspk)
                            em.op("and", t0, t0, last_mask, comment="drop padding lanes")
                            em.op("sw", t0, -4, xspk)
                            if rec_s is not None and p.recorded_chunks("spikes") == p.words:
                                em.op("sw", t0, -4, rec_s)
                # a record of the first N neurons: the next step overwrites this one's tail
                for ptr, back in ((rec_v, VEC * (p.chunks - p.recorded_chunks("v"))),
                                  (rec_s, 4 * (p.words - p.recorded_chunks("spikes")))):
                    if ptr is not None and back:
                        em.addi(ptr, ptr, -back)

    def _vmem_ring_slots(self, p: QPopulation, lay: PopLayout, held: Scope) -> dict[int, str]:
        """Pointers to this step's slot of each VMEM delay ring (codegen/delay_ring.py)."""
        if lay.ring_memory != "vmem":
            return {}
        out = {}
        with self.em.scope() as t:
            tmp = t.x("tmp")
            self.em.op("andi", tmp, self.regs.t, p.ring_depth - 1)
            self.em.op("slli", tmp, tmp, (slot_vectors(p.chunks) * VEC).bit_length() - 1)
            for k, base in lay.ring_base.items():
                out[k] = held.x(f"{p.name} ring{suffix(k)} slot")
                self.em.li(out[k], base)
                self.em.op("add", out[k], out[k], tmp, comment="this step's VMEM ring slot")
        return out

    def update_chunk(self, args: ChunkArgs) -> None:
        """One 32-neuron chunk."""
        em, q = self.em, self.q
        p, consts, xs = args.p, args.consts, args.state
        lay = self.layout.populations[p.name]
        resident_regs = self.regs.resident[p.name]
        vzero = self.regs.zero
        with em.scope() as t:
            c = ChunkCode(em, t, args, lay, q.round_code, vzero)
            tmpv, par, off, mul, add = c.tmp, c.par, c.off, c.mul_op, c.add_op

            V = tmpv("V")
            em.op("vloadv", V, off("V"), xs)
            I = {}
            for k in p.exp_groups:
                I[k] = tmpv(f"I{suffix(k)}")
                em.op("vloadv", I[k], off(f"I{suffix(k)}"), xs)
            inp: dict[int, str | None] = {}
            resident = []
            for k, g in enumerate(p.synapses):
                val = None
                if k in resident_regs:
                    val = resident_regs[k][args.chunk]
                    resident.append(val)
                elif g.has_direct:
                    val = tmpv(f"input{suffix(k)}")
                    em.op("vloadv", val, off(f"acc{suffix(k)}"), xs)
                    em.op("vstorev", vzero, off(f"acc{suffix(k)}"), xs)
                if g.has_ring:
                    r = tmpv(f"ring input{suffix(k)}")
                    if k in args.vring:
                        at = VEC * args.chunk if args.chunk is not None else 0
                        em.op("vloadv", r, at, args.vring[k])
                        em.op("vstorev", vzero, at, args.vring[k])
                    else:
                        em.op("vloadl", r, args.ring_offset + lay.ring_base[k], args.ring_slot)
                        em.op("vstorel", vzero, args.ring_offset + lay.ring_base[k], args.ring_slot)
                    if val is not None:
                        s = tmpv(f"input sum{suffix(k)}")
                        em.op("vadd_s", s, val, r)
                        val = s
                    else:
                        val = r
                inp[k] = val
            has_bias = bool(p.params["bias"].any())
            for k in p.exp_groups:
                em.op(mul, I[k], I[k], par(f"alpha{suffix(k)}"), DECAY_SHIFT)
                if inp[k] is not None:
                    em.op(add, I[k], I[k], inp[k])
                if has_bias and k == p.bias_group:
                    em.op(add, I[k], I[k], par("bias"))
                if k == p.bias_group:
                    p.model.emit_input(p, c, I[k])
            p.model.emit_leak(p, c, V)
            for k in p.exp_groups:
                em.op(add, V, V, I[k])
            for k, g in enumerate(p.synapses):
                if g.kind == "delta" and inp[k] is not None:
                    em.op(add, V, V, inp[k])
            if has_bias and p.bias_group is None:
                em.op(add, V, V, par("bias"))
            if p.bias_group is None:
                p.model.emit_input(p, c, V)
            for acc in resident:
                em.op("vlui", acc, 0, comment="accumulator ready for the next step")
            xz = p.model.emit_fire(p, c, V)
            if p.readout:
                ro = tmpv("readout")
                em.op("vloadv", ro, off("ro"), xs)
                if p.readout == "v_sum":
                    term = V
                    if p.readout_shift:
                        term = tmpv("V shifted")
                        em.op("vsrai" + ROUND_SUFFIX[readout_round(q)], term, V, p.readout_shift)
                    em.op("vadd_s", ro, ro, term)
                elif p.readout == "v_max":
                    with em.scope() as tm:
                        xm = tm.x("max mask")
                        em.op("vtlt", xm, ro, V)
                        em.op("vsel", ro, xm, V)
                else:
                    t3 = tmpv("count+1")
                    em.op("vadd_s", t3, ro, consts["one"])
                    em.op("vsel", ro, xz, t3)
                em.op("vstorev", ro, off("ro"), xs)
            em.op("vstorev", V, off("V"), xs)
            for k, reg in I.items():
                em.op("vstorev", reg, off(f"I{suffix(k)}"), xs)
            def kept(var: str) -> bool:     # unrolled, a chunk beyond the recorded first N stores no record
                return args.chunk is None or args.chunk < p.recorded_chunks(var)
            rec_v = self.regs.record_ptr(p.name, "v")
            if rec_v is not None and kept("v"):
                em.op("vstorev", V, args.record_offset, rec_v)
            if xz is not None:
                if args.last_mask is not None:
                    em.op("and", xz, xz, args.last_mask, comment="drop padding lanes")
                em.op("sw", xz, args.spike_offset, args.spikes)
                rec_s = self.regs.record_ptr(p.name, "spikes")
                if rec_s is not None and kept("spikes"):
                    em.op("sw", xz, args.spike_offset, rec_s)
