"""`fenn-dma compile` of a trained network: the run folder, its network.npz and its
network.nir compile to the program whose ISS accuracy is the trainer's reported
deployed accuracy, exactly; calibration from a built-in data set; clear errors."""
import json

import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import deploy
from fenn_dma.host.datasets import load_yinyang
from fenn_dma.host.network import TrainedNetwork

STEPS = 20
SIZES = {"train": 200, "val": 100, "test": 300}


def _train(folder, *extra):
    """A tiny `fenn-dma train` run (the user's command, small data set sizes)."""
    cfg = folder / "sizes.json"
    cfg.write_text(json.dumps({"data": {"sizes": SIZES}, "qat_samples": 128}))
    out = folder / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--fine-tune-epochs", "0", "--steps", str(STEPS),
                 "--hidden", "16", "--batch-size", "32", "--no-progress", "--no-plots", "--export-nir",
                 "--config", str(cfg), *extra]) == 0
    return out, json.loads((out / "metrics.json").read_text())["summary"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{False: a float-trained run, True: a --qat-states run}: (folder, summary)."""
    return {False: _train(tmp_path_factory.mktemp("float")),
            True: _train(tmp_path_factory.mktemp("qat"), "--qat-epochs", "1", "--qat-states")}


def _iss_accuracy(path):
    test = load_yinyang(STEPS, sizes=SIZES).splits["test"]
    out = Runtime(load(path), engine="fast").run_batch({"input": test.spikes.numpy() > 0})
    scores = out.readouts["readout"]
    return float(np.mean(scores.argmax(1) == test.labels.numpy())), scores


@pytest.mark.parametrize("qat", [False, True], ids=["float-trained", "qat-states"])
def test_cli_compile_gives_the_trainers_deployed_accuracy(tmp_path, capsys, runs, qat):
    run, summary = runs[qat]
    net = TrainedNetwork.load(run / "network.npz")
    assert net.metadata["formats"] == summary["formats"] and net.metadata["rounding"] == "nearest"
    assert net.metadata["calibration"] == "yinyang:train:128"
    reference = deploy.run_reference(deploy.plan(net), load_yinyang(STEPS, sizes=SIZES).splits["test"].spikes.numpy())
    for model, program in ((run, run / "network.fenn"), (run / "network.npz", tmp_path / "npz.fenn"),
                           (run / "network.nir", tmp_path / "nir.fenn")):
        args = ["compile", str(model)] + ([] if model == run else ["-o", str(program)])
        assert main(args) == 0, model
        acc, scores = _iss_accuracy(program)
        assert acc == summary["test_acc_deployed"], model          # exactly the trainer's number
        np.testing.assert_array_equal(scores, reference)
        meta = load(program).metadata["deploy"]
        assert meta["readout_steps"] == STEPS and meta["readout_steps_from"] == "trained network"
        assert meta["formats_declared"] == sorted(f"{k}.V" if "." not in k else k for k in summary["formats"])
    assert "sized for 20 steps (trained network)" in capsys.readouterr().out


def test_calibrate_measures_the_formats_the_network_does_not_record(tmp_path, capsys, runs):
    run, summary = runs[False]
    net = TrainedNetwork.load(run / "network.npz")
    bare = TrainedNetwork(net.n_inputs, net.layers, net.n_steps, net.readout_reduce)      # no recorded formats
    bare.save(tmp_path / "bare.npz")
    x = load_yinyang(STEPS).splits["train"].spikes.numpy()[:128]
    expected = deploy.plan(bare, x)                     # what the trainer measured on its calibration samples
    assert deploy.formats_of(expected) == summary["formats"]
    assert main(["compile", str(tmp_path / "bare.npz"), "--calibrate", "yinyang:train:128"]) == 0
    program = load(tmp_path / "bare.fenn")
    assert program.formats == expected.formats()
    meta = program.metadata["deploy"]
    assert (meta["calibration"], meta["calibration_samples"], meta["readout_steps_from"]) == \
        ("yinyang:train:128", 128, "calibration inputs")
    assert meta["saturation"]["saturated"] == {}
    out = capsys.readouterr().out
    assert "calibration: yinyang:train:128, 128 samples of 20 steps, accuracy" in out


def _no_fenn(tmp_path):
    return sorted(p.name for p in tmp_path.rglob("*.fenn"))


@pytest.mark.parametrize("spec, message", [
    ("mnist", "NAME one of yinyang, digits"),
    ("yinyang:dev", "SPLIT train, val or test"),
    ("yinyang:train:x", "N a sample count or 'all'"),
    ("yinyang:train:0", "N must be >= 1"),
    ("yinyang:train:5:extra", "expected NAME[:SPLIT[:N]]"),
    ("yinyang:test:100000", "the yinyang test split holds 1000 samples, 100000 asked"),
])
def test_bad_calibration_spec_is_refused_by_name(tmp_path, capsys, spec, message):
    net = TrainedNetwork.load(_tiny_network(tmp_path))
    net.save(tmp_path / "n.npz")
    assert main(["compile", str(tmp_path / "n.npz"), "--calibrate", spec]) == 1
    err = capsys.readouterr().err
    assert message in err and f"calibration spec {spec!r}" in err
    assert _no_fenn(tmp_path) == []


def _tiny_network(tmp_path):
    from fenn_dma.host.network import Layer, NeuronParams
    rng = np.random.default_rng(0)
    net = TrainedNetwork(5, [Layer("hidden0", NeuronParams("LIF"), rng.normal(0, 1, (8, 5)), np.zeros((8, 5), int)),
                             Layer("readout", NeuronParams("LI"), rng.normal(0, 1, (3, 8)), np.zeros((3, 8), int))],
                         n_steps=STEPS)
    net.save(tmp_path / "tiny.npz")
    return tmp_path / "tiny.npz"


def test_bad_trained_network_inputs_are_refused_by_name(tmp_path, capsys):
    (tmp_path / "empty_run").mkdir()
    np.savez(tmp_path / "spikes.npz", input=np.zeros((2, 3, 5), bool))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    cases = [([str(tmp_path / "empty_run")], "not a training run folder (no network.npz in it)"),
             ([str(tmp_path / "missing.npz")], "missing.npz: no such file"),
             ([str(tmp_path / "spikes.npz")], "spikes.npz: not a trained-network file"),
             ([str(tmp_path / "junk.npz")], "junk.npz: not a trained-network file"),
             ([str(tmp_path / "nothing")], "nothing: no such file or folder; a model is a .py file"),
             ([str(tmp_path / "sizes.json")], "sizes.json: not a model; a model is a .py file")]
    (tmp_path / "sizes.json").write_text("{}")
    for args, message in cases:
        assert main(["compile", *args]) == 1
        err = capsys.readouterr().err
        assert message in err, (args, err)
        assert "network.npz" in err
    np.savez(tmp_path / "wrong.npz", spikes=np.zeros((2, 3, 5), bool))
    assert main(["compile", str(_tiny_network(tmp_path)), "--calibrate", str(tmp_path / "wrong.npz")]) == 1
    assert "arrays ['spikes']; expected one per spike source of the model, named like it: ['input']" \
        in capsys.readouterr().err
    np.savez(tmp_path / "shape.npz", input=np.zeros((2, 3, 4), bool))
    assert main(["compile", str(_tiny_network(tmp_path)), "--calibrate", str(tmp_path / "shape.npz")]) == 1
    assert "has shape (2, 3, 4), expected (batch, steps, 5)" in capsys.readouterr().err
    assert _no_fenn(tmp_path) == []


def test_python_api_compiles_what_the_cli_compiles(tmp_path, runs):
    from fenn_dma.compiler.compile_cli import build_program
    run, summary = runs[True]
    # the test split as calibration: the reference's accuracy on it is the trainer's deployed accuracy
    program, qnet, report = build_program(deploy.deployment(run, calibrate="yinyang:test:300"))
    meta = program.metadata["deploy"]
    assert meta["calibration_accuracy"] == summary["test_acc_deployed"]
    assert meta["trained"]["calibration"] == "yinyang:train:128"
    assert deploy.formats_of(qnet) == summary["formats"] and report.samples == 300 and report.steps == STEPS
    same, _, _ = build_program(deploy.deployment(TrainedNetwork.load(run / "network.npz")))
    assert same.images == program.images and same.formats == program.formats
    assert main(["compile", str(run), "-o", str(tmp_path / "cli.fenn")]) == 0
    assert load(tmp_path / "cli.fenn").images == program.images
