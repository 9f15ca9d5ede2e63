"""PyTorch model of the network in :mod:`fenn_dma.host.network`, trained with
surrogate-gradient BPTT, learnable delays (:mod:`fenn_dma.host.delays`) and
optional quantisation-aware training (:mod:`fenn_dma.host.quant`).

Speed: feed-forward projections are computed for all steps at once (one matmul,
or one causal convolution when delays are learnt), so the step loop only holds
the neuron update and the recurrent matmul.

The neuron update is the layer's unit's float step (``compiler/neurons/``:
``float_leak``, then the synaptic current, then ``float_fire`` with the
SuperSpike surrogate as its spike function), so a registered spiking model
trains without code here (the general path, :meth:`SNN.layer_general`).

The fast path (:class:`FusedLayer`, used when :func:`fast_rule` describes the
unit): the whole sequence of one layer is one ``torch.autograd.Function`` with
a hand-written backward (forward: one loop without autograd; backward: one
reverse loop), so no autograd graph of T steps is built. Its decay factor comes
from the unit's ``float_leak``, its threshold / reset from the unit's fields,
and it is tested against the general path (forward bit-equal, gradients to
float rounding, tests/host/test_snn_fast.py). Units it does not describe (ALIF,
refractory periods, models registered later) take the general path.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
from torch import nn

from fenn_dma.compiler.neurons import model_class
from fenn_dma.host.delays import KERNELS, delayed_projection, round_delay
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork, hidden_models
from fenn_dma.host.quant import fake_quantize, resolve_format

DELAY_MODES = ("none", "synapse", "position")
READOUT_MODEL = "LI"          # the non-spiking unit of the readout layer


def _hidden_params(h: "HiddenConfig", dt: float) -> NeuronParams:
    """A hidden layer's parameters; the adaptation ones only for a unit that has them."""
    own = {f.name for f in fields(model_class(h.model))}
    return NeuronParams(h.model, h.tau_mem, h.tau_syn, h.threshold, dt, h.refractory,
                        h.tau_adapt if "tau_adapt" in own else 0.0, h.beta_adapt if "beta" in own else 0.0)


def _psp_peak(p: NeuronParams, steps: int = 1000) -> float:
    """Peak membrane response to one input spike of weight 1."""
    i = v = peak = 0.0
    for t in range(steps):
        i = p.alpha * i + (1.0 if t == 0 else 0.0)
        v = p.beta * v + i
        peak = max(peak, v)
    return peak


