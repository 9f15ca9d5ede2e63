"""The same compiled networks on the ``iss`` and ``rtl`` devices through the API:
identical records, readouts, instructions, cycles and DMA bytes; the RTL's own refusals and
stops. The SoC is the kv260 profile's vector SoC (the demo's), built once and
cached (verify/rtl_native.py)."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.host import open_device
from fenn_dma.host.devices import LimitExceeded, RunError

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402

pytestmark = pytest.mark.rtl


def _same(a, b) -> None:
    assert set(a.records) == set(b.records) and set(a.readouts) == set(b.readouts)
    for k in a.records:
        np.testing.assert_array_equal(a.records[k], b.records[k], err_msg=k)
    for k in a.readouts:
        np.testing.assert_array_equal(a.readouts[k], b.readouts[k], err_msg=k)
    np.testing.assert_array_equal(a.instructions, b.instructions)
    np.testing.assert_array_equal(a.cycles, b.cycles)
    for k in ("dma_mm2s_bytes", "dma_s2mm_bytes"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


@pytest.mark.parametrize("name, rounding", [("feed_forward", "nearest"), ("recurrent", "stochastic"),
                                            ("delays", "nearest"), ("models", "stochastic")])
def test_rtl_equals_iss_bit_for_bit_and_cycle_for_cycle(rtl, name, rounding):
    program = nets.compiled(name, rounding)
    x = nets.spikes(program, 2, seed=7)
    iss = open_device("iss").load(program).run_batch(x)
    got = rtl.load(program).run_batch(x)
    _same(iss, got)
    assert got.device == "rtl" and got.machine == "kv260"


def test_rtl_runs_continue_like_the_iss_and_vector_state_matches(rtl):
    """Windows, continuation and reset on the RTL; v0..v31 and every lane's RNG state read
    through the harness equal the ISS's after the same calls."""
    from fenn_dma.compiler.codegen import CompileOptions, compile_network
    from fenn_dma.compiler.quantise import quantise
    q = quantise(nets.recurrent(), rounding="stochastic", n_steps=nets.STEPS)
    program = compile_network(q, CompileOptions(window=5))
    x = {k: v[0] for k, v in nets.spikes(program, 1, seed=3).items()}
    iss = open_device("iss").load(program)
    rtl.load(program)
    for dev in (iss, rtl):
        dev.run(7, {k: v[:7] for k, v in x.items()})
    a, b = iss.run(5, {k: v[7:] for k, v in x.items()}), rtl.run(5, {k: v[7:] for k, v in x.items()})
    _same(a, b)
    assert a.calls == b.calls == 1 and iss.t == rtl.t == 12
    assert iss.counters == rtl.counters
    v, rng = rtl._transport.vector_state()
    m = iss._transport.machine
    np.testing.assert_array_equal(v, m.v)
    np.testing.assert_array_equal(rng, np.stack([m.s0, m.s1]))
    np.testing.assert_array_equal(rtl.read_state("hidden", "V"), iss.read_state("hidden", "V"))


def test_rtl_batch_over_processes_equals_one_process(rtl):
    program = nets.compiled("feed_forward")
    x = nets.spikes(program, 4, seed=1)
    here = rtl.load(program).run_batch(x)
    spread = rtl.run_batch(x, workers=2)
    _same(here, spread)


@pytest.mark.parametrize("name", ["feed_forward", "delays"])
def test_streamed_weights_run_on_the_rtl_as_on_the_iss(rtl, name):
    """Weights in DRAM: the SoC's DMA engine streams them over AXI4 from the harness's DRAM
    model, with the ISS's DRAM timing (fenn_dma.dram): identical results and cycles."""
    from fenn_dma.compiler.pipeline import compile_model
    net = nets.NETWORKS[name]()
    for c in net.connections.values():
        c.placement = "dram"
    program, _ = compile_model(net, n_steps=nets.STEPS)
    assert program.images.get("dram")
    x = nets.spikes(program, 2, seed=3)
    iss = open_device("iss").load(program).run_batch(x)
    got = rtl.load(program).run_batch(x)
    _same(iss, got)
    assert (got.dma_mm2s_bytes > 0).all()


def test_rtl_abnormal_stop_and_cycle_limit(rtl):
    program = nets.compiled("feed_forward")
    x = {k: v[0] for k, v in nets.spikes(program, 1).items()}
    imem = bytearray(program.images["imem"])
    imem[0:4] = bytes(4)                                   # an illegal word at the entry
    rtl.load(replace(program, images=dict(program.images, imem=bytes(imem))))
    with pytest.raises(RunError, match=r"stopped with illegal_instruction at pc 0x00000000") as exc:
        rtl.run(inputs=x)
    assert exc.value.cause == "illegal_instruction" and exc.value.pc == 0
    limited = open_device("rtl", "kv260", max_cycles=500)
    with limited:
        limited.load(program)
        with pytest.raises(LimitExceeded, match="ran past the limit of 500 cycles"):
            limited.run(inputs=x)
