"""V records in DRAM (``CompileOptions.record_memory``, codegen/record_dma.py): S2MM copies
each step's record rows from two VMEM slots to a DRAM window. The records equal the VMEM
records and the reference, with samples and across windows; S2MM moves exactly the recorded
rows; "auto" takes DRAM where VMEM would shorten the window and the machine has the DMA;
bad choices and a failed copy are clear errors; the rtl device gives the iss's records and
cycles."""
from __future__ import annotations

import numpy as np
import pytest

from fenn_dma.arch import PROFILES
from fenn_dma.compiler.abi import DmaError
from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
from fenn_dma.compiler.errors import ModelError, ResourceError
from fenn_dma.compiler.model import Dense, Exponential, Network, SpikeInput
from fenn_dma.compiler.neurons import LIF
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.reference import ReferenceSimulator
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.host import open_device

STEPS = 14


def net(size: int, record_first=None, inputs: int = 24) -> Network:
    rng = np.random.default_rng(size)
    n = Network(name=f"rec{size}")
    inp = n.population("input", inputs, SpikeInput())
    hid = n.population("hidden", size, LIF(tau_mem=10, threshold=0.4, refractory=1), record=("spikes", "v"),
                       record_first=record_first)
    n.connect(inp, hid, Dense(rng.normal(0.2, 0.3, (inputs, size))), Exponential(4))
    n.connect(hid, hid, Dense(rng.normal(0.0, 0.15, (size, size))), Exponential(4))
    return n


def program(size: int, record_memory: str, record_first=None, window: int = 1024, spec=None):
    q = quantise(net(size, record_first), rounding="stochastic", n_steps=STEPS)
    opt = CompileOptions(window=window, record_memory=record_memory)
    if spec is not None:
        opt.sizes = MachineSizes.from_spec(spec)
    return compile_network(q, opt), q


def spikes(seed: int = 5) -> dict:
    return {"input": np.random.default_rng(seed).random((STEPS, 24)) < 0.3}


