"""Damaged .fenn files: each kind of damage is a ProgramFileError naming the
file and the part, from `load`, `fenn-dma inspect` and `fenn-dma run`."""
from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from fenn_dma.cli import main
from fenn_dma.compiler.errors import ProgramFileError
from fenn_dma.compiler.fennfile import load
from fenn_dma.compiler.pipeline import compile_model, load_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "small_alif.py"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fenn") / "m.fenn"
    compile_model(load_model(EXAMPLE))[0].save(path)
    return path


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)
    return path


def _data_offset(path: Path, name: str) -> int:
    """File offset of a member's compressed data."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    raw = path.read_bytes()
    n, m = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + n + m


def _with_manifest(good: Path, tmp_path: Path, change) -> Path:
    parts = _parts(good)
    m = json.loads(parts["manifest.json"])
    change(m)
    parts["manifest.json"] = json.dumps(m).encode()
    return _write(tmp_path / "edited.fenn", parts)


def _refused(path: Path, match: str, capsys) -> None:
    with pytest.raises(ProgramFileError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)
    for command in ("inspect", "run"):
        assert main([command, str(path)]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(path) in err, err


def test_damaged_compressed_data(good, tmp_path, capsys):
    raw = bytearray(good.read_bytes())
    at = _data_offset(good, "imem.bin")
    raw[at:at + 16] = bytes(16)
    (tmp_path / "z.fenn").write_bytes(raw)
    _refused(tmp_path / "z.fenn", r"damaged \.fenn program \(imem\.bin: compressed data is damaged", capsys)


def test_bad_checksum_is_not_called_not_a_zip(good, tmp_path, capsys):
    raw = bytearray(good.read_bytes())
    raw[_data_offset(good, "vmem.bin") + 2000] ^= 0xFF
    (tmp_path / "c.fenn").write_bytes(raw)
    _refused(tmp_path / "c.fenn", r"vmem\.bin: CRC-32 checksum does not match", capsys)


@pytest.mark.parametrize("size", [0, 100, 101])
def test_truncated_imem_against_the_manifest(good, tmp_path, capsys, size):
    parts = _parts(good)
    parts["imem.bin"] = parts["imem.bin"][:size]
    path = _write(tmp_path / "t.fenn", parts)
    _refused(path, rf"imem\.bin holds {size} bytes, the manifest says {len(_parts(good)['imem.bin'])}", capsys)


def test_missing_and_oversized_images(good, tmp_path, capsys):
    parts = _parts(good)
    del parts["dmem.bin"]
    _refused(_write(tmp_path / "d.fenn", parts), r"dmem\.bin holds 0 bytes, the manifest says", capsys)
    parts = _parts(good)
    parts["imem.bin"] = bytes(16384 + 4)
    _refused(_write(tmp_path / "big.fenn", parts), r"imem\.bin holds 16388 bytes, more than the 16384 allowed",
             capsys)
    parts = _parts(good)
    parts["imem.bin"] = parts["imem.bin"][:-2]
    m = json.loads(parts["manifest.json"])
    m["images"]["imem"] -= 2
    parts["manifest.json"] = json.dumps(m).encode()
    _refused(_write(tmp_path / "odd.fenn", parts), "not a whole number of 4-byte instructions", capsys)


@pytest.mark.parametrize("change, match", [
    (lambda m: m.pop("io"), "no 'io' field"),
    (lambda m: m.update(name=5), "'name' is not a string"),
    (lambda m: m["io"].pop("inputs"), "io has no 'inputs' mapping"),
    (lambda m: m["io"]["inputs"]["input"].update(addr="0x10"), "must be integers"),
    (lambda m: m.update(kernels={"k": -1}), r"kernels\['k'\] = -1"),
    (lambda m: m["plan"]["sizes"].update(imem="big"), "plan sizes must give"),
    (lambda m: m["plan"]["regions"].append([1, 2]), "plan region"),
    (lambda m: m["machine"].update(imem_size="16k"), "machine:"),
    (lambda m: m["images"].update(rom=4), "unknown image"),
    (lambda m: m["metadata"]["populations"].update(x={}), r"metadata\['populations'\]\['x'\] lacks one of kind"),
    (lambda m: m["metadata"].update(connections=[1]), "metadata 'connections' is not a mapping"),
])
def test_damaged_manifest_fields(good, tmp_path, capsys, change, match):
    _refused(_with_manifest(good, tmp_path, change), match, capsys)


def test_manifest_not_json(good, tmp_path, capsys):
    parts = _parts(good)
    parts["manifest.json"] = b"\xff{not json"
    _refused(_write(tmp_path / "j.fenn", parts), "manifest.json is not valid JSON", capsys)
    parts["manifest.json"] = b"[1, 2]"
    _refused(_write(tmp_path / "j.fenn", parts), "manifest.json is not a JSON object", capsys)


def test_listing_not_text(good, tmp_path, capsys):
    parts = _parts(good)
    parts["listing.s"] = b"\xff\xfe"
    _refused(_write(tmp_path / "l.fenn", parts), "listing.s is not UTF-8 text", capsys)


@pytest.mark.parametrize("data", [b"", b"1234567", b"PK\x03\x04" + bytes(40)])
def test_empty_short_and_truncated_archives(tmp_path, capsys, data):
    (tmp_path / "x.fenn").write_bytes(data)
    _refused(tmp_path / "x.fenn", r"not a \.fenn program \(not a zip archive\)", capsys)


def test_truncated_archive(good, tmp_path, capsys):
    raw = good.read_bytes()
    (tmp_path / "half.fenn").write_bytes(raw[:len(raw) // 2])
    _refused(tmp_path / "half.fenn", "not a zip archive", capsys)
