"""Memory plan: every buffer of a program, placed in IMEM / DMEM / VMEM / LLM / DRAM.

The plan is an inspectable artifact (``fenn-dma inspect`` prints it, the .fenn
file stores it); a buffer that does not fit is an error giving the sizes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from fenn_dma.arch import MEMORY_NAMES

from .errors import ResourceError

MEMORIES = MEMORY_NAMES      # dram: the program's DRAM image (streamed weights)


@dataclass
class Region:
    name: str
    memory: str
    offset: int
    size: int
    note: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass
class MemoryPlan:
    sizes: dict[str, int]                       # capacity of each memory (LLM: bytes per lane)
    regions: list[Region] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=lambda: {m: 0 for m in MEMORIES})

    def place(self, memory: str, name: str, size: int, align: int = 4, note: str = "") -> Region:
        self.used.setdefault(memory, 0)
        off = -(-self.used[memory] // align) * align
        r = Region(name, memory, off, size, note)
        self.regions.append(r)
        self.used[memory] = off + size
        return r

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def free(self, memory: str) -> int:
        return self.sizes[memory] - self.used.get(memory, 0)

    def check(self) -> None:
        for m in MEMORIES:
            if self.used.get(m, 0) > self.sizes.get(m, 0):
                big = sorted((r for r in self.regions if r.memory == m), key=lambda r: -r.size)[:5]
                detail = ", ".join(f"{r.name} {r.size} B" for r in big)
                raise ResourceError(f"memory overflow: {m} needs {self.used[m]} bytes, the machine has "
                                    f"{self.sizes[m]} ({self.used[m] - self.sizes[m]} too many); "
                                    f"largest: {detail}")

    def to_json(self) -> dict:
        return {"sizes": self.sizes, "used": self.used, "regions": [asdict(r) for r in self.regions]}

    @classmethod
    def from_json(cls, d: dict) -> "MemoryPlan":
        return cls(dict(d["sizes"]), [Region(**r) for r in d["regions"]], dict(d["used"]))

    def table(self) -> str:
        lines = []
        for m in MEMORIES:
            lines.append(f"{m}: {self.used[m]} of {self.sizes[m]} bytes used"
                         + (" (per lane)" if m == "llm" else ""))
            for r in self.regions:
                if r.memory == m:
                    lines.append(f"  0x{r.offset:06x}-0x{r.end:06x} {r.size:>8} B  {r.name}"
                                 + (f"  ({r.note})" if r.note else ""))
        return "\n".join(lines)
