"""The ``iss`` device's transport: a fresh ISS machine per program (``compiler.runtime``'s
IssTransport), its DRAM model sized to the program's DRAM image."""
from __future__ import annotations

from fenn_dma.compiler.runtime import IssTransport, iss_config

ENGINES = ("fast", "reference", "auto")


def open_transport(spec, program, engine: str = "fast") -> IssTransport:
    from .errors import DeviceError
    if engine not in ENGINES:
        raise DeviceError(f"iss: unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return IssTransport(iss_config(spec, program), engine, int(program.io.get("dram_base", 0)))
