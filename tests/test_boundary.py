"""Bad input at the command / API boundary (issue 16): every class gets a clear
FennError (or argparse's usage error), never a traceback, never silent garbage,
never a half-written set of outputs."""
from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.boundary import OutputError, UsageError, check_output, write_outputs
from fenn_dma.compiler.validate import spike_array
from fenn_dma.cli import SUBCOMMANDS, build_parser, main
from fenn_dma.compiler.errors import ModelError
from fenn_dma.compiler.model import LIF, Dense, Delta, Network, SpikeInput
from fenn_dma.compiler.pipeline import compile_model, load_model
from fenn_dma.compiler.runtime import Runtime

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_alif.py"


@pytest.fixture(scope="module")
def fenn(tmp_path_factory):
    """small_alif compiled to a .fenn (one spike source 'input' of 64 neurons)."""
    path = tmp_path_factory.mktemp("prog") / "a.fenn"
    assert main(["compile", str(EXAMPLE), "-o", str(path)]) == 0
    return path


@pytest.fixture
def spikes(tmp_path):
    s = np.random.default_rng(0).random((12, 64)) < 0.2
    path = tmp_path / "in.npz"
    np.savez(path, input=s)
    return s, path


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ---- outputs ---------------------------------------------------------------------------------------

def test_output_in_a_missing_folder_is_refused_before_any_work(tmp_path, fenn, spikes, capsys):
    (tmp_path / "p.s").write_text("li a0, 1\necall\n")
    missing = tmp_path / "no" / "such"
    cases = [
        (["asm", tmp_path / "p.s", "-o", missing / "p.bin"], "-o"),
        (["compile", EXAMPLE, "-o", missing / "a.fenn"], "-o"),
        (["compile", EXAMPLE, "-o", tmp_path / "b.fenn", "--listing", missing / "b.s"], "--listing"),
        (["run", fenn, "--input", spikes[1], "-o", missing / "o.npz"], "-o"),
        (["sim", tmp_path / "p.s", "--json", missing / "s.json"], "--json"),
        (["sim", tmp_path / "p.s", "--trace", missing / "t.txt"], "--trace"),
    ]
    for argv, option in cases:
        assert main([str(a) for a in argv]) == 1, argv
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and captured.out == ""       # nothing printed: no work done
        assert f"{option} {missing}" in captured.err and "does not exist" in captured.err
    assert not (tmp_path / "b.fenn").exists()        # --listing refused: the .fenn is not written either
    assert not missing.parent.exists()
    assert main(["asm", str(tmp_path / "p.s"), "-o", str(tmp_path)]) == 1
    assert "is a folder" in _err(capsys)


def test_write_outputs_is_all_or_none(tmp_path):
    def fails(path):
        raise OSError(28, "No space left on device")
    with pytest.raises(OutputError, match="cannot write .*b.txt: No space left"):
        write_outputs({tmp_path / "a.txt": "one", tmp_path / "b.txt": fails})
    assert sorted(os.listdir(tmp_path)) == []                # no output, no temporary file left
    assert write_outputs({tmp_path / "a.txt": "one", tmp_path / "b.bin": b"\x01"}) == [tmp_path / "a.txt",
                                                                                       tmp_path / "b.bin"]
    assert (tmp_path / "a.txt").read_text() == "one" and (tmp_path / "b.bin").read_bytes() == b"\x01"


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_get_the_mode_the_umask_gives(tmp_path, fenn, spikes, umask):
    (tmp_path / "p.s").write_text("li a0, 1\necall\n.data\n.word 5\n")
    old = os.umask(umask)
    try:
        assert main(["asm", str(tmp_path / "p.s"), "-o", str(tmp_path / "p.bin")]) == 0
        assert main(["asm", str(tmp_path / "p.s"), "-o", str(tmp_path / "p.elf")]) == 0
        assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "m.fenn"), "--listing",
                     str(tmp_path / "m.s")]) == 0
        assert main(["run", str(fenn), "--input", str(spikes[1]), "-o", str(tmp_path / "o.npz")]) == 0
        assert main(["sim", str(tmp_path / "p.s"), "--json", str(tmp_path / "s.json"),
                     "--trace", str(tmp_path / "t.txt")]) == 0
    finally:
        os.umask(old)
    files = ["p.bin", "p.bin.dmem", "p.elf", "m.fenn", "m.s", "o.npz", "s.json", "t.txt"]
    for name in files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files + ["p.s", "in.npz"])   # no temporary file left


