"""NIR with the real peers, both ways: small networks built and exported by
snnTorch, Norse and Spyx with their own exporters, compiled here and compared
spike for spike with the peer's own simulation; and our export imported and
run by each peer. Used by tests/host/test_interop.py and
benchmarks/nir_interop.py (the agreement table).

The peers' exporter bugs are worked around here, on the peer's graph or
model, never in our importer (docs/compiler.md, "NIR with the peers"):

- snnTorch 1.0 ``export_to_nir`` needs per-neuron ``beta`` and ``threshold``
  tensors (a scalar fails NIR's shape check) and a sample without a batch
  axis (with one, type inference fails); its importer assumes dt = 1e-4 s
  (``nir_export.SNNTORCH_DT``), so our graph is written for that step
  (``nir_export.retime``).
- Norse 1.1 ``to_nir`` writes ``tau = dt / tau_inv`` (``dt * tau``, not
  ``tau``), plain torch tensors (``nir.write`` cannot chunk 0-d ones), and
  ``None`` for ``LIBoxCell``; the taus are corrected and the parameters made
  numpy arrays. Its ``from_nir`` takes the step as an argument.
- Spyx 1.0 ``spyx.nir.to_nir`` writes ``r = beta`` and ``w_in = 1`` where its
  cells add at gain 1 (``r = tau_mem / dt``, ``w_in = tau_syn / dt``) and no step
  (``fix_spyx_graph``); its neurons reset by subtraction, which NIR's CubaLIF
  cannot say (imported as ``LIFSubtract``, ``subtract_reset``), and fire before
  they integrate, so its output trails ours by one step per spiking layer
  (``spyx_lag``; compared shifted). Its ``from_nir`` takes the step as an argument
  and simulates subtractive reset whatever the graph says, so the graph it runs is
  one of ``LIFSubtract`` neurons.

Agreement: the fraction of (step, neuron) output spikes that are equal (for Spyx
over the steps both sides cover after the lag).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_IN, N_HIDDEN, N_OUT = 6, 12, 4


@dataclass
class Agreement:
    case: str
    direction: str          # "peer -> fenn" or "fenn -> peer"
    steps: int
    peer_spikes: int
    float_agree: float      # our float model vs the peer
    deployed_agree: float   # the ISS (fixed point, compiled) vs the peer; nan for fenn -> peer


def _spikes(T: int, seed: int, rate: float = 0.3) -> np.ndarray:
    return np.random.default_rng(seed).random((T, N_IN)) < rate


def _agree(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"spike arrays of shapes {a.shape} and {b.shape}")
    return float((a == b).mean())


def _ours(net, x: np.ndarray, out_pop: str, deployed: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(float spikes, ISS spikes or None) of population ``out_pop`` for input ``x`` (T, N_IN)."""
    from fenn_dma.compiler.float_sim import measure_ranges, simulate_float
    from fenn_dma.compiler.pipeline import compile_model
    from fenn_dma.compiler.runtime import Runtime

    src = next(p.name for p in net.populations.values() if p.is_input)
    inputs = {src: x[None].astype(np.float64)}
    rec, _ = simulate_float(net, inputs)
    fl = rec[out_pop]["spikes"][0] > 0
    if not deployed:
        return fl, None
    program, _ = compile_model(net, n_steps=len(x), measured=measure_ranges(net, inputs))
    out = Runtime(program).run({src: x}, steps=len(x))
    return fl, np.asarray(out.records[f"{out_pop}.spikes"], bool)


# --- snnTorch ---------------------------------------------------------------------------------

def snntorch_model(kind: str, seed: int):
    """Linear -> Leaky|Synaptic -> Linear -> Leaky|Synaptic (zero reset, NIR's), per-neuron tensors."""
    import snntorch as snn
    import torch

    torch.manual_seed(seed)

    def layer(n, beta, alpha, out=False):
        common = dict(beta=torch.full((n,), beta), threshold=torch.ones(n), reset_mechanism="zero",
                      init_hidden=True, output=out)
        return snn.Leaky(**common) if kind == "Leaky" else snn.Synaptic(alpha=torch.full((n,), alpha), **common)

    model = torch.nn.Sequential(torch.nn.Linear(N_IN, N_HIDDEN, bias=False), layer(N_HIDDEN, 0.9, 0.8),
                                torch.nn.Linear(N_HIDDEN, N_OUT, bias=False), layer(N_OUT, 0.85, 0.7, out=True))
    with torch.no_grad():
        for lin in (model[0], model[2]):
            lin.weight.mul_(4.0 if kind == "Leaky" else 2.0)
    return model


