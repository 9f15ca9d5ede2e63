"""Neuron models as units (compiler/neurons/base.py): one class per model,
registered by name. Every module of this package is imported here, so a new
model is one new file with a ``@register``-ed class; it is then also an
attribute of this package (``from fenn_dma.compiler.neurons import IF``)."""
from __future__ import annotations

import importlib
import pkgutil

from .base import IntOps, NeuronModel, UpdateEmitter, heaviside, is_model, model_class, models, register, where
from .alif import ALIF
from .li import LI
from .lif import LIF

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")
globals().update(models())

__all__ = ["NeuronModel", "IntOps", "UpdateEmitter", "register", "model_class", "models", "is_model",
           "heaviside", "where", *models()]
