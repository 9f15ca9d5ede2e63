"""Vogels-Abbott benchmark (CUBA LIF, 80 % excitatory, p = 0.1, 1000 steps of
1 ms) at several sizes, dense and sparse: cycles per timestep and per
propagated spike, beside FeNN's figures (anchors/fenn_va_benchmark_perf.csv:
totals over 1000 steps of neuron-update and event-processing instructions and
cycles, with weights in VMEM or streamed from DRAM).

Differences from FeNN's set-up, stated: both synapse types share one
exponential time constant (5 ms; the compiler supports one tau per target
population); activity is sustained by a per-neuron constant bias (FeNN starts
from random voltages); weights live in VMEM, and sizes beyond the KV260's
512 KiB VMEM are run on a machine with a larger VMEM (marked "big VMEM"),
because DRAM streaming is not implemented yet, so they compare against FeNN's
DRAM rows.

    .venv/bin/python benchmarks/va_benchmark.py [--sizes 256 512 1024] [--steps 1000]
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
from fenn_dma.compiler.errors import ResourceError
from fenn_dma.compiler.model import LIF, Dense, Exponential, Network, Sparse
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.profile import profile_run
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.sim import MachineConfig

ANCHOR = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "fenn_va_benchmark_perf.csv"
KV260_VMEM = 512 * 1024


def build(n_exc: int, dense: bool, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    n_inh = n_exc // 4
    net = Network(dt=1.0, name=f"va{n_exc}")
    lif = lambda n: LIF(tau_mem=20, threshold=10.0, v_reset=0.0, refractory=5.0,  # noqa: E731
                        bias=rng.uniform(0.2, 0.5, n))
    E = net.population("E", n_exc, lif(n_exc), record=("spikes",), formats={"V": "s6.9"})
    I = net.population("I", n_inh, lif(n_inh), record=("spikes",), formats={"V": "s6.9"})
    w_exc, w_inh = 0.25 * 256 / n_exc, -1.4 * 256 / n_exc     # keep the input per neuron similar
    for src, tgt, w in ((E, E, w_exc), (E, I, w_exc), (I, E, w_inh), (I, I, w_inh)):
        mask = rng.random((src.size, tgt.size)) < 0.1
        if dense:
            conn = Dense(np.where(mask, w, 0.0))
        else:
            pre, post = np.nonzero(mask)
            conn = Sparse(pre, post, w)
        net.connect(src, tgt, conn, Exponential(5.0))
    return net


def fenn_rows() -> list[dict]:
    with open(ANCHOR) as f:
        return list(csv.DictReader(f))


def fenn_for(rows, n_exc, dense, dram):
    for r in rows:
        if (int(r["Num excitatory neurons"]) == n_exc and (r["Dense connectivity"] == "True") == dense
                and (r["Using DRAM for weights"] == "True") == dram and float(r["Probability of connection"]) == 0.1):
            return r
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    rows = fenn_rows()
    print(f"{'N_exc':>6} {'mode':<7} {'memory':<9} {'spikes/step':>11} {'update cyc/step':>16} {'event cyc/step':>15} "
          f"{'cyc/spike':>9} {'cyc/32 syn':>10} | {'FeNN upd':>9} {'FeNN evt':>9} {'FeNN cyc/spike':>14} "
          f"{'ratio upd':>9} {'ratio evt':>9}")
    for n_exc in args.sizes:
        for dense in (True, False):
            net = build(n_exc, dense)
            vmem = KV260_VMEM
            program = None
            while program is None:
                try:
                    program, _ = compile_model(net, n_steps=args.steps,
                                               options=CompileOptions(sizes=MachineSizes(vmem=vmem)))
                except ResourceError as exc:
                    if "vmem" not in str(exc) or vmem >= 64 << 20:
                        print(f"{n_exc:6d} {'dense' if dense else 'sparse':<7} does not compile: {exc}")
                        break
                    vmem *= 2
            if program is None:
                continue
            cfg = MachineConfig(vmem_size=vmem)
            rng = np.random.default_rng(1)
            t0 = time.perf_counter()
            out = Runtime(program, engine="fast", config=cfg).run({}, args.steps)
            spikes = sum(int(v.sum()) for v in out.records.values()) / args.steps
            n_prof = 20
            counts, prof = profile_run(program, {}, n_prof, config=cfg)
            upd = sum(c[1] for k, c in counts.items() if k.endswith("update")) / n_prof
            evt = sum(c[1] for k, c in counts.items() if k.endswith("propagation")) / n_prof
            prof_spikes = sum(int(v.sum()) for v in prof.records.values()) / n_prof
            # scale the traced split to the whole run's cycles
            scale = (out.cycles / args.steps) / (prof.cycles / n_prof)
            upd_all, evt_all = upd * scale, (out.cycles / args.steps) - upd * scale
            n_tot = n_exc + n_exc // 4
            per_spike = evt_all / spikes if spikes else float("nan")
            per32 = per_spike / ((1.0 if dense else 0.1) * n_tot / 32)   # dense rows cover every target
            dram = vmem > KV260_VMEM
            f = fenn_for(rows, n_exc, dense, dram) or fenn_for(rows, n_exc, dense, not dram)
            mem = "VMEM" if not dram else "big VMEM"
            line = (f"{n_exc:6d} {'dense' if dense else 'sparse':<7} {mem:<9} {spikes:11.1f} {upd_all:16.0f} "
                    f"{evt_all:15.0f} {per_spike:9.1f} {per32:10.2f}")
            if f:
                fu = int(f["Num neuron update cycles"]) / 1000
                fe = int(f["Num event processing cycles"]) / 1000
                fs = (int(f["Num excitatory spikes"]) + int(f["Num inhibitory spikes"])) / 1000
                line += (f" | {fu:9.0f} {fe:9.0f} {fe / fs:14.1f} {upd_all / fu:9.3f} "
                         f"{per_spike / (fe / fs):9.3f}  (FeNN {'DRAM' if f['Using DRAM for weights'] == 'True' else 'VMEM'})")
            print(line + f"   [{time.perf_counter() - t0:.1f} s]", flush=True)
    print("ratio evt compares cycles per propagated spike (activity differs between the runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
