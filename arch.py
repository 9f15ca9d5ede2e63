"""The machine description: architectural constants and one ``MachineSpec``.

Every layer (the ISS's ``MachineConfig``, the SoC's ``SocConfig``, the vector
unit's ``VectorConfig``, the compiler's ``MachineSizes``) is built from a
``MachineSpec``; the named profiles below are the machines of this project.
This module imports nothing outside the standard library (and the project's
base error), so every package may use it.

    spec = profile("kv260")
    spec.with_(vmem_size=64 * 1024)       # a variant (validated again)
    MachineSpec.from_dict(spec.to_dict()) == spec
"""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.errors import FennError

# --- Architectural constants (docs/machine.md) ---------------------------------------------
LANES = 32                          # vector lanes (masks are 32-bit scalars)
LANE_BYTES = 2                      # one int16 per lane
ROW_BYTES = LANES * LANE_BYTES      # one vector = one VMEM row = one DMA granule (64 bytes)
RESET_FILL = 0xDEAD                 # halfword every VMEM/LLM location holds after reset (ISS; RTL sim builds)
LLM_OFFSET_LIMIT = 2048             # LLM bytes per lane reachable by the 12-bit signed offsets
MEMORY_NAMES = ("imem", "dmem", "vmem", "llm", "dram")   # in this order everywhere (images, plans, dumps)
DMA_CHANNELS = 2                    # MM2S (DRAM -> VMEM) and S2MM (VMEM -> DRAM)
ADDRESS_SPACE = 1 << 32             # byte addresses are 32-bit

# Extension names (the same strings as fenn_dma.isa.table). RV32I, MUL (the `mul`
# FeNN requires), Zbb (subset) and Zicsr are always present; M (the rest of the M
# extension) is optional, V is the vector unit.
RV32I, MUL, M, ZBB, ZICSR, V = "RV32I", "MUL", "M", "Zbb", "Zicsr", "V"
REQUIRED_EXTENSIONS = frozenset({RV32I, MUL, ZBB, ZICSR})


class SpecError(FennError):
    """A machine description that is not valid, or an unknown profile."""


class MachineMismatch(FennError):
    """A program compiled for one machine, given to a machine that does not match."""


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# A plain record, not a dataclass: `fenn-dma sim` starts without the dataclasses module
# (it imports inspect; docs/iss.md "Speed"). Field name -> type, in order, and the defaults.
_SPEC_FIELDS = {"name": str, "imem_size": int, "dmem_size": int, "vmem_size": int, "llm_size": int,
                "full_m": bool, "vector": bool, "dma": bool, "dram_base": int, "dram_size": int, "hart_id": int,
                "mul_extra": int, "fetch_extra": int}
# mul_extra: extra cycles of mul* (the core's pipeline; the ISS's cycle model charges them).
# fetch_extra: extra fetch stages (the instruction RAM's output registered): each adds a cycle to
# the pipeline fill and to every taken branch and jump, in the core and in the ISS's cycle model.
_SPEC_DEFAULTS = {"dram_base": 0, "dram_size": 0, "hart_id": 0, "mul_extra": 0, "fetch_extra": 0}


