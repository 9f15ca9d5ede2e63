"""Errors of the device API. Abnormal stops, DMA errors and limits are the
firmware ABI's (``compiler.abi``: ``RunError`` with ``cause`` and ``pc``,
``DmaError``, ``LimitExceeded``); a program for another machine is
``fenn_dma.arch.MachineMismatch``; bad inputs are ``compiler.errors.ModelError``
naming the population. All derive from ``fenn_dma.errors.FennError``."""
from __future__ import annotations

from fenn_dma.arch import MachineMismatch
from fenn_dma.compiler.abi import DmaError, LimitExceeded, RunError
from fenn_dma.compiler.errors import ModelError
from fenn_dma.errors import FennError

__all__ = ["DeviceError", "DeviceUnavailable", "DmaError", "LimitExceeded", "MachineMismatch", "ModelError",
           "RunError"]


class DeviceError(FennError):
    """A device used out of its life cycle (nothing loaded, closed) or asked for what it cannot do."""


class DeviceUnavailable(DeviceError):
    """A device that cannot be opened here; the message says why."""
