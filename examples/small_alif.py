"""A small recurrent ALIF classifier (model file for `fenn-dma compile`)."""
import numpy as np

from fenn_dma.compiler.model import ALIF, LI, Dense, Exponential, Network, SpikeInput


def build() -> Network:
    rng = np.random.default_rng(0)
    net = Network(dt=1.0, name="small_alif")
    inp = net.population("input", 64, SpikeInput())
    hid = net.population("hidden", 96, ALIF(tau_mem=20, tau_adapt=200, beta=0.05, threshold=0.6, refractory=2),
                         record=("spikes",))
    out = net.population("output", 4, LI(tau_mem=20), readout="v_sum", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.05, 0.25, (64, 96))), Exponential(5))
    net.connect(hid, hid, Dense(rng.normal(0, 0.1, (96, 96))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.3, (96, 4))), Exponential(5))
    return net
