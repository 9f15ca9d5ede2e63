"""FST waves from the native harness (verify/rtl_native.py, Verilator's --trace-fst):
the file's header, its contents read back by a real FST reader (pywellen, when
installed), the results unchanged by tracing, and `fenn-dma sim --backend rtl
--trace FILE.fst` choosing FST by the suffix."""
import math
import struct

import pytest

from fenn_dma.hostmap import MAGIC_VALUE
from fenn_dma.isa.assembler import assemble

PROGRAM = "li a0, 5\naddi a0, a0, 1\necall\n"
FST_HEADER_BLOCK, FST_HEADER_LENGTH = 0, 329     # fstapi: FST_BL_HDR, the header section's length


@pytest.fixture(scope="module")
def fst_soc(machine_config):
    from fenn_dma.verify.rtl_native import RtlSimError, build_native, toolchain_missing
    if (reason := toolchain_missing()):
        pytest.skip(reason)
    from fenn_dma.verify.runner import soc_config
    try:
        return build_native(soc_config(machine_config), trace="fst")
    except RtlSimError as exc:
        if "liblz4" not in str(exc):
            raise
        pytest.skip(str(exc))         # a machine without liblz4 at all


@pytest.fixture(scope="module")
def traced_run(fst_soc, machine_config, tmp_path_factory):
    from fenn_dma.verify.rtl_native import run_batch_native
    from fenn_dma.verify.runner import _job
    job = _job(assemble(PROGRAM, "<t>"), machine_config, fst_soc.config, 1000, "backdoor")
    path = tmp_path_factory.mktemp("fst") / "run.fst"
    traced = run_batch_native(fst_soc.config, [job], trace=path, soc=fst_soc)[0]
    untraced = run_batch_native(fst_soc.config, [job], soc=fst_soc)[0]
    return path, traced, untraced


def test_fst_header_and_unchanged_results(traced_run):
    path, traced, untraced = traced_run
    assert traced == untraced and traced["stop"]["cause"] == "ecall" and traced["x"][10] == 6
    data = path.read_bytes()
    block, length, start, end = struct.unpack(">BQQQ", data[:25])
    assert (block, length, start) == (FST_HEADER_BLOCK, FST_HEADER_LENGTH, 0)
    assert end > 10 * traced["cycles"]                     # 10 time units a clock cycle, clear and loads included
    assert math.isclose(struct.unpack("<d", data[25:33])[0], math.e)   # the endianness probe


def test_fst_reads_back_with_a_real_reader(traced_run):
    pywellen = pytest.importorskip("pywellen", reason="the FST reader pywellen is not installed (pip install pywellen)")
    path, traced, _ = traced_run
    wave = pywellen.Waveform(str(path))
    assert wave.file_format == "FST"
    signals = {v.full_name: v.signal for v in wave.all_vars()}
    clk, stopped, rdata = (signals[f"fenn_soc.{name}"] for name in ("clk", "stopped", "host__rdata"))
    assert [clk.value_at(t) for t in range(0, 40, 5)] == [0, 1] * 4
    end = struct.unpack(">Q", path.read_bytes()[17:25])[0]
    assert stopped.value_at(0) == 0 and stopped.value_at(end) == 1
    # The harness's first host read is MAGIC: its value is on the read data bus in the first cycles.
    assert MAGIC_VALUE in {rdata.value_at(t) for t in range(0, 200, 5)}


def test_cli_writes_fst_for_a_fst_file(fst_soc, tmp_path, capsys):
    from fenn_dma.cli import main
    source = tmp_path / "p.s"
    source.write_text(PROGRAM)
    fst, vcd_name = tmp_path / "w.fst", "w.vcd"
    assert main(["sim", str(source), "--backend", "rtl", "--profile", "test-rtl", "--trace", str(fst)]) == 0
    assert "traced" in capsys.readouterr().out
    assert fst.read_bytes()[:9] == struct.pack(">BQ", FST_HEADER_BLOCK, FST_HEADER_LENGTH)
    assert not (tmp_path / vcd_name).exists()


def test_a_trace_of_the_other_format_is_refused(fst_soc, tmp_path):
    from fenn_dma.verify.rtl_native import NativeRun, RtlSimError, build_native
    with pytest.raises(RtlSimError, match=r"VCD trace .*x\.vcd.*trace='vcd'"):
        NativeRun(fst_soc, tmp_path / "x.vcd")
    with pytest.raises(RtlSimError, match="writes vcd or fst waves"):
        build_native(fst_soc.config, trace="ghw")
