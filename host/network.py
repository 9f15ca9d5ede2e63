"""The trained network as a plain, framework-free artifact (what the compiler,
NIR and Loihi exporters consume).

Discrete-time dynamics of every population, with ``alpha = exp(-dt/tau_syn)``,
``beta = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``, all per step ``t``::

    I[t] = alpha * I[t-1] + sum_j W_in[i, j] * s_j[t - 1 - D[i, j]]
                          + sum_k W_rec[i, k] * z_k[t - 1]          (if recurrent)
    V[t] = beta * V[t-1] + I[t]                   (V held at 0 while refractory)
    z[t] = V[t] > threshold + beta_adapt * A[t-1]     (ALIF; LIF: beta_adapt = 0)
    V[t] = 0 where z[t]  (reset to zero), then ``refractory`` steps held at 0
    A[t] = rho * A[t-1] + z[t]                    (ALIF only)

Every projection has one step of transmission latency plus its integer delay
``D`` (0 ..). The readout (``model == "LI"``) has the same ``I``/``V`` equations
and never spikes; class scores are ``readout_reduce`` (``"mean"`` or ``"max"``)
of ``V`` over the steps.

The neuron models are the compiler's units (``compiler/neurons/``, looked up by
``NeuronParams.model``): ``NeuronParams.unit`` is the unit of a layer, built
from the fields below by name (``refractory`` in ms = steps * dt, the unit's
``beta`` from ``beta_adapt``; a unit field without one here keeps its default),
and its float step (``float_leak`` / ``float_fire``) is the ``V``/``z``/``A``
part above, for :func:`simulate` and the torch model alike.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.neurons import NeuronModel, model_class, models
from fenn_dma.host.errors import ExportError

FORMAT_VERSION = 1


def hidden_models() -> list[str]:
    """The neuron models a hidden layer can have: every spiking unit of the registry."""
    return [name for name, cls in models().items() if cls.spiking]


@dataclass
class NeuronParams:
    """Neuron parameters in physical units."""

    model: str = "LIF"             # a registered neuron model: LIF | ALIF | LI (non-spiking readout) | ...
    tau_mem: float = 20.0          # ms
    tau_syn: float = 5.0           # ms
    threshold: float = 1.0
    dt: float = 1.0                # ms per step
    refractory: int = 0            # steps held at 0 after a spike
    tau_adapt: float = 0.0         # ms (ALIF)
    beta_adapt: float = 0.0        # threshold increase per unit of adaptation (ALIF)

    def __post_init__(self):
        if self.tau_mem <= 0 or self.tau_syn <= 0 or self.dt <= 0:
            raise ExportError(f"tau_mem ({self.tau_mem}), tau_syn ({self.tau_syn}) and dt ({self.dt}) must be > 0 ms")
        if self.refractory < 0:
            raise ExportError(f"refractory must be >= 0 steps, got {self.refractory}")
        try:
            self.unit.validate(f"neuron model {self.model}")
        except ModelError as exc:
            raise ExportError(str(exc)) from None

    @property
    def unit(self) -> NeuronModel:
        """The compiler's unit of this model with these parameters (see the module docstring)."""
        try:
            cls = model_class(self.model)
        except ModelError as exc:
            raise ExportError(str(exc)) from None
        have = {"tau_mem": self.tau_mem, "threshold": self.threshold, "refractory": float(self.refractory) * self.dt,
                "tau_adapt": self.tau_adapt, "beta": self.beta_adapt}
        return cls(**{f.name: float(have[f.name]) for f in fields(cls) if f.name in have})

    @classmethod
    def of_unit(cls, unit: NeuronModel, tau_syn: float, dt: float, owner: str = "population") -> "NeuronParams":
        """The parameters of a unit (one value per population), synapse ``tau_syn`` and step ``dt`` (ms)."""
        vals = {}
        for f in fields(unit):
            a = np.asarray(getattr(unit, f.name), dtype=np.float64).ravel()
            if a.size > 1 and not np.all(a == a[0]):
                raise ExportError(f"{owner}: per-neuron {f.name} values differ; only one value per population "
                                  "is supported")
            vals[f.name] = float(a[0])
        return cls(unit.name, vals.get("tau_mem", np.inf), float(tau_syn), vals.get("threshold", 1.0), float(dt),
                   int(round(vals.get("refractory", 0.0) / dt)), vals.get("tau_adapt", 0.0), vals.get("beta", 0.0))

    @property
    def spiking(self) -> bool:
        return model_class(self.model).spiking

    @property
    def alpha(self) -> float:
        return float(np.exp(-self.dt / self.tau_syn))

    @property
    def beta(self) -> float:
        return float(np.exp(-self.dt / self.tau_mem))

    @property
    def rho(self) -> float:
        return float(np.exp(-self.dt / self.tau_adapt)) if self.tau_adapt > 0 else 0.0


