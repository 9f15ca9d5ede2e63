"""NIR with the real peers: the agreement table of verify/interop.py.

    python benchmarks/nir_interop.py [--seeds 3] [--steps 200]

Needs the `interop` extra (snnTorch 1.0, Norse 1.1, Spyx 1.0 on CPU JAX; the
Spyx rows are left out, with a line saying so, where it does not import). For each case: the
peer's own simulation against ours (float model; and the compiled program on
the ISS for peer -> fenn), as the fraction of equal (step, neuron) output
spikes, over several seeds.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds per case (default 3)")
    ap.add_argument("--steps", type=int, default=200, help="steps per run (default 200)")
    args = ap.parse_args()
    from fenn_dma.verify import interop

    logging.disable(logging.WARNING)          # Norse warns about r on every import
    rows: dict[tuple[str, str], list] = {}
    for seed in range(args.seeds):
        with contextlib.redirect_stdout(io.StringIO()):     # snnTorch prints its weight-scaling hack
            table = interop.table(seed, args.steps)
        for r in table:
            rows.setdefault((r.case, r.direction), []).append(r)
    print(f"NIR interop, {args.seeds} seeds x {args.steps} steps, {interop.N_IN}-{interop.N_HIDDEN}-{interop.N_OUT}")
    if not interop.spyx_available():
        print("(Spyx does not import here: its rows are left out; pip install -e '.[interop]')")
    print(f"{'case':34s} {'direction':13s} {'peer spikes':>11s} {'float agree':>12s} {'ISS agree':>10s}")
    for (case, direction), rs in rows.items():
        dep = np.mean([r.deployed_agree for r in rs])
        print(f"{case:34s} {direction:13s} {sum(r.peer_spikes for r in rs):11d} "
              f"{np.mean([r.float_agree for r in rs]):12.4f} {'' if np.isnan(dep) else f'{dep:10.4f}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
