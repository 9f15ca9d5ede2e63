"""Machine configuration of the ISS: a ``MachineSpec`` (fenn_dma.arch) plus the
ISS's own models (cycle model, DMA timing, DRAM error regions).

``MachineConfig.from_spec(profile("sim-small"))`` is the usual way to build one;
the keyword constructor stays for tests and variants. Its size defaults are the
default profile's (kv260). ``extensions`` defaults to every extension (the ISS
decodes full M unless told not to); ``from_spec`` gives the spec's.
"""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.arch import DEFAULT_SPEC, LANES, M, ROW_BYTES, V, MachineSpec
from fenn_dma.arch import PROFILES as SPECS
from fenn_dma.arch import profile as spec_profile
from fenn_dma.errors import FennError
from fenn_dma.isa.table import ALL_EXTENSIONS

from .cycle_model import CycleModel
from .dma import DmaModel

# The ISS allocates its DRAM model: it models at most this much of a machine's DRAM
# (the first bytes of the window at dram_base).
ISS_DRAM_LIMIT = 16 << 20


_DEFAULTS = {
    "imem_size": DEFAULT_SPEC.imem_size,
    "dmem_size": DEFAULT_SPEC.dmem_size,
    "vmem_size": DEFAULT_SPEC.vmem_size,
    "llm_size": DEFAULT_SPEC.llm_size,            # bytes per lane
    "lanes": LANES,
    "dram_size": min(DEFAULT_SPEC.dram_size, ISS_DRAM_LIMIT),
    "dram_base": DEFAULT_SPEC.dram_base,
    # [start, end) absolute DRAM address ranges the DRAM model answers with a
    # slave error (for testing the DMA's error path).
    "dram_error_regions": (),
    "extensions": ALL_EXTENSIONS,
    "hartid": DEFAULT_SPEC.hart_id,
    "cycle_model": CycleModel(),
    "dma": DmaModel(),
    "name": DEFAULT_SPEC.name,                    # the machine's name (the spec's, in messages)
}


class MachineConfig(namedtuple("MachineConfig", _DEFAULTS, defaults=tuple(_DEFAULTS.values()))):
    """The ISS's machine (an immutable record, a named tuple rather than a dataclass so that
    `fenn-dma sim` starts without the dataclasses module); ``with_`` makes a variant."""

    __slots__ = ()
    imem_size: int
    dmem_size: int
    vmem_size: int
    llm_size: int
    lanes: int
    dram_size: int
    dram_base: int
    dram_error_regions: tuple[tuple[int, int], ...]
    extensions: frozenset[str]
    hartid: int
    cycle_model: CycleModel
    dma: DmaModel
    name: str

    def __new__(cls, *args, **kwargs) -> "MachineConfig":
        self = super().__new__(cls, *args, **kwargs)
        if self.lanes != LANES:
            raise FennError(f"lanes = {self.lanes}: the ISA defines {LANES} lanes (32-bit masks)")
        for name in ("imem_size", "dmem_size", "vmem_size", "llm_size"):
            size = getattr(self, name)
            if size <= 0 or size % ROW_BYTES:
                raise FennError(f"MachineConfig.{name} = {size}: must be a positive multiple of {ROW_BYTES}")
        if self.dram_size < 0 or self.dram_base < 0 or self.dram_base + self.dram_size > 1 << 32:
            raise FennError("MachineConfig: the DRAM model must lie inside the 32-bit address space")
        if not isinstance(self.extensions, frozenset):
            self = super().__new__(cls, **{**self._asdict(), "extensions": frozenset(self.extensions)})
        return self

    def with_(self, **changes) -> "MachineConfig":
        """This configuration with some fields changed (validated again)."""
        return type(self)(**{**self._asdict(), **changes})

    @classmethod
    def from_spec(cls, spec: MachineSpec, **iss) -> "MachineConfig":
        """The ISS of ``spec``; ``iss``: the ISS's own fields (cycle_model, dma,
        dram_error_regions) or overrides (e.g. dram_size for a bigger DRAM model).

        A machine without the vector unit keeps one row of VMEM and LLM (the ISS
        allocates them; no instruction reaches them without V) and one of DRAM."""
        sizes = dict(imem_size=spec.imem_size, dmem_size=spec.dmem_size,
                     vmem_size=spec.vmem_size or ROW_BYTES, llm_size=spec.llm_size or ROW_BYTES,
                     dram_size=min(spec.dram_size, ISS_DRAM_LIMIT) or ROW_BYTES, dram_base=spec.dram_base,
                     extensions=spec.extensions, hartid=spec.hart_id, name=spec.name,
                     cycle_model=CycleModel.of_pipeline(fetch_extra=spec.fetch_extra,
                                                             mul_extra=spec.mul_extra))
        sizes.update(iss)
        return cls(**sizes)

    @property
    def spec(self) -> MachineSpec:
        """The machine this configuration simulates (the ISS models the DMA unit
        whenever it has the vector unit)."""
        vector = V in self.extensions
        spec = MachineSpec(self.name, imem_size=self.imem_size, dmem_size=self.dmem_size,
                           vmem_size=self.vmem_size if vector else 0, llm_size=self.llm_size if vector else 0,
                           full_m=M in self.extensions, vector=vector, dma=vector,
                           dram_base=self.dram_base if vector else 0, dram_size=self.dram_size if vector else 0,
                           hart_id=self.hartid, mul_extra=self.cycle_model.mul_extra,
                           fetch_extra=self.cycle_model.fetch_extra)
        named = SPECS.get(self.name)      # the ISS's DRAM model may be smaller than the machine's DRAM
        if named is not None and named.differences(spec, tuple(n for n in spec._fields
                                                               if n not in ("name", "dram_base", "dram_size"))):
            spec = spec.with_(name=f"{self.name}-custom")
        return spec


# The ISS of every named machine (fenn_dma.arch.PROFILES).
PROFILES: dict[str, MachineConfig] = {name: MachineConfig.from_spec(spec) for name, spec in SPECS.items()}


def profile(name: str, **overrides) -> MachineConfig:
    """The ISS of the named machine (fenn_dma.arch.profile), with ISS overrides."""
    return MachineConfig.from_spec(spec_profile(name)).with_(**overrides)
