"""Quantisation-aware training: straight-through fake quantisation that uses the
project's one definition of rounding, :func:`fenn_dma.compiler.fixedpoint.quantize`.

The forward pass calls ``fixedpoint.quantize`` itself (on a detached numpy copy
of the tensor), so the trained network sees exactly the integers the compiler
will store; the backward pass is the straight-through estimator: gradient 1
inside the format's range, 0 where the value saturates.
"""
from __future__ import annotations

import numpy as np
import torch

from fenn_dma.compiler.fixedpoint import (ROUNDINGS, FixedFormat, FixedPointError,
                                         format_for_range, quantize)
from fenn_dma.host.errors import ConfigError


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fmt, rounding, rng):
        q = quantize(x.detach().cpu().double().numpy(), fmt, rounding, rng)
        inside = (x >= fmt.min_value) & (x <= fmt.max_value)
        ctx.save_for_backward(inside)
        return torch.from_numpy(q.astype(np.float64) / fmt.scale).to(dtype=x.dtype, device=x.device)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside.to(grad.dtype), None, None, None


def fake_quantize(x: torch.Tensor, fmt: FixedFormat, rounding: str = "nearest",
                  rng: np.random.Generator | None = None) -> torch.Tensor:
    """``quantize(x, fmt, rounding) / 2**F`` as a tensor, with a straight-through gradient."""
    if rounding not in ROUNDINGS:
        raise ConfigError(f"unknown rounding {rounding!r}; allowed: {', '.join(ROUNDINGS)}")
    if rounding == "stochastic" and rng is None:
        rng = np.random.default_rng(0)
    return _FakeQuant.apply(x, fmt, rounding, rng)


def resolve_format(spec: str, values=None) -> FixedFormat:
    """``"s7.8"`` -> that format; ``"auto8"`` (``autoN``) -> the N-bit format with the
    most fraction bits that holds ``values`` (``fixedpoint.format_for_range``)."""
    spec = spec.strip()
    if spec.startswith("auto"):
        try:
            width = int(spec[4:])
        except ValueError:
            raise ConfigError(f"bad format {spec!r}: use 'sI.F' (e.g. s7.8) or 'autoN' (e.g. auto8)") from None
        if not 2 <= width <= 16:
            raise ConfigError(f"format {spec!r}: width must be 2..16 bits")
        a = np.asarray(values if values is not None else [0.0], dtype=np.float64)
        return format_for_range(float(a.min()), float(a.max()), width)
    try:
        return FixedFormat.parse(spec)
    except FixedPointError as exc:
        raise ConfigError(f"{exc}; or 'autoN' (e.g. auto8)") from None
