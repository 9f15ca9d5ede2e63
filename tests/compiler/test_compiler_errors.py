"""Bad models and programs that do not fit raise clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
from fenn_dma.compiler.emit import RegisterPool
from fenn_dma.compiler.errors import ModelError, ResourceError
from fenn_dma.compiler.model import (ALIF, LI, LIF, Delta, Dense, Exponential, FixedProbability, Network,
                                     Sparse, SpikeInput)
from fenn_dma.compiler.quantise import quantise
from fenn_dma.errors import FennError


def _two(n_in=8, n=8):
    net = Network()
    return net, net.population("in", n_in, SpikeInput()), net.population("h", n, LIF())


def test_errors_are_fenn_errors():
    assert issubclass(ModelError, FennError) and issubclass(ResourceError, FennError)


def test_unsupported_neuron_synapse_and_parameters():
    net, i, h = _two()
    with pytest.raises(ModelError, match="population 'x': unsupported neuron model object"):
        net.population("x", 3, object())
    with pytest.raises(ModelError, match="population 'y': tau_mem must be > 0"):
        net.population("y", 3, LIF(tau_mem=-1.0))
    with pytest.raises(ModelError, match="unsupported synapse str"):
        net.connect(i, h, Dense(np.zeros((8, 8))), "alpha")
    with pytest.raises(ModelError, match="unknown readout 'mean'"):
        net.population("z", 3, LI(), readout="mean")
    with pytest.raises(ModelError, match="does not spike"):
        o = net.population("o", 2, LI())
        net.connect(o, h, Dense(np.zeros((2, 8))))
    with pytest.raises(ModelError, match="connection 'in->h': unknown placement 'flash'"):
        net.connect(i, h, Dense(np.zeros((8, 8))), placement="flash")
    with pytest.raises(ModelError, match="population 'u': initial_v has shape"):
        net.population("u", 3, LIF(), initial_v=np.zeros(4))
    with pytest.raises(ModelError, match="population 'w': a spike source has no V"):
        net.population("w", 3, SpikeInput(), initial_v=0.0)
    with pytest.raises(ModelError, match="unknown rounding 'up'"):
        quantise(_two()[0], rounding="up")


def test_shape_mismatches():
    net, i, h = _two()
    with pytest.raises(ModelError, match=r"connection 'in->h': weights have shape \(8, 7\), expected \(n_pre, n_post\) = \(8, 8\)"):
        net.connect(i, h, Dense(np.zeros((8, 7))))
    with pytest.raises(ModelError, match="delays have shape"):
        net.connect(i, h, Dense(np.zeros((8, 8)), delays=np.zeros((2, 2), int)))
    with pytest.raises(ModelError, match="pre .* and post .* must be equal"):
        net.connect(i, h, Sparse(np.arange(3), np.arange(4), 1.0))
    with pytest.raises(ModelError, match="indices out of range"):
        net.connect(i, h, Sparse(np.array([0]), np.array([8]), 1.0))
    with pytest.raises(ModelError, match="appears twice"):
        net.connect(i, h, Sparse(np.array([1, 1]), np.array([2, 2]), 1.0))
    with pytest.raises(ModelError, match="bias has shape"):
        quantise_bias = Network()
        a = quantise_bias.population("a", 4, SpikeInput())
        b = quantise_bias.population("b", 5, LIF(bias=np.zeros(3)))
        quantise_bias.connect(a, b, Dense(np.zeros((4, 5))))
        quantise(quantise_bias)


def test_weights_and_delays_out_of_range():
    net, i, h = _two()
    net.populations["h"].formats["V"] = "s2.13"
    net.connect(i, h, Dense(np.full((8, 8), 9.0)))
    with pytest.raises(ModelError, match=r"connection 'in->h': weight = 9 is out of range for its format s2.13 \[-4, 3.99"):
        quantise(net)
    net, i, h = _two()
    with pytest.raises(ModelError, match="delays must be integers >= 0"):
        net.connect(i, h, Dense(np.zeros((8, 8)), delays=-np.ones((8, 8), int)))
    net.connect(i, h, Dense(np.ones((8, 8)), delays=np.full((8, 8), 5000)))
    with pytest.raises(ModelError, match="exceeds the 4096-step ring buffer"):
        quantise(net)
    net, i, h = _two(n=32 * 40)
    net.connect(i, h, Dense(np.ones((8, 32 * 40)) * 0.1, delays=np.full((8, 32 * 40), 30)))
    with pytest.raises(ResourceError, match="memory overflow: llm needs 2560 bytes"):
        compile_network(quantise(net), CompileOptions(delay_ring="llm"))
    assert compile_network(quantise(net)).plan.used["llm"] == 0     # "auto": the ring goes to VMEM
    net, i, h = _two(n=32 * 600)
    h.formats["V"] = "s1.14"
    # (two different weights: a single weight would be a register, with no packing)
    net.connect(i, h, Sparse(np.array([0, 1]), np.array([32 * 599, 0]), np.array([1.99, 1.0])), Delta(), latency=1)
    with pytest.raises(ModelError, match="weight does not fit 5 bits once 11 bits hold the packed target index"):
        quantise(net)


def test_cycle_without_delay():
    net = Network()
    i = net.population("in", 4, SpikeInput())
    a, b, c = (net.population(n, 4, LIF()) for n in "abc")
    net.connect(i, a, Dense(np.ones((4, 4))), latency=0)
    net.connect(a, b, Dense(np.ones((4, 4))), latency=0)
    net.connect(b, c, Dense(np.ones((4, 4))), latency=0)
    net.connect(c, a, Dense(np.ones((4, 4))), latency=0)
    with pytest.raises(ModelError, match="cycle without delay: a -> b -> c -> a"):
        quantise(net)
    net.connections["c->a"].latency = 1
    quantise(net)          # a latency on the loop makes it well defined


def test_memory_overflow_names_sizes():
    net, i, h = _two(n_in=700, n=1000)
    net.connect(i, h, Dense(np.zeros((700, 1000))), placement="vmem")     # "auto" would stream it from DRAM
    with pytest.raises(ResourceError, match=r"memory overflow: vmem needs \d+ bytes, the machine has 524288 .*"
                                            r"largest: in->h.weights 1433600 B"):
        compile_network(quantise(net))
    net, i, h = _two()
    net.connect(i, h, Dense(np.zeros((8, 8))))
    with pytest.raises(ResourceError, match="memory overflow: imem needs .* the machine has 256"):
        compile_network(quantise(net), CompileOptions(sizes=MachineSizes(imem=256)))
    with pytest.raises(ResourceError, match="no room for one step"):
        compile_network(quantise(net), CompileOptions(sizes=MachineSizes(dmem=72)))


def test_register_exhaustion_is_a_clear_error():
    net, i, h = _two(n=32 * 28)
    net.connect(i, h, Dense(np.zeros((8, 32 * 28))))
    with pytest.raises(ResourceError, match="out of vector registers allocating .*held: v0="):
        compile_network(quantise(net), CompileOptions(resident_registers=31))
    pool = RegisterPool("vector", [3])
    assert pool.get("a") == "v3"
    with pytest.raises(ResourceError, match="'b'; held: v3=a"):
        pool.get("b")


def test_fixed_probability_validates_p():
    net, i, h = _two()
    with pytest.raises(ModelError, match="probability p = 1.5"):
        net.connect(i, h, FixedProbability(1.5, 0.1))


def test_alif_format_that_cannot_hold_the_increment():
    net = Network()
    i = net.population("in", 4, SpikeInput())
    a = net.population("a", 4, ALIF(), formats={"A": "s0.15"})
    net.connect(i, a, Dense(np.ones((4, 4)) * 0.1))
    with pytest.raises(ModelError, match="population 'a': A format s0.15 cannot hold the increment"):
        quantise(net)
