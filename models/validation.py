"""The microcircuit side by side: one instance (models.microcircuit.draw) run
by NEST (iaf_psc_exp), the compiler's float simulation (compiler/float_sim.py)
and its fixed-point program on the ISS (stochastic rounding; bit-exact with
compiler/reference.py, tests/models/test_microcircuit.py checks that), compared per population by the
Kolmogorov-Smirnov distance of the distributions of rates, CVs of ISIs and
spike-count correlations against NEST's seed-to-seed spread (NEST on
instances of other seeds: other connectivity, weights, delays, V0 and
background draws).

    python -m fenn_dma.models.validation --ms 2500 --seeds 4      # prints the table
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np

from . import microcircuit as mc
from . import nest_microcircuit as nm
from . import statistics as st

ENGINES = ("float", "iss", "reference")


# Stochastic rounding: with nearest (or truncation) the decays' rounding has a dead band
# (I = round(alpha I) + b stops up to 0.5 / (1 - alpha) LSB short, x 1 / (1 - beta) in V;
# docs/microcircuit.md), which the bias dither's one-sided kicks push to one edge.
ROUNDING = "stochastic"


def restrict(spikes: dict[str, np.ndarray], inst: mc.Instance, sample=None) -> dict[str, np.ndarray]:
    """Per-population spikes cut to the sample (the first N of each population; None: all)."""
    n_rec = mc.sample_sizes(inst, sample)
    return {pop: spikes[pop][:, :n_rec[k]] for k, pop in enumerate(mc.POPULATIONS)}


def run_compiler(inst: mc.Instance, engine: str, t_ms: float, rounding: str = ROUNDING,
                 sample=None) -> dict[str, np.ndarray]:
    """Per-population spikes of ``inst`` from the compiler's ``engine``: "float"
    (float64, numpy Poisson draws), "iss" (the compiled program on the fast ISS)
    or "reference" (the bit-exact numpy model of the same program), with stochastic
    rounding; "iss:nearest" (or ":truncate") compiles with that rounding instead; "iss-nodither"
    without PoissonLIF's bias dither. ``sample``: the programs record only the first N
    neurons of each population (``mc.sample_sizes``), the float model's record is cut to them."""
    engine, _, rnd = engine.partition(":")      # "iss:nearest": another rounding
    rounding = rnd or rounding
    dither = not engine.endswith("-nodither")    # "iss-nodither": the bias as rounded
    engine = engine.removesuffix("-nodither")
    steps = int(round(t_ms / inst.params.dt))
    net = mc.to_network(inst, dither_bias=dither, sample=sample)
    if engine == "float":
        from fenn_dma.compiler.float_sim import simulate_float
        rec, _ = simulate_float(net, {}, steps=steps)
        return restrict(mc.split(rec["microcircuit"]["spikes"][0].astype(bool), inst, sample), inst, sample)
    from fenn_dma.compiler.pipeline import compile_model
    program, qnet = compile_model(net, rounding=rounding, seed=inst.params.seed + 1)
    if engine == "iss":
        from fenn_dma.compiler.runtime import Runtime
        return mc.split(Runtime(program).run({}, steps=steps).records["microcircuit.spikes"], inst, sample)
    if engine == "reference":
        from fenn_dma.compiler.reference import ReferenceSimulator
        return mc.split(ReferenceSimulator(qnet).run({}, steps=steps).records["microcircuit.spikes"][0], inst,
                        sample)
    raise ValueError(f"unknown engine {engine!r}; use one of {ENGINES}")


@dataclass
class Comparison:
    params: mc.Params
    t_ms: float
    discard_ms: float
    summaries: dict[str, dict] = field(default_factory=dict)     # run name -> statistics.summary
    ks: dict[str, dict] = field(default_factory=dict)            # candidate -> pop -> stat -> KS vs nest0
    spread: dict[str, dict] = field(default_factory=dict)        # pop -> stat -> max KS(nest_i, nest0)
    wall: dict[str, float] = field(default_factory=dict)
    fixed: dict[str, dict] = field(default_factory=dict)         # program -> pop -> stat -> KS vs float

    def within(self, name: str, factor: float = 1.5, slack: float = 0.05) -> dict[tuple[str, str], bool]:
        """(pop, stat) -> KS(name, nest0) <= factor * NEST's spread + slack."""
        return {(pop, k): bool(v <= factor * self.spread[pop][k] + slack)
                for pop, row in self.ks[name].items() for k, v in row.items() if np.isfinite(v)}


