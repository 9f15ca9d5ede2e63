"""The Potjans & Diesmann (2014) cortical microcircuit, from the paper's tables.

Potjans T.C., Diesmann M. (2014) "The cell-type specific cortical
microcircuit: relating structure and activity in a full-scale spiking network
model", Cereb. Cortex 24:785-806 (Tables 4-5), with the down-scaling rule of
van Albada, Helias & Diesmann (2015, PLoS Comput Biol 11:e1004490): neurons x
``n_scale``, in-degrees x ``k_scale``, weights / sqrt(k_scale), and a DC
current that restores each population's mean input (from the full-scale
rates).

One concrete network (:class:`Instance`: the synapses, weights, delays,
initial potentials and background currents, drawn from one numpy seed) is
what every simulator gets: :func:`to_network` builds it with the compiler's
model API, ``models.nest_microcircuit`` hands the same arrays to NEST.

Model (per neuron, current-based LIF with exponential currents, NEST's
``iaf_psc_exp``): C_m dV/dt = -(V - E_L) C_m / tau_m + I_syn + I_bg,
tau_syn dI_syn/dt = -I_syn, each spike adding its weight (pA) to I_syn.

Mapping onto the compiler's step (V[t] = beta V[t-1] + I[t], I[t] = alpha
I[t-1] + In[t] + bias; docs/compiler.md): V is measured from E_L (threshold
15 mV, reset 0) and a weight ``w`` pA becomes ``P21 w`` mV, where P21 is the
exact propagator from the synaptic current to V over one step (NEST's), so
with latency 1 + the delay in steps the response to a spike is NEST's step
for step (NEST's current takes the spike d steps after it, its V one step
later; tests/models checks the kernel and NEST's voltmeter). The DC ``I_bg``
becomes the bias ``P20 I_bg (1 - alpha)``, whose steady current ``bias / (1 -
alpha)`` is NEST's per-step drive ``P20 I_bg`` (:func:`bias_mv`); the Poisson
background is PoissonLIF's on-core input.

Multapses: fixed-total-number connectivity draws (pre, post) pairs with
replacement, so a pair may carry several synapses. Synapses of one pair with
one delay are one synapse of the summed weight (the same input at every
step); those with different delays go to further connections ("layers"
``recurrent#1``, ...), since a connection holds one synapse per pair.
"""
# (no `from __future__ import annotations`: `fenn-dma compile models/microcircuit.py` loads this
# file outside the package, where dataclasses cannot resolve string annotations)
import math
from dataclasses import dataclass, field

import numpy as np

from fenn_dma.compiler.errors import ModelError

# --- the paper's tables -------------------------------------------------------

POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
FULL_SIZES = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
# Connection probabilities C_a: row = target, column = source (Table 5).
CONN_PROB = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0,    0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0,    0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.1350, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0,    0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.0600, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.0010, 0.0034, 0.0005, 0.0277, 0.0080, 0.0658, 0.1443],
])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])   # external in-degrees
NU_BG = 8.0                      # Hz, background rate per external input
# Full-scale mean rates (Hz) the DC compensation of down-scaled in-degrees uses
# (van Albada et al. 2015, as measured on the full model).
FULL_RATES = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])

C_M, TAU_M, TAU_SYN, T_REF = 250.0, 10.0, 0.5, 2.0       # pF, ms, ms, ms
E_L, V_TH, V_RESET = -65.0, -50.0, -65.0                # mV
V0_MEAN, V0_SD = -58.0, 10.0                            # initial V ~ N(-58, 10) mV
V0_LOW, V0_HIGH = -95.0, -35.0                          # its clip (V - E_L within +-30 mV)
W_MEAN = 87.8                    # pA, mean excitatory PSC amplitude (0.15 mV PSP)
W_REL_SD = 0.1                   # weight spread, relative
G = -4.0                         # relative inhibitory strength
L4E_TO_L23E = 2.0                # its weight is doubled
DELAY_E, DELAY_I = 1.5, 0.75     # ms, mean delays of excitatory / inhibitory synapses
DELAY_REL_SD = 0.5               # delay spread, relative

