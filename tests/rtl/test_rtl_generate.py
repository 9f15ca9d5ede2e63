"""`fenn-dma rtl` writes Verilog that Verilator lints clean (with the waivers of
rtl/verilator_lint.vlt) and a JSON description whose ports are in the Verilog."""
import json
import re
import subprocess

import pytest

from fenn_dma.cli import main
from fenn_dma.rtl.config import ConfigError, SocConfig, profile
from fenn_dma.rtl.toolchain import env_with_verilator
from fenn_dma.verify.rtl_harness import LINT_WAIVERS


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("rtl")
    assert main(["rtl", "--profile", "ecp5", "-o", str(out)]) == 0
    return out / "fenn_soc.v", json.loads((out / "fenn_soc.json").read_text())


def test_description_matches_verilog(generated):
    verilog, description = generated
    text = verilog.read_text()
    assert description["config"] == profile("ecp5").to_dict()
    names = {p["name"] for p in description["ports"]}
    assert {"clk", "rst", "host__awaddr", "host__rdata", "stopped"} <= names
    for port in description["ports"]:
        assert re.search(rf"\b(input|output)\b[^;]*\b{port['name']}\b", text), port["name"]


def test_verilator_lint_clean(generated):
    verilog, _ = generated
    done = subprocess.run(["verilator", "--lint-only", str(LINT_WAIVERS), str(verilog), "--top-module", "fenn_soc"],
                          capture_output=True, text=True, env=env_with_verilator())
    assert done.returncode == 0 and "%Warning" not in done.stderr, done.stderr[-3000:]


def test_bad_memory_size_is_a_clear_error():
    with pytest.raises(ConfigError, match="power of two"):
        SocConfig(dmem_size=3000)


def test_cocotb_builds_are_keyed_on_the_toolchain(monkeypatch, tmp_path):
    """A cocotb build loads cocotb's VPI library from the environment that built it, so a
    build from another virtual environment (a stale cache) must get its own folder."""
    from fenn_dma.verify import rtl_harness

    monkeypatch.setenv("FENN_DMA_CACHE", str(tmp_path))
    here = rtl_harness.model_dir("module m; endmodule", "m")
    assert here == rtl_harness.model_dir("module m; endmodule", "m")
    assert here != rtl_harness.model_dir("module m2; endmodule", "m")
    monkeypatch.setattr(rtl_harness, "toolchain_fingerprint", lambda: "('/elsewhere/cocotb/libs',)")
    assert here != rtl_harness.model_dir("module m; endmodule", "m")
