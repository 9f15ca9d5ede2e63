"""Compile time of the SHD network (700-256-20 recurrent ALIF): model ->
quantised plan -> memory plan -> code -> .fenn program. Goal: well under a second.

    .venv/bin/python benchmarks/compile_time.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shd_kernel import build  # noqa: E402

from fenn_dma.compiler.codegen import compile_network  # noqa: E402
from fenn_dma.compiler.pipeline import to_program  # noqa: E402
from fenn_dma.compiler.quantise import quantise  # noqa: E402

GOAL_S = 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    net = build()
    rows = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        q = quantise(net, rounding="stochastic", n_steps=1170)
        t1 = time.perf_counter()
        compiled = compile_network(q)
        t2 = time.perf_counter()
        program = to_program(compiled)
        with tempfile.TemporaryDirectory() as d:
            program.save(Path(d) / "shd.fenn")
        t3 = time.perf_counter()
        rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
    best = min(rows, key=lambda r: r[3])
    print(f"SHD compile (best of {args.repeat}): quantise {best[0] * 1e3:.0f} ms, codegen {best[1] * 1e3:.0f} ms, "
          f".fenn write {best[2] * 1e3:.0f} ms, total {best[3] * 1e3:.0f} ms")
    print(f"goal {GOAL_S * 1e3:.0f} ms; ratio {best[3] / GOAL_S:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