class MachineSpec(namedtuple("MachineSpec", _SPEC_FIELDS, defaults=tuple(_SPEC_DEFAULTS.values()))):
    """One machine: memory sizes in bytes (``llm_size`` per lane), the optional
    extensions and units, the DRAM the program may use, the hart id.

    A machine without the vector unit has no VMEM and no LLM (sizes 0); one
    without DMA reaches no DRAM (``dram_size`` 0). Immutable and validated
    whenever built (``with_`` builds a new one)."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs) -> "MachineSpec":
        self = super().__new__(cls, *args, **kwargs)
        self._validate()
        return self

    def _validate(self) -> None:
        def bad(field: str, allowed: str) -> SpecError:
            return SpecError(f"MachineSpec {self.name!r}: {field} = {getattr(self, field)!r}: {allowed}")

        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"MachineSpec name = {self.name!r}: must be a non-empty string")
        for name, kind in _SPEC_FIELDS.items():
            value = getattr(self, name)
            if kind is bool and not isinstance(value, bool):
                raise bad(name, "must be True or False")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise bad(name, "must be an integer")
        for name in ("imem_size", "dmem_size"):
            size = getattr(self, name)
            if size < ROW_BYTES or size % ROW_BYTES:
                raise bad(name, f"must be a positive multiple of {ROW_BYTES} bytes")
        if self.vector:
            if self.vmem_size < ROW_BYTES or self.vmem_size % ROW_BYTES:
                raise bad("vmem_size", f"must be a positive multiple of the row size ({ROW_BYTES} bytes)")
            if self.llm_size < ROW_BYTES or not _power_of_two(self.llm_size) or self.llm_size > 1 << 15:
                raise bad("llm_size", f"must be a power of two from {ROW_BYTES} to 32768 bytes per lane "
                                      "(lane addresses are non-negative int16)")
        else:
            for name in ("vmem_size", "llm_size"):
                if getattr(self, name) != 0:
                    raise bad(name, "must be 0 on a machine without the vector unit (vector = False)")
        if self.dma and not self.vector:
            raise bad("dma", "the DMA moves rows between DRAM and VMEM: it needs vector = True")
        if self.dram_base < 0 or self.dram_base % ROW_BYTES:
            raise bad("dram_base", f"must be a non-negative multiple of {ROW_BYTES}")
        if self.dram_size < 0 or self.dram_size % ROW_BYTES:
            raise bad("dram_size", f"must be a non-negative multiple of {ROW_BYTES} bytes")
        if self.dram_base + self.dram_size > ADDRESS_SPACE:
            raise bad("dram_size", "the DRAM window must lie inside the 32-bit address space")
        if not self.dma and self.dram_size:
            raise bad("dram_size", "must be 0 on a machine without DMA (dma = False): nothing reaches DRAM")
        if not 0 <= self.hart_id < 1 << 32:
            raise bad("hart_id", "must fit in 32 bits")
        if self.mul_extra < 0:
            raise bad("mul_extra", "must be >= 0")
        if self.fetch_extra < 0:
            raise bad("fetch_extra", "must be >= 0")

    @property
    def extensions(self) -> frozenset[str]:
        """The instruction-set extensions the machine decodes."""
        return REQUIRED_EXTENSIONS | {e for e, on in ((M, self.full_m), (V, self.vector)) if on}

    @property
    def vmem_rows(self) -> int:
        return self.vmem_size // ROW_BYTES

    def with_(self, **changes) -> "MachineSpec":
        return type(self)(**{**self._asdict(), **changes})

    def to_dict(self) -> dict:
        return self._asdict()

    @classmethod
    def from_dict(cls, d: dict) -> "MachineSpec":
        if not isinstance(d, dict):
            raise SpecError(f"a machine description is a mapping of fields, not {type(d).__name__}")
        unknown = sorted(set(d) - set(cls._fields))
        if unknown:
            raise SpecError(f"unknown MachineSpec field(s) {', '.join(unknown)}; "
                            f"fields: {', '.join(cls._fields)}")
        missing = [n for n in cls._fields if n not in d and n not in cls._field_defaults]
        if missing:
            raise SpecError(f"MachineSpec is missing field(s) {', '.join(missing)}")
        return cls(**d)

    def with_sizes(self, **sizes) -> "MachineSpec":
        """This machine with other memory sizes (``imem_size=...``); renamed ``NAME-custom``
        when a size changes, so a variant never carries a profile's name."""
        if all(getattr(self, k) == v for k, v in sizes.items()):
            return self
        name = self.name if self.name.endswith("-custom") else f"{self.name}-custom"
        return self.with_(name=name, **sizes)

    def differences(self, other: "MachineSpec", names: tuple[str, ...] | None = None) -> list[str]:
        """``field: mine != other's`` for each field (all but ``name`` by default) that differs."""
        names = names or tuple(n for n in self._fields if n != "name")
        return [f"{n} {getattr(self, n)!r} != {getattr(other, n)!r}" for n in names
                if getattr(self, n) != getattr(other, n)]

    def describe(self) -> str:
        parts = [f"IMEM {self.imem_size}", f"DMEM {self.dmem_size}"]
        if self.vector:
            parts += [f"VMEM {self.vmem_size}", f"LLM {self.llm_size}/lane"]
        parts.append("full M" if self.full_m else "no full M")
        if self.dma:
            parts.append(f"DMA, DRAM {self.dram_size} at 0x{self.dram_base:x}")
        return f"{self.name} ({', '.join(parts)})"


# The fields a compiled program depends on: its memory sizes must be the ones it
# was compiled for; the extensions and units it was compiled for must be present.
PROGRAM_SIZE_FIELDS = ("imem_size", "dmem_size", "vmem_size", "llm_size")
PROGRAM_UNIT_FIELDS = ("full_m", "vector", "dma")


def mismatches(program: MachineSpec, machine: MachineSpec) -> list[str]:
    """Why a program compiled for ``program`` cannot run on ``machine`` (empty if it can).

    Sizes must be equal; an extension or unit the program was compiled for must be
    on the machine (a machine with more runs it). DRAM is not compared here: the
    program's DRAM image must fit the machine's DRAM, which the loader checks."""
    why = [f"{n}: program {getattr(program, n)}, machine {getattr(machine, n)}"
           for n in PROGRAM_SIZE_FIELDS if getattr(program, n) != getattr(machine, n)]
    why += [f"{n}: the program needs it, the machine has none" for n in PROGRAM_UNIT_FIELDS
            if getattr(program, n) and not getattr(machine, n)]
    return why


