"""The DMA through the device API. DMA bytes (docs/runtime.md "Counters"): a network with
streamed weights moves, per sample, what its program implies -- one MM2S transfer of the
source's DRAM row per spike the run delivers -- identically on the fast and the reference
ISS engines and on the RTL (the SoC's MOVED registers, equal to the harness DRAM's beats); a network without DRAM weights moves
none. A DMA error stops the run with ``DmaError`` naming the address and the connection."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.arch import ROW_BYTES
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.host import open_device
from fenn_dma.host.devices import DmaError

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402


def streamed(name: str, source: str | None = None):
    """(network, program) with every connection's weights (of ``source``'s, when given) in DRAM."""
    net = nets.NETWORKS[name]()
    for c in net.connections.values():
        if source is None or c.source.name == source:
            c.placement = "dram"
    program, _ = compile_model(net, n_steps=nets.STEPS)
    return net, program


def expected_mm2s(net, program, inputs: dict, records: dict) -> np.ndarray:
    """Per sample, from the program's DRAM layout: each DRAM region holds one row per neuron of its
    connections' source (the dense rows fused); a spike of that source at step t is delivered,
    one transfer of a row, at step t + latency, so the run's last `latency` steps' spikes are not."""
    total = 0
    steps = next(iter(inputs.values())).shape[1]
    for name, (_, size, conns) in program.io["dram_regions"].items():
        first = net.connections[conns[0]]
        assert all(net.connections[c].source is first.source and net.connections[c].latency == first.latency
                   for c in conns), name
        source = first.source
        assert size % source.size == 0, name
        row = size // source.size
        assert row % ROW_BYTES == 0 and row > 0, name
        spikes = inputs[source.name] if source.name in inputs else records[f"{source.name}.spikes"]
        delivered = np.asarray(spikes)[:, :steps - first.latency].reshape(len(spikes), -1).sum(1)
        total = total + row * delivered
    return np.asarray(total, np.int64)


def check(res, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(res.dma_mm2s_bytes, expected)
    np.testing.assert_array_equal(res.dma_s2mm_bytes, 0)
    np.testing.assert_array_equal(res.dma_bytes, expected)


@pytest.mark.parametrize("name", ["feed_forward", "recurrent"])
def test_streamed_network_moves_what_its_transfers_imply_on_both_iss_engines(name):
    net, program = streamed(name)
    x = nets.spikes(program, 3, seed=5)
    fast = open_device("iss").load(program)
    res = fast.run_batch(x)
    expected = expected_mm2s(net, program, x, res.records)
    assert (expected > 0).all()
    check(res, expected)
    ref = open_device("iss", engine="reference").load(program).run_batch({k: v[:1] for k, v in x.items()})
    check(ref, expected[:1])
    # Summed in the counters, one by one equal to the batch, in the .npz and over processes.
    assert fast.counters["dma_bytes"] == fast.counters["dma_mm2s_bytes"] == int(expected.sum())
    assert fast.counters["dma_s2mm_bytes"] == 0
    fast.reset()
    one = fast.run(inputs={k: v[0] for k, v in x.items()})
    assert (one.dma_mm2s_bytes, one.dma_s2mm_bytes, one.dma_bytes) == (expected[0], 0, expected[0])
    arrays = res.arrays()
    np.testing.assert_array_equal(arrays["dma_bytes"], expected)
    np.testing.assert_array_equal(arrays["dma_mm2s_bytes"], expected)


def test_a_batch_over_processes_counts_the_same():
    net, program = streamed("feed_forward")
    x = nets.spikes(program, 4, seed=2)
    dev = open_device("iss").load(program)
    spread = dev.run_batch(x, workers=2)
    check(spread, expected_mm2s(net, program, x, spread.records))
    assert dev.counters["dma_bytes"] == int(spread.dma_bytes.sum())


def test_a_network_without_dram_weights_moves_nothing():
    program = nets.compiled("feed_forward")
    assert not program.images.get("dram")
    res = open_device("iss").load(program).run_batch(nets.spikes(program, 2))
    check(res, np.zeros(2, np.int64))


def cut_dram(program):
    """The program (only the input's connection streamed) with its DRAM image cut after the first
    row: a spike of any other input neuron streams a row from outside the DRAM."""
    from dataclasses import replace
    [(start, size, conns)] = program.io["dram_regions"].values()
    offset = start - program.io["dram_base"]
    row = size // next(s for s in program.io["inputs"].values())["size"]
    cut = replace(program, images=dict(program.images, dram=program.images["dram"][:offset + row]))
    return cut, start + row, conns


def check_dma_error(dev, program) -> None:
    cut, first_bad, conns = cut_dram(program)
    dev.load(cut)
    x = np.zeros((nets.STEPS, 20), bool)
    x[2, 0] = True                                        # neuron 0's row is still there
    dev.run(inputs={"input": x})
    dev.reset()
    x[4, 3] = True                                        # neuron 3's is not
    with pytest.raises(DmaError, match=rf"DMA error streaming weights from DRAM address 0x[0-9a-f]{{8}} "
                                       rf"\(connection '{conns[0]}'\): MM2S status 0x22, decode error") as exc:
        dev.run(inputs={"input": x})
    e = exc.value
    assert e.connections == conns and e.cause == "ebreak" and e.address >= first_bad


def test_a_dma_error_names_the_address_and_the_connection():
    _, program = streamed("feed_forward", "input")
    check_dma_error(open_device("iss"), program)


def rtl_or_skip():
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the rtl device needs the Verilator toolchain: {reason}")


@pytest.mark.rtl
def test_the_rtl_counts_the_same_dma_bytes_and_reports_the_same_dma_error():
    rtl_or_skip()
    net, program = streamed("feed_forward")
    x = nets.spikes(program, 2, seed=3)
    iss = open_device("iss").load(program).run_batch(x)
    expected = expected_mm2s(net, program, x, iss.records)
    with open_device("rtl", "kv260") as rtl:
        got = rtl.load(program).run_batch(x)
        check(got, expected)
        assert rtl.counters["dma_bytes"] == int(expected.sum())
        # The SoC's MOVED registers (what the device reports, as a board's driver reads them)
        # agree with the harness's DRAM model: every beat it served, times the port width.
        transport = rtl._transport
        beat = transport.soc.config.dma_data_bits // 8
        assert tuple(beat * b for b in transport.dram_beats()) == (int(expected.sum()), 0)
        plain = nets.compiled("feed_forward")
        check(rtl.load(plain).run_batch(nets.spikes(plain, 1)), np.zeros(1, np.int64))
        check_dma_error(rtl, streamed("feed_forward", "input")[1])


def test_the_dram_option_sets_the_iss_devices_dram_timing_and_is_checked():
    from fenn_dma.dram import DramTiming
    from fenn_dma.host.devices import DeviceError
    net, program = streamed("feed_forward")
    x = nets.spikes(program, 2, seed=3)
    plain = open_device("iss").load(program).run_batch(x)
    stalled = open_device("iss", dram=DramTiming.preset("ddr4").with_stall(128, seed=3)).load(program).run_batch(x)
    # Back-pressure changes the timing only: the same spikes, more cycles.
    for k in plain.records:
        np.testing.assert_array_equal(stalled.records[k], plain.records[k], err_msg=k)
    assert (stalled.cycles > plain.cycles).all()
    with pytest.raises(DeviceError, match=r"iss: dram = 'ddr4': must be a fenn_dma.dram.DramTiming"):
        open_device("iss", dram="ddr4").load(program)


@pytest.mark.rtl
def test_the_rtl_device_under_back_pressure_takes_the_cycles_the_iss_predicts():
    """The DRAM timing model's back-pressure (fenn_dma.dram) on both devices: the ISS predicts
    the RTL's cycles sample by sample, and the records are the same."""
    rtl_or_skip()
    from fenn_dma.dram import DramTiming
    net, program = streamed("recurrent")
    x = nets.spikes(program, 2, seed=4)
    timing = DramTiming.preset("ddr4").with_stall(96, seed=11)
    iss = open_device("iss", dram=timing).load(program).run_batch(x)
    with open_device("rtl", "kv260", dram=timing) as rtl:
        got = rtl.load(program).run_batch(x)
    np.testing.assert_array_equal(got.cycles, iss.cycles)
    for k in iss.records:
        np.testing.assert_array_equal(got.records[k], iss.records[k], err_msg=k)
    assert (iss.cycles > open_device("iss").load(program).run_batch(x).cycles).all()
