"""Loihi 2 export in Lava-dl netx's HDF5 layout, and a bit-accurate numpy model
of Loihi's CUBA LIF fixed-point dynamics (so the export's fidelity is a number).

File layout, as ``lava.lib.dl.netx.hdf5.Network`` reads it (lava-dl
``src/lava/lib/dl/netx/hdf5.py``: ``_create``, ``create_input``,
``create_dense``, ``get_neuron_params``; ``utils.py``: ``NetDict``,
``optimize_weight_bits``)::

    layer/0   type='input'  shape=[n_in]           (no 'neuron': spikes go straight to layer 1)
    layer/i   type='dense'  shape=[n]  weight (n, n_prev) int in [-256, 254]
              [delay (n, n_prev) int 0..62]
              neuron/{type='CUBA', iDecay, vDecay, vThMant, refDelay=1, gradedSpike=False}

* ``type`` datasets are ASCII strings (``NetDict`` decodes them); ``shape``,
  ``delay``, ``iDecay``, ``vDecay``, ``vThMant`` are read as stored; ``weight``
  as ``int``.
* ``weight`` is ``(out, in)`` (``create_dense`` reshapes a flat one to
  ``(shape[0], -1)``) and holds the effective integer weights: netx's
  ``optimize_weight_bits`` re-derives mantissa and exponent and preserves the
  value within Loihi's mixed-sign range ``[-256, 254]`` (it clips beyond). We
  store ``2 * mantissa`` with 8-bit mantissas ``-128..127`` (the full range).
* ``delay``: per synapse ``(out, in)`` (also accepted by netx: a scalar, or one
  value per output (axonal) or per input neuron), clipped by netx at 62 steps
  (we clip with a warning first); netx then builds a ``DelayDense`` synapse.
  Versions of netx whose ``create_dense`` does not pass ``delay`` on (e.g.
  lava-dl 4919a66) drop it silently: use a lava-dl with ``DelayDense`` support.
* CUBA neurons become Lava ``LIF(du=iDecay-1, dv=vDecay, vth=vThMant,
  bias_exp=6)``; ``refDelay`` and ``gradedSpike`` are written (slayer writes
  them) but netx reads neither: Lava's ``LIF`` has no refractory period.

What netx cannot express, ``export_netx`` refuses with an ``ExportError``:
recurrent weights (netx's reader only chains layers; a recurrent layer must be
built by hand from ``netx.blocks.process.RecurrentDense(weight=...,
weight_rec=...)``) and refractory periods (build the layer from
``lava.proc.lif.process.LIFRefractory`` by hand). ``convert`` and
``simulate_loihi`` still model both, for such hand-built networks.

The last layer is the non-spiking readout: ``vThMant`` is the largest value
(2**17 - 1) and the model reads its voltage (in Lava: probe ``neuron.v`` of
the last block).

Model (per step, integers, after Lava's ``PyLifModelBitAcc``)::

    u = sign(u * (4096 - iDecay)) * (|u * (4096 - iDecay)| >> 12) + (a_in << 6)   (wraps at 2**23)
    v = clip(sign(v * (4096 - vDecay)) * (|v * (4096 - vDecay)| >> 12) + u, ±(2**23 - 1))
    s = v > (vThMant << 6);  v[s] = 0;  v held at 0 for refDelay - 1 steps after a spike

with ``a_in[t] = sum_j weight * s_j[t - 1 - delay]`` (one step of latency per layer).
Float -> integer mapping of a layer: ``iDecay = round(4096 (1 - alpha))``,
``vDecay = round(4096 (1 - beta))``; a per-layer scale ``k = 2 * 127 / max|W|``
maps real weights and threshold to integers (``weight = 2 round(W k / 2)``,
``vThMant = round(threshold k)``); weights QAT-trained in an 8-bit format
``sI.F`` use ``k = 2 * 2**F`` instead, so they map without re-rounding.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fenn_dma.boundary import write_outputs
from fenn_dma.compiler.neurons import LI, LIF
from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import TrainedNetwork

# the neuron-model units Loihi's CUBA neuron computes (LI: the readout, whose threshold is never reached)
CUBA_UNITS = (LIF, LI)

MAX_DELAY = 62
VTH_MAX = (1 << 17) - 1
STATE_MAX = 1 << 23
MANT_MIN, MANT_MAX = -128, 127
WEIGHT_STEP = 2                 # mixed-sign weights are 2 * 8-bit mantissa: even values in [-256, 254]


@dataclass
class LoihiLayer:
    weight: np.ndarray            # (n, n_prev) int64 (mantissa << exponent)
    delay: np.ndarray             # (n, n_prev) int64
    weight_rec: np.ndarray | None
    i_decay: int
    v_decay: int
    vth_mant: int
    ref_delay: int
    readout: bool
    name: str = ""

    @property
    def size(self) -> int:
        return int(self.weight.shape[0])


@dataclass
class LoihiNetwork:
    n_inputs: int
    layers: list
    readout_reduce: str = "mean"


def _round(x) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def convert(net: TrainedNetwork) -> LoihiNetwork:
    """Float network -> integer Loihi parameters (see the module docstring)."""
    layers = []
    for li, layer in enumerate(net.layers):
        p = layer.neuron
        readout = li == len(net.layers) - 1
        if type(p.unit) not in CUBA_UNITS:
            raise ExportError(f"layer {layer.name}: {p.model} has no Loihi CUBA equivalent; Loihi export supports "
                              f"{' and '.join(c.name for c in CUBA_UNITS)} layers")
        ws = [layer.weights] + ([layer.weights_rec] if layer.weights_rec is not None else [])
        wmax = max(float(np.abs(w).max()) for w in ws)
        wmax = wmax if wmax > 0 else 1.0
        k = WEIGHT_STEP * MANT_MAX / wmax
        grid = _weight_grid(net.weight_format)
        if grid and all(np.array_equal(w * grid, np.round(w * grid)) for w in ws) \
                and max(float(np.abs(w * grid).max()) for w in ws) <= -MANT_MIN:
            k = WEIGHT_STEP * grid       # weights QAT-trained on an 8-bit grid map exactly

        def q(w):
            return np.clip(_round(w * k / WEIGHT_STEP), MANT_MIN, MANT_MAX) * WEIGHT_STEP

        vth = VTH_MAX if readout else int(_round(p.threshold * k))
        if vth > VTH_MAX:
            raise ExportError(f"layer {layer.name}: threshold mantissa {vth} exceeds {VTH_MAX}; "
                              "weights are too small relative to the threshold")
        delay = layer.delays
        if delay.size and delay.max() > MAX_DELAY:
            warnings.warn(f"layer {layer.name}: {int((delay > MAX_DELAY).sum())} delays above "
                          f"{MAX_DELAY} steps clipped to {MAX_DELAY} for Loihi", stacklevel=2)
            delay = np.minimum(delay, MAX_DELAY)
        layers.append(LoihiLayer(q(layer.weights), delay.astype(np.int64),
                                 q(layer.weights_rec) if layer.weights_rec is not None else None,
                                 int(_round(4096 * (1 - p.alpha))), int(_round(4096 * (1 - p.beta))),
                                 vth, 1 + p.refractory, readout, layer.name))
    return LoihiNetwork(net.n_inputs, layers, net.readout_reduce)


def _weight_grid(weight_format: str | None) -> float | None:
    """2**F of an 8-bit (or narrower) QAT weight format sI.F, else None."""
    from fenn_dma.compiler.fixedpoint import FixedFormat, FixedPointError
    try:
        fmt = FixedFormat.parse(weight_format) if weight_format else None
    except FixedPointError:
        return None
    return float(fmt.scale) if fmt is not None and fmt.width <= 8 else None


def _expressible(lnet: LoihiNetwork) -> None:
    """Refuse what netx's reader cannot build (module docstring)."""
    for i, layer in enumerate(lnet.layers, start=1):
        where = f"layer {layer.name or i}"
        if layer.weight_rec is not None:
            raise ExportError(f"{where}: recurrent weights cannot be written to a netx file (netx's "
                              "hdf5.Network only chains feed-forward layers); build that layer in Lava "
                              "with netx.blocks.process.RecurrentDense(weight=..., weight_rec=...) instead")
        if layer.ref_delay != 1:
            raise ExportError(f"{where}: refractory period of {layer.ref_delay - 1} steps cannot be written "
                              "to a netx file (netx builds lava.proc.lif.process.LIF, which has none); "
                              "train with refractory=0 or build the layer with LIFRefractory by hand")
        if np.any(layer.weight % WEIGHT_STEP) or layer.weight.min(initial=0) < MANT_MIN * WEIGHT_STEP \
                or layer.weight.max(initial=0) > MANT_MAX * WEIGHT_STEP:
            raise ExportError(f"{where}: weights must be even integers in [{MANT_MIN * WEIGHT_STEP}, "
                              f"{MANT_MAX * WEIGHT_STEP}] (Loihi's 8-bit mixed-sign weights)")
        if layer.delay.size and (layer.delay.min() < 0 or layer.delay.max() > MAX_DELAY):
            raise ExportError(f"{where}: delays must lie in 0..{MAX_DELAY} steps")


