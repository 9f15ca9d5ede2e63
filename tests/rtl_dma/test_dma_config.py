"""The DMA's build parameters and their place in the SoC configuration (no simulator)."""
import pytest

from fenn_dma.arch import profile as spec_profile
from fenn_dma.rtl.config import ConfigError, SocConfig, profile
from fenn_dma.rtl.dma.config import AXI_MAX_BURST, DmaConfig, DmaConfigError


@pytest.mark.parametrize("bits", [32, 64, 128, 256, 512])
def test_every_power_of_two_width_builds(bits):
    c = DmaConfig(vmem_rows=16, data_bits=bits)
    assert c.beats_per_row * c.beat_bytes == 64
    assert c.read_fifo_beats >= c.outstanding * AXI_MAX_BURST
    assert c.max_beats == c.max_rows * c.beats_per_row and c.max_rows * 64 < 1 << 19


@pytest.mark.parametrize("changes, match", [
    (dict(data_bits=16), "data_bits = 16"), (dict(data_bits=96), "data_bits = 96"),
    (dict(data_bits=1024), "data_bits = 1024"), (dict(max_burst=17), "max_burst = 17"),
    (dict(outstanding=0), "outstanding = 0"), (dict(vmem_rows=0), "vmem_rows = 0"),
])
def test_bad_parameters_are_named(changes, match):
    with pytest.raises(DmaConfigError, match=match):
        DmaConfig(**{"vmem_rows": 16, **changes})


def test_the_soc_builds_the_machines_dma():
    for name in ("kv260", "sim-small", "test-vector", "test-random"):
        soc = profile(name)
        assert soc.dma and soc.dma_data_bits == 128
        assert soc.dma_config.vmem_rows == spec_profile(name).vmem_rows
    assert not profile("ecp5").dma and not SocConfig(vector=True).dma
    assert DmaConfig.from_spec(spec_profile("kv260")) == profile("kv260").dma_config
    with pytest.raises(DmaConfigError, match="has no DMA"):
        DmaConfig.from_spec(spec_profile("ecp5"))


def test_bad_soc_dma_configurations_are_named():
    with pytest.raises(ConfigError, match="dma = True needs vector = True"):
        SocConfig(dma=True)
    with pytest.raises(ConfigError, match="dma_data_bits = 48"):
        SocConfig(vector=True, dma=True, dma_data_bits=48)