EXCITATORY = np.array([name.endswith("E") for name in POPULATIONS])


@dataclass(frozen=True)
class Params:
    """``n_scale``: neurons per population x this; ``k_scale``: in-degrees x this
    (weights / sqrt(k_scale), DC compensation); ``max_delay``: delays are clipped
    to [dt, max_delay] ms (the compiler's ring depth is the next power of two of
    the longest delay in steps); ``background``: "dc" (the mean of the Poisson
    background as a current) or "poisson" (K_ext k_scale independent inputs at NU_BG of
    weight W_MEAN / sqrt(k_scale) per neuron; the compiler's PoissonLIF draws them on the core)."""

    n_scale: float = 0.01
    k_scale: float = 0.01
    dt: float = 0.1
    max_delay: float = 3.1
    background: str = "poisson"
    seed: int = 0

    def check(self) -> None:
        for name in ("n_scale", "k_scale"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ModelError(f"microcircuit: {name} = {v} must be in (0, 1]")
        if not self.dt > 0:
            raise ModelError(f"microcircuit: dt = {self.dt} must be > 0")
        if not self.max_delay >= self.dt:
            raise ModelError(f"microcircuit: max_delay = {self.max_delay} ms must be >= dt = {self.dt} ms")
        if self.background not in ("dc", "poisson"):
            raise ModelError(f"microcircuit: background {self.background!r}; allowed: 'dc', 'poisson'")


# --- derived quantities ---------------------------------------------------------

def full_synapses() -> np.ndarray:
    """Total synapses per projection at full scale, (target, source): the number
    that gives connection probability C_a with pairs drawn with replacement."""
    pairs = np.outer(FULL_SIZES, FULL_SIZES).astype(np.float64)
    return np.log(1.0 - CONN_PROB) / np.log(1.0 - 1.0 / pairs)


def full_indegrees() -> np.ndarray:
    """Mean in-degree per projection at full scale, (target, source)."""
    return full_synapses() / FULL_SIZES[:, None]


def mean_weights() -> np.ndarray:
    """Mean PSC amplitude (pA) per projection at full scale, (target, source)."""
    w = np.where(EXCITATORY[None, :], W_MEAN, G * W_MEAN) * np.ones((8, 1))
    w[POPULATIONS.index("L23E"), POPULATIONS.index("L4E")] *= L4E_TO_L23E
    return w


def sizes(p: Params) -> np.ndarray:
    return np.maximum(1, np.round(FULL_SIZES * p.n_scale)).astype(np.int64)


def synapse_counts(p: Params) -> np.ndarray:
    """Synapses per projection (target, source): the scaled in-degree times the
    scaled target size."""
    return np.round(full_indegrees() * p.k_scale * sizes(p)[:, None]).astype(np.int64)


def background_current(p: Params) -> np.ndarray:
    """DC (pA) per population: the Poisson background's mean (K_ext nu_bg w tau_syn)
    when ``background == "dc"``, plus, for k_scale < 1, the recurrent and external mean
    input lost by scaling in-degrees by k and weights by 1/sqrt(k): (1 - sqrt k) tau_syn
    sum_s K_full w r_full."""
    ms = 1e-3
    rec = (full_indegrees() * mean_weights() * FULL_RATES[None, :]).sum(axis=1)
    comp = (1.0 - math.sqrt(p.k_scale)) * TAU_SYN * ms * rec
    ext = K_EXT * NU_BG * W_MEAN * TAU_SYN * ms
    if p.background == "dc":
        return ext + comp
    return comp + (1.0 - math.sqrt(p.k_scale)) * ext


def propagators(dt: float) -> tuple[float, float, float, float]:
    """(P11 = alpha, P22 = beta, P21 (mV/pA), P20 (mV/pA)): the exact step of
    iaf_psc_exp (Rotter & Diesmann 1999) for the synaptic current and V."""
    alpha, beta = math.exp(-dt / TAU_SYN), math.exp(-dt / TAU_M)
    p21 = TAU_SYN * TAU_M / (C_M * (TAU_M - TAU_SYN)) * (beta - alpha)
    p20 = TAU_M / C_M * (1.0 - beta)
    return alpha, beta, p21, p20


# --- one concrete network ---------------------------------------------------------

@dataclass
class Projection:
    source: int          # population indices
    target: int
    pre: np.ndarray      # (synapses,) int64 within the source population
    post: np.ndarray     # within the target
    weight: np.ndarray   # pA
    delay: np.ndarray    # steps >= 1

    @property
    def name(self) -> str:
        return f"{POPULATIONS[self.source]}->{POPULATIONS[self.target]}"


@dataclass
class Instance:
    params: Params
    sizes: np.ndarray
    projections: list[Projection]
    v0: list[np.ndarray]              # mV (absolute), per population
    i_bg: np.ndarray                  # pA per population
    extra: dict = field(default_factory=dict)

    @property
    def synapses(self) -> int:
        return int(sum(pr.pre.size for pr in self.projections))

    @property
    def neurons(self) -> int:
        return int(self.sizes.sum())


def draw(p: Params) -> Instance:
    """Draw one network: fixed total number of synapses per projection (pre and
    post uniform, autapses and multapses allowed), normal weights (clipped to keep
    their sign), normal delays clipped to [dt, max_delay] and rounded to steps,
    V0 ~ N(-58, 10) mV clipped to [-95, -35] mV."""
    p.check()
    rng = np.random.default_rng(p.seed)
    n = sizes(p)
    counts = synapse_counts(p)
    w_mean = mean_weights() / math.sqrt(p.k_scale)
    projs = []
    for t in range(8):
        for s in range(8):
            k = int(counts[t, s])
            if k == 0:
                continue
            pre = rng.integers(0, n[s], k)
            post = rng.integers(0, n[t], k)
            mu = w_mean[t, s]
            w = rng.normal(mu, W_REL_SD * abs(mu), k)
            w = np.maximum(w, 0.0) if mu > 0 else np.minimum(w, 0.0)
            dm = DELAY_E if EXCITATORY[s] else DELAY_I
            d = np.clip(rng.normal(dm, DELAY_REL_SD * dm, k), p.dt, p.max_delay)
            steps = np.clip(np.round(d / p.dt), 1, math.floor(p.max_delay / p.dt + 1e-9)).astype(np.int64)
            projs.append(Projection(s, t, pre.astype(np.int64), post.astype(np.int64), w, steps))
    # clipped to +-3 sd about E_L - 5 (the tails hold 0.3 %) so that V0 fits V's format
    v0 = [np.clip(rng.normal(V0_MEAN, V0_SD, int(k)), V0_LOW, V0_HIGH) for k in n]
    return Instance(p, n, projs, v0, background_current(p))


# --- the compiler's network -------------------------------------------------------

def bias_mv(i_pa: float, dt: float) -> float:
    """The compiler bias (mV, added to I every step) whose steady current gives
    NEST's per-step drive of a DC ``i_pa``: bias / (1 - alpha) = P20 I."""
    alpha, _, _, p20 = propagators(dt)
    return p20 * i_pa * (1.0 - alpha)


def layers(pr: Projection) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The projection's synapses as lists (pre, post, weight pA, delay steps) with
    each (pre, post) pair at most once: synapses of one pair and one delay merged
    (weights summed), different delays of one pair in successive layers."""
    key = (pr.pre * (pr.post.max(initial=0) + 1) + pr.post) * (int(pr.delay.max(initial=0)) + 1) + pr.delay
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    w = np.bincount(inv, pr.weight, uniq.size)
    pre, post, d = pr.pre[first], pr.post[first], pr.delay[first]
    pair = pre * (pr.post.max(initial=0) + 1) + post
    order = np.lexsort((d, pair))
    pair_sorted = pair[order]
    start = np.searchsorted(pair_sorted, pair_sorted, side="left")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size) - start
    return [(pre[rank == r], post[rank == r], w[rank == r], d[rank == r]) for r in range(int(rank.max(initial=-1)) + 1)]


def offsets(inst: Instance) -> np.ndarray:
    """First neuron of each population in the compiler's single population (9 entries)."""
    return np.concatenate([[0], np.cumsum(inst.sizes)]).astype(np.int64)


def sample_sizes(inst: Instance, sample=None) -> np.ndarray:
    """Recorded neurons per population (8,): ``sample`` None (all), an int N (the first N of
    every population, all of a smaller one) or ``{population: N}`` (the first N, 0 .. its
    size; populations not named: none). Bad values: ModelError naming the population."""
    if sample is None:
        return inst.sizes.copy()
    if isinstance(sample, dict):
        unknown = sorted(set(sample) - set(POPULATIONS))
        if unknown:
            raise ModelError(f"microcircuit: sample names {', '.join(map(repr, unknown))}; allowed populations: "
                             f"{', '.join(POPULATIONS)}")
        out = np.zeros(8, np.int64)
        for k, pop in enumerate(POPULATIONS):
            n = sample.get(pop, 0)
            if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) \
                    or not 0 <= n <= inst.sizes[k]:
                raise ModelError(f"microcircuit: sample[{pop!r}] = {n!r}; allowed: an integer from 0 to "
                                 f"{inst.sizes[k]} (the neurons of {pop} at this scale)")
            out[k] = n
        if not out.any():
            raise ModelError("microcircuit: the sample records no neuron; give at least one population N >= 1")
        return out
    if isinstance(sample, (bool, np.bool_)) or not isinstance(sample, (int, np.integer)) or sample < 1:
        raise ModelError(f"microcircuit: sample = {sample!r}; allowed: an integer >= 1 (the first N neurons of "
                         f"every population), a dict {{population: N}} or None (all)")
    return np.minimum(inst.sizes, int(sample))


