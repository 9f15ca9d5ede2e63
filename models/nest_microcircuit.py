"""The microcircuit instance (models.microcircuit.Instance) in NEST 3.10
(``iaf_psc_exp``): the same synapses, weights, delays, initial potentials and
background, for the side-by-side validation and NEST's real-time factor.

NEST is the optional extra ``nest`` (``pip install -e '.[nest]'``); without it
:func:`available` is False and :func:`simulate` raises a FennError saying so.
"""
from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import numpy as np

from fenn_dma.errors import FennError

from .microcircuit import (C_M, E_L, K_EXT, NU_BG, POPULATIONS, T_REF, TAU_M, TAU_SYN, V_RESET, V_TH, W_MEAN,
                           Instance)


def available() -> bool:
    return importlib.util.find_spec("nest") is not None


@dataclass
class NestRun:
    spikes: dict[str, np.ndarray]      # population -> (steps, size) bool
    wall_s: float                      # nest.Simulate's wall time
    build_s: float                     # creating and connecting

    def rtf(self, t_model_ms: float) -> float:
        return self.wall_s / (t_model_ms * 1e-3)


def simulate(inst: Instance, t_ms: float, threads: int = 1, seed: int | None = None) -> NestRun:
    """Simulate ``t_ms`` of ``inst``; ``seed`` NEST's RNG (the Poisson background's
    only; the network itself is ``inst``)."""
    if not available():
        raise FennError("NEST is not installed; install the optional extra: pip install -e '.[nest]'")
    os.environ.setdefault("PYNEST_QUIET", "1")       # no banner at import
    import nest

    p = inst.params
    t0 = time.perf_counter()
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.set(resolution=p.dt, local_num_threads=threads, print_time=False,
             rng_seed=int(seed if seed is not None else p.seed) + 1)
    pops = []
    for k, n in enumerate(inst.sizes):
        pop = nest.Create("iaf_psc_exp", int(n), params={
            "C_m": C_M, "tau_m": TAU_M, "tau_syn_ex": TAU_SYN, "tau_syn_in": TAU_SYN, "t_ref": T_REF,
            "E_L": E_L, "V_reset": V_RESET, "V_th": V_TH, "I_e": float(inst.i_bg[k])})
        pop.V_m = inst.v0[k].tolist()
        pops.append(pop)
    first = [int(pop[0].global_id) for pop in pops]
    for pr in inst.projections:
        nest.Connect(np.asarray(pr.pre + first[pr.source], np.int64),
                     np.asarray(pr.post + first[pr.target], np.int64), "one_to_one",
                     syn_spec={"weight": pr.weight.astype(np.float64),
                               "delay": (pr.delay * p.dt).astype(np.float64)})
    if p.background == "poisson":
        for k, pop in enumerate(pops):
            gen = nest.Create("poisson_generator", params={"rate": float(K_EXT[k] * p.k_scale * NU_BG)})
            nest.Connect(gen, pop, "all_to_all", syn_spec={"weight": W_MEAN / np.sqrt(p.k_scale), "delay": p.dt})
    recs = []
    for pop in pops:
        rec = nest.Create("spike_recorder")
        nest.Connect(pop, rec)
        recs.append(rec)
    t1 = time.perf_counter()
    nest.Simulate(float(t_ms))
    t2 = time.perf_counter()
    steps = int(round(t_ms / p.dt))
    spikes = {}
    for k, (name, rec) in enumerate(zip(POPULATIONS, recs)):
        ev = rec.get("events")
        idx = np.asarray(ev["senders"], np.int64) - first[k]
        # NEST stamps a spike at the end of its step: step index = time / dt - 1
        step = np.round(np.asarray(ev["times"]) / p.dt).astype(np.int64) - 1
        s = np.zeros((steps, int(inst.sizes[k])), bool)
        ok = (step >= 0) & (step < steps)
        s[step[ok], idx[ok]] = True
        spikes[name] = s
    return NestRun(spikes, t2 - t1, t1 - t0)
