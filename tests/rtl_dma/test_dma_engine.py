"""The DMA engine alone under cocotb + Verilator (dma_engine_tb.py), at the 128-bit port
and at 512, 32 and 64 bits (every burst length 1..16 appears at 512)."""
import json
import sys
from pathlib import Path

import pytest

from fenn_dma.rtl.dma.config import DmaConfig
from fenn_dma.verify.rtl_harness import toolchain_missing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_harness import build_verilog, engine_verilog, run_bench  # noqa: E402

pytestmark = pytest.mark.rtl
TESTS = ["registers_read_back_and_control_reads_zero", "same_cycle_writes_core_wins",
         "rule_breaks_are_internal_errors", "streaming_timing_is_the_contracts", "bursts_split_at_16_beats_and_4k",
         "both_channels_under_back_pressure", "bus_errors_end_the_transfer",
         "busy_ignores_start_and_register_writes", "host_port_programs_both_channels"]
_results: dict[int, dict] = {}


def bench(data_bits: int) -> dict:
    if data_bits not in _results:
        reason = toolchain_missing()
        if reason:
            pytest.skip(reason)
        config = DmaConfig(vmem_rows=256, data_bits=data_bits)
        build_dir = build_verilog(engine_verilog(config), "dma_top")
        env = {"FENN_DMA_TB": json.dumps({"data_bits": data_bits, "vmem_rows": config.vmem_rows,
                                          "outstanding": config.outstanding})}
        _results[data_bits] = run_bench(build_dir, "dma_top", "dma_engine_tb", env)
    return _results[data_bits]


# 128: the KV260's port; 512: a beat is a row, so every burst length 1..16 occurs; 32 and 64
# (narrow boards) under -m slow (each width is its own Verilator build and bench launch).
@pytest.mark.parametrize("data_bits", [128, 512, pytest.param(32, marks=pytest.mark.slow),
                                       pytest.param(64, marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", TESTS)
def test_engine(name, data_bits):
    results = bench(data_bits)
    assert name in results, f"the bench did not run {name}: ran {sorted(results)}"
    passed, message = results[name]
    assert passed, message
