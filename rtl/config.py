"""Build-time configuration of the SoC: memory sizes and core options.

Every size and option of the generated hardware is a field here; named
profiles give the board builds. Sizes mirror the ISS's ``MachineConfig`` so a
program sees the same machine on both backends.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from fenn_dma.errors import FennError


class ConfigError(FennError):
    """An SoC configuration that cannot be built."""


@dataclass(frozen=True)
class SocConfig:
    imem_size: int = 16 * 1024       # bytes
    dmem_size: int = 128 * 1024      # bytes
    full_m: bool = False             # mulh/mulhsu/mulhu/div/divu/rem/remu besides `mul`
    hart_id: int = 0
    vector: bool = False             # the vector unit (rtl/vector), its VMEM and LLMs
    vmem_size: int = 512 * 1024      # bytes (with vector)
    llm_size: int = 2048             # bytes per lane (with vector)

    def __post_init__(self) -> None:
        for name in ("imem_size", "dmem_size"):
            size = getattr(self, name)
            if size < 64 or size & (size - 1) or size > HOST_WINDOW:
                raise ConfigError(f"{name} = {size}: must be a power of two between 64 and {HOST_WINDOW} bytes")
        if self.vector:
            if self.vmem_size < 64 or self.vmem_size % 64 or self.vmem_size > HOST_WINDOW:
                raise ConfigError(f"vmem_size = {self.vmem_size}: must be a multiple of 64 up to {HOST_WINDOW} bytes")
            if self.llm_size < 4 or self.llm_size & (self.llm_size - 1) or 32 * self.llm_size > HOST_WINDOW:
                raise ConfigError(f"llm_size = {self.llm_size}: must be a power of two up to "
                                  f"{HOST_WINDOW // 32} bytes per lane")

    @property
    def imem_words(self) -> int:
        return self.imem_size // 4

    @property
    def dmem_words(self) -> int:
        return self.dmem_size // 4

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> "SocConfig":
        return replace(self, **changes)


# Host address map (docs/rtl.md): control registers, then one window per memory.
HOST_WINDOW = 1 << 20
HOST_CTRL_BASE, HOST_IMEM_BASE, HOST_DMEM_BASE = 0, 1 * HOST_WINDOW, 2 * HOST_WINDOW
HOST_VMEM_BASE, HOST_LLM_BASE = 3 * HOST_WINDOW, 4 * HOST_WINDOW     # with the vector unit
HOST_ADDR_WIDTH = 23

PROFILES: dict[str, SocConfig] = {
    # Kria KV260 (Zynq UltraScale+): the sizes of docs/isa.md.
    "kv260": SocConfig(imem_size=16 * 1024, dmem_size=128 * 1024, vector=True),
    # Lattice ECP5 (no URAM, fewer BRAMs): smaller data memory.
    "ecp5": SocConfig(imem_size=8 * 1024, dmem_size=32 * 1024),
    # Simulation: small memories keep Verilator builds and state dumps quick; full M for tests.
    "sim-small": SocConfig(imem_size=4 * 1024, dmem_size=16 * 1024, full_m=True),
}


def profile(name: str) -> SocConfig:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown SoC profile {name!r}; choose one of {', '.join(PROFILES)}") from None
