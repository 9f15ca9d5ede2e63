"""Errors the compiler reports to users; each names the population, connection
or memory concerned and what is allowed."""
from __future__ import annotations

from fenn_dma.errors import FennError


class ModelError(FennError):
    """A network that cannot be built or compiled as written (unsupported node or
    parameter, value out of range for its format, shape mismatch, cycle without delay)."""


class ResourceError(FennError):
    """The program does not fit the machine (memory, registers, immediates)."""


class ProgramFileError(FennError):
    """A .fenn file that cannot be read (not a .fenn file, unknown version, missing part)."""
