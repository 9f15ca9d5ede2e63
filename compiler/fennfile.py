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
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from fenn_dma.arch import DEFAULT_SPEC, LANES, MEMORY_NAMES, MachineSpec
from fenn_dma.boundary import write_outputs
from fenn_dma.errors import FennError

from .errors import ProgramFileError
from .memory import MEMORIES, MemoryPlan

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
        """Write atomically (a temporary file renamed over ``path``, with the umask's mode)."""
        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("manifest.json", json.dumps(self.manifest(), indent=1))
                for k, v in self.images.items():
                    if v:
                        z.writestr(f"{k}.bin", v)
                z.writestr("listing.s", self.listing)
        write_outputs({Path(path): write})


MANIFEST_LIMIT = 64 << 20       # bytes: a manifest or listing larger than this is not one we wrote
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
               OverflowError, OSError)


def _damaged(path: Path, what: str) -> ProgramFileError:
    return ProgramFileError(f"{path}: damaged .fenn program ({what}); compile the model again")


def _member(z: zipfile.ZipFile, path: Path, name: str, limit: int) -> bytes:
    """Member ``name``, refused before reading when it is larger than ``limit``
    and when its compressed data or checksum is damaged."""
    info = z.getinfo(name)
    if info.file_size > limit:
        raise _damaged(path, f"{name} holds {info.file_size} bytes, more than the {limit} allowed")
    try:
        return z.read(info)
    except zlib.error as exc:
        raise _damaged(path, f"{name}: compressed data is damaged: {exc}") from None
    except zipfile.BadZipFile as exc:
        what = "CRC-32 checksum does not match its data" if "CRC" in str(exc) else str(exc)
        raise _damaged(path, f"{name}: {what}") from None
    except _UNREADABLE as exc:
        raise _damaged(path, f"{name} cannot be read: {exc}") from None


def _image_limits(machine: MachineSpec) -> dict[str, int]:
    return {"imem": machine.imem_size, "dmem": machine.dmem_size, "vmem": machine.vmem_size,
            "llm": machine.llm_size * LANES, "dram": machine.dram_size}


