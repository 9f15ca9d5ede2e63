"""The neuron-model unit: one class per model, looked up in a registry by name.

A model class is a dataclass of its parameters (in physical units, as the user
writes them) that also owns everything the toolchain does with that model:

=====================  ===========================================================
validation             ``validate(owner)``: errors name the population and parameter
quantisation           ``quantise(q, ctx)``: integer parameters, state formats
state                  ``state_vars(q)``: per-neuron integer state besides V and the
                       synaptic currents (kept in VMEM per chunk, zero at start)
float step             ``float_init``/``float_leak``/``float_fire`` (numpy or torch)
integer step           ``int_leak``/``int_fire`` (lane ops of ``sim/lanes.py``)
RNG draws              ``rng_draws(q)``: its multiplies in program order
emitted update code    ``emit_leak``/``emit_fire`` through the update emitter
NIR mapping            ``to_nir``/``from_nir`` (hooks; host/NIR code fills them)
=====================  ===========================================================

The step of every model is split in two around the synaptic input, which the
callers (float_sim, reference, code generator) own because it is common to all
models::

    V = leak(V)                         # model: e.g. V * beta
    V += currents, delta inputs, bias   # caller (docs/compiler.md)
    V, z = fire(V, state)               # model: refractory, threshold, reset, adaptation

Integer-side methods are classmethods taking the quantised population ``q``
(``compiler.quantise.QPopulation``), whose ``kind`` is the model's ``name``:
the quantised network holds plain data, and ``model_class(q.kind)`` finds the
code. Float-side methods are instance methods (they read the float parameters).

Register a new model with the :func:`register` decorator; it is then accepted
by ``Network.population`` and dispatched to by every stage (docs/compiler.md,
"Adding a neuron model").
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fenn_dma.sim import lanes as L

from ..errors import ModelError

_REGISTRY: dict[str, type["NeuronModel"]] = {}


def positive(owner: str, name: str, value) -> None:
    """``value`` (scalar or per-neuron) must be > 0; inf is allowed (no leak)."""
    a = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(a)) or np.any(a <= 0):   # inf: no leak (IF)
        raise ModelError(f"{owner}: {name} must be > 0 (ms), got {value!r}")


# --- float helpers that work on numpy arrays and torch tensors ------------------

def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def where(cond, a, b):
    """``np.where`` or ``torch.where``, whichever fits the arguments (a float
    condition counts as true where nonzero)."""
    vals = (cond, a, b)
    if not any(_is_torch(v) for v in vals):
        return np.where(cond, a, b)
    import torch
    if _is_torch(cond) and all(_is_torch(v) or type(v) in (float, int, bool) for v in (a, b)):
        # The training loop's case, once per step: torch.where takes Python scalars as they are
        # (no tensor made per call, no host-to-device copy); same result dtype as below.
        return torch.where(cond if cond.dtype == torch.bool else cond != 0, a, b)
    ref = next((v for v in (a, b, cond) if _is_torch(v) and v.is_floating_point()), None)
    kw = {} if ref is None else {"dtype": ref.dtype, "device": ref.device}

    def conv(v):
        return v if _is_torch(v) else torch.as_tensor(v, **kw)

    c = conv(cond)
    return torch.where(c if c.dtype == torch.bool else c != 0, conv(a), conv(b))


def exp_decay(dt: float, tau):
    """``exp(-dt / tau)`` as numpy (scalar/array ``tau``) or torch (tensor ``tau``)."""
    if _is_torch(tau):
        import torch
        return torch.exp(-dt / tau)
    return np.exp(-dt / np.asarray(tau, np.float64))


def heaviside(x):
    """The default spike function of the float step: ``x > 0`` as 0.0 / 1.0 floats."""
    return (x > 0) * 1.0 if _is_torch(x) else (np.asarray(x) > 0).astype(np.float64)


# --- the unit -------------------------------------------------------------------

class NeuronModel:
    """Base class of the neuron-model units (subclasses are dataclasses)."""

    name: ClassVar[str] = ""            # registry key; Population.kind / QPopulation.kind
    spiking: ClassVar[bool] = True      # emits spikes (can be a connection's source)
    float_vars: ClassVar[tuple[str, ...]] = ()   # float state recorded by float_sim (e.g. "A")

    @property
    def kind(self) -> str:
        return self.name

    # --- parameters -------------------------------------------------------------
    def validate(self, owner: str) -> None:
        """Raise ModelError naming ``owner`` (e.g. "population 'h'") and the parameter."""

    def v_bound(self, max_weight: float) -> float:
        """|V| bound of V's default format when no format, range or measurement is given."""
        thr = float(np.abs(np.asarray(getattr(self, "threshold", 0.0))).max())
        reset = float(np.abs(np.asarray(getattr(self, "v_reset", 0.0))).max())
        return max(2.0 * thr, 4.0 * max_weight, 1.0, reset * 1.5)

    def quantise(self, q, ctx) -> None:
        """Fill ``q.params`` (int arrays per neuron) and the model's formats/scalars on the
        QPopulation ``q``; ``ctx`` is a ``compiler.quantise.QuantContext``. Call
        ``ctx.common()`` where the synapse decays, initial V and bias go in the params'
        order (that order is the VMEM layout and the order constants are loaded)."""
        raise NotImplementedError

    @classmethod
    def formats(cls, q) -> dict[str, str]:
        """Formats of the model's own variables for ``QNetwork.formats()`` (beside V, decays)."""
        return {}

    # --- state and RNG ----------------------------------------------------------
    @classmethod
    def state_vars(cls, q) -> tuple[str, ...]:
        """Per-neuron int16 state besides V and I<k>, in VMEM layout order, zero at start."""
        return ()

    @classmethod
    def rng_draws(cls, q) -> tuple[str, ...]:
        """The model's multiplies in program order (each advances the lane RNG once per
        chunk under stochastic rounding); the synapse decays alpha<k> come before them."""
        return ()

    @classmethod
    def rng_samples(cls, q) -> tuple[str, ...]:
        """Those of ``rng_draws`` that read the RNG itself (``vrng``): they advance it
        under every rounding, not only under stochastic rounding."""
        return ()

    # --- float step ---------------------------------------------------------------
    def float_init(self, shape, like=None) -> dict[str, Any]:
        """Float state besides V and the currents (zeros of ``shape``; a torch tensor
        ``like`` makes torch zeros on its device/dtype)."""
        return {}

    def float_leak(self, V, dt: float):
        """V before this step's input is added."""
        return V

    def float_input(self, state: dict, shape, dt: float):
        """Input the model adds itself each step (after the bias, onto the bias's
        current or V), or None."""
        return None

    def float_fire(self, V, state: dict, dt: float, spike=heaviside):
        """(V after reset, z spikes as floats, or None for a non-spiking model);
        updates ``state`` in place. ``spike(x)`` turns ``V - threshold`` into spikes
        (a surrogate-gradient function in training)."""
        return V, None

    # --- integer step -------------------------------------------------------------
    @classmethod
    def int_leak(cls, q, ops, V):
        """Integer V before this step's input (``ops``: :class:`IntOps`)."""
        return V

    @classmethod
    def int_fire(cls, q, ops, V, state: dict):
        """(V, z bool lanes or None); updates ``state`` (the arrays of ``state_vars``)."""
        return V, None

    @classmethod
    def int_input(cls, q, ops, x):
        """``x`` (the bias's current, or V) plus the model's own input of this step."""
        return x

    # --- emitted code ---------------------------------------------------------------
    @classmethod
    def constants(cls, q) -> list[tuple[str, int]]:
        """Vector constants the update needs besides the uniform parameters (name, value),
        loaded once per population before the chunk loop."""
        return []

    @classmethod
    def emit_leak(cls, q, em: "UpdateEmitter", V: str) -> None:
        """Emit what ``int_leak`` computes, on register ``V``, through ``em``."""

    @classmethod
    def emit_input(cls, q, em: "UpdateEmitter", x: str) -> None:
        """Emit what ``int_input`` computes, on register ``x``."""

    @classmethod
    def emit_fire(cls, q, em: "UpdateEmitter", V: str) -> str | None:
        """Emit what ``int_fire`` computes (V in register ``V``, state through
        ``em.load``/``em.store``); return the scalar register holding the spike mask
        (from ``em.scalar_keep``), or None for a non-spiking model."""
        return None

    # --- NIR --------------------------------------------------------------------------
    # NIR neuron node types (class names) read as this model from graphs without
    # fenn_dma metadata (compiler/nir_import.py); the first registered model wins.
    nir_types: ClassVar[tuple[str, ...]] = ()

    def nir_metadata(self, owner: str, dt: float) -> dict:
        """This model's exact parameters (ms, steps) for a node's ``metadata``
        (beside ``model``, ``tau_syn_ms`` and ``dt_ms``, which the writer adds);
        ModelError naming ``owner`` for what NIR cannot hold."""
        raise NotImplementedError(f"neuron model {self.name} has no NIR mapping")

    def to_nir(self, size: int, dt: float, tau_syn: float | None = None, owner: str = "population"):
        """The NIR node of ``size`` neurons of this model with an Exponential synapse
        of ``tau_syn`` ms (None: Delta): CubaLIF / CubaLI, or LIF / LI, as it spikes
        or not, in snnTorch's discrete-time convention (compiler/nir_export.py)."""
        from ..nir_export import neuron_node
        return neuron_node(self, size, dt, tau_syn, owner)

    @classmethod
    def from_nir(cls, node, meta: dict, dt: float, tau_mem=None, bias=0.0) -> "NeuronModel":
        """An instance from a NIR node: from ``meta`` (the node's fenn_dma metadata,
        exact values) when it is not empty, else from a node of one of ``nir_types``
        whose forward-Euler equivalent ``tau_mem`` (ms, per neuron) and ``bias`` the
        reader computed."""
        raise NotImplementedError(f"neuron model {cls.name} has no NIR mapping")