def test_run_writes_its_output_before_printing(tmp_path, fenn, spikes, capsys):
    out = tmp_path / "o.npz"
    assert main(["run", str(fenn), "--input", str(spikes[1]), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "12 steps" in printed and f"wrote {out}" in printed
    with np.load(out) as z:
        assert int(z["instructions"]) > 0 and z["output.readout"].shape == (4,)


def test_broken_pipe_ends_quietly(tmp_path):
    (tmp_path / "big.s").write_text("addi a0, a0, 1\n" * 20000 + "ecall\n")
    assert main(["asm", str(tmp_path / "big.s"), "-o", str(tmp_path / "big.bin")]) == 0
    p = subprocess.run(f"{sys.executable} -m fenn_dma.cli disasm {tmp_path / 'big.bin'} | head -n 2",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert len(p.stdout.splitlines()) == 2
    assert p.stderr == ""


# ---- numbers out of range ------------------------------------------------------------------------

@pytest.mark.parametrize("argv,option,says", [
    (["run", "{fenn}", "--steps", "0"], "--steps", "integer >= 1"),
    (["run", "{fenn}", "--steps", "-5"], "--steps", "integer >= 1"),
    (["compile", str(EXAMPLE), "--steps", "0"], "--steps", "integer >= 1"),
    (["compile", str(EXAMPLE), "--window", "x"], "--window", "integer >= 1"),
    (["compile", str(EXAMPLE), "--dt", "nan"], "--dt", "finite number > 0"),
    (["sim", "p.s", "--max-instructions", "-1"], "--max-instructions", "integer >= 0"),
    (["train", "--out", "o", "--rounding", "up"], "--rounding", "invalid choice"),
    (["train", "--out", "o", "--threshold", "nan"], "--threshold", "finite number"),
    (["train", "--out", "o", "--lr", "inf"], "--lr", "finite number"),
    (["train", "--out", "o", "--batch-size", "0"], "--batch-size", "integer >= 1"),
])
def test_option_values_out_of_range_are_usage_errors(fenn, capsys, argv, option, says):
    with pytest.raises(SystemExit) as exc:
        main([a.format(fenn=fenn) for a in argv])
    assert exc.value.code == 2
    err = _err(capsys)
    assert f"argument {option}" in err and says in err


def test_runtime_steps_must_be_positive(fenn, spikes):
    from fenn_dma.compiler.fennfile import load
    rt = Runtime(load(fenn))
    for bad in (0, -5, 2.5, True):
        with pytest.raises(UsageError, match="steps must be an integer >= 1"):
            rt.run({"input": spikes[0]}, steps=bad)


# ---- spike dtypes and shapes ---------------------------------------------------------------------

def test_spike_arrays_bool_or_only_0_and_1():
    s = np.random.default_rng(1).random((5, 8)) < 0.5
    for form in (s, s.astype(np.int8), s.astype(np.uint16), s.astype(np.float32), s.astype(float)):
        got = spike_array("input", form, 8)
        assert got.dtype == bool and np.array_equal(got, s)
    for bad, says in ((s * 0.5, "values other than 0 and 1 (e.g. 0.5)"), (-s.astype(int), "(e.g. -1)"),
                      (s.astype(int) * 2, "(e.g. 2)"), (np.where(s, np.nan, 0.0), "(e.g. nan)"),
                      (s.astype(str), "dtype <U5"), (s.astype(complex), "dtype complex128")):
        with pytest.raises(ModelError) as exc:
            spike_array("input", bad, 8)
        assert "inputs['input']" in str(exc.value) and says in str(exc.value)
        assert "bool, or integers/floats that are all 0 or 1" in str(exc.value)


def test_spike_shapes_name_the_batch_form():
    with pytest.raises(ModelError, match=r"shape \(1, 1, 5, 8\), expected \(steps, 8\) for one sample or "
                                         r"\(batch, steps, 8\) for several"):
        spike_array("input", np.zeros((1, 1, 5, 8), bool), 8, batch=None)
    with pytest.raises(ModelError, match=r"expected \(steps, 8\); a batch, \(batch, steps, 8\), goes to "
                                         r"Runtime.run_batch"):
        spike_array("input", np.zeros((2, 5, 8), bool), 8)
    with pytest.raises(ModelError, match=r"shape \(5, 8\), expected \(batch, steps, 8\)"):
        spike_array("input", np.zeros((5, 8), bool), 8, batch=True)


def test_runtime_refuses_cast_spikes_and_accepts_0_1_arrays(fenn, spikes):
    from fenn_dma.compiler.fennfile import load
    s = spikes[0]
    rt = Runtime(load(fenn))
    want = rt.run({"input": s})
    for form in (s.astype(np.uint8), s.astype(np.float64)):
        rt.reset()
        got = rt.run({"input": form})
        for k in want.records:
            np.testing.assert_array_equal(got.records[k], want.records[k])
        np.testing.assert_array_equal(got.readouts["output"], want.readouts["output"])
    with pytest.raises(ModelError, match=r"inputs\['input'\] \(dtype float64\) holds values other than 0 and 1"):
        rt.run({"input": s * 0.3})
    with pytest.raises(ModelError, match="batch sizes differ|inputs"):
        rt.run_batch({"input": np.stack([s, s]).astype(np.float32) * 3})
    with pytest.raises(ModelError, match="batch size 0"):
        rt.run_batch({"input": np.zeros((0, 12, 64), bool)})
    batch = rt.run_batch({"input": np.stack([s, s]).astype(np.int32)})
    np.testing.assert_array_equal(batch.readouts["output"][1], want.readouts["output"])


def test_run_refuses_npy_float_and_4d_inputs(tmp_path, fenn, spikes, capsys):
    s = spikes[0]
    np.save(tmp_path / "x.npy", s)
    assert main(["run", str(fenn), "--input", str(tmp_path / "x.npy")]) == 1
    err = _err(capsys)
    assert "an .npy file (one array of shape (12, 64)); an .npz is expected" in err
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert main(["run", str(fenn), "--input", str(tmp_path / "junk.npz")]) == 1
    assert "not an .npz file" in _err(capsys)
    for name, bad, says in (("f", s * 0.5, "values other than 0 and 1"), ("neg", -s.astype(int), "(e.g. -1)"),
                            ("str", s.astype(str), "dtype <U5"),
                            ("4d", s[None, None], "(batch, steps, 64) for several")):
        np.savez(tmp_path / f"{name}.npz", input=bad)
        assert main(["run", str(fenn), "--input", str(tmp_path / f"{name}.npz")]) == 1
        err = _err(capsys)
        assert "inputs['input']" in err and says in err, err


# ---- runaway programs ----------------------------------------------------------------------------

def test_sim_has_a_default_limit_and_chunks_are_exact(tmp_path):
    from fenn_dma.isa.assembler import assemble
    from fenn_dma.sim import Machine, MachineConfig
    from fenn_dma.arch import profile
    from fenn_dma.sim.sim_cli import CHUNK, DEFAULT_MAX_INSTRUCTIONS
    source = "1: addi a0, a0, 1\nlw a1, 0(zero)\nadd a2, a1, a0\nj 1b\n"
    (tmp_path / "loop.s").write_text(source)
    n = 2 * CHUNK["fast"] + 7
    assert main(["sim", str(tmp_path / "loop.s"), "--max-instructions", str(n), "--json",
                 str(tmp_path / "s.json")]) == 3
    state = json.loads((tmp_path / "s.json").read_text())
    m = Machine(MachineConfig.from_spec(profile("kv260")))
    m.load(assemble(source))
    m.run(n, engine="fast")
    assert state["stop"]["cause"] == "max_instructions" and state["instret"] == n
    assert state == m.state_dict()
    parser = build_parser("sim")
    args = parser.parse_args(["sim", "x.s"])
    assert args.max_instructions == DEFAULT_MAX_INSTRUCTIONS


def test_sim_ctrl_c_stops_with_the_pc_reached(tmp_path):
    (tmp_path / "loop.s").write_text("1: j 1b\n")
    for engine in ("fast", "reference"):
        p = subprocess.Popen([sys.executable, "-m", "fenn_dma.cli", "sim", str(tmp_path / "loop.s"),
                              "--engine", engine, "--max-instructions", str(10 ** 12),
                              "--json", str(tmp_path / "s.json")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            import time
            time.sleep(3)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 130, (engine, out, err)
        assert "Traceback" not in err
        assert "interrupted (Ctrl-C) at pc 0x00000000 after" in out and "no output written" in out
        assert not (tmp_path / "s.json").exists()


# ---- non-finite numbers in a model ---------------------------------------------------------------

def _net(weights=None, **lif) -> Network:
    net = Network(name="n")
    a = net.population("input", 4, SpikeInput())
    b = net.population("out", 3, LIF(**lif), record=("spikes",))
    net.connect(a, b, Dense(np.ones((4, 3)) if weights is None else weights), Delta(), name="in2out")
    return net


def test_nan_and_inf_in_a_model_are_refused_by_name(tmp_path, capsys):
    w = np.ones((4, 3))
    w[1, 2] = np.nan
    with pytest.raises(ModelError, match=r"connection 'in2out': connectivity Dense.weights holds nan at index "
                                         r"\[1, 2\] \(1 non-finite in all\); every weight and parameter must be "
                                         r"a finite number"):
        compile_model(_net(w))
    with pytest.raises(ModelError, match=r"population 'out': neuron LIF.threshold holds inf"):
        compile_model(_net(threshold=float("inf")))
    with pytest.raises(ModelError, match=r"population 'out': neuron LIF.tau_mem holds inf at index \[2\]"):
        compile_model(_net(tau_mem=np.array([20.0, 10.0, np.inf])))
    compile_model(_net())                                   # finite: compiles
    model = tmp_path / "m.py"
    model.write_text("import numpy as np\n"
                     "from fenn_dma.compiler.model import LIF, Dense, Delta, Network, SpikeInput\n"
                     "def build():\n    net = Network(name='n')\n"
                     "    a = net.population('input', 4, SpikeInput())\n"
                     "    b = net.population('out', 3, LIF(), record=('spikes',))\n"
                     "    w = np.ones((4, 3)); w[0, 0] = np.inf\n"
                     "    net.connect(a, b, Dense(w), Delta(), name='in2out')\n    return net\n")
    assert main(["compile", str(model), "-o", str(tmp_path / "m.fenn")]) == 1
    assert "connection 'in2out': connectivity Dense.weights holds inf" in _err(capsys)
    assert not (tmp_path / "m.fenn").exists()


def test_examples_still_compile():
    compile_model(load_model(EXAMPLE))


# ---- small things: version, help ---------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("fenn-dma ")


# Options of commands owned by other parts of issue 9/16 (demo.py, compiler/inspect_cli.py):
# their help text is theirs to add.
NOT_OURS: set[tuple[str, str]] = set()     # options allowed without help (none)


def test_every_option_has_help_and_shows_its_default():
    for name in SUBCOMMANDS:
        parser = build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
        sub.format_help()
        for action in sub._actions:
            key = (name, (action.option_strings or [action.dest])[-1])
            if key in NOT_OURS:
                continue
            assert action.help, key
            default = action.default
            if action.option_strings and default is not None and default is not False \
                    and default != argparse.SUPPRESS \
                    and not isinstance(action, argparse._HelpAction):
                assert "default" in sub._get_formatter()._get_help_string(action).lower() \
                    or "default" in (action.help or "").lower(), key


def test_run_help_says_how_inputs_are_keyed(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "keyed by the source's population name" in text and "(batch, steps, size)" in text
    assert "timesteps to run (default: the inputs' length" in text


def test_check_output_names_the_option(tmp_path):
    with pytest.raises(OutputError, match=r"--json .*nope/x.json: the folder .*nope does not exist"):
        check_output(tmp_path / "nope" / "x.json", "--json")
    assert check_output(tmp_path / "x.json", "--json") == tmp_path / "x.json"


def test_output_folders_and_unwritable_targets(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    for argv in (["rtl", "-o", str(tmp_path / "f")], ["synth", "--board", "kv260", "-o", str(tmp_path / "f")]):
        assert main(argv) == 1
        assert "-o" in (err := _err(capsys)) and "is a file, not a folder" in err
    assert main(["rtl", "-o", str(tmp_path / "f" / "sub")]) == 1
    assert "cannot create the folder" in _err(capsys)
    with pytest.raises(OutputError, match="cannot write .*x.bin"):        # the temporary file cannot be made
        write_outputs({tmp_path / "gone" / "x.bin": b""})


def test_nan_in_a_nir_graph_is_refused(tmp_path, capsys):
    nir = pytest.importorskip("nir")
    n_in, n_h = 3, 2
    w = np.ones((n_h, n_in))
    w[1, 0] = np.nan
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=w, bias=np.zeros(n_h)),
        "lif": nir.CubaLIF(tau_syn=np.full(n_h, 5e-3), tau_mem=np.full(n_h, 20e-3), r=np.full(n_h, 20.),
                           v_leak=np.zeros(n_h), v_threshold=np.ones(n_h), w_in=np.full(n_h, 5.)),
        "output": nir.Output(output_type={"output": np.array([n_h])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(str(tmp_path / "g.nir"), g)
    assert main(["compile", str(tmp_path / "g.nir"), "-o", str(tmp_path / "g.fenn")]) == 1
    assert "connection 'input->lif': connectivity Dense.weights holds nan at index [0, 1]" in _err(capsys)
    assert not (tmp_path / "g.fenn").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_api_writers_give_the_umask_mode_and_leave_no_temporary(tmp_path, fenn, umask):
    """The Python API's writers (not only the CLI's) go through write_outputs: a .fenn, an ELF,
    raw images, the SoC's Verilog and description get 0666 & ~umask, not mkstemp's 0600."""
    from fenn_dma.compiler.fennfile import load as load_fenn
    from fenn_dma.isa.assembler import assemble
    from fenn_dma.isa.elf import write_elf, write_raw
    from fenn_dma.rtl.config import SocConfig
    from fenn_dma.rtl.generate import write as write_rtl

    program = assemble("li a0, 1\necall\n.data\n.word 5\n")
    old = os.umask(umask)
    try:
        load_fenn(fenn).save(tmp_path / "copy.fenn")
        write_elf(program, tmp_path / "p.elf")
        write_raw(program, tmp_path / "p.bin")
        write_rtl(SocConfig(), tmp_path / "rtl")
    finally:
        os.umask(old)
    files = [tmp_path / n for n in ("copy.fenn", "p.elf", "p.bin", "p.bin.dmem")] + sorted((tmp_path / "rtl").iterdir())
    assert len(files) == 6
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
