"""LiteDRAM on the ULX3S (boards/litedram_gen.py, boards/litedram.py): the generated
standalone core, cached; its init sequence, read from the generated files; the pins
and LPF; and, under Verilator with LiteDRAM's own SDRAM model, the init and data
through both user ports (litedram_tb.py) with the latency of the DMA's bursts."""
from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pytest

from fenn_dma.boards.litedram_gen import LiteDramConfig, LiteDramError, _init_writes, missing

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "rtl_dma"))       # dma_harness.run_bench: any bench on sys.path

needs_litedram = pytest.mark.skipif(missing() is not None, reason=f"LiteDRAM's generator needs: {missing()}")
CLOCK_HZ = 25e6


@needs_litedram
def test_generation_is_cached_and_keyed():
    from fenn_dma.boards.litedram_gen import generate
    core = generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ))
    stamp = (core.folder / "litedram_core.v").stat().st_mtime_ns
    again = generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ))
    assert again.folder == core.folder and (core.folder / "litedram_core.v").stat().st_mtime_ns == stamp
    assert generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ, sim=True)).folder != core.folder
    assert generate(LiteDramConfig(sys_clk_hz=50e6)).folder != core.folder
    assert "Date" not in core.verilog.split("module")[0], "the banner's date would change the text every run"
    assert core.size == 32 << 20 and core.addr_bits == 25 and core.cas_latency == 2
    assert core.ports["sdram_dq"] == ("inout", 16)
    assert core.ports["user_port_dma_wdata"] == ("input", 32) and core.ports["user_port_dma_awid"] == ("input", 1)


@needs_litedram
def test_init_sequence_is_liteX_sdram_init_at_the_generated_addresses():
    from fenn_dma.boards.litedram_gen import generate
    core = generate(LiteDramConfig(sys_clk_hz=CLOCK_HZ))
    csr = {name: r["addr"] for name, r in json.loads((core.folder / "csr.json").read_text())["csr_registers"].items()}
    init = core.init
    assert (init[0].addr, init[0].data) == (csr["sdram_dfii_control"], 0b1110)      # software: CKE|ODT|RESET_N
    assert [(w.addr, w.data) for w in init[-2:]] == [(csr["sdram_dfii_control"], 1), (csr["ddrctrl_init_done"], 1)]
    issued = [init[i - 1].data for i, w in enumerate(init) if w.addr == csr["sdram_dfii_pi0_command_issue"]]
    PRE, MRS, REF = 0b1011, 0b1111, 0b1101            # RAS|WE|CS, RAS|CAS|WE|CS, RAS|CAS|CS
    assert issued == [PRE, MRS, PRE, REF, REF, MRS]
    modes = [init[i - 3].data for i, w in enumerate(init) if w.addr == csr["sdram_dfii_pi0_command_issue"]
             and init[i - 1].data == MRS]
    assert modes == [0x120, 0x020]                    # CL 2, burst length 1 (and the DLL-reset bit first)
    assert [w.delay for w in init if w.delay] == [20000, 200, 4, 4, 200]


def test_init_sequence_reader_refuses_what_it_cannot_replay():
    header = ("#define DFII_COMMAND_CS 0x01\n#define DFII_CONTROL_SEL 0x01\n#define DFII_CONTROL_CKE 0x02\n"
              "#define DFII_CONTROL_ODT 0x04\n#define DFII_CONTROL_RESET_N 0x08\n"
              "static inline void init_sequence(void)\n{\n\t/* x */\n\t%s\n}\n")
    csr = {n: 4 * i for i, n in enumerate(["sdram_dfii_control", "ddrctrl_init_done", "ddrctrl_init_error",
                                           "sdram_dfii_pi0_address", "sdram_dfii_pi0_baddress",
                                           "sdram_dfii_pi0_command", "sdram_dfii_pi0_command_issue"])}
    assert _init_writes(header % "command_p0(DFII_COMMAND_CS);", csr)[3].data == 1
    with pytest.raises(LiteDramError, match="sdram_write_leveling"):
        _init_writes(header % "sdram_write_leveling(1);", csr)
    with pytest.raises(LiteDramError, match="cannot read"):
        _init_writes(header % "for (;;) {}", csr)
    with pytest.raises(LiteDramError, match="no CSR sdram_dfii_pi0_command"):
        _init_writes(header % "command_p0(DFII_COMMAND_CS);", {k: v for k, v in csr.items() if "command" not in k})
    with pytest.raises(LiteDramError, match="defines no DFII_COMMAND_WE"):
        _init_writes(header % "command_p0(DFII_COMMAND_WE);", csr)
    with pytest.raises(LiteDramError, match="no init_sequence"):
        _init_writes("", csr)


@needs_litedram
def test_sdram_pins_are_the_cores_and_placed_once():
    from fenn_dma.boards.ecp5 import BOARDS
    from fenn_dma.boards.litedram_gen import generate
    board = BOARDS["ulx3s-85f"]
    core = generate(LiteDramConfig(sys_clk_hz=board.clock_mhz * 1e6))
    pins = board.sdram.ports()
    core_pins = {name: width for name, (_, width) in core.ports.items() if name.startswith("sdram_")}
    assert {name: len(sites) for name, sites in pins.items() if name != "sdram_clk"} == core_pins
    lpf = board.lpf("litedram")
    placed = re.findall(r'LOCATE COMP "([^"]+)" SITE "([^"]+)";', lpf)
    assert len({site for _, site in placed}) == len(placed), "two ports on one pin"
    assert len(placed) == len(re.findall(r"LOCATE", board.lpf("window"))) + sum(map(len, pins.values()))
    assert 'LOCATE COMP "sdram_dq[15]" SITE "J17";' in lpf and 'LOCATE COMP "sdram_clk" SITE "F19";' in lpf


@pytest.mark.rtl
@needs_litedram
def test_init_and_data_through_both_ports_on_the_sdram_model():
    from fenn_dma.verify.rtl_harness import toolchain_missing
    why = toolchain_missing()
    if why:
        pytest.skip(why)
    import litedram_top
    from dma_harness import run_bench
    from fenn_dma.verify.rtl_harness import build_model
    build_dir = build_model(litedram_top.verilog(), litedram_top.TOP)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        results = run_bench(build_dir, litedram_top.TOP, "litedram_tb", {"FENN_LITEDRAM_OUT": str(out)})
        assert results and all(ok for ok, _ in results.values()), results
        figures = json.loads(out.read_text())
    print(json.dumps(figures))
    # LiteDRAM at 1:1 with a 16-bit chip: two chip words a 32-bit beat, so a 16-beat burst has at
    # least 32 chip cycles of data after CL; the bench's numbers go to docs/boards.md.
    assert all(last - first >= 2 * 15 for first, last in figures["read_row_miss"] + figures["read_row_hit"])
