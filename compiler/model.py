"""The model API: a spiking network in physical units, before quantisation.

Written to read like mlGeNN / PyGeNN::

    net = Network(dt=1.0)
    inp = net.population("input", 700, SpikeInput())
    hid = net.population("hidden", 256, ALIF(tau_mem=20, tau_adapt=2000, beta=0.0174,
                                              threshold=0.6, refractory=4), record=("spikes",))
    out = net.population("output", 20, LI(tau_mem=20), readout="v_sum")
    net.connect(inp, hid, Dense(w_in), Exponential(tau=5))
    net.connect(hid, hid, Dense(w_rec), Exponential(tau=5))       # recurrent
    net.connect(hid, out, Dense(w_out), Exponential(tau=5))

Weight matrices are ``(n_pre, n_post)``. Times are in ms, ``dt`` is the step.
The discrete dynamics (docs/compiler.md) per step ``t``::

    In[t] = sum of weights of spikes arriving at t (latency + per-synapse delay)
    I[t]  = alpha * I[t-1] + In[t] + bias     (Exponential synapse, alpha = exp(-dt/tau_syn))
    V[t]  = beta * V[t-1] + I[t]              (Delta synapse: + In[t] + bias instead)
    V[t]  = v_reset while refractory; z[t] = V[t] > threshold (+ beta_a * A[t-1] for ALIF)
    V[t]  = v_reset where z[t]; A[t] = rho * A[t-1] + z[t]

A population may take several synapse types (kind, tau): one current each,
summed into V (docs/compiler.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError
from .neurons import ALIF, LI, LIF, NeuronModel, is_model, models  # noqa: F401  (the model API)
from .neurons.base import positive

READOUTS = (None, "v_sum", "v_max", "spike_count")
RECORDABLE = ("v", "spikes")
PLACEMENTS = ("auto", "vmem", "dram")


# --- neuron models ----------------------------------------------------------
# LIF, ALIF, LI (and any other registered model) live in compiler/neurons/, one
# class per model; a spike source is not a neuron model.

@dataclass
class SpikeInput:
    """A spike source: the host supplies its spikes for every step."""

    kind = "input"


def neuron_types() -> tuple[type, ...]:
    """The classes a population's ``neuron`` may be: SpikeInput and every registered model."""
    return (SpikeInput,) + tuple(models().values())


# --- synapses ---------------------------------------------------------------

@dataclass(frozen=True)
class Delta:
    """Each spike adds its weight to V directly."""

    kind = "delta"


@dataclass(frozen=True)
class Exponential:
    """Each spike adds its weight to a current I that decays with ``tau`` (ms)."""

    tau: float = 5.0

    kind = "exp"


# --- connectivity -----------------------------------------------------------

@dataclass
class Dense:
    """All-to-all; ``weights (n_pre, n_post)``; ``delays`` per synapse (steps) or scalar."""

    weights: np.ndarray
    delays: np.ndarray | int | None = None

    kind = "dense"


@dataclass
class Sparse:
    """Explicit synapse list: ``pre[k] -> post[k]`` with ``weights[k]`` (and ``delays[k]`` steps)."""

    pre: np.ndarray
    post: np.ndarray
    weights: np.ndarray | float
    delays: np.ndarray | int | None = None

    kind = "sparse"


@dataclass
class FixedProbability:
    """Each (pre, post) pair is connected with probability ``p`` (numpy seed ``seed``),
    all with weight ``weight`` (and delay ``delay`` steps)."""

    p: float
    weight: float
    seed: int = 0
    delay: int | None = None
    allow_autapses: bool = True

    kind = "sparse"

    def to_sparse(self, n_pre: int, n_post: int, owner: str) -> Sparse:
        if not 0.0 <= self.p <= 1.0:
            raise ModelError(f"{owner}: probability p = {self.p} must be in [0, 1]")
        mask = np.random.default_rng(self.seed).random((n_pre, n_post)) < self.p
        if not self.allow_autapses:
            np.fill_diagonal(mask, False)
        pre, post = np.nonzero(mask)
        return Sparse(pre, post, np.full(pre.size, float(self.weight)), self.delay)


