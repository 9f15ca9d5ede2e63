"""The Potjans & Diesmann (2014) cortical microcircuit (models/microcircuit.py) on
one FeNN-DMA core, beside NEST on this machine and the published real-time
factors.

Per scale (neurons x s, in-degrees x s, weights / sqrt(s) plus the compensating
DC; Poisson background drawn on the core by PoissonLIF; dt = 0.1 ms; stochastic
rounding, as the validation): neurons,
synapses, and for the scales that fit one core (kv260: the dendritic ring of 32
delay slots in the LLM, 2048 B per lane, up to 1024 neurons; else in VMEM, 512
KiB, up to 128 chunks = 4096 neurons, compiler/codegen/delay_ring.py), from a run
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
a projection from the fitted costs of the largest measured VMEM-ring scale
(update per 32-neuron chunk, propagation per spike scaled by the ring segments
per source), marked as such.
NEST 3.10 (iaf_psc_exp, the same instance, one thread) runs every scale.
At the largest LLM-ring scale the same program also runs on the ``rtl`` device (the
Verilated SoC with its DMA and the harness's DRAM, the ISS's DRAM timing) for
the first ``--rtl-ms`` of model time, and the largest VMEM-ring scale's for
``--rtl-vmem-ms``: records, instructions, cycles and counters are checked equal
to the ``iss`` device's over the same steps, and cycles per step, RTF at 175 MHz
and the simulator's wall time are printed. Each RTF is
also given as a ratio to the published full-scale figures, and the fitted
per-neuron update and per-32-synapse propagation costs as ratios to FeNN-DMA's
published Vogels-Abbott costs (../shared/docs/benchmarks.md; no published FeNN
microcircuit figure exists).

    .venv/bin/python benchmarks/microcircuit.py              # scales 0.0132, 0.05, 0.053, 0.1; 1 s (~12 min loaded)
    .venv/bin/python benchmarks/microcircuit.py --ms 2000 --scales 0.0132 --threads 2 --rtl-ms 300
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from fenn_dma.arch import LLM_OFFSET_LIMIT, PROFILES
from fenn_dma.compiler.codegen.delay_ring_layout import llm_ring_bytes, vmem_ring_bytes
from fenn_dma.compiler.errors import ModelError, ResourceError
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


def ring_depth(p: mc.Params) -> int:
    """Slots of the dendritic ring: the next power of two above the longest delay + 1 step."""
    return 1 << int(round(p.max_delay / p.dt)).bit_length()


def largest_scale(llm_bytes: int, digits: int = 4) -> float:
    """The largest n_scale = k_scale (to ``digits`` decimals) whose ring fits ``llm_bytes`` per lane."""
    depth = ring_depth(mc.Params())
    return _largest(lambda chunks: llm_ring_bytes(chunks, depth) <= llm_bytes, digits)


def largest_vmem_scale(vmem_bytes: int, digits: int = 4) -> float:
    """The largest scale whose VMEM ring takes at most half of ``vmem_bytes`` (the rest: the
    state, about 640 B per chunk, and the row buffers; the compile of that scale checks it)."""
    depth = ring_depth(mc.Params())
    return _largest(lambda chunks: 2 * vmem_ring_bytes(chunks, depth) <= vmem_bytes, digits)


def _largest(fits_chunks, digits: int) -> float:
    fits = lambda s: fits_chunks(-(-int(mc.sizes(mc.Params(n_scale=s)).sum()) // 32))  # noqa: E731
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


def ring_segments(inst: mc.Instance) -> int:
    """Segments of the VMEM ring's rows (compiler/codegen/delay_ring.py): distinct (multapse
    layer, source, delay, target chunk) cells of the compiler's network."""
    off, pos = mc.offsets(inst), mc.positions(inst)
    keys = []
    for pr in inst.projections:
        for r, (pre, post, _, d) in enumerate(mc.layers(pr)):
            keys.append(((r * inst.neurons + pos[pre + off[pr.source]]) * 64 + d) * 4096
                        + pos[post + off[pr.target]] // 32)
    return int(np.unique(np.concatenate(keys)).size)


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
    records, instructions, cycles and counters are identical."""
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
        counters = dev.counters == iss_dev.counters
    same = all(set(g.records) == set(i.records)
               and all(np.array_equal(g.records[k], i.records[k]) for k in i.records)
               and (g.instructions, g.cycles) == (i.instructions, i.cycles) for g, i in zip(got, iss)) and counters
    return {"steps": steps, "cycles": sum(g.cycles for g in got), "wall_s": wall, "load_s": load_s, "same": same,
            "after_burst": (calls[1], got[1].cycles) if len(calls) == 2 else None}


def events_per_model_s(spikes: np.ndarray, deg: np.ndarray, dt: float, discard: int) -> float:
    s = spikes[discard:]
    return float((s.sum(axis=0) * deg).sum() / (s.shape[0] * dt * 1e-3))


def rtl_rows(rtl: dict, dt: float, steps_iss: int) -> None:
    print("| scale | ring | device | steps | cycles/step | FeNN RTF @175 MHz | simulator wall s | simulator RTF | "
          "identical to the iss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scale, (r, iss_s, ring) in rtl.items():
        if "skipped" in r:
            print(f"| {scale:g} | {ring} | rtl | skipped: {r['skipped']} | | | | | |")
            continue
        per = r["cycles"] / r["steps"]
        rtf = per / dt * 1e3 / CLOCK_HZ
        model_s = r["steps"] * dt * 1e-3
        print(f"| {scale:g} | {ring} | rtl | {r['steps']} | {per:.0f} | {rtf:.3f} | {r['wall_s']:.1f} "
              f"(+ {r['load_s']:.1f} load) | {r['wall_s'] / model_s:.0f} | "
              f"{'yes: records, instructions, cycles, counters' if r['same'] else 'NO'} |")
        iss = iss_s * r["steps"] / steps_iss
        print(f"| {scale:g} | {ring} | iss (fast) | {r['steps']} | {per:.0f} | {rtf:.3f} | {iss:.2f} (pro rata) | "
              f"{iss / model_s:.1f} | - |")
    for scale, (r, _, ring) in rtl.items():
        if r.get("after_burst"):
            n, cyc = r["after_burst"]
            print(f"scale {scale:g}: after the first {RTL_BURST_MS:g} ms (a second call), on both: {n} steps, "
                  f"{cyc / n:.0f} cycles/step, RTF {cyc / n / dt * 1e3 / CLOCK_HZ:.3f} @175 MHz")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="0.05,0.1,largest,largest-vmem",
                    help="n_scale = k_scale values; 'largest': the largest whose delay ring fits the LLM, "
                         "'largest-vmem': the largest whose ring fits VMEM (default 0.05,0.1,largest,largest-vmem)")
    ap.add_argument("--ms", type=float, default=1000.0, help="model time per run (default 1000 ms)")
    ap.add_argument("--discard", type=float, default=200.0, help="transient left out of rates and events (ms)")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (default 1)")
    ap.add_argument("--no-nest", action="store_true", help="skip NEST")
    ap.add_argument("--rtl-ms", type=float, default=100.0,
                    help="model time on the rtl device at the largest LLM-ring scale (default 100 ms; 0: none)")
    ap.add_argument("--rtl-vmem-ms", type=float, default=3.0,
                    help="model time on the rtl device at --rtl-vmem-scale (default 3 ms; 0: none)")
    ap.add_argument("--rtl-vmem-scale", type=float, default=0.05,
                    help="the VMEM-ring scale run on the rtl device (default 0.05; else the largest measured)")
    a = ap.parse_args(argv)
    spec = PROFILES["kv260"]
    dt = mc.Params().dt
    steps = int(round(a.ms / dt))
    discard = int(round(a.discard / dt))
    rows = []
    best: dict[str, tuple] = {}            # ring memory -> (fenn_run, row) of the largest measured scale
    limit = min(spec.llm_size, LLM_OFFSET_LIMIT)
    named = {"largest": lambda: largest_scale(limit), "largest-vmem": lambda: largest_vmem_scale(spec.vmem_size)}
    scales = [named[x]() if x in named else float(x) for x in a.scales.split(",")]
    for s in sorted(scales):
        p = mc.Params(n_scale=s, k_scale=s, background="poisson")
        inst = mc.draw(p)
        deg = out_degrees(inst)
        depth = ring_depth(p)
        chunks = -(-inst.neurons // 32)
        r = {"scale": s, "neurons": inst.neurons, "synapses": inst.synapses, "depth": depth,
             "llm_ring": llm_ring_bytes(chunks, depth), "vmem_ring": vmem_ring_bytes(chunks, depth),
             "segments": ring_segments(inst)}
        r["ring"] = "LLM" if r["llm_ring"] <= limit else "VMEM" if r["vmem_ring"] < spec.vmem_size else None
        if not a.no_nest and nm.available():
            run = nm.simulate(inst, a.ms, threads=a.threads)
            r["nest_rtf"] = run.rtf(a.ms)
            allspk = np.concatenate([run.spikes[k] for k in mc.POPULATIONS], axis=1)
            r["nest_rate"] = float(allspk[discard:].mean() / (dt * 1e-3))          # Hz per neuron
            r["events_model"] = events_per_model_s(allspk, deg, dt, discard)
        if r["ring"]:
            try:
                f = fenn_run(inst, steps)
            except (ModelError, ResourceError) as e:
                r["error"] = str(e)
            else:
                r.update(measured=True, per_step=f["per_step"], per_spike=f["per_spike"],
                         cycles=f["cycles"] / steps, layers=f["layers"], compile_s=f["compile_s"],
                         iss_s=f["iss_s"], plan=f["program"].plan, rate=float(f["spikes"][discard:].mean() / (dt * 1e-3)))
                r["fenn_events_model"] = events_per_model_s(f["spikes"], deg, dt, discard)
                best[r["ring"]] = (f, r)
                if r["ring"] == "VMEM" and s == a.rtl_vmem_scale:
                    best["rtl VMEM"] = (f, r)
        rows.append((r, inst))
    rtl = {}
    for ring, ms in (("LLM", a.rtl_ms), ("VMEM", a.rtl_vmem_ms)):
        f, r = best.get("rtl VMEM" if ring == "VMEM" and "rtl VMEM" in best else ring, (None, None))
        if f is not None and ms > 0:
            rtl[r["scale"]] = (rtl_run(f["program"], int(round(ms / dt)), int(round(RTL_BURST_MS / dt))),
                               f["iss_s"], ring)
    fit = best.get("VMEM")
    for r, inst in rows:        # projections for the scales that do not fit, from the VMEM ring's fitted costs
        if not r.get("measured") and fit and "events_model" in r:
            fr = fit[1]
            spikes_per_step = r["nest_rate"] * r["neurons"] * dt * 1e-3
            r.update(per_step=fr["per_step"] * r["neurons"] / fr["neurons"],
                     per_spike=fr["per_spike"] * (r["segments"] / r["neurons"]) / (fr["segments"] / fr["neurons"]))
            r["cycles"] = r["per_step"] + r["per_spike"] * spikes_per_step
    print(f"Potjans-Diesmann microcircuit, Poisson background on the core, dt = {dt} ms, {a.ms:g} ms per run; "
          f"FeNN-DMA at {CLOCK_HZ / 1e6:g} MHz on one core ({spec.name}: LLM {spec.llm_size} B/lane, "
          f"VMEM {spec.vmem_size // 1024} KiB, DRAM {spec.dram_size >> 30} GiB); NEST 3.10, {a.threads} thread(s)\n")
    print("| scale | neurons | synapses | fits one core (delay ring of 32 slots) | update+control cyc/step "
          "| propagation cyc/step | cycles/step | FeNN RTF @175 MHz | syn. events/s (wall, FeNN) | NEST RTF (this machine) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r, _ in rows:
        if r.get("measured"):
            fits = f"yes: {r['ring']} ring" + (f" ({r['vmem_ring']} B; LLM would need {r['llm_ring']} B/lane)"
                                                 if r["ring"] == "VMEM" else f" ({r['llm_ring']} B/lane)")
        else:
            fits = (f"no: LLM ring {r['llm_ring']} B/lane > {limit}, VMEM ring {r['vmem_ring']} B >= "
                    f"{spec.vmem_size}" + (f"; {r['error']}" if "error" in r else ""))
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
    if rtl:
        print("\nrtl device (Verilated SoC, DMA, DRAM with the ISS's timing) against the iss device, the first steps "
              "from the initial state (the initial burst included):\n")
        rtl_rows(rtl, dt, steps)
    print("\npublished, full scale (77 169 neurons, ~3e8 synapses): "
          + "; ".join(f"{n} {v}" for n, v in PUBLISHED))
    print("\n| scale | FeNN RTF @175 MHz | " + " | ".join(f"/ {n} ({v})" for n, v in PUBLISHED) + " |")
    print("|---|---|" + "---|" * len(PUBLISHED))
    for r, _ in rows:
        if "cycles" in r:
            rtf = r["cycles"] / dt * 1e3 / CLOCK_HZ
            tag = "" if r.get("measured") else " (projected)"
            print(f"| {r['scale']:g}{tag} | {rtf:.3f} | " + " | ".join(f"{rtf / v:.3g}" for _, v in PUBLISHED) + " |")
    for r, _ in rows:
        if not r.get("measured"):
            continue
        chunks = -(-r["neurons"] // 32)
        upd = r["per_step"] / chunks / 32
        print(f"\nscale {r['scale']:g} ({r['ring']} ring): fit: {r['per_step']:.0f} cycles per step (update + "
              f"control) + {r['per_spike']:.0f} per spike ({r['layers']} multapse layers; {r['rate']:.2f} Hz per "
              f"neuron after {a.discard:g} ms); update {upd:.2f} cycles per neuron = {upd / VA_UPDATE_PER_NEURON:.2f}"
              f" x FeNN-DMA's published Vogels-Abbott {VA_UPDATE_PER_NEURON}; propagation ", end="")
        if r["ring"] == "LLM":
            prop = r["per_spike"] / (chunks * r["layers"])
            print(f"{prop:.1f} cycles per 32-target row vector of weights and delays (dense rows) = "
                  f"{prop / VA_DENSE_PER_32:.2f} x its {VA_DENSE_PER_32} per 32 dense synapses")
        else:
            per_seg = r["per_spike"] * r["neurons"] / r["segments"]
            print(f"{per_seg:.1f} cycles per ring segment ({r['segments'] / r['neurons']:.0f} segments per source, "
                  f"{r['synapses'] / r['segments']:.2f} synapses each)")
        print(f"compile {r['compile_s']:.1f} s, ISS {r['iss_s']:.1f} s for {steps} steps; memory plan:")
        print(r["plan"].table())
    for r, _ in rows:
        if "error" in r:
            print(f"\nscale {r['scale']:g}: {r['error']}")
        elif not r.get("measured") and "cycles" in r:
            print(f"\nscale {r['scale']:g}: projected from scale {fit[1]['scale']:g}'s VMEM-ring costs: update per "
                  f"neuron, propagation per spike x {r['segments'] / r['neurons']:.0f} / "
                  f"{fit[1]['segments'] / fit[1]['neurons']:.0f} segments per source; NEST's rate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