def compare(params: mc.Params, t_ms: float, discard_ms: float = 500.0, nest_seeds: int = 3,
            engines: tuple[str, ...] = ("float", "iss"), sample=None) -> Comparison:
    """NEST on the instances of seeds params.seed .. + nest_seeds - 1, the compiler's
    ``engines`` on the first one; KS distances against NEST on that instance. ``sample``:
    every simulator's statistics over the first N neurons of each population only (the
    programs record only those; ``mc.sample_sizes``)."""
    if not nm.available():
        raise RuntimeError("NEST is not installed (pip install -e '.[nest]')")
    discard = int(round(discard_ms / params.dt))
    out = Comparison(params, t_ms, discard_ms)
    for i in range(nest_seeds):
        inst = mc.draw(replace(params, seed=params.seed + i))
        run = nm.simulate(inst, t_ms)
        out.summaries[f"nest{i}"] = st.summary(restrict(run.spikes, inst, sample), params.dt, discard)
        out.wall[f"nest{i}"] = run.wall_s
        _progress(f"NEST seed {params.seed + i}: {run.wall_s:.1f} s")
    inst = mc.draw(params)
    for e in engines:
        t0 = time.perf_counter()
        out.summaries[e] = st.summary(run_compiler(inst, e, t_ms, sample=sample), params.dt, discard)
        out.wall[e] = time.perf_counter() - t0
        _progress(f"{e}: {out.wall[e]:.1f} s")
    ref = out.summaries["nest0"]
    for name in list(engines) + [f"nest{i}" for i in range(1, nest_seeds)]:
        out.ks[name] = st.ks_table(ref, out.summaries[name])
    for e in engines:       # the fixed-point effect: each program against the float model
        if e != "float" and "float" in engines:
            out.fixed[e] = st.ks_table(out.summaries["float"], out.summaries[e])
    out.spread = {pop: {k: max(out.ks[f"nest{i}"][pop][k] for i in range(1, nest_seeds))
                        for k in st.STATISTICS} for pop in mc.POPULATIONS} if nest_seeds > 1 else {}
    return out


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rounding_effects(params: mc.Params, t_ms: float, discard_ms: float = 500.0, seeds: int = 3,
                     engines: tuple[str, ...] = ("float", "iss", "iss:nearest", "iss:truncate"),
                     nest: bool = True) -> dict[str, np.ndarray]:
    """Mean rate per population (Hz), averaged over the instances of ``seeds`` seeds,
    per engine (and NEST): the fixed-point effects beyond one chaotic instance.
    Returns ``{engine: (seeds, 8) rates}``."""
    discard = int(round(discard_ms / params.dt))
    out: dict[str, list] = {e: [] for e in (("nest",) if nest and nm.available() else ()) + tuple(engines)}
    for i in range(seeds):
        inst = mc.draw(replace(params, seed=params.seed + i))
        runs = {e: run_compiler(inst, e, t_ms) for e in engines}
        if "nest" in out:
            runs["nest"] = nm.simulate(inst, t_ms).spikes
        _progress(f"instance {i + 1}/{seeds} done")
        for e, spk in runs.items():
            out[e].append([st.rates(spk[p], params.dt, discard).mean() for p in mc.POPULATIONS])
    return {e: np.array(v) for e, v in out.items()}


def effects_table(eff: dict[str, np.ndarray]) -> str:
    names = list(eff)
    n = next(iter(eff.values())).shape[0]
    lines = [f"mean rate (Hz) over {n} instances, +- the standard error of that mean", "",
             "| pop | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k, pop in enumerate(mc.POPULATIONS):
        cells = [f"{eff[e][:, k].mean():.2f} +- {eff[e][:, k].std(ddof=1) / np.sqrt(n):.2f}" if n > 1
                 else f"{eff[e][0, k]:.2f}" for e in names]
        lines.append(f"| {pop} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(c: Comparison, engines: tuple[str, ...]) -> str:
    """Markdown: per population, mean rate / CV / correlation of NEST (seed 0) and each
    engine, and KS distances beside NEST's spread."""
    lines = [f"scale N x {c.params.n_scale}, K x {c.params.k_scale}, {c.params.background} background, "
             f"{c.t_ms:g} ms, first {c.discard_ms:g} ms discarded; KS against NEST on the same instance; "
             f"NEST spread = max KS of NEST on {len(c.summaries) - len(engines) - 1} other seeds",
             "",
             "| pop | stat | NEST mean | " + " | ".join(f"{e} mean" for e in engines) + " | "
             + " | ".join(f"KS {e}" for e in engines) + " | NEST spread | "
             + " | ".join(f"KS {e} vs float" for e in c.fixed) + " |",
             "|---" * (4 + 2 * len(engines) + len(c.fixed)) + "|"]
    for pop in mc.POPULATIONS:
        for k in st.STATISTICS:
            def mean(name):
                a = c.summaries[name][pop][k]
                return f"{a.mean():.3f}" if a.size else "-"
            ks = " | ".join(f"{c.ks[e][pop][k]:.3f}" for e in engines)
            lines.append(f"| {pop} | {k} | {mean('nest0')} | " + " | ".join(mean(e) for e in engines)
                         + f" | {ks} | {c.spread[pop][k]:.3f} | "
                         + " | ".join(f"{c.fixed[e][pop][k]:.3f}" for e in c.fixed) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="The microcircuit in NEST and the FeNN-DMA compiler, side by side")
    ap.add_argument("--scale", type=float, default=0.01, help="n_scale (default 0.01)")
    ap.add_argument("--k-scale", type=float, default=None, help="k_scale (default: --scale)")
    ap.add_argument("--background", choices=("dc", "poisson"), default="poisson")
    ap.add_argument("--ms", type=float, default=2500.0, help="model time (default 2500)")
    ap.add_argument("--discard", type=float, default=500.0, help="transient discarded (default 500 ms)")
    ap.add_argument("--seeds", type=int, default=4, help="NEST seeds (default 4)")
    ap.add_argument("--engines", default="float,iss",
                    help="of float, iss, reference, iss:nearest, iss:truncate, iss-nodither (default float,iss)")
    ap.add_argument("--sample", type=int, default=None,
                    help="record only the first N neurons of each population (all of a smaller one) and compare "
                         "those (default: all)")
    ap.add_argument("--effects", action="store_true",
                    help="instead: mean rates per engine averaged over --seeds instances (fixed-point effects)")
    a = ap.parse_args(argv)
    engines = tuple(e for e in a.engines.split(",") if e)
    if a.effects:
        p = mc.Params(n_scale=a.scale, k_scale=a.k_scale or a.scale, background=a.background)
        print(effects_table(rounding_effects(p, a.ms, a.discard, a.seeds, engines)))
        return 0
    c = compare(mc.Params(n_scale=a.scale, k_scale=a.k_scale or a.scale, background=a.background), a.ms, a.discard,
                a.seeds, engines, sample=a.sample)
    print(table(c, engines))
    print("\nwall seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in c.wall.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
