"""`fenn-dma demo` end to end at a small size: train, compile, the ISS on test samples,
the RTL on two of them (identical to the ISS), the report and the pictures."""
from __future__ import annotations

import json

from fenn_dma.cli import main


def test_demo_runs_the_pipeline(tmp_path, capsys):
    from fenn_dma.verify.rtl_native import toolchain_missing
    rtl = toolchain_missing() is None
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--epochs", "1", "--test-samples", "40", "--rtl-samples", "2"]
    assert main(argv + ([] if rtl else ["--no-rtl"])) == 0
    text = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["test_samples"] == 40 and report["profile"] == "kv260" and report["clock_mhz"] == 175.0
    assert report["deployed_accuracy_iss"] == report["deployed_accuracy_reference"]
    assert 0 < report["float_accuracy"] <= 1 and report["cycles_per_sample"] > 0
    assert report["us_per_sample"] == report["cycles_per_sample"] / 175.0
    assert sum(report["kernel_cycles"].values()) > 0
    if rtl:
        assert report["rtl"]["identical_to_iss"] and report["rtl"]["cycles"] == report["rtl"]["iss_cycles"]
        assert "identical to the ISS: yes" in text
    for name in ("curves.png", "raster.png", "kernel_cycles.png", "yinyang.fenn"):
        assert (out / name).read_bytes()[:4] in (b"\x89PNG", b"PK\x03\x04"), name
    assert str(out / "report.json") in text
    assert not [p for p in out.iterdir() if p.name.startswith(".")]        # no scratch left behind
