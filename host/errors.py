"""User-facing errors of the host training / export tools."""
from __future__ import annotations

from fenn_dma.errors import FennError


class DatasetError(FennError):
    """A data set that cannot be found, read or encoded as asked."""


class ConfigError(FennError):
    """A training configuration value out of its allowed range."""


class ExportError(FennError):
    """A network that cannot be written to (or read from) an exchange format."""
