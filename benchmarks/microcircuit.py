"""The Potjans & Diesmann (2014) cortical microcircuit (models/microcircuit.py) on
one FeNN-DMA core, beside NEST on this machine and the published real-time
factors.

Per scale (neurons x s, in-degrees x s, weights / sqrt(s) plus the compensating
DC; Poisson background drawn on the core by PoissonLIF; dt = 0.1 ms; stochastic
rounding, as the validation): neurons,
synapses, and for the scales that fit one core (kv260: LLM 2048 B per lane,
which holds the dendritic ring of 32 delay slots of 1024 neurons), from a run
of the compiled program on the ISS (its cycle model, DMA setup 16 cycles and
16 B per cycle):
- cycles per step, split into the neuron update (plus the per-step control:
  the branch-free update costs the same every step) and propagation, by a
  least-squares fit over windows of cycles = a steps + b spikes (a: update and
  control per step, b: cycles per propagated spike);
- the real-time factor at 175 MHz (wall time / model time, the published
  figures' definition) and synaptic events per second of wall time;
- the memory plan.
Scales that do not fit are stated with what they would need; their cycles are
a projection from the fitted costs (update per 32-neuron chunk, propagation per
spike per chunk and multapse layer), marked as such.
NEST 3.10 (iaf_psc_exp, the same instance, one thread) runs every scale.
At the largest scale the same program also runs on the ``rtl`` device (the
Verilated SoC with its DMA and the harness's DRAM, the ISS's DRAM timing) for
the first ``--rtl-ms`` of model time: its records, instructions and cycles are
checked equal to the ``iss`` device's over the same steps, and its cycles per
step, RTF at 175 MHz and the simulator's wall time are printed. Each RTF is
also given as a ratio to the published full-scale figures, and the fitted
per-neuron update and per-32-synapse propagation costs as ratios to FeNN-DMA's
published Vogels-Abbott costs (../shared/docs/benchmarks.md; no published FeNN
microcircuit figure exists).

    .venv/bin/python benchmarks/microcircuit.py              # scales 0.05, 0.1 and the largest (0.0132); 1 s (~2 min)
    .venv/bin/python benchmarks/microcircuit.py --ms 2000 --scales 0.0132 --threads 2 --rtl-ms 300
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np

from fenn_dma.arch import LLM_OFFSET_LIMIT, PROFILES
from fenn_dma.compiler.errors import ResourceError
from fenn_dma.models import microcircuit as mc
from fenn_dma.models import nest_microcircuit as nm
from fenn_dma.models.validation import ROUNDING

CLOCK_HZ = 175e6                       # KV260 profile clock
PUBLISHED = [                          # real-time factors at full scale (issue 14 / arXiv 2505.21185)
    ("NEST, 12 Xeon nodes", 2.47), ("SpiNNaker", 1.0), ("GeNN, V100", 1.84), ("GeNN, RTX 4090", 0.272),
    ("NEST GPU, RTX 4090", 0.386), ("neuroAIx, 35 FPGAs", 0.05)]
# FeNN-DMA's published Vogels-Abbott costs (../shared/docs/benchmarks.md): neuron update per
# neuron and step, dense propagation with DRAM weights per 32 synapses
VA_UPDATE_PER_NEURON, VA_DENSE_PER_32 = 1.1, 5.8
RTL_BURST_MS = 20.0    # the rtl run's first call: the initial burst (V0 above threshold) and its echo


def ring_bytes_per_lane(n: int, depth: int) -> int:
    return -(-n // 32) * 2 * depth


def ring_depth(p: mc.Params) -> int:
    """Slots of the dendritic ring: the next power of two above the longest delay + 1 step."""
    return 1 << int(round(p.max_delay / p.dt)).bit_length()


def largest_scale(llm_bytes: int, digits: int = 4) -> float:
    """The largest n_scale = k_scale (to ``digits`` decimals) whose ring fits ``llm_bytes`` per lane."""
    depth = ring_depth(mc.Params())
    fits = lambda s: ring_bytes_per_lane(int(mc.sizes(mc.Params(n_scale=s)).sum()), depth) <= llm_bytes  # noqa: E731
    lo, hi = 1e-4, 1.0
    while hi - lo > 10 ** -digits:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return math.floor(lo * 10 ** digits) / 10 ** digits


def out_degrees(inst: mc.Instance) -> np.ndarray:
    off = mc.offsets(inst)
    deg = np.zeros(inst.neurons, np.int64)
    for pr in inst.projections:
        np.add.at(deg, pr.pre + off[pr.source], 1)
    return deg


def fenn_run(inst: mc.Instance, steps: int, window: int = 250) -> dict:
    """Compile, run ``steps`` on the fast ISS in windows; fit cycles = a steps + b spikes."""
    from fenn_dma.compiler.pipeline import compile_model
    from fenn_dma.compiler.runtime import Runtime
    t0 = time.perf_counter()
    program, qnet = compile_model(mc.to_network(inst), rounding=ROUNDING, seed=inst.params.seed + 1)
    compile_s = time.perf_counter() - t0
    rt = Runtime(program)
    rows, spikes = [], []
    done = 0
    t0 = time.perf_counter()
    while done < steps:
        n = min(window, steps - done)
        out = rt.run({}, steps=n)
        s = out.records["microcircuit.spikes"]
        rows.append((n, int(s.sum()), out.cycles))
        spikes.append(s)
        done += n
    iss_s = time.perf_counter() - t0
    a = np.array(rows, np.float64)
    fit = a[1:] if len(a) > 2 else a                   # the first window holds the initial burst
    (per_step, per_spike), *_ = np.linalg.lstsq(fit[:, :2], fit[:, 2], rcond=None)
    spk = np.concatenate(spikes)
    return {"program": program, "qnet": qnet, "cycles": a[:, 2].sum(), "steps": steps, "spikes": spk,
            "per_step": per_step, "per_spike": per_spike, "compile_s": compile_s, "iss_s": iss_s,
            "layers": len(program.metadata["connections"])}


def rtl_run(program, steps: int, burst: int) -> dict:
    """``steps`` on the ``rtl`` and the ``iss`` device from the initial state, in two calls
    (the first ``burst`` steps, then the rest): wall time, cycles of each call, and whether
    records, instructions and cycles are identical."""
    from fenn_dma.host import open_device
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        return {"skipped": f"no Verilator toolchain: {reason}"}
    calls = [n for n in (min(burst, steps), steps - min(burst, steps)) if n]
    iss_dev = open_device("iss").load(program)
    iss = [iss_dev.run(n) for n in calls]
    with open_device("rtl", "kv260") as dev:
        t0 = time.perf_counter()
        dev.load(program)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = [dev.run(n) for n in calls]
        wall = time.perf_counter() - t0
    same = all(set(g.records) == set(i.records)
               and all(np.array_equal(g.records[k], i.records[k]) for k in i.records)
               and (g.instructions, g.cycles) == (i.instructions, i.cycles) for g, i in zip(got, iss))
    return {"steps": steps, "cycles": sum(g.cycles for g in got), "wall_s": wall, "load_s": load_s, "same": same,
            "after_burst": (calls[1], got[1].cycles) if len(calls) == 2 else None}


def probe(p: mc.Params, neurons: int, llm_limit: int, steps: int) -> dict:
    """The update and propagation costs of the program at a size whose ring does not fit:
    the same draw with its delays clipped to the deepest ring that fits (a power of two)."""
    depth = 1
    while ring_bytes_per_lane(neurons, 2 * depth) <= llm_limit:
        depth *= 2
    if depth < 2:
        return {}
    inst = mc.draw(replace(p, max_delay=(depth - 1) * p.dt))   # same pairs and weights: clip uses no draws
    f = fenn_run(inst, steps)
    discard = min(200, steps // 2)
    return {"depth": depth, "steps": steps, "per_step": f["per_step"], "per_spike": f["per_spike"],
            "layers": f["layers"], "compile_s": f["compile_s"], "iss_s": f["iss_s"],
            "rate": float(f["spikes"][discard:].mean() / (p.dt * 1e-3))}


def events_per_model_s(spikes: np.ndarray, deg: np.ndarray, dt: float, discard: int) -> float:
    s = spikes[discard:]
    return float((s.sum(axis=0) * deg).sum() / (s.shape[0] * dt * 1e-3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="0.05,0.1,largest",
                    help="n_scale = k_scale values; 'largest': the largest that fits one core "
                         "(default 0.05,0.1,largest)")
    ap.add_argument("--ms", type=float, default=1000.0, help="model time per run (default 1000 ms)")
    ap.add_argument("--discard", type=float, default=200.0, help="transient left out of rates and events (ms)")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (default 1)")
    ap.add_argument("--no-nest", action="store_true", help="skip NEST")
    ap.add_argument("--probe-ms", type=float, default=0.0,
                    help="model time of a cost probe at each scale that does not fit: the same instance with its "
                         "delays clipped to the ring depth that fits the LLM (not the model; its costs replace the "
                         "extrapolated ones in the projection; default 0: none)")
    ap.add_argument("--rtl-ms", type=float, default=100.0,
                    help="model time on the rtl device at the largest measured scale (default 100 ms; 0: none)")
    a = ap.parse_args(argv)
    spec = PROFILES["kv260"]
    dt = mc.Params().dt
    steps = int(round(a.ms / dt))
    discard = int(round(a.discard / dt))
    rows, fitted, best = [], None, None
    limit = min(spec.llm_size, LLM_OFFSET_LIMIT)
    scales = [largest_scale(limit) if x == "largest" else float(x) for x in a.scales.split(",")]
    for s in sorted(scales):
        p = mc.Params(n_scale=s, k_scale=s, background="poisson")
        inst = mc.draw(p)
        deg = out_degrees(inst)
        depth = ring_depth(p)
        ring = ring_bytes_per_lane(inst.neurons, depth)
        r = {"scale": s, "neurons": inst.neurons, "synapses": inst.synapses, "ring": ring, "depth": depth}
        if not a.no_nest and nm.available():
            run = nm.simulate(inst, a.ms, threads=a.threads)
            r["nest_rtf"] = run.rtf(a.ms)
            allspk = np.concatenate([run.spikes[k] for k in mc.POPULATIONS], axis=1)
            r["nest_rate"] = float(allspk[discard:].mean() / (dt * 1e-3))          # Hz per neuron
            r["events_model"] = events_per_model_s(allspk, deg, dt, discard)
        if ring <= limit:
            try:
                f = fenn_run(inst, steps)
            except ResourceError as e:
                r["error"] = str(e)
            else:
                r.update(measured=True, per_step=f["per_step"], per_spike=f["per_spike"],
                         cycles=f["cycles"] / steps, layers=f["layers"], compile_s=f["compile_s"],
                         iss_s=f["iss_s"], plan=f["program"].plan)
                r["fenn_events_model"] = events_per_model_s(f["spikes"], deg, dt, discard)
                chunks = -(-inst.neurons // 32)
                fitted = {"per_chunk": f["per_step"] / chunks,
                          "per_spike_chunk_layer": f["per_spike"] / (chunks * f["layers"])}
                best = (f, r)
        elif a.probe_ms > 0:
            r["probe"] = probe(p, inst.neurons, limit, int(round(a.probe_ms / dt)))
        rows.append((r, inst))
    rtl = None
    if best and a.rtl_ms > 0:
        rtl = rtl_run(best[0]["program"], int(round(a.rtl_ms / dt)), int(round(RTL_BURST_MS / dt)))
        if "steps" in rtl:
            rtl["scale"] = best[1]["scale"]
            rtl["per_step"] = rtl["cycles"] / rtl["steps"]
            rtl["iss_s"] = best[0]["iss_s"] * rtl["steps"] / steps
    for r, inst in rows:        # projections for the scales that do not fit, from the fitted costs
        if not r.get("measured") and fitted and "events_model" in r:
            chunks = -(-r["neurons"] // 32)
            layers = max(len(mc.layers(pr)) for pr in inst.projections)
            spikes_per_step = r["nest_rate"] * r["neurons"] * dt * 1e-3
            r.update(layers=layers, per_step=fitted["per_chunk"] * chunks,
                     per_spike=fitted["per_spike_chunk_layer"] * chunks * layers)
            if "probe" in r:                 # the costs measured on the program of this size
                r.update(per_step=r["probe"]["per_step"], per_spike=r["probe"]["per_spike"])
            r["cycles"] = r["per_step"] + r["per_spike"] * spikes_per_step
    print(f"Potjans-Diesmann microcircuit, Poisson background on the core, dt = {dt} ms, {a.ms:g} ms per run; "
          f"FeNN-DMA at {CLOCK_HZ / 1e6:g} MHz on one core ({spec.name}: LLM {spec.llm_size} B/lane, "
          f"VMEM {spec.vmem_size // 1024} KiB, DRAM {spec.dram_size >> 30} GiB); NEST 3.10, {a.threads} thread(s)\n")
    print("| scale | neurons | synapses | fits one core | update+control cyc/step | propagation cyc/step "
          "| cycles/step | FeNN RTF @175 MHz | syn. events/s (wall, FeNN) | NEST RTF (this machine) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r, _ in rows:
        fits = "yes" if r.get("measured") else f"no: ring {r['ring']} B/lane > {limit}"
        if "cycles" in r:
            prop = r["cycles"] - r["per_step"]
            rtf = r["cycles"] / dt * 1e3 / CLOCK_HZ
            ev = r.get("fenn_events_model", r.get("events_model", float("nan"))) / rtf
            tag = "" if r.get("measured") else " (projected)"
            cyc = (f"{r['per_step']:.0f}{tag} | {prop:.0f}{tag} | {r['cycles']:.0f}{tag} | {rtf:.3f}{tag} | "
                   f"{ev:.3g}{tag}")
        else:
            cyc = "- | - | - | - | -"
        nest = f"{r['nest_rtf']:.2f}" if "nest_rtf" in r else "-"
        print(f"| {r['scale']:g} | {r['neurons']} | {r['synapses']} | {fits} | {cyc} | {nest} |")
    if rtl and "steps" in rtl:
        rtf = rtl["per_step"] / dt * 1e3 / CLOCK_HZ
        print(f"\nrtl device (Verilated SoC, DMA, DRAM with the ISS's timing), scale {rtl['scale']:g}, the first "
              f"{rtl['steps']} steps ({rtl['steps'] * dt:g} ms, the initial burst included):\n")
        print("| device | steps | cycles/step | FeNN RTF @175 MHz | simulator wall s | simulator RTF | "
              "identical to the iss |")
        print("|---|---|---|---|---|---|---|")
        print(f"| rtl | {rtl['steps']} | {rtl['per_step']:.0f} | {rtf:.3f} | {rtl['wall_s']:.1f} "
              f"(+ {rtl['load_s']:.1f} load) | {rtl['wall_s'] / (rtl['steps'] * dt * 1e-3):.0f} | "
              f"{'yes: records, instructions, cycles' if rtl['same'] else 'NO'} |")
        print(f"| iss (fast) | {rtl['steps']} | {rtl['per_step']:.0f} | {rtf:.3f} | {rtl['iss_s']:.2f} (pro rata) | "
              f"{rtl['iss_s'] / (rtl['steps'] * dt * 1e-3):.1f} | - |")
        if rtl["after_burst"]:
            n, cyc = rtl["after_burst"]
            print(f"\nafter the first {RTL_BURST_MS:g} ms (a second call), on both: {n} steps, {cyc / n:.0f} cycles/step, "
                  f"RTF {cyc / n / dt * 1e3 / CLOCK_HZ:.3f} @175 MHz")
    elif rtl:
        print(f"\nrtl device: skipped ({rtl['skipped']})")
    print("\npublished, full scale (77 169 neurons, ~3e8 synapses): "
          + "; ".join(f"{n} {v}" for n, v in PUBLISHED))
    for r, _ in rows:
        if "cycles" in r:
            rtf = r["cycles"] / dt * 1e3 / CLOCK_HZ
            tag = "" if r.get("measured") else " (projected)"
            print(f"  scale {r['scale']:g}{tag}: FeNN RTF {rtf:.3f} = "
                  + ", ".join(f"{rtf / v:.3g} x {n}" for n, v in PUBLISHED))
    if fitted:
        upd = fitted["per_chunk"] / 32
        prop = fitted["per_spike_chunk_layer"]
        print(f"per-unit costs beside FeNN-DMA's published Vogels-Abbott fit: update {upd:.2f} cycles per neuron "
              f"per step = {upd / VA_UPDATE_PER_NEURON:.2f} x {VA_UPDATE_PER_NEURON} (this update draws the Poisson "
              f"input and dithers the bias); propagation {prop:.1f} cycles per 32-target row vector (weights and "
              f"delays from DRAM into the delay ring; dense rows: most of the 32 hold no synapse) = "
              f"{prop / VA_DENSE_PER_32:.2f} x {VA_DENSE_PER_32} (per 32 dense synapses)")
    for r, _ in rows:
        if r.get("measured"):
            print(f"\nscale {r['scale']:g}: fit: {r['per_step']:.0f} cycles per step (update + control) + "
                  f"{r['per_spike']:.0f} per spike ({r['layers']} multapse layers of dense DRAM rows); compile "
                  f"{r['compile_s']:.1f} s, ISS {r['iss_s']:.1f} s for {steps} steps; memory plan:")
            print(r["plan"].table())
        elif "error" in r:
            print(f"\nscale {r['scale']:g}: {r['error']}")
    for r, _ in rows:
        if "probe" in r:
            pr = r["probe"]
            print(f"\nscale {r['scale']:g} probe: the program of this instance with delays clipped to "
                  f"{pr['depth'] - 1} steps (a ring of {pr['depth']} slots fits the LLM; not the model), "
                  f"{pr['steps']} steps on the ISS: {pr['per_step']:.0f} cycles per step (update + control) + "
                  f"{pr['per_spike']:.0f} per spike ({pr['layers']} multapse layers), {pr['rate']:.2f} Hz per neuron "
                  f"after the first 20 ms, compile {pr['compile_s']:.0f} s, ISS {pr['iss_s']:.1f} s; the projection "
                  f"uses these costs with NEST's rate")
    if fitted:
        print(f"\nprojection costs: {fitted['per_chunk']:.1f} cycles per 32-neuron chunk per step, "
              f"{fitted['per_spike_chunk_layer']:.1f} per spike per chunk per layer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