def run_peer(model, x: np.ndarray, passes_state: bool = True) -> np.ndarray:
    """Output spikes (T, n) of a peer's torch model stepped over ``x`` (T, N_IN), one
    sample: ``passes_state``: the model takes and returns its state (Norse's cells,
    both peers' NIR graph modules); else it keeps it (snnTorch's ``init_hidden``,
    reset here). Of a tuple output (spikes, membrane, ...) the spikes are taken."""
    import torch

    if not passes_state:
        import snntorch.utils
        snntorch.utils.reset(model)
    out, state = [], None
    with torch.no_grad():
        for t in range(len(x)):
            xt = torch.tensor(x[t][None], dtype=torch.float32)
            if passes_state:
                y, state = model(xt, state)
            else:
                y = model(xt)
            while isinstance(y, tuple):
                y = y[0]
            out.append(np.asarray(y)[0] > 0)
    return np.array(out)


def snntorch_to_fenn(kind: str = "Leaky", seed: int = 0, steps: int = 80, deployed: bool = True,
                     hold: bool = False) -> Agreement:
    """``hold``: give the imported neurons snnTorch's post-spike step. A zero-reset
    ``Synaptic`` resets from the previous step's membrane as well as right after
    the spike (``_base_zero``), so the step after a spike starts from 0 and
    loses its input: a refractory period of one step, which NIR's CubaLIF
    cannot say. ``Leaky`` has no such step."""
    import torch
    from snntorch.export_nir import export_to_nir

    from fenn_dma.compiler.nir_import import from_nir

    model = snntorch_model(kind, seed)
    graph = export_to_nir(model, torch.zeros(N_IN))
    net = from_nir(graph)          # dt from snnTorch's r = tau / dt
    if hold:
        for pop in net.populations.values():
            if not pop.is_input:
                pop.neuron.refractory = net.dt
    x = _spikes(steps, seed + 1)
    peer = run_peer(model, x, passes_state=False)
    out_pop = _output_population(graph)
    fl, dep = _ours(net, x, out_pop, deployed)
    return Agreement(f"snnTorch {kind}" + (" + 1-step hold" if hold else ""), "peer -> fenn", steps, int(peer.sum()), _agree(fl, peer),
                     _agree(dep, peer) if dep is not None else float("nan"))


def _output_population(graph) -> str:
    return next(a for a, b in graph.edges if b == "output")


# --- Norse ------------------------------------------------------------------------------------

def norse_model(kind: str, seed: int, dt: float):
    """Linear -> LIFBoxCell|LIFCell -> Linear -> LIFBoxCell|LIFCell."""
    import norse.torch as nt
    import torch

    torch.manual_seed(seed)

    def cell(n, tau_mem_inv):
        if kind == "LIFBoxCell":
            return nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.full((n,), tau_mem_inv),
                                                     v_th=torch.ones(n), v_leak=torch.zeros(n),
                                                     v_reset=torch.zeros(n)), dt=dt)
        return nt.LIFCell(nt.LIFParameters(tau_syn_inv=torch.full((n,), 200.0), tau_mem_inv=torch.full((n,), tau_mem_inv),
                                           v_th=torch.ones(n), v_leak=torch.zeros(n), v_reset=torch.zeros(n)), dt=dt)

    model = nt.SequentialState(torch.nn.Linear(N_IN, N_HIDDEN, bias=False), cell(N_HIDDEN, 100.0),
                               torch.nn.Linear(N_HIDDEN, N_OUT, bias=False), cell(N_OUT, 50.0))
    with torch.no_grad():
        gains = (12.0, 150.0) if kind == "LIFBoxCell" else (60.0, 150.0)
        for lin, gain in zip((model[0], model[2]), gains):
            lin.weight.mul_(gain)
    return model


def fix_norse_graph(graph, model, dt: float):
    """Norse 1.1's export, repaired: taus from the cells' own parameters; CubaLIF's
    ``w_in = tau_syn / dt`` (the cell adds its input to the current at gain 1, NIR's
    CubaLIF at ``dt / tau_syn * w_in``; Norse leaves ``w_in`` at 1); numpy arrays."""
    import nir
    import torch

    cells = [m for m in model if hasattr(m, "p")]
    nodes = [k for k, n in graph.nodes.items() if isinstance(n, (nir.LIF, nir.CubaLIF))]
    for key, cell in zip(sorted(nodes, key=int), cells):
        node = graph.nodes[key]
        if isinstance(node, nir.LIF):
            node.tau = 1.0 / cell.p.tau_mem_inv.detach().numpy()
        else:
            node.tau_mem = 1.0 / cell.p.tau_mem_inv.detach().numpy()
            node.tau_syn = 1.0 / cell.p.tau_syn_inv.detach().numpy()
            node.w_in = node.tau_syn / dt
    for node in graph.nodes.values():
        for name, value in list(vars(node).items()):
            if isinstance(value, torch.Tensor):
                setattr(node, name, value.detach().numpy())
    return graph