# --- initial values ---------------------------------------------------------

@dataclass(frozen=True)
class Uniform:
    """Values drawn uniformly from [low, high) per neuron with numpy seed ``seed``
    (e.g. ``initial_v=Uniform(-60, -50, seed=1)``, as GeNN's ``init_var("Uniform")``)."""

    low: float
    high: float
    seed: int = 0

    def sample(self, size: int) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(self.low, self.high, size)


def initial_values(value, size: int, owner: str) -> np.ndarray:
    """A per-neuron float array from a scalar, a (size,) array or a :class:`Uniform`."""
    if isinstance(value, Uniform):
        if not value.low <= value.high:
            raise ModelError(f"{owner}: Uniform(low={value.low}, high={value.high}) needs low <= high")
        return value.sample(size)
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return np.full(size, float(a))
    if a.shape != (size,):
        raise ModelError(f"{owner} has shape {a.shape}, expected a scalar, ({size},) or Uniform(low, high, seed)")
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{owner} must be finite")
    return a


# --- populations and connections ---------------------------------------------

@dataclass
class Population:
    name: str
    size: int
    neuron: SpikeInput | NeuronModel      # LIF, ALIF, LI or another registered model
    record: tuple[str, ...] = ()
    readout: str | None = None
    # Fixed-point formats by variable ("V", "A", "readout"), e.g. {"V": "s6.9"};
    # otherwise chosen from value ranges (see compiler/quantise.py).
    formats: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    initial_v: np.ndarray | None = None      # per-neuron V at the start (None: 0)
    # recorded neurons by variable: the first N (a sample, as NEST users record one); absent: all
    record_size: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.neuron.kind

    @property
    def is_input(self) -> bool:
        """A spike source (not a neuron model)."""
        return isinstance(self.neuron, SpikeInput)

    @property
    def spiking(self) -> bool:
        return self.is_input or self.neuron.spiking


