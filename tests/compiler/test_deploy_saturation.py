"""compiler/saturation.py: values at the int16 rails, counted on the reference and
in a device's outputs, and the warnings `fenn-dma compile` gives after calibration."""
import numpy as np
import pytest

from fenn_dma.cli import main
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.model import LI, LIF, Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.compiler.saturation import count_outputs, count_reference
from fenn_dma.compiler.errors import ModelError

MODEL = '''
import numpy as np
from fenn_dma.compiler.model import LI, LIF, Dense, Exponential, Network, SpikeInput


def build():
    """100 -> 64 -> 10 (the user's hand-written network): the default V format of the
    readout (from its small weights) is far too narrow for what it integrates."""
    rng = np.random.default_rng(3)
    net = Network(dt=1.0, name="net100")
    inp = net.population("input", 100, SpikeInput())
    hid = net.population("hidden", 64, LIF(tau_mem=20, threshold=1.0))
    out = net.population("output", 10, LI(tau_mem=20), readout="v_sum", record=("v",))
    net.connect(inp, hid, Dense(rng.normal(0.02, 0.1, (100, 64))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0.02, 0.03, (64, 10))), Exponential(5))
    return net
'''


def _model(tmp_path):
    path = tmp_path / "net100.py"
    path.write_text(MODEL)
    ns = {}
    exec(compile(MODEL, str(path), "exec"), ns)
    return path, ns["build"]()


def _inputs(batch=6, steps=120, seed=0):
    return {"input": np.random.default_rng(seed).random((batch, steps, 100)) < 0.1}


def test_device_outputs_and_reference_count_the_same_saturation(tmp_path):
    _, net = _model(tmp_path)
    x = _inputs()
    program, qnet = compile_model(net, n_steps=120)
    out = Runtime(program, engine="fast").run_batch(x)
    device = count_outputs(program, out.readouts, out.records)
    ref = count_reference(qnet, x)
    v_dev = next(c for c in device.counts if (c.population, c.var) == ("output", "V"))
    v_ref = next(c for c in ref.counts if (c.population, c.var) == ("output", "V"))
    assert v_dev.hits == v_ref.hits > 0.5 * v_ref.values and v_dev.values == v_ref.values == 6 * 120 * 10
    np.testing.assert_array_equal(ref.readouts["output"], out.readouts["output"])
    warnings = device.warnings()
    assert any("population 'output': V (s1.14)" in w and "widen V's format s1.14 (to s2.13 or wider" in w for w in warnings)
    assert ref.samples == 6 and ref.steps == 120 and device.source == "device outputs"
    assert {f"{c.population}.{c.var}" for c in ref.saturated()} >= {"output.V", "output.I"}


