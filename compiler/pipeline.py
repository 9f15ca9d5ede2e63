"""Model -> .fenn program in one call, and loading models from files."""
from __future__ import annotations

import importlib.util
import time
from collections import Counter
from pathlib import Path

from fenn_dma.arch import MachineSpec

from .codegen import CompileOptions, Compiled, MachineSizes, compile_network
from .errors import ModelError
from .fennfile import FennProgram, spec_of_plan
from .model import Network
from .quantise import QNetwork, quantise
from .validate import check_finite


def load_model(path: str | Path, dt: float | None = None) -> Network:
    """A ``.nir`` file, or a Python file whose ``build()`` returns a Network."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    if path.suffix == ".nir":
        from .nir_import import read_nir
        return read_nir(path, dt=dt)
    if path.suffix != ".py":
        raise ModelError(f"{path}: a model is a .py file defining build() or a .nir file")
    spec = importlib.util.spec_from_file_location(f"fenn_model_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise ModelError(f"{path}: defines no build() function returning a Network")
    net = build()
    if not isinstance(net, Network):
        raise ModelError(f"{path}: build() returned {type(net).__name__}, expected fenn_dma.compiler.model.Network")
    return net


def kernel_counts(compiled: Compiled) -> dict[str, int]:
    return dict(Counter(compiled.asm.pc_region))


def to_program(compiled: Compiled, elapsed: float = 0.0, machine: MachineSpec | None = None) -> FennProgram:
    """``machine``: the spec it was compiled for (``CompileOptions.sizes.spec``); by
    default the compiled program's own, else its plan's sizes on the default machine."""
    q = compiled.qnet
    machine = machine or getattr(compiled, "machine", None) or spec_of_plan(compiled.plan)
    images = dict(compiled.images)
    meta = {"dt_ms": q.dt, "rounding": q.rounding, "seed": q.seed, "window": compiled.window,
            "populations": {p.name: {"kind": p.kind, "size": p.size} for p in q.populations.values()},
            "connections": {c.name: {"source": c.source, "target": c.target, "mode": c.mode,
                                     "sparse": c.sparse, "latency": c.latency, "placement": c.placement}
                            for c in q.connections.values()},
            "instructions": len(compiled.asm.words), "load_use_slots_filled": compiled.asm.filled_slots,
            "nops": compiled.asm.nops, "compile_seconds": round(elapsed, 4)}
    return FennProgram(q.name, images, compiled.io, compiled.plan, q.formats(), kernel_counts(compiled),
                       compiled.asm.labels, meta, compiled.asm.listing, machine=machine)


def compile_model(net: Network, rounding: str = "nearest", seed: int = 1, n_steps: int = 1000,
                  options: CompileOptions | None = None, measured=None) -> tuple[FennProgram, QNetwork]:
    t0 = time.perf_counter()
    check_finite(net)
    q = quantise(net, rounding=rounding, seed=seed, n_steps=n_steps, measured=measured)
    options = options or CompileOptions()
    compiled = compile_network(q, options)
    return to_program(compiled, time.perf_counter() - t0, options.sizes.spec), q


__all__ = ["CompileOptions", "MachineSizes", "compile_model", "load_model", "to_program"]
