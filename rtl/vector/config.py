"""Sizes of the vector unit and its memories, derived from the machine configuration."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.errors import FennError
from fenn_dma.sim.config import MachineConfig

# The ISS fills VMEM and LLM with this halfword at reset (docs/isa.md section 1).
ISS_FILL = 0xDEAD


@dataclass(frozen=True)
class VectorConfig:
    """``fill``: initial halfword of every VMEM/LLM location in simulation builds
    (``ISS_FILL`` to match the ISS); ``None`` gives memories without an initial
    value, which synthesis can map to URAM."""

    lanes: int = 32
    vmem_bytes: int = 512 * 1024
    llm_bytes: int = 2048          # per lane
    fill: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= 32:
            raise FennError(f"VectorConfig.lanes = {self.lanes}: must be 1..32 (masks are 32-bit scalars)")
        if self.vmem_bytes <= 0 or self.vmem_bytes % self.row_bytes:
            raise FennError(f"VectorConfig.vmem_bytes = {self.vmem_bytes}: must be a positive multiple "
                            f"of the row size ({self.row_bytes} bytes)")
        if self.lanes & (self.lanes - 1):
            raise FennError(f"VectorConfig.lanes = {self.lanes}: must be a power of two (rows are aligned)")
        if self.llm_bytes < 4 or self.llm_bytes & (self.llm_bytes - 1) or self.llm_bytes > 1 << 15:
            raise FennError(f"VectorConfig.llm_bytes = {self.llm_bytes}: must be a power of two in 4..32768 "
                            f"(lane addresses are non-negative int16; the host window is lane-major)")
        if self.fill is not None and not 0 <= self.fill <= 0xFFFF:
            raise FennError(f"VectorConfig.fill = {self.fill}: must be a 16-bit pattern or None")

    @property
    def row_bytes(self) -> int:
        """Bytes of one vector (one VMEM row): 2 per lane."""
        return 2 * self.lanes

    @property
    def vmem_rows(self) -> int:
        return self.vmem_bytes // self.row_bytes

    @property
    def llm_halfwords(self) -> int:
        return self.llm_bytes // 2

    @classmethod
    def from_machine(cls, machine: MachineConfig, *, fill: int | None = None) -> "VectorConfig":
        return cls(lanes=machine.lanes, vmem_bytes=machine.vmem_size, llm_bytes=machine.llm_size, fill=fill)
