"""Bit-exactness check of the code generator across a refactoring: digests of
every compiled program (IMEM words, DMEM/VMEM/DRAM images, I/O map, memory
plan, listing), to be produced once with the old code and once with the new.

Two sources of programs:

* ``python tests/compiler/golden.py dump DIR``: the example networks
  (examples/*.py), the SHD network of benchmarks/shd_kernel.py, the VA
  networks of benchmarks/va_benchmark.py (sizes, dense/sparse, VMEM/DRAM);
* a pytest plugin recording every ``compile_network`` call of a test run::

      GOLDEN_DIR=DIR PYTHONPATH=tests/compiler python -m pytest -p golden \\
          --hypothesis-seed=0 tests/compiler

Then ``python tests/compiler/golden.py compare OLD NEW`` lists the programs
that differ or are missing from NEW (exit status 1), or says that all are identical.

Usage across versions: run both with the old tree's interpreter (e.g.
/work/main/.venv/bin/python) into OLD, then with the new one into NEW.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def digest(compiled) -> dict[str, str]:
    def h(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:24]

    out = {"imem_words": h(b"".join(w.to_bytes(4, "little") for w in compiled.asm.words))}
    for name, data in sorted(compiled.images.items()):
        out[f"image.{name}"] = h(data)
    out["io"] = h(json.dumps(compiled.io, sort_keys=True, default=repr).encode())
    out["plan"] = h(repr([(r.memory, r.name, r.offset, r.size, r.note) for r in compiled.plan.regions]).encode())
    out["listing"] = h(compiled.asm.listing.encode())
    out["window"] = str(compiled.window)
    out["placements"] = h(repr(sorted((c.name, c.placement) for c in compiled.qnet.connections.values())).encode())
    return out


def _write(directory: Path, key: str, records: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:200]
    (directory / f"{name}.json").write_text(json.dumps(records, indent=1, sort_keys=True))


# ----------------------------------------------------------------- pytest plugin
_records: dict[str, list[dict]] = {}


def _install() -> None:
    """Wrap compile_network before the test modules and conftest files import it."""
    import fenn_dma.compiler.codegen as cg
    original = cg.compile_network

    def recording(qnet, options=None):
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        try:
            compiled = original(qnet, options)
        except Exception as e:      # an error is a result too (it must stay the same)
            _records.setdefault(test, []).append({"error": f"{type(e).__name__}: {e}"})
            raise
        _records.setdefault(test, []).append(digest(compiled))
        return compiled

    cg.compile_network = recording
    import fenn_dma.compiler.pipeline as pl
    pl.compile_network = recording


if __name__ != "__main__" and "GOLDEN_DIR" in os.environ:
    _install()


def pytest_runtest_logfinish(nodeid, location):
    directory = Path(os.environ["GOLDEN_DIR"])
    for test, recs in list(_records.items()):
        _write(directory, "test." + test, recs)
    _records.clear()


# ----------------------------------------------------------------- fixed networks
def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"golden_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(mod)
    return mod


def networks():
    """(key, compile thunk) for the example and benchmark networks."""
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
    from fenn_dma.compiler.quantise import quantise
    from fenn_dma.compiler.model import Dense, Exponential, LIF, Network, SpikeInput

    for path in sorted((ROOT / "examples").glob("*.py")):
        mod = _module(path)
        if hasattr(mod, "build"):
            yield f"example.{path.stem}", lambda mod=mod: compile_network(quantise(mod.build()))
    shd = _module(ROOT / "benchmarks" / "shd_kernel.py")
    yield "shd", lambda: compile_network(quantise(shd.build(), rounding="stochastic", n_steps=1170))
    va = _module(ROOT / "examples" / "va_network.py")
    for n_exc in (800, 3200):
        for dense in (False, True):
            for placement in ("vmem", "dram", "auto"):
                if dense and n_exc > 800 and placement == "vmem":
                    continue
                yield (f"va.{n_exc}.{'dense' if dense else 'sparse'}.{placement}",
                       lambda n=n_exc, d=dense, pl=placement: compile_network(
                           quantise(va.va_network(n, d, pl), n_steps=1000)))
    # the kernel_per32 network of benchmarks/va_benchmark.py
    import numpy as np
    for n_target in (64, 200, 1000):
        for dram in (False, True):
            for unroll in (1, 3, 8):
                def kernel(n_target=n_target, dram=dram, unroll=unroll):
                    net = Network(name="dense_kernel")
                    i = net.population("in", 32, SpikeInput())
                    net.population("h", n_target, LIF(tau_mem=20, threshold=30.0), formats={"V": "s7.8"})
                    w = np.random.default_rng(0).normal(0, 0.001, (32, n_target))
                    net.connect(i, net.populations["h"], Dense(w), Exponential(5),
                                placement="dram" if dram else "vmem")
                    return compile_network(quantise(net), CompileOptions(resident_registers=0, unroll=unroll,
                                                                          sizes=MachineSizes(vmem=4 << 20)))
                yield f"kernel.{n_target}.{'dram' if dram else 'vmem'}.{unroll}", kernel


def dump(directory: Path) -> None:
    for key, thunk in networks():
        try:
            rec = [digest(thunk())]
        except Exception as e:      # an error is a result too (it must stay the same)
            rec = [{"error": f"{type(e).__name__}: {e}"}]
        _write(directory, key, rec)
        print(key, rec[0].get("imem_words", rec[0].get("error")))


def compare(old: Path, new: Path) -> int:
    a = {p.name: p.read_text() for p in old.glob("*.json")}
    b = {p.name: p.read_text() for p in new.glob("*.json")}
    bad = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    only = sorted(a.keys() ^ b.keys())
    for k in bad:
        print("DIFFERENT", k)
    for k in only:
        print("ONLY IN", "old" if k in a else "new", k)
    print(f"{len(a.keys() & b.keys()) - len(bad)} identical, {len(bad)} different, {len(only)} unmatched")
    return 1 if bad or (a.keys() - b.keys()) else 0      # (new programs, e.g. of new tests, are fine)


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(Path(sys.argv[2]))
    elif sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