@dataclass
class Connection:
    name: str
    source: Population
    target: Population
    connectivity: Dense | Sparse
    synapse: Delta | Exponential
    latency: int = 1     # steps from the spike to its arrival, before per-synapse delays
    # where the weights live: "vmem", "dram" (streamed by DMA per spike) or "auto"
    # (VMEM while it fits, else DRAM; see compiler/placement.py)
    placement: str = "auto"

    @property
    def sparse(self) -> bool:
        return self.connectivity.kind == "sparse"

    def dense_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, delays, exists) as (n_pre, n_post) arrays (float, int, bool)."""
        n_pre, n_post = self.source.size, self.target.size
        c = self.connectivity
        if isinstance(c, Dense):
            w = np.asarray(c.weights, dtype=np.float64)
            d = np.zeros(w.shape, np.int64) if c.delays is None else \
                np.broadcast_to(np.asarray(c.delays, dtype=np.int64), w.shape).copy()
            return w, d, np.ones(w.shape, bool)
        w = np.zeros((n_pre, n_post))
        d = np.zeros((n_pre, n_post), np.int64)
        exists = np.zeros((n_pre, n_post), bool)
        pre, post = np.asarray(c.pre, np.int64), np.asarray(c.post, np.int64)
        exists[pre, post] = True
        w[pre, post] = np.broadcast_to(np.asarray(c.weights, np.float64), pre.shape)
        if c.delays is not None:
            d[pre, post] = np.broadcast_to(np.asarray(c.delays, np.int64), pre.shape)
        return w, d, exists

    @property
    def has_delays(self) -> bool:
        return self.connectivity.delays is not None if isinstance(self.connectivity, Dense) \
            else self.connectivity.delays is not None


def record_sizes(owner: str, record: tuple[str, ...], first, size: int) -> dict[str, int]:
    """``record_first`` (None, an int for every recorded variable, or a dict by variable) as
    {var: N}, checked: each N an integer in 1..size, each variable one the population records."""
    if first is None:
        return {}
    if not record:
        raise ModelError(f"{owner}: record_first = {first!r} but the population records nothing; "
                         f"pass record=('spikes',) or ('v',) too")
    wanted = dict(first) if isinstance(first, dict) else {var: first for var in record}
    out = {}
    for var, n in wanted.items():
        if var not in record:
            raise ModelError(f"{owner}: record_first names {var!r}, which the population does not record; "
                             f"allowed: {', '.join(record)}")
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or not 1 <= n <= size:
            raise ModelError(f"{owner}: record_first[{var!r}] = {n!r}; allowed: an integer from 1 to {size} "
                             f"(the population's size): neurons 0..N-1 are recorded")
        if n < size:
            out[var] = int(n)
    return out


class Network:
    """Populations and the connections between them; ``dt`` in ms."""

    def __init__(self, dt: float = 1.0, name: str = "network"):
        positive(f"network {name!r}", "dt", dt)
        self.dt = float(dt)
        self.name = name
        self.populations: dict[str, Population] = {}
        self.connections: dict[str, Connection] = {}

    def population(self, name: str, size: int, neuron, record=(), readout: str | None = None,
                   formats: dict[str, str] | None = None,
                   ranges: dict[str, tuple[float, float]] | None = None,
                   initial_v=None, record_first=None) -> Population:
        """``initial_v``: V at the start of a run (and after ``Runtime.reset``), a value,
        a per-neuron array or :class:`Uniform`; default 0. ``record_first``: record only
        neurons 0..N-1, N for every recorded variable or ``{"spikes": N, "v": M}``
        (default: all); the record window then holds ceil(N / 32) words (vectors) per step."""
        owner = f"population {name!r}"
        if name in self.populations:
            raise ModelError(f"{owner} is defined twice")
        source = isinstance(neuron, SpikeInput)
        if not (source or is_model(neuron)):
            raise ModelError(f"{owner}: unsupported neuron model {type(neuron).__name__}; "
                             f"allowed: {', '.join(t.__name__ for t in neuron_types())}")
        if int(size) != size or size <= 0:
            raise ModelError(f"{owner}: size must be a positive integer, got {size!r}")
        if not source:
            neuron.validate(owner)
        record = tuple(record)
        for r in record:
            if r not in RECORDABLE:
                raise ModelError(f"{owner}: cannot record {r!r}; allowed: {', '.join(RECORDABLE)}")
        if "spikes" in record and not source and not neuron.spiking:
            raise ModelError(f"{owner}: an {neuron.name} readout does not spike; record 'v' instead")
        if record and source:
            raise ModelError(f"{owner}: a spike source records nothing (its spikes are the host's input)")
        if readout not in READOUTS:
            raise ModelError(f"{owner}: unknown readout {readout!r}; allowed: {READOUTS[1:]}")
        if readout == "spike_count" and (source or not neuron.spiking):
            spiking = "/".join(n for n, m in models().items() if m.spiking)
            raise ModelError(f"{owner}: readout 'spike_count' needs a spiking ({spiking}) population")
        if readout in ("v_sum", "v_max") and source:
            raise ModelError(f"{owner}: a spike source has no V for readout {readout!r}")
        v0 = None
        if initial_v is not None:
            if source:
                raise ModelError(f"{owner}: a spike source has no V to initialise")
            v0 = initial_values(initial_v, int(size), f"{owner}: initial_v")
        pop = Population(name, int(size), neuron, record, readout, dict(formats or {}), dict(ranges or {}), v0,
                         record_sizes(owner, record, record_first, int(size)))
        self.populations[name] = pop
        return pop

    def connect(self, source: Population, target: Population, connectivity, synapse=None,
                latency: int = 1, name: str | None = None, placement: str = "auto") -> Connection:
        """``placement`` of the weights: "auto" (VMEM while they fit, else streamed
        from DRAM), "vmem" or "dram"."""
        name = name or f"{source.name}->{target.name}"
        owner = f"connection {name!r}"
        if placement not in PLACEMENTS:
            raise ModelError(f"{owner}: unknown placement {placement!r}; allowed: {', '.join(PLACEMENTS)}")
        if name in self.connections:
            raise ModelError(f"{owner} is defined twice; pass name= to tell them apart")
        for p in (source, target):
            if self.populations.get(p.name) is not p:
                raise ModelError(f"{owner}: population {p.name!r} is not part of this network")
        if not source.spiking:
            raise ModelError(f"{owner}: source {source.name!r} ({source.kind}) does not spike")
        if target.is_input:
            raise ModelError(f"{owner}: target {target.name!r} is a spike source and takes no input")
        synapse = synapse if synapse is not None else Delta()
        if not isinstance(synapse, (Delta, Exponential)):
            raise ModelError(f"{owner}: unsupported synapse {type(synapse).__name__}; allowed: Delta, Exponential")
        if isinstance(synapse, Exponential):
            positive(owner, "synapse tau", synapse.tau)
        if int(latency) != latency or latency < 0:
            raise ModelError(f"{owner}: latency must be an integer >= 0 steps, got {latency!r}")
        if isinstance(connectivity, FixedProbability):
            connectivity = connectivity.to_sparse(source.size, target.size, owner)
        if isinstance(connectivity, Dense):
            w = np.asarray(connectivity.weights)
            if w.shape != (source.size, target.size):
                raise ModelError(f"{owner}: weights have shape {w.shape}, expected (n_pre, n_post) = "
                                 f"({source.size}, {target.size})")
            if connectivity.delays is not None and np.ndim(connectivity.delays) and \
                    np.shape(connectivity.delays) != w.shape:
                raise ModelError(f"{owner}: delays have shape {np.shape(connectivity.delays)}, "
                                 f"expected {w.shape} or a scalar")
        elif isinstance(connectivity, Sparse):
            pre, post = np.asarray(connectivity.pre), np.asarray(connectivity.post)
            if pre.shape != post.shape or pre.ndim != 1:
                raise ModelError(f"{owner}: pre {pre.shape} and post {post.shape} must be equal 1-D lists")
            for arr, label in ((connectivity.weights, "weights"), (connectivity.delays, "delays")):
                if arr is not None and np.ndim(arr) and np.shape(arr) != pre.shape:
                    raise ModelError(f"{owner}: {label} have shape {np.shape(arr)}, expected {pre.shape}")
            if pre.size and (pre.min() < 0 or pre.max() >= source.size or post.min() < 0
                             or post.max() >= target.size):
                raise ModelError(f"{owner}: synapse indices out of range (pre < {source.size}, "
                                 f"post < {target.size})")
            if np.unique(pre.astype(np.int64) * target.size + post).size != pre.size:
                raise ModelError(f"{owner}: a (pre, post) pair appears twice; merge duplicate synapses")
        else:
            raise ModelError(f"{owner}: unsupported connectivity {type(connectivity).__name__}; "
                             "allowed: Dense, Sparse, FixedProbability")
        delays = connectivity.delays
        if delays is not None:
            d = np.asarray(delays)
            if d.size and (np.any(d < 0) or np.any(d != np.round(d))):
                raise ModelError(f"{owner}: delays must be integers >= 0 steps")
        conn = Connection(name, source, target, connectivity, synapse, int(latency), placement)
        self.connections[name] = conn
        return conn

    # mlGeNN-like aliases
    add_population = population
    add_connection = connect

    def incoming(self, pop: Population) -> list[Connection]:
        return [c for c in self.connections.values() if c.target is pop]

    def outgoing(self, pop: Population) -> list[Connection]:
        return [c for c in self.connections.values() if c.source is pop]