def export_netx(net: TrainedNetwork | LoihiNetwork, path: str | Path) -> LoihiNetwork:
    """Write ``net`` as a netx HDF5 file (atomically); returns the integer network written."""
    import h5py

    lnet = convert(net) if isinstance(net, TrainedNetwork) else net
    _expressible(lnet)
    path = Path(path)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["simulator"] = "fenn_dma.host.loihi"      # attributes: netx reads none of them
            f.attrs["readout_reduce"] = lnet.readout_reduce
            g = f.create_group("layer/0")
            g.create_dataset("type", data="input")
            g.create_dataset("shape", data=np.array([lnet.n_inputs], dtype=np.int64))
            for i, layer in enumerate(lnet.layers, start=1):
                g = f.create_group(f"layer/{i}")
                g.create_dataset("type", data="dense")
                g.create_dataset("shape", data=np.array([layer.size], dtype=np.int64))
                g.create_dataset("weight", data=layer.weight.astype(np.int32))
                if layer.delay.any():
                    g.create_dataset("delay", data=layer.delay.astype(np.int32))
                _neuron(g, layer.i_decay, layer.v_decay, layer.vth_mant)

    write_outputs({path: write})
    return lnet


def _neuron(g, i_decay, v_decay, vth):
    g.create_dataset("neuron/type", data="CUBA")
    g.create_dataset("neuron/iDecay", data=int(i_decay))
    g.create_dataset("neuron/vDecay", data=int(v_decay))
    g.create_dataset("neuron/vThMant", data=int(vth))
    g.create_dataset("neuron/refDelay", data=1)
    g.create_dataset("neuron/gradedSpike", data=False)


