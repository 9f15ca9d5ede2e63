"""benchmarks/train_speed.py's EventProp rows in a tiny smoke run (the figures are the benchmark's, not a test's)."""
import importlib.util
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "train_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_speed", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("case", ["on512", "rec"])
def test_eventprop_worker_times_a_step_with_buffers_sized_to_the_spikes(bench, case):
    r = bench.worker(case, "eventprop", 12, 1)
    assert "skip" not in r, r
    assert r["s"] > 0 and r["peak_mib"] > 0 and r["max_spikes"] >= 1


def test_quick_cli_prints_eventprop_beside_bptt_with_ratios():
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--cases", "on512", "--frameworks", "ours,eventprop",
                          "--memory", "no", "--T", "12"], capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [line for line in out.splitlines() if line.strip().startswith("ours ")]
    assert len(rows) == 2, out
    bptt, ep = rows
    assert ep.split()[-1].endswith("x") and "1.00x" in bptt, out     # EventProp's figures as ratios to itself/BPTT
    assert "spike buffers" in out