def norse_to_fenn(kind: str = "LIFBoxCell", seed: int = 0, steps: int = 80, deployed: bool = True) -> Agreement:
    import norse.torch as nt
    import torch

    from fenn_dma.compiler.nir_import import from_nir

    dt = 1e-3
    model = norse_model(kind, seed, dt)
    graph = fix_norse_graph(nt.to_nir(model, torch.zeros(1, N_IN), dt=dt), model, dt)
    net = from_nir(graph, dt=dt * 1e3)       # Norse writes no step: ours, in ms
    x = _spikes(steps, seed + 1)
    peer = run_peer(model, x)
    fl, dep = _ours(net, x, _output_population(graph), deployed)
    return Agreement(f"Norse {kind}", "peer -> fenn", steps, int(peer.sum()), _agree(fl, peer),
                     _agree(dep, peer) if dep is not None else float("nan"))


# --- Spyx ---------------------------------------------------------------------------------------

SPYX_DT = 1e-3      # seconds: the step of both sides (Spyx's to_nir/from_nir take it as an argument)


def spyx_model(seed: int):
    """Linear -> CuBaLIF -> Linear -> CuBaLIF (Spyx 1.0, Flax NNX), per-population alpha, beta."""
    import spyx.nn as snn
    from flax import nnx

    rngs = nnx.Rngs(seed)
    model = snn.Sequential(nnx.Linear(N_IN, N_HIDDEN, use_bias=False, rngs=rngs),
                           snn.CuBaLIF((N_HIDDEN,), alpha=0.8, beta=0.9, rngs=rngs),
                           nnx.Linear(N_HIDDEN, N_OUT, use_bias=False, rngs=rngs),
                           snn.CuBaLIF((N_OUT,), alpha=0.7, beta=0.85, rngs=rngs))
    for lin, gain in ((model.layers[0], 0.6), (model.layers[2], 0.5)):
        lin.kernel[...] = lin.kernel[...] * gain
    return model


def spyx_run(model, x: np.ndarray) -> np.ndarray:
    """Output spikes (T, n) of a Spyx model over ``x`` (T, N_IN), Spyx's own scan."""
    import jax.numpy as jnp
    import spyx.nn as snn

    out, _ = snn.run(model, jnp.asarray(x[:, None], jnp.float32))
    return np.asarray(out)[:, 0] > 0


def fix_spyx_graph(graph, dt: float):
    """Spyx 1.0's export, repaired: its CuBaLIF adds the input to the current and the
    current to V at gain 1, so NIR's ``w_in = tau_syn / dt`` and ``r = tau_mem / dt``
    (Spyx writes ``w_in = 1`` and ``r = beta``); the step it exported at, in the
    metadata (it writes none)."""
    import nir

    for node in graph.nodes.values():
        if isinstance(node, nir.CubaLIF):
            node.w_in = np.asarray(node.tau_syn, np.float64) / dt
            node.r = np.asarray(node.tau_mem, np.float64) / dt
        elif isinstance(node, nir.LIF):
            node.r = np.asarray(node.tau, np.float64) / dt
    graph.metadata = {**dict(graph.metadata or {}), "dt": dt}
    return graph


def subtract_reset(net) -> None:
    """Every LIF of ``net`` made a LIFSubtract (same leak and threshold): Spyx's neurons
    reset by subtracting the threshold, which NIR's CubaLIF (reset to ``v_reset``)
    cannot say."""
    from fenn_dma.compiler.neurons.lif import LIF
    from fenn_dma.compiler.neurons.lif_subtract import LIFSubtract

    for pop in net.populations.values():
        if isinstance(pop.neuron, LIF):
            pop.neuron = LIFSubtract(tau_mem=pop.neuron.tau_mem, threshold=pop.neuron.threshold,
                                     bias=pop.neuron.bias)


def spyx_lag(graph) -> int:
    """Steps by which Spyx's output trails ours: a Spyx neuron emits at step t the spike
    of its membrane at t-1 (it fires before it integrates), one step per spiking layer."""
    import nir
    return sum(isinstance(n, (nir.LIF, nir.CubaLIF, nir.IF)) for n in graph.nodes.values())


def _agree_lagged(peer: np.ndarray, ours: np.ndarray, lag: int) -> float:
    return _agree(peer[lag:], ours[:len(ours) - lag])


def spyx_to_fenn(seed: int = 0, steps: int = 80, deployed: bool = True) -> Agreement:
    import spyx.nir

    from fenn_dma.compiler.nir_import import from_nir

    model = spyx_model(seed)
    graph = fix_spyx_graph(spyx.nir.to_nir(model, {"input": np.array([N_IN])}, {"output": np.array([N_OUT])},
                                           dt=SPYX_DT), SPYX_DT)
    net = from_nir(graph)               # the step from the repaired metadata
    subtract_reset(net)
    x = _spikes(steps, seed + 1)
    peer = spyx_run(model, x)
    fl, dep = _ours(net, x, _output_population(graph), deployed)
    lag = spyx_lag(graph)
    return Agreement("Spyx CuBaLIF", "peer -> fenn", steps - lag, int(peer.sum()), _agree_lagged(peer, fl, lag),
                     _agree_lagged(peer, dep, lag) if dep is not None else float("nan"))


