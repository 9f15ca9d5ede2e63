"""Batches over processes: the samples cut into contiguous chunks, each run by a
worker that opens the same device and loads the same program once (cached per
process), results put back in sample order. Backends: ``processes``
(``concurrent.futures.ProcessPoolExecutor``, spawn), ``dask`` (a
``distributed.Client``: the ``distributed`` extra), or in this process when
``workers`` is 1. A tqdm bar counts samples on long work."""
from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from fenn_dma.boundary import count
from fenn_dma.compiler.abi import check_inputs

from .errors import DeviceError
from .results import BatchResult, concatenate

BACKENDS = ("processes", "dask")
PROGRESS_STEPS = 1000               # batches of more sample-steps than this get a bar (on a terminal)
_worker: dict = {}                  # per worker process: the open device, keyed by recipe and program


def _program_key(program) -> str:
    h = hashlib.sha256(program.name.encode())
    for k in sorted(program.images):
        h.update(k.encode())
        h.update(program.images[k])
    return h.hexdigest()


def _open(recipe: dict, key: str, program):
    from .device import open_device
    found = _worker.get("key")
    if found != (repr(recipe), key):
        if _worker.get("device") is not None:
            _worker["device"].close()
        _worker.clear()
        dev = open_device(recipe["name"], recipe["profile"], max_cycles=recipe["max_cycles"], **recipe["options"])
        dev.load(program)
        _worker.update(key=(repr(recipe), key), device=dev)
    return _worker["device"]


def run_chunk(recipe: dict, key: str, program, inputs: dict, steps: int) -> dict:
    """One chunk in a worker (a module-level function, so that it pickles)."""
    return _open(recipe, key, program).run_samples(inputs, steps)


def _bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="sample", desc=desc, leave=False)


def run_batch(device, inputs: dict, steps: int | None, *, workers: int = 1, backend: str = "processes",
              client=None, progress: bool | None = None) -> BatchResult:
    session = device._loaded()
    inputs, steps = check_inputs(session.io, inputs, steps, batch=True)
    workers = count(workers, "workers")
    if backend not in BACKENDS:
        raise DeviceError(f"unknown batch backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "dask" and client is None:
        raise DeviceError("backend='dask' needs a distributed.Client (client=...); "
                          "pip install 'fenn-dma[distributed]'")
    B = next(iter(inputs.values())).shape[0] if inputs else 1
    if progress is None:
        progress = sys.stderr.isatty() and B * steps > PROGRESS_STEPS
    bar = _bar(B, progress, f"{device.name} {device.program.name}")
    meta = dict(clock_mhz=device.clock_mhz, device=device.name, machine=device.spec.name)
    try:
        if backend == "processes" and (workers == 1 or B == 1):
            part = device.run_samples(inputs, steps, progress=bar.update if bar is not None else None)
            return _checked(device, concatenate([part], **meta))
        chunks = _chunks(B, workers)
        jobs = [({k: v[a:b] for k, v in inputs.items()} if inputs else {}, b - a) for a, b in chunks]
        recipe, key = device.recipe(), _program_key(device.program)
        if backend == "dask":
            parts = _run_dask(client, recipe, key, device.program, jobs, steps, bar)
        else:
            parts = _run_processes(workers, recipe, key, device.program, jobs, steps, bar)
    finally:
        if bar is not None:
            bar.close()
    result = concatenate(parts, **meta)
    device.count(result.instructions.sum(), result.cycles.sum(), sum(p["calls"] for p in parts),
                 *(None if a is None else a.sum() for a in (result.dma_mm2s_bytes, result.dma_s2mm_bytes)))
    return _checked(device, result)


def _checked(device, result: BatchResult) -> BatchResult:
    """The result with its saturation count (compiler.saturation: readouts and V records at the rails)."""
    from fenn_dma.compiler.saturation import count_outputs
    result.saturation = count_outputs(device.program, result.readouts, result.records)
    return result


def _chunks(B: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous sample ranges, a few per worker (so a slow chunk does not hold the others)."""
    n = min(B, workers * 4)
    edges = np.linspace(0, B, n + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _run_processes(workers, recipe, key, program, jobs, steps, bar) -> list[dict]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    parts: list = [None] * len(jobs)
    ctx = multiprocessing.get_context("spawn")     # no fork of a process holding torch or a Verilated model
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
        futures = {pool.submit(run_chunk, recipe, key, program, x, steps): i for i, (x, _) in enumerate(jobs)}
        for f in as_completed(futures):
            i = futures[f]
            parts[i] = f.result()
            if bar is not None:
                bar.update(jobs[i][1])
    return parts


def _run_dask(client, recipe, key, program, jobs, steps, bar) -> list[dict]:
    from distributed import as_completed
    [prog] = client.scatter([program], broadcast=True)
    futures = [client.submit(run_chunk, recipe, key, prog, x, steps, pure=False) for x, _ in jobs]
    index = {f.key: i for i, f in enumerate(futures)}
    parts: list = [None] * len(jobs)
    for f in as_completed(futures):
        i = index[f.key]
        parts[i] = f.result()
        if bar is not None:
            bar.update(jobs[i][1])
    return parts


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
