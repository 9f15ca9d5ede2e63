"""The machine description (fenn_dma.arch): validation, profiles seen alike by every
layer, .fenn files that record their machine and are refused elsewhere, and the
one --profile option of every machine-dependent command."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fenn_dma import arch
from fenn_dma.arch import (DEFAULT_SPEC, PROFILES, MachineMismatch, MachineSpec, SpecError, check_compatible,
                           mismatches, profile)
from fenn_dma.cli import build_parser, main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_alif.py"


def test_arch_imports_neither_numpy_nor_amaranth():
    code = ("import sys, fenn_dma.arch; bad = [m for m in ('numpy', 'amaranth') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_constants_agree_with_the_instruction_table_and_iss():
    from fenn_dma.isa import table
    from fenn_dma.sim.machine import UNINITIALISED
    assert (arch.RV32I, arch.MUL, arch.M, arch.ZBB, arch.ZICSR, arch.V) == \
        (table.RV32I, table.MUL, table.M, table.ZBB, table.ZICSR, table.V)
    assert table.ALL_EXTENSIONS == arch.REQUIRED_EXTENSIONS | {arch.M, arch.V}
    assert arch.ROW_BYTES == arch.LANES * arch.LANE_BYTES == 64
    assert UNINITIALISED == arch.RESET_FILL == 0xDEAD
    assert arch.MEMORY_NAMES == ("imem", "dmem", "vmem", "llm", "dram") and arch.DMA_CHANNELS == 2


@pytest.mark.parametrize("change, field, allowed", [
    ({"imem_size": 100}, "imem_size", "positive multiple of 64"),
    ({"dmem_size": 0}, "dmem_size", "positive multiple of 64"),
    ({"vmem_size": 96}, "vmem_size", "multiple of the row size"),
    ({"llm_size": 768}, "llm_size", "power of two"),
    ({"vector": False}, "vmem_size", "must be 0 on a machine without the vector unit"),
    ({"dram_size": 100}, "dram_size", "multiple of 64"),
    ({"dram_base": 3 << 30}, "dram_size", "32-bit address space"),
    ({"dma": False}, "dram_size", "must be 0 on a machine without DMA"),
    ({"full_m": 1}, "full_m", "True or False"),
    ({"imem_size": "16K"}, "imem_size", "an integer"),
    ({"hart_id": -1}, "hart_id", "32 bits"),
])
def test_validation_names_the_field_and_what_is_allowed(change, field, allowed):
    with pytest.raises(SpecError, match=rf"MachineSpec 'kv260': {field} = .*: .*{allowed}"):
        DEFAULT_SPEC.with_(**change)


def test_dma_needs_the_vector_unit_and_names_are_required():
    with pytest.raises(SpecError, match="dma = True: the DMA moves rows between DRAM and VMEM"):
        profile("ecp5").with_(dma=True)
    with pytest.raises(SpecError, match="name = ''"):
        DEFAULT_SPEC.with_(name="")


def test_dict_round_trip_and_errors():
    for spec in PROFILES.values():
        assert MachineSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    d = DEFAULT_SPEC.to_dict()
    with pytest.raises(SpecError, match="unknown MachineSpec field.*lanes"):
        MachineSpec.from_dict({**d, "lanes": 16})
    del d["vmem_size"]
    with pytest.raises(SpecError, match="missing field.*vmem_size"):
        MachineSpec.from_dict(d)
    with pytest.raises(SpecError, match="not list"):
        MachineSpec.from_dict([])


def test_unknown_profile_lists_the_names():
    from fenn_dma.rtl.config import ConfigError
    from fenn_dma.rtl.config import profile as soc_profile
    from fenn_dma.sim.config import profile as iss_profile
    names = ", ".join(PROFILES)
    with pytest.raises(SpecError, match=f"unknown machine profile 'nope'; choose one of {names}"):
        profile("nope")
    with pytest.raises(SpecError, match="choose one of kv260, ecp5, sim-small"):
        iss_profile("nope")
    with pytest.raises(ConfigError, match="choose one of kv260, ecp5, sim-small"):
        soc_profile("nope")


def test_the_named_machines():
    assert {"kv260", "ecp5", "sim-small", "sim-small-scalar", "test-iss", "test-rtl", "test-vector",
            "test-random"} <= set(PROFILES)
    assert arch.DEFAULT_PROFILE == "kv260" and DEFAULT_SPEC is PROFILES["kv260"]
    kv = profile("kv260")
    assert (kv.imem_size, kv.dmem_size, kv.vmem_size, kv.llm_size) == (16384, 131072, 524288, 2048)
    assert kv.vector and kv.dma and not kv.full_m and kv.extensions == arch.REQUIRED_EXTENSIONS | {arch.V}
    assert not profile("sim-small-scalar").vector and profile("sim-small").vector


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_layer_sees_the_same_machine(name):
    from fenn_dma.compiler.codegen import MachineSizes
    from fenn_dma.rtl.config import SocConfig
    from fenn_dma.rtl.config import profile as soc_profile
    from fenn_dma.rtl.vector.config import VectorConfig
    from fenn_dma.sim.config import ISS_DRAM_LIMIT, MachineConfig
    from fenn_dma.sim.config import profile as iss_profile
    spec = profile(name)
    iss = MachineConfig.from_spec(spec)
    assert iss == iss_profile(name)
    assert iss.spec.name == name and mismatches(spec, iss.spec) == []
    assert iss.extensions == spec.extensions and iss.hartid == spec.hart_id
    if spec.dma:
        assert (iss.dram_base, iss.dram_size) == (spec.dram_base, min(spec.dram_size, ISS_DRAM_LIMIT))
    soc = SocConfig.from_spec(spec)
    assert soc == soc_profile(name)
    assert soc.spec == spec.with_(dram_base=0, dram_size=0)     # the DRAM itself is outside the SoC
    assert (soc.imem_size, soc.dmem_size, soc.full_m, soc.vector, soc.dma) == \
        (spec.imem_size, spec.dmem_size, spec.full_m, spec.vector, spec.dma)
    sizes = MachineSizes.from_spec(spec)
    assert sizes.spec == spec
    assert (sizes.imem, sizes.dmem, sizes.vmem, sizes.llm, sizes.dram, sizes.dram_base) == \
        (spec.imem_size, spec.dmem_size, spec.vmem_size, spec.llm_size, spec.dram_size, spec.dram_base)
    if spec.vector:
        vc = VectorConfig.from_spec(spec)
        assert (vc.lanes, vc.vmem_bytes, vc.llm_bytes, vc.row_bytes) == \
            (arch.LANES, spec.vmem_size, spec.llm_size, arch.ROW_BYTES)
        assert VectorConfig.from_machine(iss) == VectorConfig.from_machine(soc) == vc
    else:
        with pytest.raises(Exception, match="no vector unit"):
            VectorConfig.from_spec(spec)


def test_config_defaults_are_the_default_machine():
    from fenn_dma.compiler.codegen import MachineSizes
    from fenn_dma.rtl.config import SocConfig
    from fenn_dma.rtl.vector.config import VectorConfig
    from fenn_dma.sim.config import MachineConfig
    assert MachineSizes().spec == DEFAULT_SPEC
    iss = MachineConfig()
    assert mismatches(DEFAULT_SPEC, iss.spec) == []         # the ISS also decodes full M by default
    assert iss.spec.name == "kv260-custom"
    assert SocConfig(vector=True, dma=True) == SocConfig.from_spec(DEFAULT_SPEC)
    assert VectorConfig() == VectorConfig.from_spec(DEFAULT_SPEC)
    changed = MachineSizes(vmem=64 * 1024).spec
    assert changed.name == "kv260-custom" and changed.vmem_size == 64 * 1024


def test_rtl_vector_config_does_not_import_the_simulator():
    code = ("import sys, fenn_dma.rtl.vector.config, fenn_dma.rtl.config; "
            "bad = [m for m in sys.modules if m.startswith('fenn_dma.sim')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mismatch_rules():
    kv = profile("kv260")
    assert mismatches(kv, kv.with_(name="other", hart_id=3, dram_size=1 << 20)) == []
    assert mismatches(kv, kv.with_(full_m=True)) == []          # more extensions run it
    assert mismatches(kv.with_(full_m=True), kv) == ["full_m: the program needs it, the machine has none"]
    with pytest.raises(MachineMismatch) as e:
        check_compatible(kv, profile("sim-small"))
    msg = str(e.value)
    assert "compiled for machine kv260 (IMEM 16384" in msg and "this machine sim-small (IMEM 4096" in msg
    assert "imem_size: program 16384, machine 4096" in msg and "vmem_size: program 524288, machine 65536" in msg


# --- .fenn files record the machine and are refused by another ------------------------------

@pytest.fixture(scope="module")
def small_program(tmp_path_factory):
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
    from fenn_dma.compiler.pipeline import compile_model, load_model
    program, q = compile_model(load_model(EXAMPLE), n_steps=20,
                               options=CompileOptions(sizes=MachineSizes.from_spec(profile("sim-small"))))
    path = tmp_path_factory.mktemp("fenn") / "m.fenn"
    program.save(path)
    return program, q, path


def test_fenn_records_its_machine(small_program):
    from fenn_dma.compiler.fennfile import load
    program, _, path = small_program
    assert program.machine == profile("sim-small")
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("manifest.json"))["machine"] == profile("sim-small").to_dict()
    assert load(path).machine == profile("sim-small")


def test_program_images_do_not_depend_on_the_recorded_machine(small_program):
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
    from fenn_dma.compiler.pipeline import compile_model, load_model
    program, _, _ = small_program
    s = profile("sim-small")
    same_sizes = MachineSizes(s.imem_size, s.dmem_size, s.vmem_size, s.llm_size, s.dram_size, s.dram_base)
    other, _ = compile_model(load_model(EXAMPLE), n_steps=20, options=CompileOptions(sizes=same_sizes))
    assert other.images == program.images and other.machine.name == "kv260-custom"


def test_runtime_runs_on_its_machine_and_refuses_another(small_program):
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.compiler.reference import ReferenceSimulator
    from fenn_dma.compiler.runtime import Runtime
    from fenn_dma.sim.config import MachineConfig
    _, q, path = small_program
    loaded = load(path)
    x = np.random.default_rng(1).random((1, 20, 64)) < 0.2
    for config in (None, MachineConfig.from_spec(profile("sim-small"))):
        got = Runtime(loaded, config=config).run({"input": x[0]})
        ref = ReferenceSimulator(q, 1).run({"input": x})
        np.testing.assert_array_equal(got.records["hidden.spikes"], ref.records["hidden.spikes"][0])
    assert Runtime(loaded).machine.config.name == "sim-small"
    with pytest.raises(MachineMismatch, match=r"compiled for machine sim-small \(.*this machine kv260 \(.*"
                                              r"imem_size: program 4096, machine 16384"):
        Runtime(loaded, config=MachineConfig.from_spec(profile("kv260")))
    with pytest.raises(MachineMismatch, match="vector: the program needs it"):
        Runtime(loaded, config=MachineConfig(imem_size=4096, dmem_size=16384, vmem_size=65536, llm_size=512,
                                             extensions=arch.REQUIRED_EXTENSIONS | {arch.M}))


def test_files_without_a_machine_record_and_damaged_records(small_program, tmp_path):
    from fenn_dma.compiler.errors import ProgramFileError
    from fenn_dma.compiler.fennfile import load
    _, _, path = small_program
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(parts["manifest.json"])

    def write(name, m):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for n, data in parts.items():
                z.writestr(n, json.dumps(m) if n == "manifest.json" else data)
        return tmp_path / name

    old = load(write("old.fenn", {k: v for k, v in manifest.items() if k != "machine"}))
    # written before the machine was recorded: the plan's sizes on the default machine
    assert old.machine == DEFAULT_SPEC.with_sizes(imem_size=4096, dmem_size=16384, vmem_size=65536, llm_size=512,
                                                  dram_size=1 << 20)
    with pytest.raises(ProgramFileError, match="damaged .fenn program \\(machine: .*llm_size"):
        load(write("bad.fenn", {**manifest, "machine": {**manifest["machine"], "llm_size": 100}}))


# --- one --profile for every machine-dependent command ------------------------------------

@pytest.mark.parametrize("command", ["compile", "run", "sim", "rtl", "synth"])
def test_each_command_takes_the_same_profile_option(command):
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    option = next(a for a in sub._actions if a.dest == "profile")
    assert option.option_strings == ["--profile"] and list(option.choices) == list(PROFILES)
    with pytest.raises(SystemExit):
        sub.parse_args(["x", "--profile", "nope"] if command in ("compile", "run", "sim") else
                       ["-o", "x", "--profile", "nope"])


def test_compile_and_run_with_profiles(tmp_path, capsys):
    out = tmp_path / "m.fenn"
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--profile", "sim-small", "--steps", "20"]) == 0
    from fenn_dma.compiler.fennfile import load
    assert load(out).machine == profile("sim-small")
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    assert "machine: sim-small (IMEM 4096, DMEM 16384, VMEM 65536" in capsys.readouterr().out
    x = np.random.default_rng(2).random((10, 64)) < 0.2
    np.savez(tmp_path / "in.npz", input=x)
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz")]) == 0
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz"), "--profile", "sim-small"]) == 0
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz"), "--profile", "kv260"]) == 1
    err = capsys.readouterr().err
    assert "compiled for machine sim-small" in err and "this machine kv260" in err


def test_sim_and_rtl_use_the_profile(tmp_path, capsys):
    (tmp_path / "v.s").write_text("vlui v1, 5\nli a0, 1\necall\n")
    assert main(["sim", str(tmp_path / "v.s"), "--profile", "sim-small"]) == 0
    assert main(["sim", str(tmp_path / "v.s"), "--profile", "ecp5"]) == 3        # no vector unit: illegal
    assert "illegal_instruction" in capsys.readouterr().out
    out = tmp_path / "rtl"
    assert main(["rtl", "--profile", "sim-small-scalar", "-o", str(out)]) == 0
    from fenn_dma.rtl.config import SocConfig
    config = json.loads((out / "fenn_soc.json").read_text())["config"]
    assert config == SocConfig.from_spec(profile("sim-small-scalar")).to_dict()


def test_compiled_programs_carry_their_machine_to_the_runtime(small_program):
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
    from fenn_dma.compiler.runtime import Runtime
    from fenn_dma.sim.config import MachineConfig
    _, q, _ = small_program
    compiled = compile_network(q, CompileOptions(sizes=MachineSizes.from_spec(profile("sim-small"))))
    assert compiled.machine == profile("sim-small")
    assert Runtime(compiled).machine.config.name == "sim-small"
    with pytest.raises(MachineMismatch, match="compiled for machine sim-small"):
        Runtime(compiled, config=MachineConfig.from_spec(profile("kv260")))
