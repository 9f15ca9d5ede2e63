"""Loihi 2 export in Lava-dl netx's HDF5 layout, and a bit-accurate numpy model
of Loihi's CUBA LIF fixed-point dynamics (so the export's fidelity is a number).

File layout (as ``lava.lib.dl.netx.hdf5.Network`` reads it)::

    layer/0   type='input'  shape=[1,1,n_in]  neuron/{type,iDecay,vDecay,vThMant,refDelay,gradedSpike}
    layer/1.. type='dense'  shape=[n]  weight (n, n_prev) int  [delay (n, n_prev) int]
              [weight_rec (n, n) int]  neuron/{type='CUBA', iDecay, vDecay, vThMant, refDelay, gradedSpike}

``weight`` holds the integer weights ``mantissa << weight_exponent`` (netx splits
them back into mantissa and exponent with ``optimize_weight_bits``); mantissas
are 8-bit signed (-128..127). ``delay`` is per synapse, in steps, clipped to
0..62 (with a warning). ``weight_rec`` (recurrent weights, one step of latency)
is this project's extension; netx's reader ignores it. The last layer is the
non-spiking readout: ``vThMant`` is the largest value (2**17 - 1) and the
model reads its voltage. ``refDelay = 1 + refractory steps``.

Model (per step, integers, after Lava's ``PyLifModelBitAcc``)::

    u = sign(u * (4096 - iDecay)) * (|u * (4096 - iDecay)| >> 12) + (a_in << 6)   (wraps at 2**23)
    v = clip(sign(v * (4096 - vDecay)) * (|v * (4096 - vDecay)| >> 12) + u, ±(2**23 - 1))
    s = v > (vThMant << 6);  v[s] = 0;  v held at 0 for refDelay - 1 steps after a spike

with ``a_in[t] = sum_j weight * s_j[t - 1 - delay]`` (one step of latency per layer).
Float -> integer mapping of a layer: ``iDecay = round(4096 (1 - alpha))``,
``vDecay = round(4096 (1 - beta))``; a per-layer scale ``k`` maps real weights
and threshold to integers (``weight = round(W k / 2**e) << e``,
``vThMant = round(threshold k)``), with ``k = 127 * 2**e / max|W|`` and the
smallest exponent ``e`` (0..7) that gives ``vThMant >= 256``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fenn_dma.host.errors import ExportError
from fenn_dma.host.network import TrainedNetwork

MAX_DELAY = 62
VTH_MAX = (1 << 17) - 1
STATE_MAX = 1 << 23
MANT_MIN, MANT_MAX = -128, 127


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
        if p.model == "ALIF":
            raise ExportError(f"layer {layer.name}: ALIF has no Loihi CUBA equivalent; "
                              "Loihi export supports LIF hidden layers and an LI readout")
        ws = [layer.weights] + ([layer.weights_rec] if layer.weights_rec is not None else [])
        wmax = max(float(np.abs(w).max()) for w in ws)
        wmax = wmax if wmax > 0 else 1.0
        exp = 0
        if not readout:
            while exp < 7 and p.threshold * MANT_MAX * 2 ** exp / wmax < 256:
                exp += 1
        k = MANT_MAX * 2 ** exp / wmax

        def q(w):
            return np.clip(_round(w * k / 2 ** exp), MANT_MIN, MANT_MAX) << exp

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
                                 vth, 1 + p.refractory, readout))
    return LoihiNetwork(net.n_inputs, layers, net.readout_reduce)


def export_netx(net: TrainedNetwork | LoihiNetwork, path: str | Path) -> LoihiNetwork:
    """Write ``net`` as a netx HDF5 file; returns the integer network written."""
    import h5py

    lnet = convert(net) if isinstance(net, TrainedNetwork) else net
    with h5py.File(path, "w") as f:
        f.attrs["simulator"] = "fenn_dma.host.loihi"
        f.attrs["readout_reduce"] = lnet.readout_reduce
        g = f.create_group("layer/0")
        g.create_dataset("type", data="input")
        g.create_dataset("shape", data=np.array([1, 1, lnet.n_inputs]))
        _neuron(g, 4096, 4096, 0, 1)
        for i, layer in enumerate(lnet.layers, start=1):
            g = f.create_group(f"layer/{i}")
            g.create_dataset("type", data="dense")
            g.create_dataset("shape", data=np.array([layer.size]))
            g.create_dataset("weight", data=layer.weight.astype(np.int32))
            if layer.delay.any():
                g.create_dataset("delay", data=layer.delay.astype(np.int32))
            if layer.weight_rec is not None:
                g.create_dataset("weight_rec", data=layer.weight_rec.astype(np.int32))
            _neuron(g, layer.i_decay, layer.v_decay, layer.vth_mant, layer.ref_delay)
    return lnet


def _neuron(g, i_decay, v_decay, vth, ref):
    g.create_dataset("neuron/type", data="CUBA")
    g.create_dataset("neuron/iDecay", data=int(i_decay))
    g.create_dataset("neuron/vDecay", data=int(v_decay))
    g.create_dataset("neuron/vThMant", data=int(vth))
    g.create_dataset("neuron/refDelay", data=int(ref))
    g.create_dataset("neuron/gradedSpike", data=False)


def read_netx(path: str | Path) -> LoihiNetwork:
    """Read a file written by :func:`export_netx` (dense CUBA layers)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"netx file {path} not found")
    with h5py.File(path, "r") as f:
        if "layer" not in f:
            raise ExportError(f"{path}: no 'layer' group; not a netx file")
        keys = sorted(f["layer"].keys(), key=int)
        first = f["layer"][keys[0]]
        if first["type"][()].decode() != "input":
            raise ExportError(f"{path}: layer 0 is not an input layer")
        n_in = int(np.prod(first["shape"][()]))
        layers = []
        for n, key in enumerate(keys[1:]):
            g = f["layer"][key]
            kind = g["type"][()].decode()
            if kind != "dense":
                raise ExportError(f"{path}: layer {key} is {kind!r}; only 'dense' is supported")
            w = g["weight"][()].astype(np.int64)
            d = g["delay"][()].astype(np.int64) if "delay" in g else np.zeros_like(w)
            r = g["weight_rec"][()].astype(np.int64) if "weight_rec" in g else None
            nr = g["neuron"]
            layers.append(LoihiLayer(w, d, r, int(nr["iDecay"][()]), int(nr["vDecay"][()]),
                                     int(nr["vThMant"][()]), int(nr["refDelay"][()]),
                                     n == len(keys) - 2))
        reduce = f.attrs.get("readout_reduce", "mean")
    return LoihiNetwork(n_in, layers, reduce if isinstance(reduce, str) else reduce.decode())


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
