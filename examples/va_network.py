"""The Vogels-Abbott benchmark network (Brette et al. 2007, benchmark 2: CUBA),
at any size, as FeNN-DMA runs it (anchors/fenn_va_benchmark_perf.csv):
80 % excitatory / 20 % inhibitory LIF neurons, connection probability p.

Neurons (Brette's CUBA): tau_m 20 ms, E_l -49 mV, threshold -50 mV, reset
-60 mV, refractory 5 ms, V initially uniform in [-60, -50) mV (as GeNN's
``init_var("Uniform")``). Synapses: exponential currents, tau_e 5 ms and
tau_i 10 ms (one current each, onto every population). Weights: Brette's
w_e = 1.62 mV and w_i = -9 mV (jumps of g_e / g_i in dv/dt = (g_e + g_i -
(v - E_l)) / tau_m) for 4000 neurons at p = 0.02, scaled by
(4000 / N) (0.02 / p) to keep the input per neuron (GeNN's VA benchmark rule).

Mapping onto the compiler's dynamics (V[t] = beta V[t-1] + sum_k I_k[t],
I_k[t] = alpha_k I_k[t-1] + input): V is measured from E_l (V' = v - E_l, so
threshold -1 mV, reset -11 mV, no bias), and each spike adds (1 - beta) w to
its current (the forward-Euler input term of the exact leak). V' in s5.10
(+-32 mV, 1 uV steps) keeps the smallest weight (about 4 uV at 16 k neurons)
at 4 LSB.

``fenn-dma compile examples/va_network.py`` builds the 4000-neuron sparse network.
"""
from __future__ import annotations

import math

import numpy as np

from fenn_dma.compiler.model import LIF, Dense, Exponential, FixedProbability, Network, Uniform

E_L, V_TH, V_RESET = -49.0, -50.0, -60.0
TAU_M, TAU_E, TAU_I, T_REF = 20.0, 5.0, 10.0, 5.0
W_E, W_I = 1.62, -9.0          # mV, Brette et al. 2007 CUBA at 4000 neurons, p = 0.02


def va_network(n_exc: int, dense: bool, placement: str = "auto", p: float = 0.1, seed: int = 0,
               dt: float = 1.0) -> Network:
    n_inh = n_exc // 4
    n = n_exc + n_inh
    scale = (4000.0 / n) * (0.02 / p)
    gain = 1.0 - math.exp(-dt / TAU_M)
    w_e, w_i = W_E * scale * gain, W_I * scale * gain
    net = Network(dt=dt, name=f"va{n_exc}{'dense' if dense else 'sparse'}")

    def lif():
        return LIF(tau_mem=TAU_M, threshold=V_TH - E_L, v_reset=V_RESET - E_L, refractory=T_REF)

    pops = {}
    for k, (name, size) in enumerate((("E", n_exc), ("I", n_inh))):
        pops[name] = net.population(name, size, lif(), record=("spikes",), formats={"V": "s5.10"},
                                    initial_v=Uniform(V_RESET - E_L, V_TH - E_L, seed=seed + k))
    rng = np.random.default_rng(seed + 10)
    for src, tgt, w, tau in (("E", "E", w_e, TAU_E), ("E", "I", w_e, TAU_E),
                             ("I", "E", w_i, TAU_I), ("I", "I", w_i, TAU_I)):
        s, t = pops[src], pops[tgt]
        if dense:
            mask = rng.random((s.size, t.size)) < p
            if src == tgt:
                np.fill_diagonal(mask, False)
            conn = Dense(np.where(mask, w, 0.0))
        else:
            conn = FixedProbability(p, w, seed=int(rng.integers(1 << 30)), allow_autapses=src != tgt)
        net.connect(s, t, conn, Exponential(tau), name=src + tgt, placement=placement)
    return net


def build() -> Network:
    return va_network(3200, dense=False)