@dataclass
class Layer:
    """One population and its incoming projections."""

    name: str
    neuron: NeuronParams
    weights: np.ndarray                       # (size, n_prev) float, W_in
    delays: np.ndarray                        # (size, n_prev) int64 steps (extra to the 1-step latency)
    weights_rec: np.ndarray | None = None     # (size, size) or None

    @property
    def size(self) -> int:
        return int(self.weights.shape[0])

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.delays = np.asarray(self.delays, dtype=np.int64)
        if self.delays.shape != self.weights.shape:
            raise ExportError(f"layer {self.name}: delays {self.delays.shape} != weights {self.weights.shape}")
        if self.delays.size and self.delays.min() < 0:
            raise ExportError(f"layer {self.name}: negative delay {self.delays.min()}")
        if self.weights_rec is not None:
            self.weights_rec = np.asarray(self.weights_rec, dtype=np.float64)
            if self.weights_rec.shape != (self.size, self.size):
                raise ExportError(f"layer {self.name}: recurrent weights {self.weights_rec.shape}, "
                                  f"expected {(self.size, self.size)}")


@dataclass
class TrainedNetwork:
    """Input -> hidden layers (LIF/ALIF) -> LI readout; see the module docstring."""

    n_inputs: int
    layers: list                             # of Layer; the last one is the readout (LI)
    n_steps: int = 0                         # steps per sample the network was trained with
    readout_reduce: str = "mean"
    weight_format: str | None = None         # fixed-point format the weights were trained in (QAT)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        prev = self.n_inputs
        for layer in self.layers:
            if layer.weights.shape[1] != prev:
                raise ExportError(f"layer {layer.name}: {layer.weights.shape[1]} inputs, previous has {prev}")
            prev = layer.size
        if self.layers and self.layers[-1].neuron.spiking:
            raise ExportError("the last layer must be the LI readout (a non-spiking model)")
        if self.readout_reduce not in ("mean", "max"):
            raise ExportError(f"readout_reduce {self.readout_reduce!r}; allowed: mean, max")

    @property
    def dt(self) -> float:
        return self.layers[0].neuron.dt

    # ------------------------------------------------------------------ save / load (npz + json)
    def save(self, path: str | Path) -> None:
        arrays, layers = {}, []
        for i, layer in enumerate(self.layers):
            arrays[f"w{i}"] = layer.weights
            arrays[f"d{i}"] = layer.delays
            if layer.weights_rec is not None:
                arrays[f"r{i}"] = layer.weights_rec
            layers.append({"name": layer.name, "neuron": asdict(layer.neuron)})
        meta = {"format_version": FORMAT_VERSION, "n_inputs": self.n_inputs, "n_steps": self.n_steps,
                "readout_reduce": self.readout_reduce, "weight_format": self.weight_format,
                "layers": layers, "metadata": self.metadata}
        np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "TrainedNetwork":
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                layers = [Layer(l["name"], NeuronParams(**l["neuron"]), z[f"w{i}"], z[f"d{i}"],
                                z[f"r{i}"] if f"r{i}" in z else None)
                          for i, l in enumerate(meta["layers"])]
        except (OSError, KeyError, ValueError) as exc:
            raise ExportError(f"{path}: not a trained-network file ({exc})") from exc
        return cls(meta["n_inputs"], layers, meta["n_steps"], meta["readout_reduce"],
                   meta["weight_format"], meta.get("metadata", {}))

    def equals(self, other: "TrainedNetwork") -> bool:
        if (self.n_inputs, self.n_steps, self.readout_reduce, len(self.layers)) != \
                (other.n_inputs, other.n_steps, other.readout_reduce, len(other.layers)):
            return False
        for a, b in zip(self.layers, other.layers):
            if a.name != b.name or a.neuron != b.neuron:
                return False
            if not (np.array_equal(a.weights, b.weights) and np.array_equal(a.delays, b.delays)):
                return False
            if (a.weights_rec is None) != (b.weights_rec is None):
                return False
            if a.weights_rec is not None and not np.array_equal(a.weights_rec, b.weights_rec):
                return False
        return True


def simulate(net: TrainedNetwork, spikes: np.ndarray, record: bool = False):
    """Float64 numpy reference of the dynamics above: ``spikes (B, T, n_in)`` ->
    class scores ``(B, C)`` (and the per-layer traces when ``record``)."""
    x = np.asarray(spikes, dtype=np.float64)
    B, T, _ = x.shape
    traces = []
    for layer in net.layers:
        p = layer.neuron
        dmax = int(layer.delays.max()) if layer.delays.size else 0
        # ff[t, i] = sum_j W[i,j] x[t-1-D[i,j], j]
        ff = np.zeros((B, T, layer.size))
        for d in range(dmax + 1):
            w = np.where(layer.delays == d, layer.weights, 0.0)
            if not w.any():
                continue
            shift = d + 1
            if shift < T:
                ff[:, shift:] += x[:, :T - shift] @ w.T
        unit = p.unit
        i_syn = np.zeros((B, layer.size))
        v = np.zeros((B, layer.size))
        z = np.zeros((B, layer.size))
        state = unit.float_init((B, layer.size))
        out = np.zeros((B, T, layer.size))
        for t in range(T):
            inp = ff[:, t]
            if layer.weights_rec is not None:
                inp = inp + z @ layer.weights_rec.T
            i_syn = p.alpha * i_syn + inp
            v = unit.float_leak(v, p.dt) + i_syn
            v, spikes = unit.float_fire(v, state, p.dt)
            if spikes is None:
                out[:, t] = v
                continue
            z = spikes
            out[:, t] = z
        traces.append(out)
        x = out
    scores = x.mean(1) if net.readout_reduce == "mean" else x.max(1)
    return (scores, traces) if record else scores
