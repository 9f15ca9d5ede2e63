"""Build-time configuration of the SoC: memory sizes and core options.

Every size and option of the generated hardware is a field here, built from a
``MachineSpec`` (fenn_dma.arch): ``SocConfig.from_spec(spec)``; the named
profiles are the machines of fenn_dma.arch. A bare ``SocConfig(...)`` has the
default machine's sizes and is the scalar SoC (``vector=False``, ``dma=False``)
unless told. With ``dma`` the SoC has the DMA engine (rtl/dma) and its AXI4
master ``dram``; the DRAM itself is outside the SoC. ``dma_data_bits`` and
``collisions`` belong to the board, not the machine: a board flow sets them
(boards/ecp5.py ``board_config``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from fenn_dma.arch import DEFAULT_SPEC, LANES, ROW_BYTES, MachineSpec
from fenn_dma.arch import PROFILES as SPECS
from fenn_dma.arch import profile as spec_profile
from fenn_dma.errors import FennError
from fenn_dma.hostmap import HOST_ADDR_WIDTH, HOST_WINDOW  # noqa: F401  (HOST_ADDR_WIDTH: the SoC's port)

from .dma.config import DmaConfig


# What a read of VMEM or of an LLM returns when the memory's other port writes the same row
# (word) in the same cycle: the rules of the block RAM the build targets, so that yosys maps
# the memories to it (rtl/vector/vmem.py, llm.py). Programs that keep the rules (the host windows
# used while the core is stopped, a DMA range left alone while its transfer runs) cannot tell
# them apart (docs/vector_unit.md "Collisions").
URAM_COLLISIONS = "uram"                 # UltraScale+ URAM288 (KV260): VMEM's ext read sees the unit's
                                         # write; the unit's read and the LLMs' reads see the old data
TRANSPARENT_COLLISIONS = "transparent"   # every read sees the other port's write: ECP5 DP16KD, which
                                         # leaves a collision undefined (yosys adds the bypass)
COLLISIONS = (URAM_COLLISIONS, TRANSPARENT_COLLISIONS)
# Extra cycles of a multiply the core can be built with (rtl/alu.py Multiplier stages - 1).
MUL_EXTRAS = (0, 1)
# Extra fetch stages: 1 registers the instruction RAM's output (rtl/core.py).
FETCH_EXTRAS = (0, 1)


class ConfigError(FennError):
    """An SoC configuration that cannot be built."""


@dataclass(frozen=True)
class SocConfig:
    imem_size: int = DEFAULT_SPEC.imem_size     # bytes
    dmem_size: int = DEFAULT_SPEC.dmem_size     # bytes
    full_m: bool = DEFAULT_SPEC.full_m          # mulh/mulhsu/mulhu/div/divu/rem/remu besides `mul`
    hart_id: int = DEFAULT_SPEC.hart_id
    vector: bool = False                        # the vector unit (rtl/vector), its VMEM and LLMs
    vmem_size: int = DEFAULT_SPEC.vmem_size     # bytes (with vector)
    llm_size: int = DEFAULT_SPEC.llm_size       # bytes per lane (with vector)
    dma: bool = False                           # the DMA engine (rtl/dma) and its AXI4 master `dram`
    dma_data_bits: int = 128                    # the AXI4 data width of `dram` (with dma)
    collisions: str = URAM_COLLISIONS           # VMEM/LLM same-cycle rules: the target RAM's (above)
    mul_extra: int = DEFAULT_SPEC.mul_extra     # 0: one-cycle mul*; 1: two cycles (the ISS's CycleModel.mul_extra)
    fetch_extra: int = DEFAULT_SPEC.fetch_extra  # 1: IMEM's output registered (CycleModel.of_pipeline)

    def __post_init__(self) -> None:
        for name in ("imem_size", "dmem_size"):
            size = getattr(self, name)
            if size < ROW_BYTES or size & (size - 1) or size > HOST_WINDOW:
                raise ConfigError(f"{name} = {size}: must be a power of two between {ROW_BYTES} and "
                                  f"{HOST_WINDOW} bytes")
        if self.vector:
            if self.vmem_size < ROW_BYTES or self.vmem_size % ROW_BYTES or self.vmem_size > HOST_WINDOW:
                raise ConfigError(f"vmem_size = {self.vmem_size}: must be a multiple of {ROW_BYTES} up to "
                                  f"{HOST_WINDOW} bytes")
            if self.llm_size < 4 or self.llm_size & (self.llm_size - 1) or LANES * self.llm_size > HOST_WINDOW:
                raise ConfigError(f"llm_size = {self.llm_size}: must be a power of two up to "
                                  f"{HOST_WINDOW // LANES} bytes per lane")

        if self.mul_extra not in MUL_EXTRAS:
            raise ConfigError(f"mul_extra = {self.mul_extra!r}: the core builds {' or '.join(map(str, MUL_EXTRAS))}")
        if self.fetch_extra not in FETCH_EXTRAS:
            raise ConfigError(f"fetch_extra = {self.fetch_extra!r}: the core builds "
                              f"{' or '.join(map(str, FETCH_EXTRAS))}")
        if self.collisions not in COLLISIONS:
            raise ConfigError(f"collisions = {self.collisions!r}: must be one of {', '.join(COLLISIONS)}")
        if self.dma:
            if not self.vector:
                raise ConfigError("dma = True needs vector = True: the DMA moves rows between DRAM and VMEM")
            try:
                self.dma_config
            except FennError as exc:
                raise ConfigError(f"dma_data_bits = {self.dma_data_bits}: {exc}") from None

    @property
    def dma_config(self) -> DmaConfig:
        """The DMA engine's parameters (with ``dma``)."""
        return DmaConfig(vmem_rows=self.vmem_size // ROW_BYTES, data_bits=self.dma_data_bits)

    @classmethod
    def from_spec(cls, spec: MachineSpec) -> "SocConfig":
        """The SoC of ``spec`` (without a vector unit: no VMEM/LLM, sizes 0; with ``dma``, the engine)."""
        return cls(imem_size=spec.imem_size, dmem_size=spec.dmem_size, full_m=spec.full_m,
                   hart_id=spec.hart_id, vector=spec.vector, vmem_size=spec.vmem_size, llm_size=spec.llm_size,
                   dma=spec.dma, mul_extra=spec.mul_extra, fetch_extra=spec.fetch_extra)

    @property
    def spec(self) -> MachineSpec:
        """The machine this SoC builds (the DRAM window is outside it: base and size 0);
        named after the profile it equals, else ``soc-custom``."""
        sizes = dict(imem_size=self.imem_size, dmem_size=self.dmem_size, full_m=self.full_m,
                     vector=self.vector, vmem_size=self.vmem_size if self.vector else 0,
                     llm_size=self.llm_size if self.vector else 0, hart_id=self.hart_id,
                     mul_extra=self.mul_extra, fetch_extra=self.fetch_extra)
        built = MachineSpec("soc", dma=self.dma, **sizes)
        name = next((n for n, s in SPECS.items()
                     if s.with_(name="soc", dram_base=0, dram_size=0) == built), "soc-custom")
        return built.with_(name=name)

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


# The SoC of every named machine (fenn_dma.arch.PROFILES; docs/machine.md).
PROFILES: dict[str, SocConfig] = {name: SocConfig.from_spec(spec) for name, spec in SPECS.items()}


def profile(name: str) -> SocConfig:
    """The SoC of the named machine (an unknown name is a ConfigError listing the names)."""
    try:
        return SocConfig.from_spec(spec_profile(name))
    except FennError as exc:
        raise ConfigError(str(exc)) from None
