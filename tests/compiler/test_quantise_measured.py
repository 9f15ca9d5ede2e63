"""V's format from measured ranges still holds the neuron's threshold and reset:
a population that never fires on the calibration samples compiles."""
import numpy as np

from fenn_dma.compiler.float_sim import measure_ranges
from fenn_dma.compiler.model import Dense, Network, SpikeInput
from fenn_dma.compiler.neurons import LIF
from fenn_dma.compiler.quantise import quantise


def test_silent_population_keeps_its_threshold_in_range():
    net = Network(dt=1.0, name="silent")
    src = net.population("input", 4, SpikeInput())
    out = net.population("out", 2, LIF(tau_mem=20.0, threshold=1.0), readout="spike_count")
    net.connect(src, out, Dense(np.full((4, 2), 0.01)))
    x = {"input": (np.random.default_rng(0).random((1, 30, 4)) < 0.2).astype(float)}
    measured = measure_ranges(net, x)
    assert measured["out"]["V"][1] < 0.5          # never near the threshold
    q = quantise(net, measured=measured, n_steps=30)
    fmt = q.populations["out"].v_fmt
    assert fmt.max_value >= 1.0 and fmt.min_value <= 0.0