def check_compatible(program: MachineSpec, machine: MachineSpec, what: str = "the program") -> None:
    """Raise :class:`MachineMismatch` naming both specs and the fields that differ."""
    why = mismatches(program, machine)
    if why:
        raise MachineMismatch(f"{what} was compiled for machine {program.describe()}, which does not match "
                              f"this machine {machine.describe()}: {'; '.join(why)} (recompile for this machine, "
                              f"e.g. `fenn-dma compile --profile {machine.name}`)")


KIB = 1024
PROFILES: dict[str, MachineSpec] = {p.name: p for p in (
    # Kria KV260 (Zynq UltraScale+): the sizes of the ISA; 2 GiB of its 4 GiB DDR4 for streamed weights.
    MachineSpec("kv260", imem_size=16 * KIB, dmem_size=128 * KIB, vmem_size=512 * KIB, llm_size=2048,
                full_m=False, vector=True, dma=True, dram_base=0, dram_size=2 << 30),
    # Lattice ECP5 (no URAM, fewer BRAMs): the scalar core with a smaller data memory; a two-cycle
    # multiply (MULT18X18D and the partial-product adds in one cycle limited Fmax, docs/boards.md)
    # and a registered instruction RAM output (DP16KD's clock-to-out into decode limited it next).
    MachineSpec("ecp5", imem_size=8 * KIB, dmem_size=32 * KIB, vmem_size=0, llm_size=0,
                full_m=False, vector=False, dma=False, mul_extra=1, fetch_extra=1),
    # Simulation: a small whole machine (vector unit, DMA, 1 MiB DRAM) with full M.
    MachineSpec("sim-small", imem_size=4 * KIB, dmem_size=16 * KIB, vmem_size=64 * KIB, llm_size=512,
                full_m=True, vector=True, dma=True, dram_size=1 << 20),
    # Simulation: the scalar SoC of sim-small's IMEM/DMEM (quick Verilator and yosys builds).
    MachineSpec("sim-small-scalar", imem_size=4 * KIB, dmem_size=16 * KIB, vmem_size=0, llm_size=0,
                full_m=True, vector=False, dma=False),
    # Test machines. test-iss: the ISS tests' machine (tests/sim).
    MachineSpec("test-iss", imem_size=4 * KIB, dmem_size=4 * KIB, vmem_size=8 * KIB, llm_size=256,
                full_m=True, vector=True, dma=True, dram_size=64 * KIB),
    # test-rtl: the scalar SoC of the RTL tests and the core benchmarks (small memories: cheap resets/dumps).
    MachineSpec("test-rtl", imem_size=4 * KIB, dmem_size=1 * KIB, vmem_size=0, llm_size=0,
                full_m=True, vector=False, dma=False),
    # test-vector: the vector SoC of the vector-unit tests and kernels.
    MachineSpec("test-vector", imem_size=4 * KIB, dmem_size=16 * KIB, vmem_size=8 * KIB, llm_size=256,
                full_m=True, vector=True, dma=True, dram_size=64 * KIB),
    # test-random: the random-program tests (DRAM window away from 0, so addresses below it fail).
    MachineSpec("test-random", imem_size=8 * KIB, dmem_size=4 * KIB, vmem_size=8 * KIB, llm_size=256,
                full_m=True, vector=True, dma=True, dram_base=0x10000, dram_size=64 * KIB),
    # Radiona ULX3S 85F (ECP5, 208 DP16KD): the vector SoC with the DMA, memories sized to its block RAM;
    # DRAM is a 32 KiB on-chip window until an SDRAM controller is built in (docs/boards.md);
    # the instruction RAM's output registered, as on ecp5.
    MachineSpec("ulx3s", imem_size=16 * KIB, dmem_size=64 * KIB, vmem_size=128 * KIB, llm_size=2048,
                full_m=False, vector=True, dma=True, dram_base=0, dram_size=32 * KIB, fetch_extra=1),
)}

DEFAULT_PROFILE = "kv260"


def profile(name: str) -> MachineSpec:
    """The named machine; a clear error lists the names."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise SpecError(f"unknown machine profile {name!r}; choose one of {', '.join(PROFILES)}") from None


DEFAULT_SPEC = PROFILES[DEFAULT_PROFILE]

__all__ = ["ADDRESS_SPACE", "DEFAULT_PROFILE", "DEFAULT_SPEC", "DMA_CHANNELS", "LANES", "LANE_BYTES",
           "LLM_OFFSET_LIMIT", "MEMORY_NAMES", "MachineMismatch", "MachineSpec", "PROFILES", "RESET_FILL",
           "REQUIRED_EXTENSIONS", "ROW_BYTES", "SpecError", "check_compatible", "mismatches", "profile"]