@pytest.mark.parametrize("size, first, window", [
    (100, None, 1024),                         # unrolled update (4 chunks), one call
    (100, {"spikes": 37, "v": 70}, 4),         # a sample (3 of 4 vectors), windows of 4 steps
    (230, {"spikes": 33, "v": 64}, 3),         # looped update (8 chunks), a sample, windows of 3
    (230, None, 5),                            # looped, the whole record, windows of 5
])
def test_dram_records_equal_vmem_records_and_the_reference(size, first, window):
    in_vmem, q = program(size, "vmem", first, window)
    in_dram, _ = program(size, "dram", first, window)
    spec = in_dram.io["records"]["hidden.v"]
    assert spec["memory"] == "dram" and in_vmem.io["records"]["hidden.v"]["memory"] == "vmem"
    x = spikes()
    a, b = Runtime(in_vmem).run(x), Runtime(in_dram).run(x)
    ref = ReferenceSimulator(q).run({"input": x["input"][None]}).records
    assert np.count_nonzero(b.records["hidden.v"]) > 0
    for key in a.records:
        np.testing.assert_array_equal(b.records[key], a.records[key], err_msg=key)
        np.testing.assert_array_equal(b.records[key], ref[key][0], err_msg=key)
    # S2MM moved each step's recorded rows once; VMEM records move nothing
    assert (b.dma_s2mm_bytes, a.dma_s2mm_bytes) == (STEPS * spec["row_bytes"], 0)
    assert b.calls == a.calls == -(-STEPS // window)


def test_auto_takes_dram_where_vmem_shortens_the_window():
    """1000 neurons' V (2048 B a step) and their weights leave VMEM room for 225 steps; in
    DRAM the window is what DMEM's spike record allows (991). A small record keeps VMEM
    (bit-identical to 'vmem'), and so does a machine without the DMA."""
    big_auto, _ = program(1000, "auto")
    big_vmem, _ = program(1000, "vmem")
    assert big_auto.io["records"]["hidden.v"]["memory"] == "dram"
    assert (big_vmem.window, big_auto.window) == (225, 991)
    small_auto, _ = program(100, "auto")
    small_vmem, _ = program(100, "vmem")
    assert small_auto.images == small_vmem.images and small_auto.io == small_vmem.io
    no_dma = PROFILES["kv260"].with_(dma=False, dram_size=0)
    mid_auto, _ = program(300, "auto")
    mid_no_dma, _ = program(300, "auto", spec=no_dma)
    assert mid_auto.io["records"]["hidden.v"]["memory"] == "dram"
    assert mid_no_dma.io["records"]["hidden.v"]["memory"] == "vmem" and mid_no_dma.window < mid_auto.window
    x = spikes()
    a, b = Runtime(big_auto).run(x), Runtime(big_vmem).run(x)
    np.testing.assert_array_equal(a.records["hidden.v"], b.records["hidden.v"])


def test_bad_record_memory_choices():
    with pytest.raises(ModelError, match=r"record_memory 'disk': allowed are 'auto', 'vmem', 'dram'"):
        program(100, "disk")
    no_dma = PROFILES["kv260"].with_(dma=False, dram_size=0)
    with pytest.raises(ModelError, match=r"record_memory 'dram': machine .* has no DMA to copy the V records "
                                         r"of hidden to DRAM"):
        program(100, "dram", spec=no_dma)
    tiny = PROFILES["kv260"].with_(dram_size=128)
    with pytest.raises(ResourceError, match=r"the V records of hidden need 256 B of DRAM per step, 128 B are free"):
        program(100, "dram", spec=tiny)


def test_a_failed_copy_names_the_record():
    """The DRAM answers the record window with a slave error: the firmware stops with
    ebreak through the S2MM exit and the runtime names the record and the address."""
    from fenn_dma.sim import MachineConfig
    prog, _ = program(100, "dram")
    base = prog.io["dram_base"] + prog.io["records"]["hidden.v"]["addr"]
    config = MachineConfig.from_spec(prog.machine, dram_size=len(prog.images["dram"]),
                                     dram_error_regions=((base + 256, base + 512),))
    with pytest.raises(DmaError, match=rf"DMA error recording hidden.v to DRAM address 0x{base + 256:08x}: "
                                       r"S2MM status 0x.., slave error .*; the firmware stopped with ebreak") as e:
        Runtime(prog, config=config).run(spikes())
    assert e.value.records == ["hidden.v"] and e.value.address == base + 256


def test_dram_record_program_round_trips_through_a_fenn_file(tmp_path):
    from fenn_dma.compiler.fennfile import load
    from fenn_dma.compiler.pipeline import to_program
    prog, _ = program(230, "dram", {"spikes": 33, "v": 64}, window=4)
    to_program(prog).save(tmp_path / "r.fenn")
    back = load(tmp_path / "r.fenn")
    assert back.io["records"] == prog.io["records"]
    a, b = Runtime(prog).run(spikes()).records, Runtime(back).run(spikes()).records
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.rtl
@pytest.mark.parametrize("size, first, window", [(100, None, 1024), (230, {"spikes": 33, "v": 64}, 5)])
def test_dram_records_on_the_rtl_equal_the_iss(size, first, window):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the rtl device needs the Verilator toolchain: {reason}")
    prog, _ = program(size, "dram", first, window)
    x = spikes(2)
    iss = open_device("iss").load(prog).run(STEPS, x)
    with open_device("rtl", "kv260") as dev:
        got = dev.load(prog).run(STEPS, x)
    for k in iss.records:
        np.testing.assert_array_equal(got.records[k], iss.records[k], err_msg=k)
    assert (got.cycles, got.instructions, got.calls, got.dma_s2mm_bytes) == \
        (iss.cycles, iss.instructions, iss.calls, iss.dma_s2mm_bytes)
    assert iss.dma_s2mm_bytes == STEPS * prog.io["records"]["hidden.v"]["row_bytes"]


def test_the_cli_compiles_records_to_dram(tmp_path, capsys):
    """``fenn-dma compile --record-memory dram`` (small_alif records the output's V)."""
    from pathlib import Path

    from fenn_dma.cli import main
    from fenn_dma.compiler.fennfile import load
    example = Path(__file__).resolve().parents[2] / "examples" / "small_alif.py"
    for choice in ("dram", "vmem"):
        assert main(["compile", str(example), "-o", str(tmp_path / f"{choice}.fenn"), "--record-memory", choice]) == 0
    dram, vmem = load(tmp_path / "dram.fenn"), load(tmp_path / "vmem.fenn")
    key = next(k for k in dram.io["records"] if k.endswith(".v"))
    assert (dram.io["records"][key]["memory"], vmem.io["records"][key]["memory"]) == ("dram", "vmem")
    x = {n: np.random.default_rng(1).random((20, s["size"])) < 0.3 for n, s in dram.io["inputs"].items()}
    np.testing.assert_array_equal(Runtime(dram).run(x).records[key], Runtime(vmem).run(x).records[key])
    with pytest.raises(SystemExit):
        main(["compile", str(example), "--record-memory", "disk"])
    assert "invalid choice: 'disk'" in capsys.readouterr().err
