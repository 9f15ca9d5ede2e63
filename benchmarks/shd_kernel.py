"""FeNN's SHD classifier kernel compiled by this compiler: instructions and
predicted cycles per timestep beside FeNN's published figures.

Network (docs/benchmarks.md): 700 Poisson inputs -> 256 recurrent ALIF
(tau_m 20 ms, tau_a 2000 ms, beta 0.0174, threshold 0.6, refractory 4 steps)
-> 20 LI outputs, Exponential synapses (tau 5 ms), dense weights, stochastic
rounding, V s6.9, A s8.7, output s4.11, 1170 steps of 1 ms.

Activity matters (the kernels are event driven). FeNN's per-PC counts over the
SHD test set (anchors/fenn_shd_opcode_heatmap.txt) give 7.03 input spikes and
10.15 hidden spikes per step; the inputs here are Poisson at 10 Hz (7.0 spikes
per step) and the random weights are scaled for a similar hidden rate. The
per-spike costs measured here are also applied to FeNN's exact activity
("at FeNN's activity").

    .venv/bin/python benchmarks/shd_kernel.py [--steps 1170] [--profile-steps 100]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fenn_dma.compiler.model import ALIF, LI, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.profile import profile_run
from fenn_dma.compiler.runtime import Runtime

FENN_INSTRUCTIONS = 1476
FENN_CYCLES = 1443
FENN_SPLIT = {"input propagation": 0.33, "hidden propagation": 0.49, "neuron update": 0.16, "output": 0.02}
ANCHOR = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "fenn_shd_opcode_heatmap.txt"


def build(seed: int = 0, scale: float = 1.0) -> Network:
    rng = np.random.default_rng(seed)
    net = Network(dt=1.0, name="shd")
    inp = net.population("input", 700, SpikeInput())
    hid = net.population("hidden", 256, ALIF(tau_mem=20, tau_adapt=2000, beta=0.0174, threshold=0.6,
                                             refractory=4), record=("spikes",),
                         formats={"V": "s6.9", "A": "s8.7"})
    out = net.population("output", 20, LI(tau_mem=20), readout="v_sum", record=("v",),
                         formats={"V": "s4.11"})
    net.connect(inp, hid, Dense(rng.normal(0.02 * scale, 0.08 * scale, (700, 256))), Exponential(5))
    net.connect(hid, hid, Dense(rng.normal(-0.01 * scale, 0.05 * scale, (256, 256))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.1, (256, 20))), Exponential(5))
    return net


def fenn_activity() -> tuple[float, float]:
    """(input spikes, hidden spikes) per step on FeNN, from the heatmap's loop counts."""
    counts = [int(line.split(",")[1]) for line in ANCHOR.read_text().splitlines() if line.strip()]
    steps = counts[2]                      # per-step prologue instructions
    # the two ctz-driven bit loops start right after the word loops' "lw; ...; beq" headers
    return counts[21] / steps, counts[76] / steps


def kernel_group(name: str) -> str:
    if name == "input propagation":
        return "input propagation"
    if name == "hidden propagation":
        return "hidden propagation"
    if name == "hidden update":
        return "neuron update"
    return "output"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1170)
    ap.add_argument("--profile-steps", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="input Poisson rate, Hz")
    args = ap.parse_args()
    t0 = time.perf_counter()
    program, q = compile_model(build(), rounding="stochastic", n_steps=args.steps)
    t_compile = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    x = rng.random((args.steps, 700)) < args.rate * 1e-3
    rt = Runtime(program, engine="fast")
    out = rt.run({"input": x})
    hid_rate = out.records["hidden.spikes"].sum() / args.steps
    in_rate = x.sum() / args.steps
    ipt, cpt = out.instructions / args.steps, out.cycles / args.steps
    print(f"SHD kernel 700-256-20, {args.steps} steps, compiled in {t_compile * 1e3:.0f} ms, "
          f"{len(program.listing.splitlines())} listing lines, {program.metadata['instructions']} instructions static")
    print(f"activity: {in_rate:.2f} input spikes/step (Poisson {args.rate} Hz), {hid_rate:.2f} hidden spikes/step")
    print(f"whole run (fast ISS):     {ipt:8.1f} instructions/step  {cpt:8.1f} cycles/step")
    print(f"FeNN (NICE 2025):         {FENN_INSTRUCTIONS:8d} instructions/step  {FENN_CYCLES:8d} cycles/step")
    print(f"ratio this/FeNN:          {ipt / FENN_INSTRUCTIONS:8.3f}                    {cpt / FENN_CYCLES:8.3f}")
    # split by kernel over a traced prefix of the same input
    n = min(args.profile_steps, args.steps)
    counts, prof = profile_run(program, {"input": x[:n]}, n)
    assert sum(c[1] for c in counts.values()) == prof.cycles, "profile does not add up to the ISS's cycles"
    groups = _groups(counts, n)
    print(f"\nper-kernel split over the first {n} steps (traced reference ISS):")
    print(f"  {'kernel':<20}{'instr/step':>12}{'cycles/step':>13}{'share':>8}{'FeNN share':>12}{'FeNN instr':>12}")
    tot_i = sum(g[0] for g in groups.values())
    for name in FENN_SPLIT:
        i, c = groups.get(name, [0, 0])
        print(f"  {name:<20}{i:12.1f}{c:13.1f}{i / tot_i:8.1%}{FENN_SPLIT[name]:12.0%}"
              f"{FENN_SPLIT[name] * FENN_INSTRUCTIONS:12.0f}")
    # per-spike costs: the propagation kernels minus their cost with no spikes at all
    idle, _ = profile_run(program, {"input": np.zeros((20, 700), bool)}, 20)
    idle = _groups(idle, 20)
    s_in, s_hid = x[:n].sum() / n, prof.records["hidden.spikes"].sum() / n
    c_in = (groups["input propagation"][0] - idle["input propagation"][0]) / s_in
    c_hid = (groups["hidden propagation"][0] - idle["hidden propagation"][0]) / s_hid
    fin, fhid = fenn_activity()
    est = tot_i - c_in * s_in - c_hid * s_hid + c_in * fin + c_hid * fhid
    print(f"\nper input spike {c_in:.1f} instructions, per hidden spike {c_hid:.1f} "
          f"(FeNN's loop bodies: see the heatmap)")
    print(f"at FeNN's activity ({fin:.2f} input, {fhid:.2f} hidden spikes/step): {est:.0f} instructions/step "
          f"vs FeNN {FENN_INSTRUCTIONS} (ratio {est / FENN_INSTRUCTIONS:.3f})")
    return 0


def _groups(counts, steps):
    groups: dict[str, list[float]] = {}
    for k, (i, c) in counts.items():
        g = groups.setdefault(kernel_group(k), [0.0, 0.0])
        g[0] += i / steps
        g[1] += c / steps
    return groups


if __name__ == "__main__":
    raise SystemExit(main())
