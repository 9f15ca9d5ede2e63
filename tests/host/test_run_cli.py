"""`fenn-dma run --device ...`, `--dataset` evaluation (CLI accuracy == API accuracy),
atomic outputs, and `fenn-dma devices`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.host import evaluate_dataset, open_device

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402


@pytest.fixture(scope="module")
def fenn(tmp_path_factory):
    path = tmp_path_factory.mktemp("prog") / "ff.fenn"
    nets.compiled("feed_forward").save(path)
    return path


@pytest.fixture(scope="module")
def yinyang_fenn(tmp_path_factory):
    """A 5-input, 3-class classifier (untrained weights, fixed seed): enough to score Yin-Yang."""
    from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
    from fenn_dma.compiler.neurons import LI, LIF
    from fenn_dma.compiler.pipeline import compile_model
    rng = np.random.default_rng(5)
    net = Network(name="yy")
    inp = net.population("input", 5, SpikeInput())
    hid = net.population("hidden", 32, LIF(tau_mem=20, threshold=0.5))
    out = net.population("output", 3, LI(tau_mem=20), readout="v_sum")
    net.connect(inp, hid, Dense(rng.normal(0.3, 0.5, (5, 32))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.5, (32, 3))), Exponential(5))
    program, _ = compile_model(net, n_steps=40)
    path = tmp_path_factory.mktemp("yy") / "yy.fenn"
    program.save(path)
    return path


def test_run_on_a_device_writes_records_atomically(fenn, tmp_path, capsys):
    x = nets.spikes(nets.compiled("feed_forward"), 3)
    np.savez(tmp_path / "in.npz", **x)
    assert main(["run", str(fenn), "--device", "iss", "--input", str(tmp_path / "in.npz"),
                 "-o", str(tmp_path / "out.npz"), "--report", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "feed_forward on iss (kv260)" in text and "us/sample at 175 MHz" in text
    want = open_device("iss").load(fenn).run_batch(x)
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_array_equal(z["hidden.spikes"], want.records["hidden.spikes"])
        np.testing.assert_array_equal(z["cycles"], want.cycles)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["cycles"] == int(want.cycles.sum()) and report["samples"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "out.npz", "r.json"]


def test_run_reports_dma_bytes_per_sample(tmp_path, capsys):
    """A program with streamed weights: the DMA bytes per sample in the printout, the .npz and
    the report equal the API's, for a batch and for one sample."""
    net = nets.feed_forward()
    for c in net.connections.values():
        c.placement = "dram"
    from fenn_dma.compiler.pipeline import compile_model
    program, _ = compile_model(net, n_steps=nets.STEPS)
    program.save(tmp_path / "s.fenn")
    x = nets.spikes(program, 2, seed=4)
    want = open_device("iss").load(program).run_batch(x)
    assert (want.dma_bytes > 0).all()
    for name, inputs, expected in (("batch", x, want.dma_bytes), ("one", {k: v[1] for k, v in x.items()},
                                                                  want.dma_bytes[1])):
        np.savez(tmp_path / f"{name}.npz", **inputs)
        out, rep = tmp_path / f"{name}.out.npz", tmp_path / f"{name}.json"
        assert main(["run", str(tmp_path / "s.fenn"), "--input", str(tmp_path / f"{name}.npz"), "-o", str(out),
                     "--report", str(rep)]) == 0
        text = capsys.readouterr().out
        assert f", {np.mean(expected):.0f} DMA bytes/sample (MM2S {np.mean(expected):.0f}, S2MM 0)" in text
        with np.load(out) as z:
            np.testing.assert_array_equal(z["dma_bytes"], expected)
            np.testing.assert_array_equal(z["dma_mm2s_bytes"], expected)
            np.testing.assert_array_equal(z["dma_s2mm_bytes"], np.zeros_like(expected))
        report = json.loads(rep.read_text())
        assert report["dma_bytes_per_sample"] == report["dma_mm2s_bytes_per_sample"] == np.mean(expected)
        assert report["dma_bytes"] == int(np.sum(expected)) and report["dma_s2mm_bytes_per_sample"] == 0


def test_run_errors_name_the_cause(fenn, tmp_path, capsys):
    assert main(["run", str(fenn), "--device", "kv260", "--steps", "3"]) == 1
    assert "not available here" in capsys.readouterr().err
    assert main(["run", str(fenn), "--device", "iss", "--profile", "sim-small", "--steps", "3"]) == 1
    assert "compiled for machine kv260" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", input=np.zeros((4, 7), bool))
    assert main(["run", str(fenn), "--input", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "o.npz")]) == 1
    assert "inputs['input']" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
    np.savez(tmp_path / "good.npz", input=np.zeros((4, 20), bool))
    assert main(["run", str(fenn), "--max-cycles", "100", "--input", str(tmp_path / "good.npz")]) == 1
    assert "ran past the limit of 100 cycles" in capsys.readouterr().err


