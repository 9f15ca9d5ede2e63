"""The ``.fenn`` program file: everything the host runtime needs to run a
compiled network, versioned.

A zip archive holding ``manifest.json`` (format name, version, network name,
the machine it was compiled for (``machine``: a ``MachineSpec`` as a dict),
I/O map, memory plan, fixed-point formats, kernel instruction counts,
labels, metadata) and the memory images ``imem.bin``, ``dmem.bin``,
``vmem.bin`` (and ``llm.bin``, lane-major, when lane memories start with
data; ``dram.bin``, the DRAM image of streamed weights, loaded at
``io["dram_base"]``), plus ``listing.s``, the generated assembly. A file of another format
or an unknown version is refused with a clear error. A version-2 file written
before the machine was recorded is read as compiled for the default machine
with its plan's memory sizes (what the compiler then assumed).
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from fenn_dma.arch import DEFAULT_SPEC, MEMORY_NAMES, MachineSpec
from fenn_dma.errors import FennError

from .errors import ProgramFileError
from .memory import MemoryPlan

FORMAT = "fenn-dma program"
VERSION = 2          # 2: DRAM image and DMA error words in the control block (and the machine, optional)
IMAGES = MEMORY_NAMES


def spec_of_plan(plan: MemoryPlan, machine: MachineSpec = DEFAULT_SPEC) -> MachineSpec:
    """``machine`` with the memory sizes a plan was made for."""
    s = plan.sizes
    return machine.with_sizes(imem_size=s["imem"], dmem_size=s["dmem"], vmem_size=s["vmem"], llm_size=s["llm"],
                              dram_size=s.get("dram", machine.dram_size))


@dataclass
class FennProgram:
    name: str
    images: dict[str, bytes]
    io: dict
    plan: MemoryPlan
    formats: dict[str, str] = field(default_factory=dict)
    kernels: dict[str, int] = field(default_factory=dict)      # static instructions per kernel
    labels: dict[str, int] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    listing: str = ""
    version: int = VERSION
    machine: MachineSpec | None = None     # None: the plan's sizes on the default machine

    def __post_init__(self) -> None:
        if self.machine is None:
            self.machine = spec_of_plan(self.plan)

    def manifest(self) -> dict:
        return {"format": FORMAT, "version": self.version, "name": self.name, "machine": self.machine.to_dict(),
                "io": self.io,
                "plan": self.plan.to_json(), "formats": self.formats, "kernels": self.kernels,
                "labels": self.labels, "metadata": self.metadata,
                "images": {k: len(v) for k, v in self.images.items()}}

    def save(self, path: str | Path) -> None:
        """Write atomically (a temporary file renamed over ``path``)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("manifest.json", json.dumps(self.manifest(), indent=1))
                for k, v in self.images.items():
                    if v:
                        z.writestr(f"{k}.bin", v)
                z.writestr("listing.s", self.listing)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load(path: str | Path) -> FennProgram:
    path = Path(path)
    if not path.is_file():
        raise ProgramFileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "manifest.json" not in names:
                raise ProgramFileError(f"{path}: not a .fenn program (no manifest.json)")
            m = json.loads(z.read("manifest.json"))
            if m.get("format") != FORMAT:
                raise ProgramFileError(f"{path}: not a .fenn program (format {m.get('format')!r})")
            if m.get("version") != VERSION:
                raise ProgramFileError(f"{path}: .fenn version {m.get('version')!r} is not supported; "
                                       f"this tool reads version {VERSION} (recompile the model)")
            images = {k: z.read(f"{k}.bin") for k in IMAGES if f"{k}.bin" in names}
            listing = z.read("listing.s").decode() if "listing.s" in names else ""
    except zipfile.BadZipFile:
        raise ProgramFileError(f"{path}: not a .fenn program (not a zip archive)") from None
    except (KeyError, ValueError) as exc:
        raise ProgramFileError(f"{path}: damaged .fenn program ({exc})") from None
    if "imem" not in images:
        raise ProgramFileError(f"{path}: damaged .fenn program (no imem image)")
    try:
        machine = MachineSpec.from_dict(m["machine"]) if "machine" in m else None
    except FennError as exc:
        raise ProgramFileError(f"{path}: damaged .fenn program (machine: {exc})") from None
    try:
        return FennProgram(m["name"], images, m["io"], MemoryPlan.from_json(m["plan"]), m.get("formats", {}),
                           m.get("kernels", {}), m.get("labels", {}), m.get("metadata", {}), listing, m["version"],
                           machine)
    except (KeyError, TypeError) as exc:
        raise ProgramFileError(f"{path}: damaged .fenn program (missing {exc})") from None
