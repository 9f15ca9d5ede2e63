"""The DMA inside the SoC under cocotb + Verilator (dma_soc_tb.py): the test-vector machine
(vector unit, DMA at the 128-bit port)."""
import json
import sys
from pathlib import Path

import pytest

from fenn_dma.rtl.config import profile
from fenn_dma.verify.rtl_harness import build, toolchain_missing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dma_harness import run_bench  # noqa: E402

pytestmark = pytest.mark.rtl
TESTS = ["program_moves_rows_both_ways", "rule_break_and_decode_error_from_a_program",
         "host_programs_the_dma_registers", "clear_waits_for_a_running_transfer",
         "timing_through_the_core_is_the_engines", "host_vmem_traffic_during_transfers"]
_results: dict = {}


def bench() -> dict:
    if not _results:
        reason = toolchain_missing()
        if reason:
            pytest.skip(reason)
        config = profile("test-vector")
        assert config.dma
        soc = build(config)
        env = {"FENN_DMA_SOC_TB": json.dumps({"data_bits": config.dma_data_bits, "vmem_bytes": config.vmem_size,
                                              "outstanding": config.dma_config.outstanding})}
        _results.update(run_bench(soc.build_dir, "fenn_soc", "dma_soc_tb", env))
    return _results


@pytest.mark.parametrize("name", TESTS)
def test_soc(name):
    results = bench()
    assert name in results, f"the bench did not run {name}: ran {sorted(results)}"
    passed, message = results[name]
    assert passed, message
