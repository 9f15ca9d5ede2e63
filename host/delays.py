"""Learnable synaptic delays by interpolation over integer delay taps (DCLS-style).

A synapse with real delay ``d`` (in steps, ``0 <= d <= K-1``) is a temporal kernel
over the ``K`` taps ``k = 0..K-1``; the projection from a layer whose whole spike
train ``x`` is known is a causal 1-D convolution::

    y[t, i] = sum_j sum_k  w_ij * g(k; d_ij, sigma) * x[t - 1 - k, j]

(the extra ``-1`` is the fixed one-step transmission latency of every projection).
Kernels ``g``:

* ``gauss``: ``exp(-(k-d)^2 / 2 sigma^2)`` normalised over the taps (Hammouamri
  et al. 2023, "Learning delays in SNNs using DCLS"); ``sigma`` is annealed
  during training towards a hard integer delay.
* ``triangle``: ``max(0, 1 - |k - d|)``: linear interpolation between the two
  nearest taps; its gradient w.r.t. ``d`` is exact almost everywhere
  (``x[t-1-ceil d] - x[t-1-floor d]`` weighted by ``w``).
* ``hard``: a one-hot kernel at ``round(d)`` (deployment; no gradient w.r.t. ``d``).

Both soft kernels are differentiable functions of ``d``, so autograd gives the
exact gradient of the interpolated model (tested against finite differences).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

KERNELS = ("gauss", "triangle", "hard")


def round_delay(d: torch.Tensor) -> torch.Tensor:
    """Round half up (floor(d + 0.5)), as the fixed-point rules do."""
    return torch.floor(d + 0.5)


def delay_kernel(d: torch.Tensor, n_taps: int, kind: str = "gauss", sigma: float = 1.0) -> torch.Tensor:
    """Tap weights ``(..., n_taps)`` for delays ``d (...)``."""
    taps = torch.arange(n_taps, dtype=d.dtype, device=d.device)
    diff = taps - d.unsqueeze(-1)
    if kind == "gauss":
        g = torch.exp(-0.5 * (diff / max(sigma, 1e-3)) ** 2)
        return g / (g.sum(-1, keepdim=True) + 1e-7)
    if kind == "triangle":
        return torch.clamp(1.0 - diff.abs(), min=0.0)
    if kind == "hard":
        idx = round_delay(d.detach()).clamp(0, n_taps - 1).long()
        return F.one_hot(idx, n_taps).to(d.dtype)
    raise ValueError(f"unknown delay kernel {kind!r}; allowed: {', '.join(KERNELS)}")


def delayed_projection(x: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor | None,
                       n_taps: int, kind: str = "gauss", sigma: float = 1.0,
                       latency: bool = True) -> torch.Tensor:
    """``x (B, T, in)`` -> synaptic input ``(B, T, out)`` with per-synapse delays
    (or only the one-step latency when ``delay`` is None or ``n_taps == 1``).
    ``latency=False``: without the one-step latency (the caller shifts by one step;
    without delays this is one GEMM and no copy)."""
    B, T, _ = x.shape
    if delay is None or n_taps <= 1:
        y = x @ weight.t()
        if not latency:
            return y
    else:
        kern = weight.unsqueeze(-1) * delay_kernel(delay, n_taps, kind, sigma)     # (out, in, K)
        # conv1d is a correlation: tap k (delay k) must meet x[t-k] -> flip, pad K-1 on the left
        y = F.conv1d(F.pad(x.transpose(1, 2), (n_taps - 1, 0)), kern.flip(-1)).transpose(1, 2)
    if not latency:
        return y
    return F.pad(y, (0, 0, 1, 0))[:, :T]          # one step of latency
