"""examples/yinyang_device.py, the demo from Python through the device API: at most 40
lines (issue 12), and (slow: it trains) it runs and finds the RTL equal to the ISS."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "yinyang_device.py"
MAX_LINES = 40


def test_the_example_is_short_and_uses_the_device_api():
    lines = EXAMPLE.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"{EXAMPLE.name}: {len(lines)} lines, at most {MAX_LINES}"
    text = "\n".join(lines)
    assert "from fenn_dma.host import" in text and "open_device(\"rtl\"" in text and "evaluate(" in text


@pytest.mark.slow
@pytest.mark.rtl
def test_the_example_runs(tmp_path, monkeypatch, capsys):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the example's RTL part needs the Verilator toolchain: {reason}")
    monkeypatch.chdir(tmp_path)                       # it writes yinyang.fenn here
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "-> deployed" in out and "RTL == ISS bit for bit and cycle for cycle: True" in out
    assert (tmp_path / "yinyang.fenn").exists()
