"""Program files: ELF32 (RISC-V, executable) and raw little-endian images.

The three memories are separate address spaces starting at 0; in an ELF file
they are placed at distinct bases so that they do not overlap (see
docs/assembler.md): IMEM at 0x0000_0000 (.text), DMEM at 0x1000_0000 (.data),
VMEM at 0x2000_0000 (.vmem), one PT_LOAD segment each, with p_vaddr = p_paddr.
A raw program is the IMEM image in one file, plus ``FILE.dmem`` and
``FILE.vmem`` beside it when those images are not empty.
"""
from __future__ import annotations

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
STB_LOCAL, STB_GLOBAL, STT_NOTYPE, STT_SECTION, STT_FILE = 0, 1, 0, 3, 4
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
ELF_MAGIC, ELFCLASS32, ELFDATA2LSB = b"\x7fELF", 1, 1
ELF_HEADER, PHDR, SHDR, SYM = 52, 32, 40, 16
# The records' layouts (ELF32, little endian), for the writer and the reader alike. The header's
# fields after its 16 bytes of e_ident: e_type, e_machine, e_version, e_entry, e_phoff, e_shoff,
# e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx.
EHDR_FORMAT = "<HHIIIIIHHHHHH"
PHDR_FORMAT = "<IIIIIIII"        # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
SHDR_FORMAT = "<IIIIIIIIII"      # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
SYM_FORMAT = "<IIIBBH"           # st_name, st_value, st_size, st_info, st_other, st_shndx


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
        symtab += struct.pack(SYM_FORMAT, strtab.add(sym.name), value, 0, info, 0, index)
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
        out += struct.pack(SHDR_FORMAT, *s)

    ident = ELF_MAGIC + bytes([ELFCLASS32, ELFDATA2LSB, 1, 0]) + bytes(8)  # version 1, SysV ABI
    out[:ELF_HEADER] = ident + struct.pack(EHDR_FORMAT, ET_EXEC, EM_RISCV, 1, program.entry & 0xFFFFFFFF,
                                           ELF_HEADER if phdrs else 0, shoff, 0, ELF_HEADER, PHDR, len(phdrs),
                                           SHDR, len(sections), shstrndx)
    for k, p in enumerate(phdrs):
        out[ELF_HEADER + k * PHDR:ELF_HEADER + (k + 1) * PHDR] = struct.pack(PHDR_FORMAT, *p)
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


def _check_segment(path, seg: tuple[int, ...], k: int, file_size: int) -> tuple[str, int, int]:
    """Memory, offset in it and end of PT_LOAD segment ``k`` (its PHDR_FORMAT fields), refused
    when its data lies past the end of the file or it leaves its memory's window."""
    _, offset, _, addr, filesz, memsz, _, _ = seg
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
    segments overlap or leave the memory windows is refused.

    Read here with struct (the formats above), not pyelftools: importing that costs
    `fenn-dma sim` more than the rest of its start-up (docs/iss.md "Speed")."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ProgramFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return _parse_elf(path, data)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProgramFileError(f"{path}: not a valid ELF file ({exc})") from None


def _table(data: bytes, fmt: str, offset: int, num: int, entsize: int) -> list[tuple]:
    """``num`` records of ``fmt``, ``entsize`` bytes apart from ``offset`` (struct.error past the end)."""
    if num and entsize < struct.calcsize(fmt):
        raise struct.error(f"entries of {entsize} bytes, shorter than the {struct.calcsize(fmt)} of the format")
    return [struct.unpack_from(fmt, data, offset + k * entsize) for k in range(num)]


def _string(data: bytes, table: tuple[int, ...], index: int) -> str:
    """The NUL-terminated string at ``index`` of the string table section ``table`` (SHDR fields)."""
    start, end = table[4] + index, table[4] + table[5]
    if not 0 <= start < end <= len(data):
        raise struct.error(f"string {index} lies outside its table")
    stop = data.find(b"\0", start, end)
    if stop < 0:
        raise struct.error(f"string {index} is not terminated in its table")
    return data[start:stop].decode("utf-8")


def _parse_elf(path: str | Path, data: bytes) -> Program:
    file_size = len(data)
    if data[:4] != ELF_MAGIC:
        raise struct.error("no ELF magic number")
    (_, machine, _, entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
     shstrndx) = struct.unpack_from(EHDR_FORMAT, data, 16)
    if data[4] != ELFCLASS32 or data[5] != ELFDATA2LSB or machine != EM_RISCV:
        bits = {1: 32, 2: 64}.get(data[4], f"unknown {data[4]}")
        order = {1: "little", 2: "big"}.get(data[5], f"unknown {data[5]}")
        raise ProgramFileError(f"{path}: not a 32-bit little-endian RISC-V ELF file "
                               f"(class {bits}, {order} endian, machine {machine})")
    for what, off, num, size in (("program", phoff, phnum, phentsize), ("section", shoff, shnum, shentsize)):
        if num and off + num * size > file_size:
            raise ProgramFileError(f"{path}: its {num} {what} headers at offset {off} run past the end "
                                   f"of the file ({file_size} bytes); the file is truncated or damaged")
    phdrs = _table(data, PHDR_FORMAT, phoff, phnum, phentsize)
    sections = _table(data, SHDR_FORMAT, shoff, shnum, shentsize)
    images: dict[str, bytearray] = {}
    loads = [p for p in phdrs if p[0] == PT_LOAD and p[5]]
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
        image[start:start + seg[4]] = data[seg[1]:seg[1] + seg[4]]
    program = Program(images={m: bytes(b) for m, b in images.items()})
    if sections and shstrndx >= len(sections):
        raise struct.error(f"e_shstrndx {shstrndx} names no section (there are {len(sections)})")
    names = [_string(data, sections[shstrndx], sh[0]) for sh in sections] if sections else []
    symtab = sections[names.index(".symtab")] if ".symtab" in names else None
    if symtab is not None:
        if symtab[1] != SHT_SYMTAB:
            raise ProgramFileError(f"{path}: section .symtab is not a symbol table")
        if symtab[6] >= len(sections):
            raise struct.error(f".symtab links to section {symtab[6]}, which does not exist")
        strings = sections[symtab[6]]
        count = symtab[5] // symtab[9] if symtab[9] else 0
        if symtab[4] + symtab[5] > file_size:
            raise struct.error(".symtab runs past the end of the file")
        for name_at, value, _, info, _, shndx in _table(data, SYM_FORMAT, symtab[4], count, symtab[9]):
            name = _string(data, strings, name_at)
            if not name or info & 0xF in (STT_SECTION, STT_FILE):
                continue
            if shndx == SHN_ABS:
                section, v = None, value - (1 << 32) if value >> 31 else value
            elif shndx == SHN_UNDEF:
                continue
            else:
                memory = _memory_at(value, f"symbol '{name}'", path)
                section, v = ELF_SECTION[memory], value - MEMORY_BASE[memory]
            program.symbols[name] = Symbol(name, v, section, info >> 4 != STB_LOCAL)
    program.entry = entry if entry < MEMORY_SPAN else 0
    return program


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
