"""Recording a sample: ``record_first`` keeps neurons 0..N-1 of a population's spike and
V records. The program's records equal the full-record program's first N columns and the
reference's, in one call and across record windows, with the chunk update unrolled (<= 4
chunks) and looped; the record window is ceil(N / 32) words (vectors) per step, so windows
grow; bad values are refused naming the population. The same on the rtl device."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.compiler.codegen import CompileOptions, compile_network
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.neurons import LIF
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import open_device

STEPS = 14


def net(size: int, record_first=None) -> Network:
    rng = np.random.default_rng(size)
    n = Network(name=f"sample{size}")
    inp = n.population("input", 24, SpikeInput())
    hid = n.population("hidden", size, LIF(tau_mem=10, threshold=0.4, refractory=1), record=("spikes", "v"),
                       record_first=record_first)
    n.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (24, size))), Exponential(4))
    n.connect(hid, hid, Dense(rng.normal(0.0, 0.15, (size, size))), Exponential(4))
    return n


def compiled(size: int, record_first=None, window: int = 1024):
    q = quantise(net(size, record_first), rounding="stochastic", n_steps=STEPS)
    return compile_network(q, CompileOptions(window=window)), q


def inputs(seed: int = 5) -> dict:
    return {"input": np.random.default_rng(seed).random((STEPS, 24)) < 0.3}


@pytest.mark.parametrize("size, first, window", [
    (100, {"spikes": 37, "v": 70}, 1024),      # unrolled (4 chunks): spikes in 2 words, V in 3 vectors
    (100, 5, 4),                               # unrolled, 1 word, windows of 4 steps
    (230, {"spikes": 33, "v": 64}, 1024),      # looped (8 chunks)
    (230, {"spikes": 200, "v": 1}, 3),         # looped, windows of 3 steps
    (230, 230, 1024),                          # all of them: the full record
])
def test_sample_is_the_first_columns_of_the_full_record(size, first, window):
    full, _ = compiled(size, window=window)
    prog, q = compiled(size, first, window)
    x = inputs()
    a = Runtime(full).run(x).records
    b = Runtime(prog).run(x).records
    ref = ReferenceSimulator(q).run({"input": x["input"][None]}).records
    n = first if isinstance(first, dict) else {"spikes": first, "v": first}
    assert a["hidden.spikes"][:, :n["spikes"]].sum() > 0          # the sample spikes
    for var in ("spikes", "v"):
        key = f"hidden.{var}"
        assert b[key].shape == (STEPS, n[var])
        np.testing.assert_array_equal(b[key], a[key][:, :n[var]], err_msg=key)
        np.testing.assert_array_equal(b[key], ref[key][0], err_msg=key)


def test_sample_window_grows():
    """At 1000 neurons the spike record (32 words per step, beside the input's 1) bounds the
    window by DMEM; a sample of 40 neurons (2 words) gives a window 11 (33 / 3) times as long."""
    def window(first):
        n = Network(name="w")
        inp = n.population("input", 8, SpikeInput())
        hid = n.population("hidden", 1000, LIF(tau_mem=10, threshold=0.4), record=("spikes",),
                           record_first=first)
        n.connect(inp, hid, Dense(np.full((8, 1000), 0.1)), Exponential(4))
        prog = compile_network(quantise(n, n_steps=4), CompileOptions(window=100_000))
        spec = prog.io["records"]["hidden.spikes"]
        return prog.io["window"], spec["words"], spec["size"]
    (w_all, words_all, n_all), (w_40, words_40, n_40) = window(None), window(40)
    assert (words_all, n_all, words_40, n_40) == (32, 1000, 2, 40)
    assert 0.95 * 11 * w_all < w_40 <= 11 * w_all


@pytest.mark.parametrize("kw, match", [
    (dict(record=("spikes",), record_first=0), r"population 'p': record_first\['spikes'\] = 0; allowed: an "
                                               r"integer from 1 to 50"),
    (dict(record=("spikes",), record_first=51), r"record_first\['spikes'\] = 51; allowed: an integer from 1 to 50"),
    (dict(record=("spikes",), record_first=2.5), r"record_first\['spikes'\] = 2.5"),
    (dict(record=("spikes",), record_first=True), r"record_first\['spikes'\] = True"),
    (dict(record=("spikes",), record_first={"v": 3}), r"population 'p': record_first names 'v', which the "
                                                      r"population does not record; allowed: spikes"),
    (dict(record_first=3), r"population 'p': record_first = 3 but the population records nothing"),
])
def test_bad_record_first(kw, match):
    with pytest.raises(ModelError, match=match):
        Network().population("p", 50, LIF(tau_mem=10, threshold=0.5), **kw)


@pytest.mark.rtl
@pytest.mark.parametrize("size, first", [(100, {"spikes": 37, "v": 70}), (230, {"spikes": 33, "v": 64})])
def test_sample_on_the_rtl_equals_the_iss(size, first):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the rtl device needs the Verilator toolchain: {reason}")
    prog, _ = compiled(size, first, window=5)
    x = inputs(2)
    iss = open_device("iss").load(prog).run(STEPS, x)
    with open_device("rtl", "kv260") as dev:
        got = dev.load(prog).run(STEPS, x)
    for k in iss.records:
        np.testing.assert_array_equal(got.records[k], iss.records[k], err_msg=k)
    assert (got.cycles, got.instructions, got.calls) == (iss.cycles, iss.instructions, iss.calls) \
        and iss.calls == 3


def test_sample_program_round_trips_through_a_fenn_file(tmp_path):
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.compiler.pipeline import to_program
    prog, _ = compiled(230, {"spikes": 33, "v": 64}, window=4)
    to_program(prog).save(tmp_path / "s.fenn")
    back = load(tmp_path / "s.fenn")
    assert back.io["records"] == prog.io["records"]
    a, b = Runtime(prog).run(inputs()).records, Runtime(back).run(inputs()).records
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
