"""Wrong or damaged program files: `fenn-dma sim` refuses a .fenn, an empty,
short or non-instruction raw file and a program without code; the ELF loader
refuses files that are truncated or whose headers lie about offsets."""
from __future__ import annotations

import struct
import zipfile

import pytest

from fenn_dma.cli import main
from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.elf import ProgramFileError, elf_bytes, load_elf
from fenn_dma.isa.loader import file_kind, load_program

PHDR0 = 52                      # our writer puts the first program header right after the ELF header


def _elf(source: str = "nop\necall\n.data\n.word 5") -> bytearray:
    return bytearray(elf_bytes(assemble(source)))


def _set(data: bytearray, offset: int, value: int) -> bytearray:
    data[offset:offset + 4] = struct.pack("<I", value)
    return data


def _refused_by_sim(path, match, capsys) -> None:
    assert main(["sim", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    assert match in err, err


def test_sim_refuses_a_fenn_program(tmp_path, capsys):
    for name in ("m.fenn", "m.bin"):                  # by content or by suffix
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("manifest.json", "{}")
        assert file_kind(path) == "fenn"
        _refused_by_sim(path, "is a .fenn program (a compiled network)", capsys)
        assert "fenn-dma run" in str(pytest.raises(ProgramFileError, load_program, path).value)


@pytest.mark.parametrize("data, match", [
    (b"", "a raw IMEM image of 0 bytes"),
    (b"\x13\x00\x00\x00\x13\x00\x00", "a raw IMEM image of 7 bytes"),
    (bytes(range(40, 140)), "is no instruction of this ISA"),
])
def test_sim_refuses_empty_short_and_random_raw_files(tmp_path, capsys, data, match):
    path = tmp_path / "p.bin"
    path.write_bytes(data)
    _refused_by_sim(path, match, capsys)


def test_sim_refuses_a_program_without_code(tmp_path, capsys):
    for name, text in (("empty.s", ""), ("data.s", ".data\n.word 1")):
        (tmp_path / name).write_text(text)
        _refused_by_sim(tmp_path / name, "the program has no instructions", capsys)


def test_disasm_raw_still_reads_any_bytes(tmp_path, capsys):
    (tmp_path / "odd.bin").write_bytes(b"\x13\x00\x00\x00\x13\x00\x00")
    assert main(["disasm", "--raw", str(tmp_path / "odd.bin")]) == 0
    assert "addi zero, zero, 0" in capsys.readouterr().out


def _load(tmp_path, data: bytes):
    path = tmp_path / "p.elf"
    path.write_bytes(bytes(data))
    return load_elf(path)


@pytest.mark.parametrize("cut", [20, 60, 90, -30, -1])
def test_truncated_elf(tmp_path, cut):
    data = _elf()
    with pytest.raises(ProgramFileError, match="p.elf: "):
        _load(tmp_path, data[:cut])


def test_segment_data_past_the_end_of_the_file(tmp_path):
    data = _set(_elf(), PHDR0 + 4, 0x10_0000)            # p_offset
    with pytest.raises(ProgramFileError, match="segment 0 .* run past the end of the file"):
        _load(tmp_path, data)
    data = _set(_elf(), PHDR0 + 16, 0x10_0000)           # p_filesz (and p_memsz below it)
    _set(data, PHDR0 + 20, 0x10_0000)
    with pytest.raises(ProgramFileError, match="run past the end of the file"):
        _load(tmp_path, data)


def test_filesz_larger_than_memsz(tmp_path):
    data = _set(_elf(), PHDR0 + 20, 4)                   # p_memsz 4 < p_filesz 8
    with pytest.raises(ProgramFileError, match="p_filesz 8 is larger than p_memsz 4"):
        _load(tmp_path, data)


def test_segment_leaving_its_memory_window(tmp_path):
    data = _set(_elf(), PHDR0 + 20, 0x1000_0004)         # 256 MiB + 4 of text
    with pytest.raises(ProgramFileError, match="run past the end of the imem window"):
        _load(tmp_path, data)


def test_overlapping_segments(tmp_path):
    data = _elf()
    _set(data, PHDR0 + 32 + 12, 0x0000_0004)             # the .data segment placed into IMEM at 4
    with pytest.raises(ProgramFileError, match="segments 0 and 1 overlap in imem"):
        _load(tmp_path, data)


def test_headers_past_the_end_of_the_file(tmp_path):
    data = _set(_elf(), 28, 0x10_0000)                   # e_phoff
    with pytest.raises(ProgramFileError, match="program headers at offset 1048576 run past the end"):
        _load(tmp_path, data)
    data = _set(_elf(), 32, 0x10_0000)                   # e_shoff
    with pytest.raises(ProgramFileError, match="section headers at offset 1048576 run past the end"):
        _load(tmp_path, data)
