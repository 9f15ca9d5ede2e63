"""Sizes of the vector unit and its memories, built from a machine description
(fenn_dma.arch.MachineSpec)."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.arch import DEFAULT_SPEC, LANE_BYTES, LANES, RESET_FILL, MachineSpec
from fenn_dma.errors import FennError
from fenn_dma.rtl.config import COLLISIONS, URAM_COLLISIONS

# The ISS fills VMEM and LLM with this halfword at reset (fenn_dma.arch.RESET_FILL).
ISS_FILL = RESET_FILL


@dataclass(frozen=True)
class VectorConfig:
    """``fill``: initial halfword of every VMEM/LLM location in simulation builds
    (``ISS_FILL`` to match the ISS); ``None`` gives memories without an initial
    value, which synthesis can map to URAM. ``collisions``: one of ``COLLISIONS``.
    ``lanes`` other than 32 only for unit tests of the parts."""

    lanes: int = LANES
    vmem_bytes: int = DEFAULT_SPEC.vmem_size
    llm_bytes: int = DEFAULT_SPEC.llm_size         # per lane
    fill: int | None = None
    collisions: str = URAM_COLLISIONS

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= LANES:
            raise FennError(f"VectorConfig.lanes = {self.lanes}: must be 1..{LANES} (masks are 32-bit scalars)")
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
        if self.collisions not in COLLISIONS:
            raise FennError(f"VectorConfig.collisions = {self.collisions!r}: must be one of {', '.join(COLLISIONS)}")

    @property
    def row_bytes(self) -> int:
        """Bytes of one vector (one VMEM row): 2 per lane."""
        return LANE_BYTES * self.lanes

    @property
    def vmem_rows(self) -> int:
        return self.vmem_bytes // self.row_bytes

    @property
    def llm_halfwords(self) -> int:
        return self.llm_bytes // LANE_BYTES

    @classmethod
    def from_spec(cls, spec: MachineSpec, *, fill: int | None = None) -> "VectorConfig":
        if not spec.vector:
            raise FennError(f"machine {spec.name!r} has no vector unit (vector = False)")
        return cls(lanes=LANES, vmem_bytes=spec.vmem_size, llm_bytes=spec.llm_size, fill=fill)

    @classmethod
    def from_machine(cls, machine, *, fill: int | None = None) -> "VectorConfig":
        """From any configuration with ``vmem_size``/``llm_size`` (an ISS
        ``MachineConfig``, an ``SocConfig``); lanes and collision rules from its ``lanes`` and
        ``collisions`` if it has them."""
        return cls(lanes=getattr(machine, "lanes", LANES), vmem_bytes=machine.vmem_size,
                   llm_bytes=machine.llm_size, fill=fill,
                   collisions=getattr(machine, "collisions", URAM_COLLISIONS))