def _check_structure(path: Path, m: dict) -> None:
    """The manifest's fields have the types the readers use (a hand-edited or
    damaged manifest is refused here, not by a ``KeyError`` later)."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise _damaged(path, f"manifest.json: {what}")

    for key in ("name", "io", "plan"):
        need(key in m, f"no {key!r} field")
    need(isinstance(m["name"], str), "'name' is not a string")
    for key in ("io", "plan", "formats", "kernels", "labels", "metadata", "images", "machine"):
        need(isinstance(m.get(key, {}), dict), f"{key!r} is not a mapping")
    for key in ("kernels", "labels", "images"):
        for k, v in m.get(key, {}).items():
            need(type(v) is int and v >= 0, f"{key}[{k!r}] = {v!r} is not a non-negative integer")
    io = m["io"]
    for key, fields in (("inputs", ("size", "words", "addr")), ("records", ("memory", "addr")),
                        ("readouts", ("kind", "addr"))):
        need(isinstance(io.get(key), dict), f"io has no {key!r} mapping")
        for k, v in io[key].items():
            need(isinstance(v, dict) and all(f in v for f in fields),
                 f"io[{key!r}][{k!r}] lacks one of {', '.join(fields)}")
            need(all(type(v[f]) is int for f in fields if f in ("size", "words", "addr")),
                 f"io[{key!r}][{k!r}]: size, words and addr must be integers")
    meta = m.get("metadata", {})
    for key, fields in (("populations", {"kind": str, "size": int}),
                        ("connections", {"sparse": bool, "mode": str, "latency": int})):
        need(isinstance(meta.get(key, {}), dict), f"metadata {key!r} is not a mapping")
        for k, v in meta.get(key, {}).items():
            need(isinstance(v, dict) and all(isinstance(v.get(f), t) for f, t in fields.items())
                 and isinstance(v.get("placement", ""), str),
                 f"metadata[{key!r}][{k!r}] lacks one of {', '.join(fields)} (or has the wrong type)")
    plan = m["plan"]
    need(isinstance(plan.get("sizes"), dict) and isinstance(plan.get("used"), dict)
         and isinstance(plan.get("regions"), list), "'plan' lacks sizes, used or regions")
    for key in ("sizes", "used"):
        need(all(type(plan[key].get(mem)) is int and plan[key][mem] >= 0 for mem in MEMORIES if mem != "dram")
             and all(type(v) is int and v >= 0 for v in plan[key].values()),
             f"plan {key} must give a non-negative integer for each of {', '.join(MEMORIES)}")
    for i, r in enumerate(plan["regions"]):
        need(isinstance(r, dict) and set(r) <= {"name", "memory", "offset", "size", "note"}
             and isinstance(r.get("name"), str) and r.get("memory") in MEMORIES
             and type(r.get("offset")) is int and type(r.get("size")) is int and isinstance(r.get("note", ""), str),
             f"plan region {i} is not a (name, memory, offset, size, note) record")


def load(path: str | Path) -> FennProgram:
    """Read and check a ``.fenn`` file: a damaged archive, member, manifest
    field or image size is a :class:`ProgramFileError` naming the part."""
    path = Path(path)
    if not path.is_file():
        raise ProgramFileError(f"{path}: no such file")
    try:
        z = zipfile.ZipFile(path)
    except PermissionError as exc:
        raise ProgramFileError(f"cannot read {path}: {exc.strerror}") from None
    except _UNREADABLE:                      # an OSError here is a seek to an offset the archive lies about
        raise ProgramFileError(f"{path}: not a .fenn program (not a zip archive)") from None
    with z:
        names = set(z.namelist())
        if "manifest.json" not in names:
            raise ProgramFileError(f"{path}: not a .fenn program (no manifest.json)")
        try:
            m = json.loads(_member(z, path, "manifest.json", MANIFEST_LIMIT))
        except (ValueError, RecursionError) as exc:   # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _damaged(path, f"manifest.json is not valid JSON: {exc}") from None
        if not isinstance(m, dict):
            raise _damaged(path, "manifest.json is not a JSON object")
        if m.get("format") != FORMAT:
            raise ProgramFileError(f"{path}: not a .fenn program (format {m.get('format')!r})")
        if m.get("version") != VERSION:
            raise ProgramFileError(f"{path}: .fenn version {m.get('version')!r} is not supported; "
                                   f"this tool reads version {VERSION} (recompile the model)")
        _check_structure(path, m)
        try:
            plan = MemoryPlan.from_json(m["plan"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _damaged(path, f"manifest.json: plan: {exc}") from None
        try:
            machine = MachineSpec.from_dict(m["machine"]) if "machine" in m else None
        except (FennError, TypeError, ValueError) as exc:
            raise _damaged(path, f"machine: {exc}") from None
        limits = _image_limits(machine or spec_of_plan(plan))
        declared = m.get("images", {})
        unknown = sorted(set(declared) - set(IMAGES))
        if unknown:
            raise _damaged(path, f"manifest.json names unknown image(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(IMAGES)}")
        images = {}
        for k in IMAGES:
            if f"{k}.bin" in names:
                images[k] = _member(z, path, f"{k}.bin", limits[k])
            size = len(images.get(k, b""))
            if k in declared and declared[k] != size:
                raise _damaged(path, f"{k}.bin holds {size} bytes, the manifest says {declared[k]}")
        try:
            listing = _member(z, path, "listing.s", MANIFEST_LIMIT).decode() if "listing.s" in names else ""
        except UnicodeDecodeError as exc:
            raise _damaged(path, f"listing.s is not UTF-8 text: {exc}") from None
    if not images.get("imem"):
        raise _damaged(path, "no imem image")
    if len(images["imem"]) % 4:
        raise _damaged(path, f"imem.bin holds {len(images['imem'])} bytes, not a whole number of "
                             "4-byte instructions")
    return FennProgram(m["name"], images, m["io"], plan, m.get("formats", {}), m.get("kernels", {}),
                       m.get("labels", {}), m.get("metadata", {}), listing, m["version"], machine)
