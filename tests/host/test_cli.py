"""`fenn-dma train` end to end on a tiny configuration."""
import json

import h5py
import nir
import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.host.network import TrainedNetwork
from fenn_dma.host.nir_io import import_nir


def test_train_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--out", str(out), "--epochs", "2", "--fine-tune-epochs", "1", "--qat-epochs", "1",
               "--qat-format", "s3.4", "--qat-states", "--steps", "16", "--hidden", "12", "--delays", "synapse",
               "--max-delay", "3", "--max-batches", "5", "--batch-size", "32", "--no-progress",
               "--export-nir", "--export-netx"])
    assert rc == 0
    for name in ("checkpoint.pt", "metrics.json", "network.npz", "network.nir", "network_netx.h5",
                 "curves.png", "raster.png"):
        assert (out / name).is_file(), name
    for png in ("curves.png", "raster.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((out / "metrics.json").read_text())
    assert [h["phase"] for h in m["history"]] == ["main", "main", "fine_tune", "qat"]
    assert 0 <= m["summary"]["test_acc"] <= 1 and "loihi_test_acc" in m["summary"]
    assert m["summary"]["test_acc_deployed"] == m["summary"]["test_acc"]      # compiler reference = QAT torch
    net = TrainedNetwork.load(out / "network.npz")
    assert net.weight_format == "s3.4" and net.layers[0].weights.shape == (12, 5)
    # the delay histogram exactly when the trained network has a delay > 0
    assert (out / "delays.png").is_file() == any(layer.delays.max() > 0 for layer in net.layers)
    assert import_nir(out / "network.nir").equals(net)
    with h5py.File(out / "network_netx.h5") as f:
        assert f["layer/1/weight"].shape == (12, 5)
    import torch
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ck["epoch"] == 4 and ck["weight_format"] == "s3.4"
    assert "test_acc=" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["--dataset", "shd", "--data-path", "/nonexistent/shd"], "zenkelab.org/datasets"),
    (["--hidden", "12,x"], "comma-separated"),
    (["--delays", "axonal"], "allowed: none, synapse, position"),
    (["--epochs", "-1"], "epochs must be >= 0"),
    (["--qat-epochs", "1"], "qat_format"),
    (["--neuron", "HH"], "allowed: LIF, ALIF"),
])
def test_train_cli_errors(tmp_path, capsys, argv, msg):
    rc = main(["train", "--out", str(tmp_path / "o"), "--steps", "8", "--no-progress"] + argv)
    assert rc == 1
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_train_cli_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"epochs": 1, "fine_tune_epochs": 0, "max_batches": 2, "plots": False,
                               "net": {"readout_reduce": "max"}}))
    rc = main(["train", "--out", str(tmp_path / "o"), "--steps", "8", "--hidden", "6", "--no-progress",
               "--config", str(cfg)])
    assert rc == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert len(m["history"]) == 1 and m["config"]["net"]["readout_reduce"] == "max"
    assert not (tmp_path / "o" / "curves.png").exists()
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"epoch": 3}))
    assert main(["train", "--out", str(tmp_path / "o2"), "--config", str(bad), "--no-progress"]) == 1


def test_train_under_torchrun_gloo_two_ranks(tmp_path):
    import socket
    import subprocess
    import sys

    import torch.distributed as dist
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo not available")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={port}", "-m", "fenn_dma.cli", "train", "--out", str(out),
                           "--steps", "10", "--hidden", "8", "--epochs", "2", "--fine-tune-epochs", "0",
                           "--max-batches", "3", "--no-progress", "--no-plots", "--delays", "synapse",
                           "--max-delay", "3"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["history"]) == 2 and "test_acc" in m["summary"]
    assert (out / "network.npz").is_file()


@pytest.mark.parametrize("neuron,delays", [("LIF", "none"), ("ALIF", "synapse")])
def test_train_cli_recurrent_state_qat_matches_the_compilers_reference(tmp_path, neuron, delays):
    out = tmp_path / "run"
    rc = main(["train", "--out", str(out), "--epochs", "1", "--fine-tune-epochs", "0", "--qat-epochs", "1",
               "--qat-states", "--recurrent", "--neuron", neuron, "--tau-adapt", "50", "--beta-adapt", "0.2",
               "--delays", delays, "--max-delay", "3", "--steps", "12", "--hidden", "10", "--max-batches", "3",
               "--batch-size", "32", "--no-progress", "--no-plots", "--threads", "1"])
    assert rc == 0
    s = json.loads((out / "metrics.json").read_text())["summary"]
    assert s["test_acc_deployed"] == s["test_acc"]      # compiler reference = recurrent QAT torch
    net = TrainedNetwork.load(out / "network.npz")
    assert net.layers[0].weights_rec is not None and net.layers[0].weights_rec.shape == (10, 10)
    assert net.metadata["formats"].items() <= s["formats"].items()
