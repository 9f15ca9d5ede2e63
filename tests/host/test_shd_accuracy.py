"""benchmarks/shd_accuracy.py's deploy step and table on a tiny network (no training, no data set):
the ISS's readouts of the compiled run folder equal the compiler reference's, and the table says
when they do not."""
import importlib.util
import sys
from pathlib import Path

import numpy as np

from fenn_dma.host.network import Layer, NeuronParams, TrainedNetwork

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "shd_accuracy.py"


def _bench():
    spec = importlib.util.spec_from_file_location("shd_accuracy", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["shd_accuracy"] = mod          # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


def _run_folder(tmp_path, steps=12):
    """A run folder holding a 6-8(recurrent, delays)-4 network.npz, as `fenn-dma train` leaves it."""
    rng = np.random.default_rng(1)
    hidden = Layer("hidden0", NeuronParams("LIF"), rng.normal(0.6, 0.5, (8, 6)), rng.integers(0, 4, (8, 6)),
                   weights_rec=rng.normal(0, 0.3, (8, 8)))
    readout = Layer("readout", NeuronParams("LI"), rng.normal(0, 1, (4, 8)), np.zeros((4, 8), int))
    run = tmp_path / "run"
    run.mkdir()
    TrainedNetwork(6, [hidden, readout], n_steps=steps).save(run / "network.npz")
    return run


def test_iss_readouts_equal_the_reference_and_decide_accuracy(tmp_path):
    bench = _bench()
    x = np.random.default_rng(2).random((5, 12, 6)) < 0.3
    reference, iss = bench.deployed(_run_folder(tmp_path), x)
    assert (tmp_path / "run" / "network.fenn").is_file()
    assert reference.shape == iss.shape == (5, 4)
    np.testing.assert_array_equal(iss, reference)
    assert np.abs(reference).sum() > 0                   # the network is not silent: the comparison means something


def test_table_reports_a_mismatch_and_the_protocol():
    bench = _bench()
    p = bench.QUICK
    rows = [{"method": "eventprop", "delays": False, "float": 0.5, "reference": 0.25, "iss": 0.25, "bit_exact": True,
             "best_epoch": 3, "best_val": 0.5, "epochs": 4, "train_acc": 0.75, "cpu_s": 12.0, "wall_s": 30.0},
            {"method": "bptt", "delays": True, "float": 1.0, "reference": 1.0, "iss": 0.5, "bit_exact": False,
             "best_epoch": None, "best_val": None, "epochs": 3, "train_acc": None}]
    text = bench.table(p, rows, 9, 4, ("1.00 1.00 1.00", "2.00 2.00 2.00"))
    lines = text.splitlines()
    assert "| EventProp | none | 50.0 % | 25.0 % | 25.0 % | yes | 3 (50.0 %) | 4 | 75.0 % | 12 (30) |" in lines
    assert "| BPTT | synapse, 16 taps | 100.0 % | 100.0 % | 50.0 % | NO | - | 3 | - | - |" in lines
    assert f"T = {p.steps}" in text and "SYNTHETIC" in text and "not SHD" in text
    assert "load average before / after: 1.00 1.00 1.00 / 2.00 2.00 2.00" in text
