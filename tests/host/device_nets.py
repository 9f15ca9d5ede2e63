"""Small compiled networks for the device tests: feed-forward, recurrent, delays,
and every neuron model, each cheap to run on the Verilated SoC."""
from __future__ import annotations

import numpy as np

from fenn_dma.compiler import neurons
from fenn_dma.compiler.model import Delta, Dense, Exponential, Network, Sparse, SpikeInput
from fenn_dma.compiler.neurons import ALIF, IF, LI, LIF, LIFSubtract, PoissonLIF
from fenn_dma.compiler.pipeline import compile_model

STEPS = 12


def feed_forward() -> Network:
    rng = np.random.default_rng(1)
    net = Network(name="feed_forward")
    inp = net.population("input", 20, SpikeInput())
    hid = net.population("hidden", 40, LIF(tau_mem=10, threshold=0.5, refractory=2), record=("spikes",))
    out = net.population("output", 3, LI(tau_mem=10), readout="v_sum", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (20, 40))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.4, (40, 3))), Exponential(5))
    return net


def recurrent() -> Network:
    rng = np.random.default_rng(2)
    net = Network(name="recurrent")
    inp = net.population("input", 16, SpikeInput())
    hid = net.population("hidden", 36, ALIF(tau_mem=20, tau_adapt=100, beta=0.05, threshold=0.4, refractory=1),
                         record=("spikes", "v"))
    out = net.population("output", 4, LI(tau_mem=20), readout="v_max")
    net.connect(inp, hid, Dense(rng.normal(0.15, 0.3, (16, 36))), Exponential(5))
    net.connect(hid, hid, Dense(rng.normal(0, 0.2, (36, 36))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.3, (36, 4))), Exponential(5))
    return net


def delays() -> Network:
    rng = np.random.default_rng(3)
    net = Network(name="delays")
    inp = net.population("input", 12, SpikeInput())
    hid = net.population("hidden", 33, LIF(tau_mem=10, threshold=0.3), record=("spikes",))
    out = net.population("output", 5, LI(tau_mem=10), readout="v_sum")
    net.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (12, 33)), delays=rng.integers(0, 4, (12, 33))),
                Exponential(5))
    pairs = rng.choice(33 * 5, 60, replace=False)
    pre, post = pairs // 5, pairs % 5
    net.connect(hid, out, Sparse(pre, post, rng.normal(0, 0.4, 60), delays=rng.integers(0, 3, 60)), Delta())
    return net


def models() -> Network:
    """Every registered neuron model in one network (IF, LIF, LIFSubtract, ALIF, PoissonLIF into an
    LI readout)."""
    rng = np.random.default_rng(4)
    net = Network(name="models")
    inp = net.population("input", 10, SpikeInput())
    units = {"if_pop": IF(threshold=0.5, refractory=1), "lif_pop": LIF(tau_mem=8, threshold=0.4),
             "sub_pop": LIFSubtract(tau_mem=8, threshold=0.4),
             "alif_pop": ALIF(tau_mem=8, tau_adapt=50, beta=0.1, threshold=0.4),
             "poisson_pop": PoissonLIF(tau_mem=8, threshold=0.4, poisson_rate=150.0, poisson_weight=0.2)}
    out = net.population("output", 3, LI(tau_mem=8), readout="v_sum", record=("v",))
    for name, unit in units.items():
        pop = net.population(name, 8, unit, record=("spikes",))
        net.connect(inp, pop, Dense(rng.normal(0.25, 0.3, (10, 8))), Exponential(4))
        net.connect(pop, out, Dense(rng.normal(0, 0.3, (8, 3))), Exponential(4))
    return net


NETWORKS = {"feed_forward": feed_forward, "recurrent": recurrent, "delays": delays, "models": models}


def every_model_is_covered() -> set[str]:
    """Registered neuron models the networks above do not use."""
    used = {p.neuron.name for f in NETWORKS.values() for p in f().populations.values() if not p.is_input}
    return set(neurons.models()) - used


def compiled(name: str, rounding: str = "nearest"):
    program, _ = compile_model(NETWORKS[name](), rounding=rounding, n_steps=STEPS)
    return program


def spikes(program, batch: int, steps: int = STEPS, rate: float = 0.3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.random((batch, steps, spec["size"])) < rate for name, spec in program.io["inputs"].items()}
