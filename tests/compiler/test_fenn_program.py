"""The .fenn file, the compile / inspect / run commands, and the listing."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.compiler.errors import ModelError, ProgramFileError
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.pipeline import compile_model, load_model
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.isa.assembler import assemble

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "small_alif.py"


def test_save_load_run_equals_reference(tmp_path):
    net = load_model(EXAMPLE)
    program, q = compile_model(net, rounding="stochastic", n_steps=50)
    program.save(tmp_path / "m.fenn")
    loaded = load(tmp_path / "m.fenn")
    assert loaded.images == {k: v for k, v in program.images.items() if v}
    assert loaded.plan.to_json() == program.plan.to_json()
    x = np.random.default_rng(0).random((1, 50, 64)) < 0.15
    got = Runtime(loaded).run({"input": x[0]})
    ref = ReferenceSimulator(q, 1).run({"input": x})
    np.testing.assert_array_equal(got.records["hidden.spikes"], ref.records["hidden.spikes"][0])
    np.testing.assert_array_equal(got.readouts["output"], ref.readouts["output"][0])


def test_listing_assembles_to_the_same_words():
    program, _ = compile_model(load_model(EXAMPLE))
    assembled = assemble(program.listing, "listing.s")
    assert assembled.images["imem"] == program.images["imem"]


def test_unknown_version_and_foreign_files_are_refused(tmp_path):
    program, _ = compile_model(load_model(EXAMPLE))
    program.save(tmp_path / "m.fenn")
    with zipfile.ZipFile(tmp_path / "m.fenn") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(parts["manifest.json"])
    manifest["version"] = 99
    with zipfile.ZipFile(tmp_path / "v99.fenn", "w") as z:
        for n, data in parts.items():
            z.writestr(n, json.dumps(manifest) if n == "manifest.json" else data)
    with pytest.raises(ProgramFileError, match="version 99 is not supported; this tool reads version 2"):
        load(tmp_path / "v99.fenn")
    (tmp_path / "junk.fenn").write_bytes(b"not a zip")
    with pytest.raises(ProgramFileError, match="not a zip"):
        load(tmp_path / "junk.fenn")
    with pytest.raises(ProgramFileError, match="no such file"):
        load(tmp_path / "missing.fenn")


def test_cli_compile_inspect_run(tmp_path, capsys):
    out = tmp_path / "m.fenn"
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--rounding", "truncate",
                 "--listing", str(tmp_path / "m.s")]) == 0
    assert out.is_file() and "vmul" in (tmp_path / "m.s").read_text()
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "memory map:" in text and "hidden update" in text and "input->hidden.weights" in text
    spikes = np.random.default_rng(1).random((2, 30, 64)) < 0.2
    np.savez(tmp_path / "in.npz", input=spikes)
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz"),
                 "--engine", "fast"]) == 0
    with np.load(tmp_path / "o.npz") as z:
        got_spikes, got_readout = z["hidden.spikes"], z["output.readout"]
    program, q = compile_model(load_model(EXAMPLE), rounding="truncate")
    ref = ReferenceSimulator(q, 2).run({"input": spikes})
    np.testing.assert_array_equal(got_spikes, ref.records["hidden.spikes"])
    np.testing.assert_array_equal(got_readout, ref.readouts["output"])


def test_cli_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("def build():\n    return 3\n")
    assert main(["compile", str(bad)]) == 1
    assert "build() returned int" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "none.py")]) == 1
    assert not (tmp_path / "none.fenn").exists()
    other = tmp_path / "model.txt"
    other.write_text("")
    with pytest.raises(ModelError, match="a .py file defining build"):
        load_model(other)