def test_cli_accuracy_equals_the_api(yinyang_fenn, tmp_path, capsys):
    assert main(["run", str(yinyang_fenn), "--dataset", "yinyang", "--split", "test", "--limit", "60",
                 "--report", str(tmp_path / "eval.json"), "-o", str(tmp_path / "eval.npz")]) == 0
    text = capsys.readouterr().out
    report = json.loads((tmp_path / "eval.json").read_text())
    api = evaluate_dataset(yinyang_fenn, "yinyang", "test", "iss", limit=60)
    assert report["accuracy"] == api.accuracy and report["samples"] == 60
    assert report["confusion"] == api.confusion.tolist()
    assert report["cycles_per_sample"] == pytest.approx(api.result.cycles.mean())
    assert report["dma_bytes_per_sample"] == 0 and report["dma_bytes"] == 0       # no DRAM weights
    assert f"accuracy {100 * api.accuracy:.2f} % of 60 samples" in text and "confusion" in text
    with np.load(tmp_path / "eval.npz") as z:
        np.testing.assert_array_equal(z["predictions"], api.predictions)


def test_devices_lists_why(capsys):
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    assert "iss" in text and "kv260" in text and "not available" in text
    assert main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["device"] for r in rows} == {"iss", "rtl", "kv260", "ecp5:PORT"}
    assert all(("why" in r) != r["usable"] for r in rows)


def test_saturated_outputs_are_reported(tmp_path, capsys):
    """V pinned at the rail is counted in the result and named on stderr with its format."""
    from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
    from fenn_dma.compiler.neurons import LI
    from fenn_dma.compiler.pipeline import compile_model
    net = Network(name="hot")
    inp = net.population("input", 8, SpikeInput())
    out = net.population("output", 2, LI(tau_mem=50), readout="v_sum", record=("v",), formats={"V": "s2.13"})
    net.connect(inp, out, Dense(np.full((8, 2), 3.5)), Exponential(5))
    program, _ = compile_model(net, n_steps=20)
    program.save(tmp_path / "hot.fenn")
    x = np.ones((2, 20, 8), bool)
    res = open_device("iss").load(program).run_batch({"input": x})
    assert res.saturation.saturated() and "population 'output'" in res.warnings()[0]
    np.savez(tmp_path / "x.npz", input=x)
    assert main(["run", str(tmp_path / "hot.fenn"), "--input", str(tmp_path / "x.npz"),
                 "--report", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert "warning: saturation: population 'output': V (s2.13) at the int16 rails" in err and "s3.12" in err
    assert json.loads((tmp_path / "r.json").read_text())["saturation"]


def test_run_with_dram_back_pressure_reports_the_cycles_the_api_predicts(tmp_path, capsys):
    """`fenn-dma run --dram-timing/--dram-stall/--dram-seed`: the iss device's DRAM model, the
    cycles the API gives with the same DramTiming; a board's device refuses the options."""
    from fenn_dma.compiler.pipeline import compile_model
    from fenn_dma.dram import DramTiming
    net = nets.feed_forward()
    for c in net.connections.values():
        c.placement = "dram"
    program, _ = compile_model(net, n_steps=nets.STEPS)
    program.save(tmp_path / "s.fenn")
    x = nets.spikes(program, 2, seed=4)
    np.savez(tmp_path / "x.npz", **x)
    timing = DramTiming.preset("short").with_stall(160, seed=9)
    want = open_device("iss", dram=timing).load(program).run_batch(x)
    short = open_device("iss", dram=DramTiming.preset("short")).load(program).run_batch(x)
    assert (want.cycles > short.cycles).all()
    rep = tmp_path / "r.json"
    assert main(["run", str(tmp_path / "s.fenn"), "--input", str(tmp_path / "x.npz"), "--report", str(rep),
                 "--dram-timing", "short", "--dram-stall", "160", "--dram-seed", "9"]) == 0
    assert json.loads(rep.read_text())["cycles"] == int(want.cycles.sum())
    capsys.readouterr()
    assert main(["run", str(tmp_path / "s.fenn"), "--input", str(tmp_path / "x.npz"), "--dram-stall", "256"]) == 1
    assert "DramTiming.stall = 256" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "s.fenn"), "--device", "kv260", "--dram-stall", "8",
                 "--input", str(tmp_path / "x.npz")]) == 1
    assert "kv260 has its own DRAM" in capsys.readouterr().err
