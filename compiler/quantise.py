"""Fixed-point plan: the network as integers, with one format per state variable.

Choices (docs/compiler.md):
- ``V`` (and the synaptic current ``I`` and the input accumulators, which share
  it): declared ``formats["V"]``, else declared ``ranges["V"]``, else the range
  measured on calibration inputs by the float simulator (:func:`calibrate`;
  +25 % headroom), else a
  default range of +-max(2 |threshold|, 4 max |incoming weight|, 1).
- ``A`` (ALIF adaptation): declared / ranged / measured, else s8.7 (FeNN's).
- decays ``exp(-dt/tau)`` in s1.14 (multiplies shift by 14).
- ALIF ``beta`` in the format that makes ``A * beta >> shift`` land in V's format.
- weights in the target's input format (V's); sparse weights lose their low
  ``index_bits`` bits, which carry the packed target index (and delay).
Every value that does not fit its format is an error naming where it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fenn_dma.isa.table import ROUND_NEAREST, ROUND_STOCHASTIC, ROUND_TRUNC

from .errors import ModelError
from .fixedpoint import (DECAY_FORMAT, DECAY_SHIFT, ROUNDINGS, FixedFormat, FixedPointError, format_for_range,
                         quantize)
from .model import Connection, Exponential, Network, Population
from .neurons import model_class
from .neurons.base import NeuronModel
from .schedule import Schedule, make_schedule

LANES = 32
INPUT = "input"     # QPopulation.kind of a spike source (not a neuron model)
ROUND_CODES = {"truncate": ROUND_TRUNC, "nearest": ROUND_NEAREST, "stochastic": ROUND_STOCHASTIC}


def suffix(k: int) -> str:
    """Name suffix of synapse group ``k``: "" for the first (I, alpha, acc), else the index (I1, ...)."""
    return "" if k == 0 else str(k)


@dataclass
class QSynapse:
    """One synapse type onto a population: its own input accumulators and, for an
    exponential synapse, its own current ``I<k>`` decaying with ``alpha<k>``."""

    kind: str                       # delta | exp
    tau: float | None = None        # ms (exp)
    has_direct: bool = False        # a dense, undelayed, offset-0 input accumulator
    has_ring: bool = False          # an LLM ring buffer (delays, sparse, latency > 1)


@dataclass
class QPopulation:
    name: str
    size: int
    kind: str                       # "input" or a neuron model's name (compiler/neurons)
    v_fmt: FixedFormat | None = None
    a_fmt: FixedFormat | None = None      # ALIF's A
    synapses: list[QSynapse] = field(default_factory=list)    # in order of first incoming connection
    params: dict[str, np.ndarray] = field(default_factory=dict)   # int arrays (size,)
    badapt_shift: int = 0
    refractory: int = 0             # steps
    saturate: bool = True
    readout: str | None = None
    readout_shift: int = 0
    record: tuple[str, ...] = ()
    record_size: dict[str, int] = field(default_factory=dict)   # var -> first N recorded (absent: all)
    ring_depth: int = 0             # LLM ring slots (power of two); 0: no ring
    initial_v: np.ndarray | None = None   # int (size,) V at initialisation; None: 0
    extra: dict = field(default_factory=dict)   # a neuron model's own scalars/formats

    @property
    def is_input(self) -> bool:
        """A spike source: the host supplies its spikes; no state, no update."""
        return self.kind == INPUT

    @property
    def model(self) -> type[NeuronModel] | None:
        """The neuron model's class (compiler/neurons), None for a spike source."""
        return None if self.is_input else model_class(self.kind)

    @property
    def chunks(self) -> int:
        return -(-self.size // LANES)

    @property
    def padded(self) -> int:
        return self.chunks * LANES

    @property
    def words(self) -> int:
        return self.chunks

    def recorded(self, var: str) -> int:
        """Neurons 0..recorded(var)-1 of ``var`` are recorded."""
        return self.record_size.get(var, self.size)

    def recorded_chunks(self, var: str) -> int:
        """Spike words (V vectors) per step of ``var``'s record."""
        return -(-self.recorded(var) // LANES)

    @property
    def spiking(self) -> bool:
        return self.is_input or self.model.spiking

    @property
    def exp_groups(self) -> list[int]:
        return [k for k, s in enumerate(self.synapses) if s.kind == "exp"]

    @property
    def bias_group(self) -> int | None:
        """The bias is added to the first exponential current (as with one Exponential
        synapse), else to V."""
        g = self.exp_groups
        return g[0] if g else None

    @property
    def has_direct(self) -> bool:
        return any(s.has_direct for s in self.synapses)

    def multiplies(self) -> tuple[str, ...]:
        """The multiplies of the neuron update in program order (one RNG advance
        each under stochastic rounding)."""
        if self.is_input:
            return ()
        return tuple(f"alpha{suffix(k)}" for k in self.exp_groups) + self.model.rng_draws(self)

    def state_vars(self) -> tuple[str, ...]:
        """The neuron model's int16 state besides V and the currents I<k> (e.g. A, rc)."""
        return () if self.is_input else self.model.state_vars(self)


@dataclass
class QConnection:
    name: str
    source: str
    target: str
    sparse: bool
    latency: int
    weights: np.ndarray        # (n_pre, n_post) int64 values added (0 where no synapse)
    delays: np.ndarray         # (n_pre, n_post) int64 steps
    exists: np.ndarray         # (n_pre, n_post) bool
    mode: str = "direct"       # direct (dense accumulator) | ring (LLM ring buffer)
    offset: int = 0            # extra steps before the per-synapse delay
    index_bits: int = 0        # sparse: low bits of a packed word holding the LLM address
    # sparse with one weight for every synapse onto an undelayed ring (depth 1): the
    # words hold only LLM addresses and the weight is a register (full precision)
    constant_weight: int | None = None
    group: int = 0             # index of the target's synapse type (QPopulation.synapses)
    placement: str = "auto"    # weights in "vmem" or "dram"; "auto" is resolved by compiler/placement.py

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.delays.size else 0


@dataclass
class QNetwork:
    name: str
    dt: float
    populations: dict[str, QPopulation]
    connections: dict[str, QConnection]
    schedule: Schedule
    rounding: str
    seed: int
    rng_seed: np.ndarray        # (2, 32) uint16: s0, s1 loaded by the program

    @property
    def round_code(self) -> int:
        return ROUND_CODES[self.rounding]

    def formats(self) -> dict[str, str]:
        out = {}
        for p in self.populations.values():
            if p.v_fmt is not None:
                out[f"{p.name}.V"] = str(p.v_fmt)
            if not p.is_input:
                out.update({f"{p.name}.{k}": f for k, f in p.model.formats(p).items()})
                out[f"{p.name}.decays"] = str(DECAY_FORMAT)
            if p.readout == "v_sum":         # what compiler/saturation.py's advice reads
                out[f"{p.name}.readout"] = f"sum of V>>{p.readout_shift}" if p.readout_shift else "sum of V"
        return out


def _format(pop: Population, var: str, measured: dict, default) -> FixedFormat:
    where = f"population {pop.name!r}: {var}"
    try:
        if var in pop.formats:
            return FixedFormat.parse(pop.formats[var])
        if var in pop.ranges:
            lo, hi = pop.ranges[var]
            return format_for_range(lo, hi)
        if var in measured:
            lo, hi = 1.25 * measured[var][0], 1.25 * measured[var][1]
            if var == "V" and not pop.is_input:
                # a population that never fired on the samples still compares V with its threshold
                consts = [float(np.min(c)) for c in _v_constants(pop)] + [float(np.max(c)) for c in _v_constants(pop)]
                lo, hi = min([lo] + consts), max([hi] + consts)
            return format_for_range(lo, hi)
        return default()
    except FixedPointError as exc:
        raise ModelError(f"{where}: {exc}") from None


def _v_constants(pop: Population) -> list[np.ndarray]:
    """The neuron's per-neuron constants held in V's format (threshold, reset)."""
    return [np.asarray(getattr(pop.neuron, k), np.float64) for k in ("threshold", "v_reset")
            if getattr(pop.neuron, k, None) is not None]


def _q(values, fmt: FixedFormat, what: str, rounding: str = "nearest") -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    q = np.floor(a * fmt.scale + 0.5) if rounding == "nearest" else np.floor(a * fmt.scale)
    if np.any(q < fmt.min_int) or np.any(q > fmt.max_int):
        bad = a.flat[int(np.argmax(np.abs(a)))]
        raise ModelError(f"{what} = {bad:g} is out of range for its format {fmt} "
                         f"[{fmt.min_value:g}, {fmt.max_value:g}]")
    return q.astype(np.int64)


def _per_neuron(value, size: int, what: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return np.full(size, float(a))
    if a.shape != (size,):
        raise ModelError(f"{what} has shape {a.shape}, expected a scalar or ({size},)")
    return a


def _decay(dt: float, tau, size: int, what: str) -> np.ndarray:
    return quantize(np.exp(-dt / _per_neuron(tau, size, what)), DECAY_FORMAT, "nearest")


def quantise(net: Network, rounding: str = "nearest", seed: int = 1, n_steps: int = 1000,
             measured: dict[str, dict[str, tuple[float, float]]] | None = None) -> QNetwork:
    """The fixed-point plan of ``net``. ``measured``: value ranges per population and
    variable (``{"hidden": {"V": (lo, hi)}}``, from :func:`measure_ranges`);
    ``n_steps``: the run length a ``v_sum`` readout is sized for."""
    if rounding not in ROUNDINGS:
        raise ModelError(f"unknown rounding {rounding!r}; allowed: {', '.join(ROUNDINGS)}")
    measured = measured or {}
    pops: dict[str, QPopulation] = {}
    for pop in net.populations.values():
        pops[pop.name] = _quantise_population(net, pop, measured.get(pop.name, {}), n_steps)
    sched = make_schedule(list(net.populations),
                          [(c.name, c.source.name, c.target.name, c.latency) for c in net.connections.values()])
    conns = {c.name: _quantise_connection(c, pops[c.target.name], sched) for c in net.connections.values()}
    _plan_accumulators(pops, conns)
    rng = np.random.default_rng(seed)
    rng_seed = rng.integers(1, 1 << 16, size=(2, LANES), dtype=np.uint16)
    return QNetwork(net.name, net.dt, pops, conns, sched, rounding, seed, rng_seed)


def calibrate(net: Network, inputs: dict[str, np.ndarray]) -> dict[str, dict[str, tuple[float, float]]]:
    """The value ranges ``{population: {var: (lo, hi)}}`` of ``net``'s float simulation
    on calibration inputs ``{spike source: (B, T, size)}`` (what :func:`quantise`'s
    ``measured`` takes; a population's declared format or range still wins)."""
    from .float_sim import measure_ranges
    from .validate import spike_array
    sources = [p for p in net.populations.values() if p.is_input]
    arrays = {}
    for p in sources:
        if p.name not in inputs:
            raise ModelError(f"calibration inputs: none for spike source {p.name!r} (inputs are keyed by the "
                             f"spike sources' names: {', '.join(s.name for s in sources)})")
        arrays[p.name] = spike_array(p.name, inputs[p.name], p.size, batch=True).astype(np.float64)
    unknown = sorted(set(inputs) - set(arrays))
    if unknown:
        raise ModelError(f"calibration inputs for {', '.join(map(repr, unknown))}: not spike sources of network "
                         f"{net.name!r} (sources: {', '.join(s.name for s in sources)})")
    if arrays and min(a.shape[0] for a in arrays.values()) == 0:
        raise ModelError("calibration inputs hold no sample (batch size 0)")
    return measure_ranges(net, arrays)


class QuantContext:
    """What a neuron model's ``quantise(q, ctx)`` quantises with: the population's
    owner string (for errors), ``dt``, size and V format, and helpers that name the
    parameter in their errors as ``"population 'h': <param> ..."``."""

    def __init__(self, net: Network, pop: Population, q: QPopulation, measured: dict):
        self.net, self.pop, self.q, self.measured = net, pop, q, measured
        self.owner = f"population {pop.name!r}"
        self.dt = net.dt
        self.size = pop.size

    def per_neuron(self, value, param: str) -> np.ndarray:
        """A (size,) float array from a scalar or per-neuron value."""
        return _per_neuron(value, self.size, f"{self.owner}: {param}")

    def decay(self, tau, param: str) -> np.ndarray:
        """``exp(-dt / tau)`` in the decay format s1.14 (multiplies shift by DECAY_SHIFT)."""
        return _decay(self.dt, tau, self.size, f"{self.owner}: {param}")

    def quant(self, values, fmt: FixedFormat, param: str) -> np.ndarray:
        """Values rounded to ``fmt`` (an error when one does not fit)."""
        return _q(values, fmt, f"{self.owner}: {param}")

    def value(self, value, param: str) -> np.ndarray:
        """A per-neuron value in V's format (threshold, reset, bias)."""
        return self.quant(self.per_neuron(value, param), self.q.v_fmt, param)

    def format(self, var: str, default) -> FixedFormat:
        """The format of state variable ``var``: declared, ranged, measured, else ``default()``."""
        return _format(self.pop, var, self.measured, default)

    def common(self) -> None:
        """The parameters every model with synaptic input has: the decays ``alpha<k>``
        of its exponential currents, the initial V and the ``bias`` (the model's
        ``bias`` attribute, default 0)."""
        q = self.q
        for k in q.exp_groups:
            q.params[f"alpha{suffix(k)}"] = self.decay(q.synapses[k].tau, "synapse tau")
        if self.pop.initial_v is not None:
            q.initial_v = _q(self.pop.initial_v, q.v_fmt, f"{self.owner}: initial_v")
        q.params["bias"] = self.value(getattr(self.pop.neuron, "bias", 0.0), "bias")


def _quantise_population(net: Network, pop: Population, measured: dict, n_steps: int) -> QPopulation:
    n = pop.neuron
    q = QPopulation(pop.name, pop.size, pop.kind, record=pop.record, readout=pop.readout,
                    record_size=dict(pop.record_size))
    if pop.is_input:
        return q
    owner = f"population {pop.name!r}"
    incoming = net.incoming(pop)
    q.synapses = [QSynapse(kind, tau) for kind, tau in synapse_groups(incoming)]
    max_w = max([float(np.abs(c.dense_arrays()[0]).max(initial=0.0)) for c in incoming] + [0.0])

    def default_v():
        bound = n.v_bound(max_w)
        return format_for_range(-bound, bound)

    q.v_fmt = _format(pop, "V", measured, default_v)
    v = q.v_fmt
    n.quantise(q, QuantContext(net, pop, q, measured))
    if pop.readout == "v_sum":
        if "readout" in pop.formats:
            rf = _format(pop, "readout", {}, None)
            q.readout_shift = v.frac_bits - rf.frac_bits
            if not 0 <= q.readout_shift <= 15:
                raise ModelError(f"{owner}: readout format {rf} must have 0..15 fewer fraction bits than V {v}")
        else:
            q.readout_shift = min(15, max(0, math.ceil(math.log2(max(n_steps, 1)))))
    return q


def synapse_groups(incoming: list[Connection]) -> list[tuple[str, float | None]]:
    """The distinct synapse types (kind, tau) of a population's inputs, in order of
    first appearance: one current (and accumulator) per type."""
    groups: list[tuple[str, float | None]] = []
    for c in incoming:
        key = (c.synapse.kind, float(c.synapse.tau) if isinstance(c.synapse, Exponential) else None)
        if key not in groups:
            groups.append(key)
    return groups


def _quantise_connection(c: Connection, tgt: QPopulation, sched: Schedule) -> QConnection:
    owner = f"connection {c.name!r}"
    w, d, exists = c.dense_arrays()
    fmt = tgt.v_fmt
    wq = np.where(exists, _q(np.where(exists, w, 0.0), fmt, f"{owner}: weight"), 0)
    delayed = bool(d.size and d.max() > 0)
    offset = sched.offset(c.latency)
    key = (c.synapse.kind, float(c.synapse.tau) if isinstance(c.synapse, Exponential) else None)
    group = [(g.kind, g.tau) for g in tgt.synapses].index(key)
    qc = QConnection(c.name, c.source.name, c.target.name, c.sparse, c.latency, wq, d, exists,
                     offset=offset, group=group, placement=c.placement)
    qc.mode = "direct" if (not c.sparse and not delayed and offset == 0) else "ring"
    if d.size and d.max() + offset > 4096:
        raise ModelError(f"{owner}: delay {d.max()} (+ latency) exceeds the 4096-step ring buffer limit")
    return qc


def _plan_accumulators(pops: dict[str, QPopulation], conns: dict[str, QConnection]) -> None:
    """Ring depths (power of two >= max arrival offset + 1) and sparse index bits,
    which depend on the depth; sparse weights are re-rounded to keep their low bits free."""
    for p in pops.values():
        ins = [c for c in conns.values() if c.target == p.name]
        for k, g in enumerate(p.synapses):
            g.has_direct = any(c.mode == "direct" and c.group == k for c in ins)
            g.has_ring = any(c.mode == "ring" and c.group == k for c in ins)
        ring = [c for c in ins if c.mode == "ring"]
        if ring:
            need = max(c.offset + c.max_delay for c in ring) + 1
            p.ring_depth = 1 << (need - 1).bit_length()
    for c in conns.values():
        if not c.sparse:
            continue
        tgt = pops[c.target]
        w = c.weights[c.exists]
        if tgt.ring_depth == 1 and w.size and (w == w[0]).all():
            c.constant_weight = int(w[0])
            continue
        span = tgt.chunks * 2 * tgt.ring_depth          # bytes of one lane's ring
        c.index_bits = max(1, (span - 1).bit_length())
        if c.index_bits > 15:
            raise ModelError(f"connection {c.name!r}: target {tgt.name!r} ring of {span} bytes per lane "
                             "needs more than 15 index bits")
        step = 1 << c.index_bits
        packed = np.floor(c.weights / step + 0.5).astype(np.int64) * step
        if np.any(c.exists & ((packed < -32768) | (packed > 32768 - step))):
            raise ModelError(f"connection {c.name!r}: a weight does not fit {16 - c.index_bits} bits once "
                             f"{c.index_bits} bits hold the packed target index; use a format with fewer "
                             "fraction bits or a smaller network")
        c.weights = np.where(c.exists, packed, 0)