def one_value(owner: str, name: str, value) -> float:
    """The one value of a scalar or per-neuron parameter (NIR metadata holds one)."""
    a = np.asarray(value, dtype=np.float64).ravel()
    if a.size > 1 and not np.all(a == a[0]):
        raise ModelError(f"{owner}: per-neuron {name} values differ; a NIR file written here holds "
                         "one value per population")
    return float(a[0])


def per_neuron(value, n: int) -> np.ndarray:
    """A NIR node's parameter as a float array of ``n`` values."""
    a = np.asarray(value, dtype=np.float64)
    return np.full(n, float(a.ravel()[0])) if a.size == 1 else a.ravel()


def register(cls: type[NeuronModel]) -> type[NeuronModel]:
    """Class decorator: make ``cls`` a neuron model known to every stage."""
    if not (isinstance(cls, type) and issubclass(cls, NeuronModel)) or not cls.name:
        raise TypeError(f"{cls!r} is not a NeuronModel subclass with a name")
    if cls.name == "input" or (cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls):
        raise ValueError(f"neuron model name {cls.name!r} is taken")
    _REGISTRY[cls.name] = cls
    return cls


def model_class(name: str) -> type[NeuronModel]:
    """The registered model called ``name`` (e.g. "LIF")."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown neuron model {name!r}; allowed: {', '.join(_REGISTRY)}") from None


def models() -> dict[str, type[NeuronModel]]:
    """Every registered model by name, in registration order."""
    return dict(_REGISTRY)


def is_model(obj) -> bool:
    """True for an instance of a registered model."""
    return isinstance(obj, NeuronModel) and _REGISTRY.get(type(obj).name) is type(obj)


class UpdateEmitter:
    """The emitter a model's ``emit_leak``/``emit_fire`` write one 32-neuron chunk's
    update through (implemented by the code generator's update driver,
    compiler/codegen/update.py). Registers are names ("v3", "t0"); every method
    emits at the current position of the program.

    - ``op(mnemonic, *operands, comment=None)``: one instruction, e.g.
      ``em.op("vsel", V, mask, em.par("reset"))``.
    - ``mul(dst, a, b, shift=None)``: ``vmul`` with the program's saturation and
      rounding (one RNG draw under stochastic rounding: list it in ``rng_draws``);
      ``shift`` defaults to the decay shift. ``add(dst, a, b)``: ``vadd`` with the
      program's saturation.
    - ``par(name)``: the register holding parameter ``name`` of ``q.params`` (a
      constant when uniform, else loaded for this chunk); ``const(name)``: a
      constant of ``constants(q)``; ``zero``: the register holding 0.
    - ``load(var)``: a new temporary holding state variable ``var`` (of
      ``state_vars``) of this chunk; ``store(reg, var)`` writes it back.
    - ``vtemp(name)``: a vector temporary, held until the chunk ends.
    - ``scalar(name)``: a context manager holding a scalar register for a block;
      ``scalar_keep(name)``: a scalar register the model returns (the spike
      mask: the driver stores it and frees it).
    """

    zero: str

    def op(self, mnemonic: str, *operands, comment: str | None = None) -> None:
        raise NotImplementedError

    def mul(self, dst: str, a: str, b: str, shift: int | None = None) -> None:
        raise NotImplementedError

    def add(self, dst: str, a: str, b: str) -> None:
        raise NotImplementedError

    def par(self, name: str) -> str:
        raise NotImplementedError

    def par_into(self, name: str, reg: str) -> str:
        """Parameter ``name``: its constant register when uniform, else this chunk's
        values loaded into ``reg`` (a temporary the caller reuses; ``par`` keeps one
        register per parameter for the whole chunk)."""
        raise NotImplementedError

    def const(self, name: str) -> str:
        raise NotImplementedError

    def load(self, var: str) -> str:
        raise NotImplementedError

    def store(self, reg: str, var: str) -> None:
        raise NotImplementedError

    def vtemp(self, name: str) -> str:
        raise NotImplementedError

    def scalar(self, name: str):
        raise NotImplementedError

    def scalar_keep(self, name: str) -> str:
        raise NotImplementedError


class IntOps:
    """What an integer step computes with: the population's parameters as padded
    int16 lanes (``par[name]``) and the lane ops of ``sim/lanes.py`` under this
    network's rounding (``rnd``), saturation (``sat``) and per-multiply RNG outputs.
    Integer steps use only ``par``, ``mul``, ``add``, ``sub``, ``where``, ``const``
    and comparisons, so a torch lookalike with the same members runs them too."""

    def __init__(self, par: dict[str, np.ndarray], rnd: int, sat: bool, rng: dict, decay_shift: int):
        self.par, self.rnd, self.sat, self.rng, self.decay_shift = par, rnd, sat, rng, decay_shift

    def mul(self, x, name: str, shift: int | None = None):
        """``x * par[name] >> shift`` (default: the decay shift), rounded, as the program's vmul."""
        shift = self.decay_shift if shift is None else shift
        return L.vmul(x, self.par[name], shift, self.rnd, self.sat, rng_out=self.rng[name])

    def add(self, a, b):
        return L.vadd(a, b, sat=self.sat)

    def sub(self, a, b, sat: bool = True):
        return L.vsub(a, b, sat=sat)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def const(value: int):
        """A lane constant (int16)."""
        return np.int16(value)


class MembraneLeak:
    """The exponential membrane leak ``V *= exp(-dt / tau_mem)`` of LI, LIF and the
    models built on them (a ``tau_mem`` field): quantised to the decay ``beta``, which
    is the multiply's only RNG draw under stochastic rounding. Put it before the base
    class (``class LIF(MembraneLeak, ThresholdFire)``) so its methods take precedence."""

    def validate_leak(self, owner: str) -> None:
        positive(owner, "tau_mem", self.tau_mem)

    def quantise_leak(self, q, ctx) -> None:
        q.params["beta"] = ctx.decay(self.tau_mem, "tau_mem")

    @classmethod
    def rng_draws(cls, q) -> tuple[str, ...]:
        return ("beta",)

    def float_leak(self, V, dt: float):
        return exp_decay(dt, self.tau_mem) * V

    @classmethod
    def int_leak(cls, q, ops, V):
        return ops.mul(V, "beta")

    @classmethod
    def emit_leak(cls, q, em: "UpdateEmitter", V: str) -> None:
        em.mul(V, V, em.par("beta"))
