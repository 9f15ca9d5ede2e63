"""Resuming a training run from its checkpoint (host/epochs.py): the result equals the
run never interrupted, bit for bit, for BPTT (delays, fine-tune, QAT, DEEP R) and
EventProp; and every bad resume is a clear error."""
import json

import pytest
import torch

from fenn_dma.cli import main
from fenn_dma.errors import FennError
from fenn_dma.host.train import TrainConfig, resume_config, train

DATA = {"n_steps": 12, "sizes": {"train": 96, "val": 32, "test": 32}}


def _cfg(out, **kw) -> TrainConfig:
    base = dict(dataset="yinyang", data=DATA, net={"hidden": [{"size": 8}], "delay_mode": "synapse", "max_delay": 3},
                epochs=2, fine_tune_epochs=1, batch_size=32, max_batches=2, seed=3, out_dir=str(out),
                plots=False, progress=False, verbose=False)
    base.update(kw)
    return TrainConfig(**base)


class Stop(Exception):
    pass


def _interrupt_after(n):
    def hook(rec):
        if rec["epoch"] == n:
            raise Stop(n)          # as Ctrl-C does: out of the loop, the epoch's checkpoint kept
    return hook


def _same_run(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in b.history]
    keep = {k: v for k, v in a.summary.items() if k != "seconds_per_epoch"}
    assert keep == {k: v for k, v in b.summary.items() if k != "seconds_per_epoch"}


CASES = {
    # the main phase (soft delays, sigma annealed), fine-tune, QAT of weights and states
    "bptt-qat": dict(qat_epochs=2, qat_format="auto8", qat_states=True),
    "bptt-deepr": dict(deepr_connectivity=0.5, epochs=3, fine_tune_epochs=0, rate_reg=1e-3),
    "eventprop": dict(method="eventprop", epochs=2, fine_tune_epochs=1, max_spikes=16),
}


@pytest.mark.parametrize("case,stop", [("bptt-qat", 1), ("bptt-qat", 4), ("bptt-qat", 5),
                                       ("bptt-deepr", 2), ("eventprop", 2)])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, case, stop):
    # stop 5 of 5: after the last epoch's checkpoint, before the final files
    whole = train(_cfg(tmp_path / "whole", **CASES[case]))
    part = tmp_path / "part"
    with pytest.raises(Stop):
        train(_cfg(part, **CASES[case]), on_epoch=_interrupt_after(stop))
    saved = json.loads((part / "metrics.json").read_text())
    assert len(saved["history"]) == stop and "summary" not in saved
    resumed = train(resume_config(part), resume=part)
    _same_run(whole, resumed)
    assert [h["epoch"] for h in resumed.history] == list(range(1, len(whole.history) + 1))
    assert "summary" in json.loads((part / "metrics.json").read_text())


def test_cli_resume_finishes_the_run_then_refuses_a_finished_one(tmp_path, capsys):
    whole = train(_cfg(tmp_path / "whole"))
    part = tmp_path / "part"
    with pytest.raises(Stop):
        train(_cfg(part), on_epoch=_interrupt_after(1))
    assert main(["train", "--resume", str(part), "--no-progress", "--export-nir"]) == 0
    out = capsys.readouterr().out
    assert "epoch=2" in out and "epoch=1 " not in out          # continued, not restarted
    ck = torch.load(part / "checkpoint.pt", weights_only=False)
    for k, v in whole.model.state_dict().items():
        assert torch.equal(ck["model"][k], v), k
    assert (part / "network.nir").is_file()
    assert main(["train", "--resume", str(part)]) == 1
    assert "the run has finished (epoch 3 of 3" in capsys.readouterr().err


def test_bad_resumes_are_named(tmp_path, capsys):
    part = tmp_path / "part"
    with pytest.raises(Stop):
        train(_cfg(part), on_epoch=_interrupt_after(1))
    bad = [
        (["--resume", str(tmp_path / "nope")], "no such folder"),
        (["--resume", str(tmp_path)], "no checkpoint.pt in it"),
        (["--resume", str(part), "--hidden", "9"], "net.hidden.0.size: the run's 8, given 9"),
        (["--resume", str(part), "--out", str(tmp_path / "other")], "continues the run in its own folder"),
        ([], "--out FOLDER is required"),
    ]
    for argv, msg in bad:
        assert main(["train", "--no-progress", *argv]) == 1, argv
        assert msg in capsys.readouterr().err, argv
    # the Python API: a checkpoint of another architecture, method or options
    with pytest.raises(FennError, match=r"other options: net: .*'size': 8.*'size': 16"):
        train(_cfg(part, net={"hidden": [{"size": 16}], "delay_mode": "synapse", "max_delay": 3}), resume=part)
    with pytest.raises(FennError, match="trained with --method bptt, not eventprop"):
        train(_cfg(part, method="eventprop"), resume=part)
    with pytest.raises(FennError, match=r"other options: lr: 0\.002 -> 0\.01"):
        train(_cfg(part, lr=0.01), resume=part)
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "checkpoint.pt").write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(FennError, match="cannot read the checkpoint"):
        train(_cfg(tmp_path / "damaged"), resume=tmp_path / "damaged")


def test_ctrl_c_then_resume_equals_the_uninterrupted_run(tmp_path):
    """A real SIGINT to `fenn-dma train` somewhere after its first epoch: it stops with
    the hint to resume, and `--resume` ends with the uninterrupted run's weights."""
    import os
    import signal
    import subprocess
    import sys

    # 120 short epochs (about 3 s after the first here): the SIGINT, sent when epoch 1's line is
    # read, must land before the run ends even on a loaded machine (30 epochs of 15 ms did not always).
    epochs = 120
    argv = ["--dataset", "yinyang", "--steps", "12", "--hidden", "8", "--epochs", str(epochs), "--max-batches", "4",
            "--batch-size", "32", "--seed", "3", "--no-plots", "--no-progress"]
    whole = tmp_path / "whole"
    assert main(["train", *argv, "--out", str(whole)]) == 0
    part = tmp_path / "part"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fenn_dma.cli", "train", *argv, "--out", str(part)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            # an xdist worker ignores SIGINT and a child inherits that: restore it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line.startswith("epoch=1 "):
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"continue with: fenn-dma train --resume {part}" in err and "Traceback" not in err
    done = torch.load(part / "checkpoint.pt", weights_only=False)["epoch"]
    assert 1 <= done < epochs
    assert main(["train", "--resume", str(part), "--no-progress"]) == 0
    a = torch.load(whole / "checkpoint.pt", weights_only=False)
    b = torch.load(part / "checkpoint.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == epochs
    for k, v in a["model"].items():
        assert torch.equal(b["model"][k], v), k
    ma, mb = (json.loads((d / "metrics.json").read_text())["summary"] for d in (whole, part))
    assert {k: v for k, v in ma.items() if k != "seconds_per_epoch"} == \
        {k: v for k, v in mb.items() if k != "seconds_per_epoch"}
