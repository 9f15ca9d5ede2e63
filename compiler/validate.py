"""The model boundary: every number a user put in a Network (weights, delays,
neuron and synapse parameters, initial values, ranges) must be finite before
quantisation, where a NaN would silently become -2^63. One function, called by
the compile pipeline (:func:`fenn_dma.compiler.pipeline.compile_model`)."""
from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from .errors import ModelError


class _Found(str):
    """A description of where in an array the first non-finite number is."""

    def __repr__(self) -> str:
        return str(self)


def _bad(value) -> object | None:
    """The first non-finite number in ``value`` (a number, array, sequence or
    dataclass of them), else None."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        return None
    if isinstance(value, numbers.Number):
        v = complex(value)
        return None if np.isfinite(v.real) and np.isfinite(v.imag) else value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fc":
            return None
        bad = ~np.isfinite(value)
        if not bad.any():
            return None
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return _Found(f"{value[at].item()!r} at index {list(at)} ({int(bad.sum())} non-finite in all)")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            found = _bad(getattr(value, f.name))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for v in value:
            found = _bad(v)
            if found is not None:
                return found
    if isinstance(value, dict):
        for v in value.values():
            found = _bad(v)
            if found is not None:
                return found
    return None


def _check(owner: str, part: str, obj) -> None:
    if obj is None:
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        kind = type(obj).__name__
    else:
        items, kind = [(part, obj)], None
    for name, value in items:
        found = _bad(value)
        if found is not None:
            where = f"{kind}.{name}" if kind else name
            raise ModelError(f"{owner}: {part} {where} holds {found!r}; every weight and parameter must be a "
                             "finite number (no nan or inf)")


def check_finite(net) -> None:
    """Raise ModelError naming the population/connection and parameter of the
    first NaN or infinity in ``net``."""
    _check(f"network {net.name!r}", "dt", net.dt)
    for pop in net.populations.values():
        owner = f"population {pop.name!r}"
        _check(owner, "neuron", pop.neuron)
        for attr in ("initial_v", "ranges"):
            _check(owner, attr, getattr(pop, attr, None))
    for conn in net.connections.values():
        owner = f"connection {conn.name!r}"
        _check(owner, "connectivity", conn.connectivity)
        _check(owner, "synapse", conn.synapse)


# ---- spike arrays --------------------------------------------------------------------------------

SPIKE_FORMS = "bool, or integers/floats that are all 0 or 1"


def spike_array(name: str, value, size: int, batch: bool | None = False) -> np.ndarray:
    """Spikes of spike source ``name`` (``size`` neurons) as a bool array, after
    checking them: shape ``(steps, size)`` (``batch=False``), ``(batch, steps, size)``
    (``batch=True``) or either (``None``); dtype bool, or integer/float with only 0
    and 1 (no other value is cast). Raises ModelError naming the source."""
    what = f"inputs[{name!r}]"
    a = np.asarray(value)
    forms = {False: f"(steps, {size})", True: f"(batch, steps, {size})",
             None: f"(steps, {size}) for one sample or (batch, steps, {size}) for several"}[batch]
    ndims = {False: (2,), True: (3,), None: (2, 3)}[batch]
    if a.ndim not in ndims or a.shape[-1] != size:
        raise ModelError(f"{what} has shape {a.shape}, expected {forms}"
                         + ("" if batch is not False else
                            f"; a batch, (batch, steps, {size}), goes to Runtime.run_batch"))
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf":
        raise ModelError(f"{what} has dtype {a.dtype}; spikes are {SPIKE_FORMS}")
    bad = ~((a == 0) | (a == 1))
    if bad.any():
        odd = np.unique(a[bad])[:4]
        raise ModelError(f"{what} (dtype {a.dtype}) holds values other than 0 and 1 "
                         f"(e.g. {', '.join(repr(x.item()) for x in odd)}); spikes are {SPIKE_FORMS}")
    return a.astype(bool)