def read_netx(path: str | Path) -> LoihiNetwork:
    """Read a netx file of dense CUBA layers the way netx does (module docstring):
    flat weights reshaped to ``(shape, -1)``, scalar / per-output / per-input
    delays expanded, delays clipped at 62, weights clipped to [-256, 254]."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"netx file {path} not found")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ExportError(f"{path}: not an HDF5 file ({exc})") from None
    with f:
        if "layer" not in f:
            raise ExportError(f"{path}: no 'layer' group; not a netx file")
        keys = sorted(f["layer"].keys(), key=int)
        first = f["layer"][keys[0]]
        if _text(first["type"]) != "input":
            raise ExportError(f"{path}: layer 0 is not an input layer")
        if "neuron" in first:
            raise ExportError(f"{path}: layer 0 has a neuron (graded/bias-driven input); only spike input "
                              "(an input layer with 'shape' only) is supported")
        n_prev = n_in = int(np.prod(first["shape"][()]))
        layers = []
        for n, key in enumerate(keys[1:]):
            g = f["layer"][key]
            kind = _text(g["type"])
            if kind != "dense":
                raise ExportError(f"{path}: layer {key} is {kind!r}; only 'dense' is supported")
            size = int(np.prod(g["shape"][()]))
            w = np.asarray(g["weight"][()]).astype(np.int64)
            w = w.reshape(size, -1) if w.ndim == 1 else w
            if w.shape != (size, n_prev):
                raise ExportError(f"{path}: layer {key} weight {w.shape}, expected {(size, n_prev)}")
            w = np.clip(w, MANT_MIN * WEIGHT_STEP, MANT_MAX * WEIGHT_STEP)
            d = _expand_delay(g["delay"][()], w.shape, f"{path}: layer {key}") if "delay" in g \
                else np.zeros_like(w)
            nr = g["neuron"]
            if _text(nr["type"]) not in ("CUBA", "LOIHI"):
                raise ExportError(f"{path}: layer {key} neuron type {_text(nr['type'])!r}; only CUBA is supported")
            layers.append(LoihiLayer(w, d, None, int(nr["iDecay"][()]), int(nr["vDecay"][()]),
                                     int(nr["vThMant"][()]), 1, n == len(keys) - 2, f"layer{key}"))
            n_prev = size
        reduce = f.attrs.get("readout_reduce", "mean")
    return LoihiNetwork(n_in, layers, reduce if isinstance(reduce, str) else reduce.decode())


def _text(ds) -> str:
    v = ds[()]
    v = v[0] if getattr(v, "shape", ()) else v
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def _expand_delay(d, shape, where) -> np.ndarray:
    d = np.clip(np.asarray(d).astype(np.int64), 0, MAX_DELAY)
    if d.ndim == 0:
        return np.full(shape, int(d))
    if d.ndim == 1:
        if d.size == shape[0]:
            return np.repeat(d.reshape(-1, 1), shape[1], axis=1)
        if d.size == shape[1]:
            return np.repeat(d.reshape(1, -1), shape[0], axis=0)
    if d.shape != shape:
        raise ExportError(f"{where}: delay of shape {d.shape} does not fit weight {shape}")
    return d


def _decay(x: np.ndarray, decay: int) -> np.ndarray:
    prod = x * (4096 - decay)
    return np.sign(prod) * (np.abs(prod) >> 12)


def simulate_loihi(lnet: LoihiNetwork, spikes: np.ndarray, record: bool = False):
    """Integer CUBA LIF dynamics of ``lnet`` on ``spikes (B, T, n_in)`` -> readout
    scores (B, C) from the readout voltages (and per-layer traces if ``record``)."""
    x = np.asarray(spikes).astype(np.int64)
    B, T, _ = x.shape
    traces = []
    for layer in lnet.layers:
        n = layer.size
        a_in = np.zeros((B, T, n), dtype=np.int64)
        for d in np.unique(layer.delay):
            w = np.where(layer.delay == d, layer.weight, 0)
            s = int(d) + 1
            if s < T:
                a_in[:, s:] += x[:, :T - s] @ w.T
        u = np.zeros((B, n), dtype=np.int64)
        v = np.zeros((B, n), dtype=np.int64)
        z = np.zeros((B, n), dtype=np.int64)
        ref = np.zeros((B, n), dtype=np.int64)
        out = np.zeros((B, T, n), dtype=np.int64)
        vth = layer.vth_mant << 6
        for t in range(T):
            a = a_in[:, t]
            if layer.weight_rec is not None:
                a = a + z @ layer.weight_rec.T
            u = _decay(u, layer.i_decay) + (a << 6)
            u = np.where(u > STATE_MAX, u - 2 * STATE_MAX, u)
            u = np.where(u <= -STATE_MAX, u + 2 * STATE_MAX, u)
            v = np.clip(_decay(v, layer.v_decay) + u, -STATE_MAX + 1, STATE_MAX - 1)
            if layer.readout:
                out[:, t] = v
                continue
            v = np.where(ref > 0, 0, v)
            z = (v > vth).astype(np.int64)
            v = np.where(z > 0, 0, v)
            ref = np.where(z > 0, layer.ref_delay - 1, np.maximum(ref - 1, 0))
            out[:, t] = z
        traces.append(out)
        x = out
    xf = x.astype(np.float64)
    scores = xf.mean(1) if lnet.readout_reduce == "mean" else xf.max(1)
    return (scores, traces) if record else scores


def accuracy(lnet: LoihiNetwork, spikes: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    correct = 0
    for i in range(0, len(labels), batch):
        s = simulate_loihi(lnet, spikes[i:i + batch])
        correct += int((s.argmax(1) == np.asarray(labels[i:i + batch])).sum())
    return correct / max(len(labels), 1)