class SpikeFn(torch.autograd.Function):
    """Heaviside forward; SuperSpike fast-sigmoid derivative ``1/(slope|x|+1)^2`` backward."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (ctx.slope * x.abs() + 1.0) ** 2, None


# --------------------------------------------------------------------- the fast path
FAST_RESETS = {"LIF": "reset", "IF": "reset", "LIFSubtract": "subtract", "LI": "none"}
_MODES = {"none": 0, "reset": 1, "subtract": 2}


@dataclass(frozen=True)
class FastRule:
    """What the fused step needs of a unit: ``V = beta V + I``, then (spiking)
    ``z = V > threshold`` and ``V = reset`` (mode ``reset``) or ``V -= threshold``
    (``subtract``) where it spiked; ``none``: a leaky integrator (output V)."""
    mode: str
    beta: float
    threshold: float = 0.0
    reset: float = 0.0


def fast_rule(unit, dt: float) -> FastRule | None:
    """The fused step of ``unit`` (a ``compiler.neurons`` unit), or None when the
    fused path does not describe it (then the unit's own float step runs).

    A model gets a fast path by an entry in ``FAST_RESETS`` (its reset rule) and
    a test in tests/host/test_snn_fast.py against the general path; its leak
    must be linear (``float_leak(V) = beta V``: beta is read from the unit)."""
    cls = type(unit)
    mode = FAST_RESETS.get(cls.name)
    if mode is None or model_class(cls.name) is not cls:
        return None
    if int(round(float(getattr(unit, "refractory", 0.0)) / dt)) > 0:
        return None                  # refractory counter: general path
    scalars = [getattr(unit, f.name) for f in fields(cls)]
    if any(np.asarray(v).size != 1 for v in scalars):
        return None                  # per-neuron parameters: general path
    beta = float(np.asarray(unit.float_leak(np.float64(1.0), dt)))
    if mode == "none":
        return FastRule(mode, beta)
    return FastRule(mode, beta, float(unit.threshold), float(getattr(unit, "v_reset", 0.0)))


class FusedLayer(torch.autograd.Function):
    """One layer over the whole sequence: ``ff (B, T, n)`` (the feed-forward input of
    every step), ``w_rec (n, n)`` (or an empty tensor) -> outputs ``(B, T, n)``
    (spikes, or V for mode ``none``). The same arithmetic as the unit's float step
    in the general path (same operations in the same order, so the forward is
    bit-equal); the backward is the exact reverse of that step with the SuperSpike
    surrogate ``1/(slope|V - thr| + 1)^2`` for the spike and no gradient through
    the reset's condition (as ``torch.where`` in the general path)."""

    @staticmethod
    def forward(ctx, ff, w_rec, alpha: float, beta: float, thr: float, reset: float, mode: int, slope: float,
                shift: int = 0):
        B, T, n = ff.shape
        rec = w_rec.numel() > 0
        wt = w_rec.t() if rec else None
        i = ff.new_zeros(B, n)
        v = ff.new_zeros(B, n)
        z = ff.new_zeros(B, n)
        out = ff.new_empty(B, T, n)                        # contiguous, whatever the layout of ff
        xs = None if mode == 0 else ff.new_empty(T, B, n)   # V - threshold before the reset (time-major)
        fs = ff.unbind(1)
        for t in range(T):
            # in place, float ops only; the same roundings as the general path (bit-equal results):
            # V - V z is exactly 0 where z = 1 and V where z = 0, V - thr z exactly V - thr or V.
            # shift 1: step t gets ff[:, t-1] (the one-step latency), step 0 nothing (I stays 0)
            if t >= shift:
                f = fs[t - shift]
                i.mul_(alpha).add_(f + z @ wt if rec else f)
            v.mul_(beta).add_(i)
            if mode == 0:
                out[:, t] = v
                continue
            x = torch.sub(v, thr, out=xs[t])
            z = torch.gt(x, 0, out=out[:, t])              # the spikes, as floats, into the output
            if mode == 1:
                v.addcmul_(v, z, value=-1.0)
                if reset != 0.0:
                    v.add_(z, alpha=reset)
            else:
                v.sub_(z, alpha=thr)
        ctx.save_for_backward(w_rec, out, xs)
        ctx.consts = (alpha, beta, mode, slope, rec, shift)
        return out

    @staticmethod
    def backward(ctx, gout):
        w_rec, out, xs = ctx.saved_tensors
        alpha, beta, mode, slope, rec, s = ctx.consts
        B, T, n = gout.shape
        gff = gout.new_empty(B, T, n)        # dL/dI[t] is at gff[:, t - s]
        if s:
            gff[:, T - 1] = 0.0
        gout_t = gout.transpose(0, 1)                     # (T, B, n) view
        bk = None
        if mode == 0:
            gu = gout_t.contiguous()                      # dL/dV, filled backwards in time
        else:
            # surrogate denominators (slope |V - thr| + 1)^2, all steps at once, in place
            dsg = xs.abs().mul_(slope).add_(1.0).square_()
            # dL/dV before the reset, filled backwards in time (without recurrence: the
            # spikes' part of all steps at once, over the denominators' buffer)
            gu = torch.div(gout_t, dsg, out=dsg) if not rec else gout.new_empty(T, B, n)
            if mode == 1:   # dV[t+1]/dV[t]: beta where V was not reset, 0 where it was (subtract: beta)
                bk = torch.mul(out.transpose(0, 1), -beta, out=gout.new_empty(T, B, n)).add_(beta)
        gi = None                            # dL/dI[t+1]
        for t in range(T - 1, s - 1, -1):
            g = gu[t]
            if rec and mode != 0:            # dL/dz[t]: the output's and the recurrent input's of step t+1
                gz = gout_t[t] if gi is None else torch.addmm(gout_t[t], gi, w_rec)
                torch.div(gz, dsg[t], out=g)
            if t < T - 1:
                if bk is None:
                    g.add_(gu[t + 1], alpha=beta)
                else:
                    g.addcmul_(bk[t], gu[t + 1])
            if t - s + 1 < T:
                torch.add(g, gff[:, t - s + 1], alpha=alpha, out=gff[:, t - s])
            else:
                gff[:, t - s] = g
            gi = gff[:, t - s]
        gw = None
        if rec and ctx.needs_input_grad[1]:
            # I[t] gets W_rec z[t-1]: one GEMM over all steps
            gw = gff[:, 1 - s:T - s].reshape(-1, n).t() @ out[:, :-1].reshape(-1, n)
        return gff, gw, None, None, None, None, None, None, None


@dataclass
class HiddenConfig:
    size: int = 64
    model: str = "LIF"
    recurrent: bool = False
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    threshold: float = 1.0
    refractory: int = 0
    tau_adapt: float = 2000.0
    beta_adapt: float = 0.0174


@dataclass
class NetConfig:
    n_inputs: int
    n_outputs: int
    hidden: list = field(default_factory=lambda: [HiddenConfig()])
    dt: float = 1.0
    readout_tau_mem: float = 20.0
    readout_tau_syn: float = 5.0
    readout_reduce: str = "mean"
    delay_mode: str = "none"            # none | synapse | position
    max_delay: int = 16                 # taps K: delays 0..K-1 steps
    delay_kernel: str = "gauss"         # gauss | triangle
    sigma0: float = 0.0                 # initial Gaussian width (0: max_delay / 4)
    position_dims: int = 2
    init_delay: float = 0.0             # initial delays: uniform in [0, init_delay * (K-1)]
    surrogate_slope: float = 10.0
    weight_scale: float = 1.0
    seed: int = 0

    def validate(self) -> None:
        if self.n_inputs < 1 or self.n_outputs < 1 or not self.hidden:
            raise ConfigError("need n_inputs >= 1, n_outputs >= 1 and at least one hidden layer")
        for h in self.hidden:
            if h.size < 1:
                raise ConfigError(f"hidden layer size must be >= 1, got {h.size}")
            if h.model not in hidden_models():
                raise ConfigError(f"hidden neuron model {h.model!r}; allowed: {', '.join(hidden_models())}")
            if h.tau_mem <= 0 or h.tau_syn <= 0 or h.threshold <= 0:
                raise ConfigError(f"tau_mem ({h.tau_mem} ms), tau_syn ({h.tau_syn} ms) and threshold "
                                  f"({h.threshold}) must be > 0")
        if self.delay_mode not in DELAY_MODES:
            raise ConfigError(f"delay mode {self.delay_mode!r}; allowed: {', '.join(DELAY_MODES)}")
        if self.delay_kernel not in KERNELS[:2]:
            raise ConfigError(f"delay kernel {self.delay_kernel!r}; allowed: gauss, triangle")
        if not 1 <= self.max_delay <= 1024:
            raise ConfigError(f"max_delay must be 1..1024 steps, got {self.max_delay}")
        if self.readout_reduce not in ("mean", "max"):
            raise ConfigError(f"readout_reduce {self.readout_reduce!r}; allowed: mean, max")
        if self.dt <= 0:
            raise ConfigError(f"dt must be > 0 ms, got {self.dt}")


class SNN(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        sizes = [cfg.n_inputs] + [h.size for h in cfg.hidden] + [cfg.n_outputs]
        self.neurons = [_hidden_params(h, cfg.dt) for h in cfg.hidden]
        self.neurons.append(NeuronParams(READOUT_MODEL, cfg.readout_tau_mem, cfg.readout_tau_syn, 1.0, cfg.dt))
        self.w = nn.ParameterList()
        self.w_rec = nn.ParameterList()
        self.d = nn.ParameterList()
        self.pos = nn.ParameterList()
        self.has_rec = [h.recurrent for h in cfg.hidden] + [False]
        K = cfg.max_delay
        for li in range(len(sizes) - 1):
            n_in, n_out = sizes[li], sizes[li + 1]
            # std so that the summed peak PSPs of the inputs reach about the threshold
            scale = cfg.weight_scale * self.neurons[li].threshold / _psp_peak(self.neurons[li])
            self.w.append(nn.Parameter(torch.randn(n_out, n_in, generator=gen) * scale / np.sqrt(n_in)))
            if self.has_rec[li]:
                self.w_rec.append(nn.Parameter(torch.randn(n_out, n_out, generator=gen) * 0.5 * scale / np.sqrt(n_out)))
            else:
                self.w_rec.append(nn.Parameter(torch.zeros(0), requires_grad=False))
            if cfg.delay_mode == "synapse":
                self.d.append(nn.Parameter(torch.rand(n_out, n_in, generator=gen) * cfg.init_delay * (K - 1)))
        if cfg.delay_mode == "position":
            # one position per neuron of each layer; delay = distance * (K-1) / sqrt(dims), clamped
            for n in sizes:
                self.pos.append(nn.Parameter(torch.rand(n, cfg.position_dims, generator=gen)
                                             * max(cfg.init_delay, 1e-3)))
        self.sigma = cfg.sigma0 or K / 4.0
        self.hard_delays = cfg.delay_mode == "none"
        self.weight_fmt = None
        self.rounding = "nearest"
        self.qat_rng = np.random.default_rng(cfg.seed)
        self.fixed = None            # host.fixed.FixedPlan: forward in the deployed fixed-point arithmetic
        self.fused = True            # the fast path where fast_rule describes a layer's unit (False: general)

    # ------------------------------------------------------------------ parameters seen by the forward
    def delays(self, li: int) -> torch.Tensor | None:
        """Real-valued delays (steps) of projection ``li``."""
        K = self.cfg.max_delay
        if self.cfg.delay_mode == "synapse":
            return self.d[li]
        if self.cfg.delay_mode == "position":
            diff = self.pos[li + 1][:, None, :] - self.pos[li][None, :, :]
            dist = torch.sqrt((diff ** 2).sum(-1) + 1e-9)
            return torch.clamp(dist * (K - 1) / np.sqrt(self.cfg.position_dims), 0, K - 1)
        return None

    def effective_weights(self, li: int, rec: bool = False) -> torch.Tensor:
        w = self.w_rec[li] if rec else self.w[li]
        mask = self.mask(li, rec)
        if mask is not None:         # DEEP R: dormant connections are exactly 0 and get no gradient
            w = w * mask
        if self.weight_fmt is not None:
            w = fake_quantize(w, self.weight_fmt, self.rounding, self.qat_rng)
        return w

    def set_mask(self, li: int, rec: bool, mask: torch.Tensor) -> None:
        """Connectivity mask (bool, shape of the weights) of projection ``li``
        (:mod:`fenn_dma.host.deepr`); a buffer, so checkpoints and selection keep it."""
        self.register_buffer(f"mask_rec{li}" if rec else f"mask{li}", mask.to(torch.bool))

    def mask(self, li: int, rec: bool = False) -> torch.Tensor | None:
        return self._buffers.get(f"mask_rec{li}" if rec else f"mask{li}")

    def clamp_delays(self) -> None:
        with torch.no_grad():
            for d in self.d:
                d.clamp_(0, self.cfg.max_delay - 1)

    def set_qat(self, fmt_spec: str | None, rounding: str = "nearest") -> None:
        """Enable quantisation-aware training with weight format ``fmt_spec``
        (``sI.F`` or ``autoN``, resolved once over all weights)."""
        if fmt_spec is None:
            self.weight_fmt = None
            return
        with torch.no_grad():
            allw = torch.cat([p.flatten() for p in list(self.w) + list(self.w_rec)]).cpu().numpy()
        self.weight_fmt = resolve_format(fmt_spec, allw)
        self.rounding = rounding

    def set_state_qat(self, qnet) -> None:
        """Run the forward pass in the fixed-point arithmetic of ``qnet`` (a plan of
        :func:`fenn_dma.host.deploy.plan` for this model's network); None turns it off."""
        from fenn_dma.host.fixed import make_plan
        self.fixed = None if qnet is None else make_plan(qnet, self.layer_names())
        if qnet is not None:
            self.hard_delays = True

    def layer_names(self) -> list:
        return [f"hidden{i}" for i in range(len(self.cfg.hidden))] + ["readout"]

    def readout_int(self, x: torch.Tensor) -> torch.Tensor:
        """Integer readouts (B, C) of the fixed-point forward (state QAT must be on)."""
        from fenn_dma.host.fixed import forward_fixed
        return forward_fixed(self, self.fixed, x)[2]

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, record: bool = False):
        """``x (B, T, n_in)`` -> class scores ``(B, C)`` (+ list of per-layer traces)."""
        if self.fixed is not None:
            from fenn_dma.host.fixed import forward_fixed
            scores, traces, _ = forward_fixed(self, self.fixed, x)
            return (scores, traces) if record else scores
        cfg = self.cfg
        traces = []
        for li in range(len(self.neurons)):
            x = self.layer(li, x)
            traces.append(x)
        scores = x.mean(1) if cfg.readout_reduce == "mean" else x.amax(1)
        return (scores, traces) if record else scores

    def projection(self, li: int, x: torch.Tensor, latency: bool = True) -> torch.Tensor:
        """Feed-forward input ``(B, T, n)`` of layer ``li`` for all steps at once (one
        GEMM; a causal convolution only when delays are given); ``latency=False``:
        without the one-step latency (the fused layer applies it)."""
        cfg = self.cfg
        d = self.delays(li)                 # None without delays: a plain GEMM
        kind = "hard" if self.hard_delays else cfg.delay_kernel
        return delayed_projection(x, self.effective_weights(li), d, cfg.max_delay, kind, self.sigma, latency)

    def layer(self, li: int, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, T, n)`` of layer ``li`` (spikes; V of the readout) for its input ``x``."""
        p = self.neurons[li]
        rule = fast_rule(p.unit, p.dt) if self.fused else None
        if rule is None:
            return self.layer_general(li, self.projection(li, x))
        ff = self.projection(li, x, latency=False)
        w_rec = self.effective_weights(li, rec=True) if self.has_rec[li] else ff.new_zeros(0)
        return FusedLayer.apply(ff, w_rec, p.alpha, rule.beta, rule.threshold, rule.reset, _MODES[rule.mode],
                                float(self.cfg.surrogate_slope), 1)

    def layer_general(self, li: int, ff: torch.Tensor) -> torch.Tensor:
        """Layer ``li`` stepped through its unit's float step (``compiler/neurons/``), spikes
        through the surrogate: every model, and the reference of the fused path."""
        p = self.neurons[li]
        slope = self.cfg.surrogate_slope

        def spike(u):
            return SpikeFn.apply(u, slope)

        alpha, unit, dt = p.alpha, p.unit, p.dt
        B, T, n = ff.shape
        i_syn = ff.new_zeros(B, n)
        v = torch.zeros_like(i_syn)
        z = torch.zeros_like(i_syn)
        state = unit.float_init((B, n), like=v)
        w_rec = self.effective_weights(li, rec=True) if self.has_rec[li] else None
        out = []
        for inp in ff.unbind(1):       # unbind: one backward for all steps (ff[:, t] would cost T^2)
            if w_rec is not None:
                inp = inp + z @ w_rec.t()
            i_syn = alpha * i_syn + inp
            v = unit.float_leak(v, dt) + i_syn
            v, s = unit.float_fire(v, state, dt, spike)
            if s is not None:
                z = s
            out.append(v if s is None else s)
        return torch.stack(out, 1)

    # ------------------------------------------------------------------ artifact
    def to_trained(self, n_steps: int = 0, metadata: dict | None = None) -> TrainedNetwork:
        """Weights as deployed (quantised when QAT is on), delays rounded to integers."""
        layers = []
        names = self.layer_names()
        with torch.no_grad():
            for li, p in enumerate(self.neurons):
                w = self.effective_weights(li).double().cpu().numpy()
                d = self.delays(li)
                if d is None:
                    dint = np.zeros(w.shape, dtype=np.int64)
                else:
                    dint = round_delay(d.clamp(0, self.cfg.max_delay - 1)).long().cpu().numpy()
                    if self.mask(li) is not None:     # a dormant (DEEP R) synapse's delay is irrelevant
                        dint = np.where(self.mask(li).cpu().numpy(), dint, 0)
                r = self.effective_weights(li, rec=True).double().cpu().numpy() if self.has_rec[li] else None
                layers.append(Layer(names[li], replace(p), w, dint, r))
        meta = dict(metadata or {})
        meta.setdefault("delay_mode", self.cfg.delay_mode)
        if self.fixed is not None:     # the V (and ALIF A) formats the states were trained in
            from fenn_dma.host.deploy import formats_of
            meta["formats"] = formats_of(self.fixed.qnet)
            meta["rounding"] = self.fixed.qnet.rounding
        return TrainedNetwork(self.cfg.n_inputs, layers, n_steps, self.cfg.readout_reduce,
                              str(self.weight_fmt) if self.weight_fmt is not None else None, meta)

    @classmethod
    def from_trained(cls, net: TrainedNetwork, dtype=torch.float64) -> "SNN":
        """A model that computes ``net`` exactly (hard delays, float64 weights by default)."""
        hidden = [HiddenConfig(l.size, l.neuron.model, l.weights_rec is not None, l.neuron.tau_mem,
                               l.neuron.tau_syn, l.neuron.threshold, l.neuron.refractory,
                               l.neuron.tau_adapt or 2000.0, l.neuron.beta_adapt) for l in net.layers[:-1]]
        ro = net.layers[-1]
        dmax = max(int(l.delays.max()) if l.delays.size else 0 for l in net.layers)
        cfg = NetConfig(net.n_inputs, ro.size, hidden, net.dt, ro.neuron.tau_mem, ro.neuron.tau_syn,
                        net.readout_reduce, "synapse" if dmax > 0 else "none", max(dmax + 1, 1))
        m = cls(cfg).to(dtype)
        with torch.no_grad():
            for li, l in enumerate(net.layers):
                m.w[li].copy_(torch.from_numpy(l.weights))
                if l.weights_rec is not None:
                    m.w_rec[li].copy_(torch.from_numpy(l.weights_rec))
                if dmax > 0:
                    m.d[li].copy_(torch.from_numpy(l.delays.astype(np.float64)))
        for li, l in enumerate(net.layers):
            m.neurons[li] = replace(l.neuron)
        m.hard_delays = True
        return m
