"""Program files: ELF32 (RISC-V, executable) and raw little-endian images.

The three memories are separate address spaces starting at 0; in an ELF file
they are placed at distinct bases so that they do not overlap (see
docs/assembler.md): IMEM at 0x0000_0000 (.text), DMEM at 0x1000_0000 (.data),
VMEM at 0x2000_0000 (.vmem), one PT_LOAD segment each, with p_vaddr = p_paddr.
A raw program is the IMEM image in one file, plus ``FILE.dmem`` and
``FILE.vmem`` beside it when those images are not empty.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from fenn_dma.boundary import write_outputs
from fenn_dma.errors import FennError

from .program import MEMORIES, Program, Symbol

MEMORY_BASE = {"imem": 0x0000_0000, "dmem": 0x1000_0000, "vmem": 0x2000_0000}
MEMORY_SPAN = 0x1000_0000  # each memory's window in the ELF address space
ELF_SECTION = {"imem": ".text", "dmem": ".data", "vmem": ".vmem"}
RAW_SUFFIX = {"dmem": ".dmem", "vmem": ".vmem"}

EM_RISCV, ET_EXEC = 243, 2
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB = 1, 2, 3
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
PT_LOAD, PF_X, PF_W, PF_R = 1, 1, 2, 4
STB_LOCAL, STB_GLOBAL, STT_NOTYPE, SHN_ABS = 0, 1, 0, 0xFFF1
ELF_HEADER, PHDR, SHDR, SYM = 52, 32, 40, 16


class ProgramFileError(FennError):
    """A program file that cannot be read or written."""


def memory_of_symbol(sym: Symbol) -> str | None:
    from .asm_layout import section_memory     # the assembler's stack: loading an ELF does not need it
    return None if sym.section is None else section_memory(sym.section)


# ---- writing ----------------------------------------------------------------------------------------

class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def _pad4(data: bytearray) -> None:
    data.extend(bytes(-len(data) % 4))


def elf_bytes(program: Program) -> bytes:
    """The ELF32 little-endian RISC-V executable of ``program``."""
    memories = [m for m in MEMORIES if program.images.get(m)]
    shstr = _Strings()
    out = bytearray(ELF_HEADER + PHDR * len(memories))
    sections: list[tuple] = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]  # section headers (null first)
    phdrs = []
    shndx: dict[str, int] = {}
    for m in memories:
        image = program.images[m]
        _pad4(out)
        offset = len(out)
        out += image
        flags = SHF_ALLOC | (SHF_EXECINSTR if m == "imem" else SHF_WRITE)
        shndx[m] = len(sections)
        sections.append((shstr.add(ELF_SECTION[m]), SHT_PROGBITS, flags, MEMORY_BASE[m], offset, len(image),
                         0, 0, 4, 0))
        pflags = PF_R | (PF_X if m == "imem" else PF_W)
        phdrs.append((PT_LOAD, offset, MEMORY_BASE[m], MEMORY_BASE[m], len(image), len(image), pflags, 4))

    # Symbols: locals before globals, as the ELF spec requires.
    strtab = _Strings()
    ordered = sorted(program.symbols.values(), key=lambda s: s.is_global)
    symtab = bytearray(SYM)
    first_global = 1 + sum(1 for s in ordered if not s.is_global)
    for sym in ordered:
        memory = memory_of_symbol(sym)
        if memory is None:
            value, index = sym.value & 0xFFFFFFFF, SHN_ABS
        else:
            value = (MEMORY_BASE[memory] + sym.value) & 0xFFFFFFFF
            index = shndx.get(memory, SHN_ABS)  # a label at the end of an empty memory
        info = ((STB_GLOBAL if sym.is_global else STB_LOCAL) << 4) | STT_NOTYPE
        symtab += struct.pack("<IIIBBH", strtab.add(sym.name), value, 0, info, 0, index)
    _pad4(out)
    symtab_offset = len(out)
    out += symtab
    strtab_offset = len(out)
    out += strtab.data
    symtab_index = len(sections)
    sections.append((shstr.add(".symtab"), SHT_SYMTAB, 0, 0, symtab_offset, len(symtab),
                     symtab_index + 1, first_global, 4, SYM))
    sections.append((shstr.add(".strtab"), SHT_STRTAB, 0, 0, strtab_offset, len(strtab.data), 0, 0, 1, 0))
    shstrndx = len(sections)
    name = shstr.add(".shstrtab")
    shstr_offset = len(out)
    out += shstr.data
    sections.append((name, SHT_STRTAB, 0, 0, shstr_offset, len(shstr.data), 0, 0, 1, 0))
    _pad4(out)
    shoff = len(out)
    for s in sections:
        out += struct.pack("<IIIIIIIIII", *s)

    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)  # ELFCLASS32, little endian, version 1, SysV ABI
    out[:ELF_HEADER] = ident + struct.pack("<HHIIIIIHHHHHH", ET_EXEC, EM_RISCV, 1, program.entry & 0xFFFFFFFF,
                                           ELF_HEADER if phdrs else 0, shoff, 0, ELF_HEADER, PHDR, len(phdrs),
                                           SHDR, len(sections), shstrndx)
    for k, p in enumerate(phdrs):
        out[ELF_HEADER + k * PHDR:ELF_HEADER + (k + 1) * PHDR] = struct.pack("<IIIIIIII", *p)
    return bytes(out)


def write_elf(program: Program, path: str | Path) -> None:
    write_outputs({path: elf_bytes(program)})


def raw_paths(path: str | Path) -> dict[str, Path]:
    path = Path(path)
    return {"imem": path, **{m: path.with_name(path.name + s) for m, s in RAW_SUFFIX.items()}}


def write_raw(program: Program, path: str | Path) -> list[Path]:
    """IMEM to ``path``; DMEM/VMEM to ``path.dmem``/``path.vmem`` when not empty
    (a stale one from an earlier run is removed, so the set always matches).
    Returns the files written."""
    outputs, stale = {}, []
    for memory, p in raw_paths(path).items():
        image = program.images.get(memory, b"")
        if image or memory == "imem":
            outputs[p] = image
        elif p.exists():
            stale.append(p)
    written = write_outputs(outputs)           # all of them or none
    for p in stale:
        p.unlink()
    return written


# ---- reading ----------------------------------------------------------------------------------------

def _memory_at(address: int, what: str, path: str | Path) -> str:
    for m, base in MEMORY_BASE.items():
        if base <= address < base + MEMORY_SPAN:
            return m
    bases = ", ".join(f"{m} at 0x{b:08x}" for m, b in MEMORY_BASE.items())
    raise ProgramFileError(f"{path}: {what} at 0x{address:08x} is in none of the memories "
                           f"({bases}, 0x{MEMORY_SPAN:x} bytes each)")


def _check_segment(path, seg, k: int, file_size: int) -> tuple[str, int, int]:
    """Memory, offset in it and end of PT_LOAD segment ``k``, refused when its
    data lies past the end of the file or it leaves its memory's window."""
    addr, offset, filesz, memsz = seg["p_paddr"], seg["p_offset"], seg["p_filesz"], seg["p_memsz"]
    where = f"{path}: segment {k} (p_paddr 0x{addr:08x})"
    if filesz > memsz:
        raise ProgramFileError(f"{where}: p_filesz {filesz} is larger than p_memsz {memsz}")
    if offset + filesz > file_size:
        raise ProgramFileError(f"{where}: its {filesz} bytes at file offset {offset} run past the end of the "
                               f"file ({file_size} bytes); the file is truncated or damaged")
    memory = _memory_at(addr, f"segment {k}", path)
    start = addr - MEMORY_BASE[memory]
    if start + memsz > MEMORY_SPAN:
        raise ProgramFileError(f"{where}: {memsz} bytes run past the end of the {memory} window "
                               f"(0x{MEMORY_SPAN:x} bytes from 0x{MEMORY_BASE[memory]:08x})")
    return memory, start, start + memsz


