"""Machine configuration: memory sizes, extensions, cycle and DMA models."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from fenn_dma.errors import FennError
from fenn_dma.isa.table import ALL_EXTENSIONS

from .cycle_model import CycleModel
from .dma import DmaModel


@dataclass(frozen=True)
class MachineConfig:
    imem_size: int = 16 * 1024
    dmem_size: int = 128 * 1024
    vmem_size: int = 512 * 1024
    llm_size: int = 2048          # bytes per lane
    lanes: int = 32
    dram_size: int = 16 << 20
    dram_base: int = 0
    # [start, end) absolute DRAM address ranges the DRAM model answers with a
    # slave error (for testing the DMA's error path).
    dram_error_regions: tuple[tuple[int, int], ...] = ()
    extensions: frozenset[str] = ALL_EXTENSIONS
    hartid: int = 0
    cycle_model: CycleModel = field(default_factory=CycleModel)
    dma: DmaModel = field(default_factory=DmaModel)

    def __post_init__(self) -> None:
        if self.lanes != 32:
            raise FennError(f"lanes = {self.lanes}: the ISA defines 32 lanes (32-bit masks)")
        for name in ("imem_size", "dmem_size", "vmem_size", "llm_size"):
            size = getattr(self, name)
            if size <= 0 or size % 64:
                raise FennError(f"MachineConfig.{name} = {size}: must be a positive multiple of 64")
        if self.dram_size < 0 or self.dram_base < 0 or self.dram_base + self.dram_size > 1 << 32:
            raise FennError("MachineConfig: the DRAM model must lie inside the 32-bit address space")
        object.__setattr__(self, "extensions", frozenset(self.extensions))


# Named memory-size profiles (the SoC's profiles of the same names).
PROFILES: dict[str, MachineConfig] = {
    "kv260": MachineConfig(),
    "sim-small": MachineConfig(imem_size=4 * 1024, dmem_size=16 * 1024, vmem_size=64 * 1024,
                               llm_size=512, dram_size=1 << 20),
}


def profile(name: str, **overrides) -> MachineConfig:
    if name not in PROFILES:
        raise FennError(f"unknown machine profile {name!r}; known: {', '.join(PROFILES)}")
    return replace(PROFILES[name], **overrides)