def positions(inst: Instance, sample=None) -> np.ndarray:
    """Index in the compiler's population of each neuron (L23E's, then L23I's, ...): the
    sampled neurons first (population by population), the others after them in the same
    order, so that a sample is the population's recorded first neurons (``record_first``)."""
    n_rec = sample_sizes(inst, sample)
    first = np.concatenate([[0], np.cumsum(n_rec)])
    rest = n_rec.sum() + np.concatenate([[0], np.cumsum(inst.sizes - n_rec)])
    out = []
    for k in range(8):
        j = np.arange(inst.sizes[k])
        out.append(np.where(j < n_rec[k], first[k] + j, rest[k] + j - n_rec[k]))
    return np.concatenate(out).astype(np.int64)


def to_network(inst: Instance, placement: str = "auto", v_format: str | None = "s6.9",
               name: str = "microcircuit", dither_bias: bool = True, sample=None):
    """The compiler's :class:`~fenn_dma.compiler.model.Network` of ``inst``.

    All eight populations are one compiler population ``"microcircuit"`` (the
    neurons of L23E, then L23I, ...; :func:`offsets`, :func:`split`): their
    neuron parameters differ only in the background (a per-neuron bias; with
    ``background="poisson"`` also the rate of PoissonLIF's on-core input). So the
    recurrent synapses are one Dense connection with per-synapse delays per
    multapse layer (``recurrent``, ``recurrent#1``, ...; absent synapses weigh 0,
    weights keep all 16 bits), and each spike is one DRAM row of all its targets.
    Eight populations with a connection per projection would hold per-connection
    registers for up to 8 x layers connections in one propagation pass, more than
    the 31 scalar registers. ``v_format``: V's fixed-point format (None: from ranges);
    ``dither_bias``: PoissonLIF's bias dither (off: the bias as rounded); ``sample``: record
    the spikes of only the first N neurons per population (:func:`sample_sizes`): the
    neurons are placed in :func:`positions`' order, the sample first, and the population
    records it (``record_first``; a window of ceil(N / 32) words per step)."""
    from fenn_dma.compiler.model import Dense, Exponential, Network
    from fenn_dma.compiler.neurons import PoissonLIF

    p = inst.params
    _, _, p21, _ = propagators(p.dt)
    off = offsets(inst)
    n = int(off[-1])
    pos = positions(inst, sample)
    recorded = int(sample_sizes(inst, sample).sum())

    def placed(a: np.ndarray) -> np.ndarray:           # natural order -> the compiler's order
        out = np.empty_like(a)
        out[pos] = a
        return out

    def per_neuron(values) -> np.ndarray:
        return placed(np.concatenate([np.full(int(k), float(v)) for k, v in zip(inst.sizes, values)]))

    bias = per_neuron([bias_mv(float(i), p.dt) for i in inst.i_bg])
    net = Network(dt=p.dt, name=name)
    common = dict(tau_mem=TAU_M, threshold=V_TH - E_L, v_reset=V_RESET - E_L, refractory=T_REF, bias=bias)
    # PoissonLIF for both backgrounds: its bias dither keeps the DC exact on average (the bias's
    # rounding would move the steady V by up to 0.5 mV); with "poisson", K_ext k inputs at nu_bg
    rate = K_EXT * p.k_scale * NU_BG if p.background == "poisson" else np.zeros(8)
    neuron = PoissonLIF(**common, poisson_rate=per_neuron(rate), poisson_weight=W_MEAN / math.sqrt(p.k_scale) * p21,
                        float_seed=p.seed, dither_bias=dither_bias)
    pop = net.population("microcircuit", n, neuron, record=("spikes",),
                         formats={"V": v_format} if v_format else None,
                         initial_v=placed(np.concatenate(inst.v0) - E_L),
                         record_first=recorded if recorded < n else None)
    per_layer: list[list] = []
    for pr in inst.projections:
        for r, lay in enumerate(layers(pr)):
            if r == len(per_layer):
                per_layer.append([])
            per_layer[r].append((pr, lay))
    for r, items in enumerate(per_layer):
        wm = np.zeros((n, n))
        dm = np.zeros((n, n), np.int64)
        for pr, (pre, post, w, d) in items:
            i, j = pos[pre + off[pr.source]], pos[post + off[pr.target]]
            wm[i, j] = w * p21
            # NEST: a spike of step t with delay d reaches V at step t + d + 1 (the current
            # first, V one step later); the compiler's V takes input in the arrival step
            dm[i, j] = d              # so latency 1 + d
        net.connect(pop, pop, Dense(wm, delays=dm), Exponential(TAU_SYN), latency=1,
                    name="recurrent" + (f"#{r}" if r else ""), placement=placement)
    return net


def split(x: np.ndarray, inst: Instance, sample=None) -> dict[str, np.ndarray]:
    """(..., columns) of the compiler's population (``to_network(inst, sample=sample)``)
    -> per population: every neuron when ``x`` has a column per neuron (a float model's
    record, or the record without a sample), else the sample's record (the first N of
    each population)."""
    if x.shape[-1] == inst.neurons:
        x = x[..., positions(inst, sample)]
        bounds = offsets(inst)
    else:
        n_rec = sample_sizes(inst, sample)
        if x.shape[-1] != n_rec.sum():
            raise ModelError(f"microcircuit: {x.shape[-1]} columns are neither the {inst.neurons} neurons nor the "
                             f"sample's {int(n_rec.sum())}")
        bounds = np.concatenate([[0], np.cumsum(n_rec)])
    return {name: x[..., bounds[k]:bounds[k + 1]] for k, name in enumerate(POPULATIONS)}


def build():
    """The default network for ``fenn-dma compile models/microcircuit.py``: scale 0.01,
    Poisson background."""
    return to_network(draw(Params()))
