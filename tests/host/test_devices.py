"""The device API on the ISS: life cycle, inputs, errors, batches (one-by-one ==
batched == over processes), .npz results, evaluate, the board devices' refusals."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.arch import MachineMismatch, profile
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import open_device
from fenn_dma.host.devices import (Device, DeviceError, DeviceUnavailable, LimitExceeded, RunError, evaluate,
                                   list_devices)
from fenn_dma.host.devices.clock import CLOCK_MHZ, clock_mhz

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402


@pytest.fixture(scope="module")
def ff():
    return nets.compiled("feed_forward")


@pytest.fixture(scope="module")
def batch(ff):
    return nets.spikes(ff, 5)


def test_the_networks_cover_every_neuron_model():
    assert nets.every_model_is_covered() == set()


def test_life_cycle_equals_runtime_and_reference(ff, batch):
    from fenn_dma.compiler.pipeline import compile_model
    net = nets.feed_forward()
    _, q = compile_model(net, n_steps=nets.STEPS)
    x0 = {k: v[0] for k, v in batch.items()}
    with open_device("iss") as dev:
        assert dev.load(ff) is dev and dev.spec.name == "kv260" and dev.clock_mhz == 175.0
        dev.write_inputs(x0)
        first = dev.run(steps=6)                       # continues ...
        second = dev.run(6, {k: v[6:] for k, v in x0.items()})
        assert dev.t == 12 and dev.counters["calls"] == 2
        assert dev.counters["cycles"] == first.cycles + second.cycles
        dev.reset()                                    # ... until reset
        whole = dev.run(inputs=x0)
    want = Runtime(ff).run(x0)
    ref = ReferenceSimulator(q, 1).run({k: v[:1] for k, v in batch.items()})
    for k in want.records:
        np.testing.assert_array_equal(whole.records[k], want.records[k])
        np.testing.assert_array_equal(np.concatenate([first.records[k], second.records[k]]), want.records[k])
        np.testing.assert_array_equal(whole.records[k], ref.records[k][0])
    np.testing.assert_array_equal(whole.readouts["output"], ref.readouts["output"][0])
    assert (whole.instructions, whole.cycles) == (want.instructions, want.cycles)


def test_windows_cost_a_pipeline_fill_each(ff, batch):
    """A run split into windows pays the start-up cycles per firmware call, as the hardware does."""
    from fenn_dma.compiler.codegen import CompileOptions, compile_network
    from fenn_dma.compiler.quantise import quantise
    from fenn_dma.sim.cycle_model import CycleModel
    q = quantise(nets.feed_forward(), n_steps=nets.STEPS)
    small = compile_network(q, CompileOptions(window=4))
    x0 = {k: v[0] for k, v in batch.items()}
    one = Runtime(ff).run(x0)
    three = Runtime(small).run(x0)
    assert three.calls == 3 and one.calls == 1
    for k in one.records:
        np.testing.assert_array_equal(one.records[k], three.records[k])
    assert three.cycles - one.cycles >= 2 * CycleModel().pipeline_fill


def test_batched_equals_one_by_one_and_over_processes(ff, batch, tmp_path):
    dev = open_device("iss").load(ff)
    res = dev.run_batch(batch)
    two = dev.run_batch(batch, workers=2)
    for b in range(5):
        dev.reset()
        one = dev.run(inputs={k: v[b] for k, v in batch.items()})
        assert res.cycles[b] == one.cycles and res.instructions[b] == one.instructions
        assert res.dma_bytes[b] == one.dma_bytes == 0                # no DRAM weights
        for k in one.records:
            np.testing.assert_array_equal(res.records[k][b], one.records[k])
        np.testing.assert_array_equal(res.readouts["output"][b], one.readouts["output"])
    for k in res.records:
        np.testing.assert_array_equal(two.records[k], res.records[k])
    np.testing.assert_array_equal(two.cycles, res.cycles)
    np.testing.assert_allclose(res.microseconds, res.cycles / 175.0)
    path = res.save(tmp_path / "out.npz")
    with np.load(path) as z:
        assert set(z.files) >= {"hidden.spikes", "output.v", "output.readout", "cycles", "instructions", "us",
                                "dma_bytes", "dma_mm2s_bytes", "dma_s2mm_bytes"}
        np.testing.assert_array_equal(z["hidden.spikes"], res.records["hidden.spikes"])
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]       # no temporary file left


def test_reference_engine_on_request(ff, batch):
    fast = open_device("iss").load(ff).run_batch(batch)
    ref = open_device("iss", engine="reference").load(ff).run_batch({k: v[:2] for k, v in batch.items()})
    np.testing.assert_array_equal(ref.cycles, fast.cycles[:2])
    np.testing.assert_array_equal(ref.records["hidden.spikes"], fast.records["hidden.spikes"][:2])
    with pytest.raises(DeviceError, match="unknown engine 'warp'"):
        open_device("iss", engine="warp").load(ff)
    with pytest.raises(DeviceError, match="takes no option colour"):
        open_device("iss", colour="red")


def test_a_program_for_another_machine_is_refused(ff):
    with pytest.raises(MachineMismatch, match=r"program 'feed_forward' was compiled for machine kv260 .*"
                                              r"this machine sim-small"):
        open_device("iss", "sim-small").load(ff)
    dev = open_device("iss", profile("kv260")).load(ff)          # its own machine is fine
    assert dev.spec.name == "kv260"


def test_inputs_are_checked_before_anything_is_written(ff):
    dev = open_device("iss").load(ff)
    size = ff.io["inputs"]["input"]["size"]
    good = np.zeros((4, size), bool)
    with pytest.raises(ModelError, match=r"no input spikes for spike source 'input'"):
        dev.write_inputs({"inp": good})
    with pytest.raises(ModelError, match=r"not spike sources of this program"):
        dev.write_inputs({"input": good, "other": good})
    with pytest.raises(ModelError, match=r"inputs\['input'\].*shape \(4, 3\)"):
        dev.write_inputs({"input": np.zeros((4, 3), bool)})
    with pytest.raises(ModelError, match=r"inputs\['input'\].*values other than 0 and 1"):
        dev.write_inputs({"input": np.full((4, size), 0.5)})
    with pytest.raises(ModelError, match=r"inputs\['input'\] has 4 steps, 9 asked"):
        dev.run(9, {"input": good})
    with pytest.raises(ModelError, match=r"batch sizes differ|expected \(batch, steps"):
        dev.run_batch({"input": good})
    assert dev.t == 0 and dev.counters["calls"] == 0                 # nothing ran


def test_life_cycle_errors(ff):
    dev = open_device("iss")
    with pytest.raises(DeviceError, match="load a program first"):
        dev.run(3)
    with pytest.raises(DeviceError, match="takes a .fenn path, a FennProgram or a Compiled"):
        dev.load(42)
    dev.load(ff)
    dev.close()
    with pytest.raises(DeviceError, match="is closed"):
        dev.run(3)


def test_cycle_limit_is_its_own_exception(ff, batch):
    dev = open_device("iss", max_cycles=500).load(ff)
    with pytest.raises(LimitExceeded, match=r"steps 0\.\.11 ran past the limit of 500 cycles \(stopped at pc "
                                            r"0x[0-9a-f]{8}"):
        dev.run(inputs={k: v[0] for k, v in batch.items()})


def test_abnormal_stop_names_cause_and_pc(ff, batch):
    """A program whose firmware hits an illegal word stops with its cause and pc named."""
    from dataclasses import replace
    imem = bytearray(ff.images["imem"])
    imem[0:4] = (0).to_bytes(4, "little")                       # the all-zero word is illegal
    broken = replace(ff, images=dict(ff.images, imem=bytes(imem)))
    dev = open_device("iss").load(broken)
    with pytest.raises(RunError, match=r"stopped with illegal_instruction at pc 0x00000000 during steps 0\.\.11") \
            as exc:
        dev.run(inputs={k: v[0] for k, v in batch.items()})
    assert exc.value.cause == "illegal_instruction" and exc.value.pc == 0


def test_board_devices_say_why_they_are_not_available():
    with pytest.raises(DeviceUnavailable, match="kv260: not available here: .*UIO"):
        open_device("kv260")
    with pytest.raises(DeviceUnavailable, match=r"ecp5:/dev/nope: not available here: no serial port /dev/nope"):
        open_device("ecp5:/dev/nope")
    with pytest.raises(DeviceUnavailable, match="unknown device 'gpu'; devices: iss, rtl, kv260, ecp5:PORT"):
        open_device("gpu")
    with pytest.raises(DeviceUnavailable, match="takes no argument"):
        open_device("iss:3")
    rows = {name: (ok, why) for name, ok, why in list_devices()}
    assert rows["iss"][0] and not rows["kv260"][0] and not rows["ecp5:PORT"][0]
    assert isinstance(open_device("iss"), Device)


def test_clocks_are_the_boards():
    from fenn_dma.boards.ecp5 import BOARDS
    from fenn_dma.boards.kv260.project import TARGET_MHZ
    assert CLOCK_MHZ["kv260"] == TARGET_MHZ
    assert CLOCK_MHZ["ecp5"] in {b.clock_mhz for b in BOARDS.values()}
    assert clock_mhz(profile("kv260").with_sizes(vmem_size=64 * 1024)) == TARGET_MHZ


def test_evaluate_scores_the_readout(ff, batch):
    x = batch["input"]
    scores = open_device("iss").load(ff).run_batch(batch).readouts["output"]
    labels = scores.argmax(1).copy()
    labels[0] = (labels[0] + 1) % 3
    ev = evaluate(ff, x, labels, "iss")
    assert ev.accuracy == pytest.approx(4 / 5) and ev.confusion.sum() == 5 and np.trace(ev.confusion) == 4
    assert ev.report()["cycles_per_sample"] == pytest.approx(ev.result.cycles.mean())
    with pytest.raises(ModelError, match="one label per sample"):
        evaluate(ff, x, labels[:3], "iss")
    with pytest.raises(ModelError, match="readout 'output' has 3 classes"):
        evaluate(ff, x, labels + 3, "iss")