def test_compile_warns_after_calibration_and_calibration_fixes_the_formats(tmp_path, capsys):
    path, _ = _model(tmp_path)
    np.savez(tmp_path / "cal.npz", **_inputs(steps=200))
    # readout sized for 8 steps but calibrated (and run) with 200: the sums stick at 32767
    assert main(["compile", str(path), "--calibrate", str(tmp_path / "cal.npz"), "--steps", "8",
                 "-o", str(tmp_path / "short.fenn")]) == 0
    err = capsys.readouterr().err
    assert "warning: saturation: population 'output': readout (sum of V>>3)" in err
    assert "sized for 8 steps); size it for more steps (fenn-dma compile --steps 200" in err
    meta = load(tmp_path / "short.fenn").metadata["deploy"]
    assert meta["saturation"]["saturated"]["output.readout"]["neurons"] == 10
    assert meta["readout_steps"] == 8 and meta["readout_steps_from"] == "--steps"
    # the calibration alone: formats measured, readouts sized for 200 steps, nothing at the rails
    assert main(["compile", str(path), "--calibrate", str(tmp_path / "cal.npz"), "-o", str(tmp_path / "ok.fenn")]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "no value hit the int16 rails" in captured.out
    program = load(tmp_path / "ok.fenn")
    assert program.formats["output.V"] != "s1.14" and program.formats["output.readout"] == "sum of V>>8"
    assert program.metadata["deploy"]["readout_steps_from"] == "calibration inputs"


def test_default_compile_does_not_check_without_inputs_but_the_runtime_check_names_the_format(tmp_path, capsys):
    path, _ = _model(tmp_path)
    assert main(["compile", str(path), "-o", str(tmp_path / "d.fenn")]) == 0
    assert "saturation not checked: no calibration inputs (--calibrate SPEC)" in capsys.readouterr().out
    program = load(tmp_path / "d.fenn")
    out = Runtime(program).run_batch(_inputs(batch=2, steps=50))
    report = count_outputs(program, out.readouts, out.records)
    assert [f"{c.population}.{c.var}" for c in report.saturated()] == ["output.V"]
    assert report.to_dict()["saturated"]["output.V"]["values"] == 2 * 50 * 10


def test_a_network_that_fits_has_no_warning_and_v_max_readouts_are_checked():
    net = Network(dt=1.0, name="fits")
    inp = net.population("input", 8, SpikeInput())
    hid = net.population("hidden", 16, LIF(tau_mem=10, threshold=1.0))
    out = net.population("out", 3, LI(tau_mem=10), readout="v_max")
    rng = np.random.default_rng(1)
    net.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (8, 16))), Exponential(5))
    net.connect(hid, out, Dense(rng.normal(0, 0.1, (16, 3))), Exponential(5))
    x = {"input": np.random.default_rng(2).random((4, 30, 8)) < 0.2}
    from fenn_dma.compiler.quantise import calibrate
    q = quantise(net, n_steps=30, measured=calibrate(net, x))
    report = count_reference(q, x)
    assert report.warnings() == [] and report.saturated() == []
    ro = next(c for c in report.counts if c.var == "readout")
    assert (ro.kind, ro.values) == ("v_max", 4 * 3)


def test_bad_names_are_refused():
    net = Network(dt=1.0, name="n")
    inp = net.population("input", 4, SpikeInput())
    out = net.population("out", 2, LI(tau_mem=10), readout="v_sum")
    net.connect(inp, out, Dense(np.ones((4, 2))), Exponential(5))
    program, qnet = compile_model(net, n_steps=10)
    with pytest.raises(ModelError, match="'nope' is not a readout of program 'n'; readouts: out"):
        count_outputs(program, {"nope": np.zeros(2)})
    with pytest.raises(ModelError, match="'out.v' is not a record of program 'n'; records: none"):
        count_outputs(program, {}, {"out.v": np.zeros((3, 2))})
    with pytest.raises(ModelError, match="no input spikes for spike source 'input'"):
        count_reference(qnet, {})


def test_alif_adaptation_at_the_rail_names_a_and_its_format():
    from fenn_dma.compiler.model import ALIF
    net = Network(dt=1.0, name="adapt")
    inp = net.population("input", 8, SpikeInput())
    hid = net.population("hidden", 4, ALIF(tau_mem=10, tau_adapt=2000, beta=0.01, threshold=0.5),
                         formats={"A": "s1.14"})        # holds A < 2: three spikes overflow it
    out = net.population("out", 2, LI(tau_mem=10), readout="v_sum")
    net.connect(inp, hid, Dense(np.full((8, 4), 1.0)), Exponential(5))
    net.connect(hid, out, Dense(np.full((4, 2), 0.1)), Exponential(5))
    x = {"input": np.ones((2, 40, 8), bool)}
    report = count_reference(quantise(net, n_steps=40), x)
    a = next(c for c in report.counts if (c.population, c.var) == ("hidden", "A"))
    assert a.fmt == "s1.14" and a.hits > 0 and a.neurons == 4
    assert any("population 'hidden': A (s1.14)" in w and "widen A's format s1.14 (to s2.13 or wider: "
               "formats['A'] = 's2.13'" in w for w in report.warnings())