def fenn_to_spyx(seed: int = 0, steps: int = 80) -> Agreement:
    """Our export (LIFSubtract, Exponential synapses: the neurons Spyx simulates) imported
    and run by Spyx's ``from_nir`` at the graph's own step."""
    import jax.numpy as jnp
    import spyx.nir

    from fenn_dma.compiler.nir_export import to_nir

    net = fenn_network("exp", seed, neuron="LIFSubtract")
    x = _spikes(steps, seed + 1)
    fl, _ = _ours(net, x, "out", deployed=False)
    graph = to_nir(net)
    _, out = spyx.nir.from_nir(graph, jnp.asarray(x[:, None], jnp.float32), dt=float(graph.metadata["dt"]))
    peer = np.asarray(out)[:, 0] > 0
    lag = spyx_lag(graph)
    return Agreement("fenn LIFSubtract exp -> Spyx", "fenn -> peer", steps - lag, int(peer.sum()),
                     _agree_lagged(peer, fl, lag), float("nan"))


# --- our export, run by the peers ---------------------------------------------------------------

def fenn_network(synapse: str, seed: int, dt: float = 1.0, neuron: str = "LIF"):
    """input -> hidden -> out, our model API; ``synapse``: "delta" or "exp"; ``neuron``:
    "LIF" or "LIFSubtract"."""
    from fenn_dma.compiler.model import Delta, Dense, Exponential, Network, SpikeInput
    from fenn_dma.compiler.neurons import LIF
    from fenn_dma.compiler.neurons.lif_subtract import LIFSubtract

    cls = LIFSubtract if neuron == "LIFSubtract" else LIF

    rng = np.random.default_rng(seed)
    net = Network(dt=dt, name=f"interop_{synapse}")
    src = net.population("input", N_IN, SpikeInput())
    hid = net.population("hidden", N_HIDDEN, cls(tau_mem=10.0, threshold=1.0))
    out = net.population("out", N_OUT, cls(tau_mem=20.0, threshold=1.0), record=("spikes",),
                             readout="spike_count")
    syn = Delta() if synapse == "delta" else Exponential(5.0)
    gain = 1.2 if synapse == "delta" else 0.5
    # latency 0: NIR's edges carry no delay, and the peers' layers act in the same step
    net.connect(src, hid, Dense(rng.normal(0.4, 0.5, (N_IN, N_HIDDEN)) * gain), syn, latency=0)
    net.connect(hid, out, Dense(rng.normal(0.3, 0.5, (N_HIDDEN, N_OUT)) * gain), syn, latency=0)
    return net


def fenn_to_peer(peer: str, synapse: str = "delta", seed: int = 0, steps: int = 80) -> Agreement:
    from fenn_dma.compiler.nir_export import SNNTORCH_DT, retime, to_nir, unit_r

    net = fenn_network(synapse, seed)
    x = _spikes(steps, seed + 1)
    fl, _ = _ours(net, x, "out", deployed=False)
    graph = to_nir(net)
    if peer == "snnTorch":
        from snntorch.import_nir import import_from_nir
        model = import_from_nir(retime(graph, SNNTORCH_DT))
        state_out = run_peer(model, x)
    else:
        import norse.torch as nt
        model = nt.from_nir(unit_r(graph), dt=float(graph.metadata["dt"]))
        state_out = run_peer(model, x)
    return Agreement(f"fenn {synapse} -> {peer}", "fenn -> peer", steps, int(state_out.sum()),
                     _agree(fl, state_out), float("nan"))


def table(seed: int = 0, steps: int = 80) -> list[Agreement]:
    """Every case: peers' exports compiled here, our export run by the peers."""
    rows = [snntorch_to_fenn("Leaky", seed, steps), snntorch_to_fenn("Synaptic", seed, steps),
            snntorch_to_fenn("Synaptic", seed, steps, hold=True),
            norse_to_fenn("LIFBoxCell", seed, steps), norse_to_fenn("LIFCell", seed, steps)]
    rows += [fenn_to_peer(p, s, seed, steps) for p in ("snnTorch", "Norse") for s in ("delta", "exp")]
    if spyx_available():
        rows += [spyx_to_fenn(seed, steps), fenn_to_spyx(seed, steps)]
    return rows


def spyx_available() -> bool:
    """Whether Spyx (and JAX) import here (the `interop` extra installs them)."""
    import importlib
    try:
        importlib.import_module("spyx.nir")
    except ImportError:
        return False
    return True