def load_elf(path: str | Path) -> Program:
    """A program from an ELF32 RISC-V executable (ours, or one linked by GNU ld
    with the same memory bases). Symbols keep their values within their memory.
    A file that is truncated, whose headers point past its end, or whose
    segments overlap or leave the memory windows is refused."""
    from elftools.common.exceptions import ELFError
    from elftools.construct import ConstructError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            elf = ELFFile(f)
            if elf.elfclass != 32 or not elf.little_endian or elf["e_machine"] != "EM_RISCV":
                raise ProgramFileError(f"{path}: not a 32-bit little-endian RISC-V ELF file "
                                       f"(class {elf.elfclass}, machine {elf['e_machine']})")
            for what, off, num, size in (("program", elf["e_phoff"], elf["e_phnum"], elf["e_phentsize"]),
                                         ("section", elf["e_shoff"], elf["e_shnum"], elf["e_shentsize"])):
                if num and off + num * size > file_size:
                    raise ProgramFileError(f"{path}: its {num} {what} headers at offset {off} run past the end "
                                           f"of the file ({file_size} bytes); the file is truncated or damaged")
            images: dict[str, bytearray] = {}
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_memsz"]]
            if not loads:
                raise ProgramFileError(f"{path}: no loadable segment (is it an object file? link it first)")
            spans: dict[str, list[tuple[int, int, int]]] = {}
            for k, seg in enumerate(loads):
                memory, start, end = _check_segment(path, seg, k, file_size)
                for j, s0, e0 in spans.get(memory, ()):
                    if start < e0 and s0 < end:
                        raise ProgramFileError(f"{path}: segments {j} and {k} overlap in {memory} "
                                               f"(0x{max(start, s0):x}-0x{min(end, e0):x})")
                spans.setdefault(memory, []).append((k, start, end))
                image = images.setdefault(memory, bytearray())
                if end > len(image):
                    image.extend(bytes(end - len(image)))
                data = seg.data()
                image[start:start + len(data)] = data
            program = Program(images={m: bytes(b) for m, b in images.items()})
            symtab = elf.get_section_by_name(".symtab")
            if symtab is not None and not hasattr(symtab, "iter_symbols"):
                raise ProgramFileError(f"{path}: section .symtab is not a symbol table")
            for sym in symtab.iter_symbols() if symtab is not None else ():
                if not sym.name or sym["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                    continue
                value, shndx = sym["st_value"], sym["st_shndx"]
                if shndx == "SHN_ABS":
                    section, v = None, value - (1 << 32) if value >> 31 else value
                elif shndx == "SHN_UNDEF":
                    continue
                else:
                    memory = _memory_at(value, f"symbol '{sym.name}'", path)
                    section, v = ELF_SECTION[memory], value - MEMORY_BASE[memory]
                program.symbols[sym.name] = Symbol(sym.name, v, section, sym["st_info"]["bind"] != "STB_LOCAL")
            entry = elf["e_entry"]
            program.entry = entry if entry < MEMORY_SPAN else 0
            return program
    except (ELFError, ConstructError, struct.error, UnicodeDecodeError) as exc:
        raise ProgramFileError(f"{path}: not a valid ELF file ({exc})") from None
    except OSError as exc:
        raise ProgramFileError(f"cannot read {path}: {exc.strerror}") from None


def load_raw(path: str | Path) -> Program:
    """A program from a raw IMEM image, with ``path.dmem``/``path.vmem`` if present."""
    images = {}
    for memory, p in raw_paths(path).items():
        if memory == "imem" or p.exists():
            try:
                images[memory] = p.read_bytes()
            except OSError as exc:
                raise ProgramFileError(f"cannot read {p}: {exc.strerror}") from None
    return Program(images={m: b for m, b in images.items() if b or m == "imem"})
