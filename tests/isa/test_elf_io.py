"""ELF and raw program files: written, read back by pyelftools, binutils and our loaders."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from fenn_dma.cli import main as cli_main
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.elf import MEMORY_BASE, ProgramFileError, elf_bytes, load_elf, load_raw, write_elf, write_raw
from fenn_dma.isa.loader import file_kind, load_program

SOURCE = """
    .globl _start
    .equ COUNT, 3
    .text
    nop
_start:
    li a0, COUNT
    la a1, table
loop:
    lw t0, 0(a1)
    vloadv v1, 0(zero)
    addi a0, a0, -1
    bnez a0, loop
    ecall
    .data
table: .word 1, 2, 3
    .globl weights
    .section .vmem
    .align 6
weights: .half 7, 8
"""


@pytest.fixture
def program():
    return assemble(SOURCE, "k.s")


def test_elf_read_by_pyelftools(tmp_path, program):
    path = tmp_path / "k.elf"
    write_elf(program, path)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert (elf.elfclass, elf.little_endian) == (32, True)
        assert elf["e_machine"] == "EM_RISCV" and elf["e_type"] == "ET_EXEC"
        assert elf["e_entry"] == 4
        for name, memory in ((".text", "imem"), (".data", "dmem"), (".vmem", "vmem")):
            sec = elf.get_section_by_name(name)
            assert sec["sh_addr"] == MEMORY_BASE[memory]
            assert sec.data() == program.images[memory]
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        assert [(s["p_vaddr"], s["p_paddr"], s.data()) for s in loads] == [
            (MEMORY_BASE[m], MEMORY_BASE[m], program.images[m]) for m in ("imem", "dmem", "vmem")]
        syms = {s.name: s for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}
        assert syms["_start"]["st_value"] == 4 and syms["_start"]["st_info"]["bind"] == "STB_GLOBAL"
        assert syms["loop"]["st_info"]["bind"] == "STB_LOCAL"
        assert syms["table"]["st_value"] == 0x1000_0000
        assert syms["weights"]["st_value"] == 0x2000_0000
        assert syms["COUNT"]["st_shndx"] == "SHN_ABS" and syms["COUNT"]["st_value"] == 3


def test_elf_round_trip(tmp_path, program):
    path = tmp_path / "k.elf"
    write_elf(program, path)
    back = load_elf(path)
    assert back.images == program.images
    assert back.entry == program.entry
    for name, sym in program.symbols.items():
        got = back.symbols[name]
        assert (got.value, got.is_global) == (sym.value, sym.is_global)
        assert (got.section is None) == (sym.section is None)
    assert back.symbols["table"].section == ".data"


def test_text_only_program(tmp_path):
    p = assemble("ecall")
    write_elf(p, tmp_path / "a.elf")
    assert load_elf(tmp_path / "a.elf").images == {"imem": p.text}


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils readelf is not installed")
def test_readelf_reads_it(tmp_path, program):
    path = tmp_path / "k.elf"
    write_elf(program, path)
    out = subprocess.run(["readelf", "-W", "-h", "-S", "-l", "-s", str(path)], capture_output=True, text=True,
                         check=True)
    assert "RISC-V" in out.stdout and "EXEC" in out.stdout
    assert "readelf: Warning" not in out.stderr and "Error" not in out.stderr, out.stderr
    assert out.stdout.count("LOAD") == 3
    assert "0x10000000 0x10000000" in out.stdout
    symbols = {f[-1]: f for f in (line.split() for line in out.stdout.splitlines()) if len(f) == 8}
    assert symbols["_start"][1:] == ["00000004", "0", "NOTYPE", "GLOBAL", "DEFAULT", "1", "_start"]
    assert symbols["table"][1] == "10000000" and symbols["table"][4] == "LOCAL"
    assert symbols["COUNT"][6] == "ABS"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="binutils objdump is not installed")
def test_objdump_reads_its_headers_and_symbols(tmp_path, program):
    path = tmp_path / "k.elf"
    write_elf(program, path)
    out = subprocess.run(["objdump", "-h", "-t", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert ".vmem" in out.stdout and "weights" in out.stdout


RISCV_OBJDUMP = next((t for t in ("riscv64-unknown-elf-objdump", "riscv64-linux-gnu-objdump") if shutil.which(t)),
                     None)


@pytest.mark.skipif(RISCV_OBJDUMP is None, reason="RISC-V binutils (riscv64-unknown-elf-objdump) not installed")
def test_riscv_objdump_disassembles_the_scalar_code(tmp_path):
    p = assemble("_start: addi a0, zero, 5\nloop: addi a0, a0, -1\nbne a0, zero, loop\nmul a1, a0, a0\necall")
    write_elf(p, tmp_path / "s.elf")
    out = subprocess.run([RISCV_OBJDUMP, "-d", "-M", "no-aliases", str(tmp_path / "s.elf")],
                         capture_output=True, text=True, check=True).stdout
    mnemonics = [line.split("\t")[2].strip() for line in out.splitlines() if line.count("\t") >= 2]
    assert mnemonics == ["addi", "addi", "bne", "mul", "ecall"]
    assert "<_start>:" in out and "<loop>:" in out


def test_raw_round_trip_with_companions(tmp_path, program):
    out = tmp_path / "k.bin"
    written = write_raw(program, out)
    assert written == [out, tmp_path / "k.bin.dmem", tmp_path / "k.bin.vmem"]
    assert out.read_bytes() == program.text
    back = load_raw(out)
    assert back.images == program.images
    # A text-only program removes stale companions from an earlier run.
    write_raw(assemble("ecall"), out)
    assert not (tmp_path / "k.bin.dmem").exists() and not (tmp_path / "k.bin.vmem").exists()
    assert load_raw(out).images == {"imem": assemble("ecall").text}


def test_load_program_dispatch(tmp_path, program):
    src = tmp_path / "k.s"
    src.write_text(SOURCE)
    elf = tmp_path / "k.bin"  # ELF recognised by content, whatever the name
    write_elf(program, elf)
    raw = tmp_path / "k.img"
    write_raw(program, raw)
    assert (file_kind(src), file_kind(elf), file_kind(raw)) == ("asm", "elf", "raw")
    assert load_program(src).images == program.images
    assert load_program(elf).images == program.images
    assert load_program(raw).images == program.images
    assert load_program(elf, "raw").text == elf.read_bytes()


def test_bad_files(tmp_path):
    with pytest.raises(ProgramFileError, match="cannot read"):
        load_program(tmp_path / "missing.bin")
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF" + bytes(10))
    with pytest.raises(ProgramFileError, match="not a valid ELF"):
        load_elf(bad)
    other = tmp_path / "x86.elf"
    data = bytearray(elf_bytes(assemble("ecall")))
    data[18:20] = (62).to_bytes(2, "little")  # EM_X86_64
    other.write_bytes(bytes(data))
    with pytest.raises(ProgramFileError, match="not a 32-bit little-endian RISC-V"):
        load_elf(other)


def test_elf_outside_the_memory_windows(tmp_path):
    data = bytearray(elf_bytes(assemble("ecall")))
    # Move the text segment's p_paddr to 0x40000000 (first program header, offset 52 + 12).
    data[52 + 12:52 + 16] = (0x4000_0000).to_bytes(4, "little")
    path = tmp_path / "far.elf"
    path.write_bytes(bytes(data))
    with pytest.raises(ProgramFileError, match="0x40000000 is in none of the memories"):
        load_elf(path)


# ---- command line -----------------------------------------------------------------------------------

def test_cli_asm_raw_elf_and_disasm(tmp_path, capsys, program):
    src = tmp_path / "k.s"
    src.write_text(SOURCE)
    assert cli_main(["asm", str(src), "-o", str(tmp_path / "k.bin"), "--listing"]) == 0
    out = capsys.readouterr().out
    assert "00000004:" in out and "li a0, COUNT" in out and "vloadv v1, 0(zero)" in out
    assert (tmp_path / "k.bin").read_bytes() == program.text
    assert (tmp_path / "k.bin.dmem").read_bytes() == program.images["dmem"]
    assert cli_main(["asm", str(src), "-o", str(tmp_path / "k.elf")]) == 0  # format from the name
    assert load_elf(tmp_path / "k.elf").images == program.images
    assert cli_main(["asm", str(src), "--format", "elf"]) == 0  # default name beside the source
    assert (tmp_path / "k.elf").exists()
    capsys.readouterr()
    assert cli_main(["disasm", str(tmp_path / "k.elf")]) == 0
    listing = capsys.readouterr().out
    assert "_start:" in listing and "bne a0, zero, 0x" in listing and "# <loop>" in listing
    assert cli_main(["disasm", "--raw", str(tmp_path / "k.bin")]) == 0
    assert "vloadv v1, 0(zero)" in capsys.readouterr().out


def test_cli_reports_errors_without_writing(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text("nop\n  vadd v1, x2, v3\n")
    out = tmp_path / "bad.bin"
    assert cli_main(["asm", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2:12:" in err and "vector register v0-v31" in err and "^" in err
    assert not out.exists()
