"""docs/isa.md's generated tables match the code (python -m fenn_dma.isa.docgen rewrites them)."""
import pytest

from fenn_dma.isa import docgen


def test_committed_isa_doc_is_up_to_date():
    text = docgen.DOC.read_text()
    assert docgen.render(text) == text, "docs/isa.md is out of date: run python -m fenn_dma.isa.docgen"


def test_check_mode(tmp_path):
    stale = tmp_path / "isa.md"
    stale.write_text(docgen.DOC.read_text().replace("| `mhartid` |", "| `mhartid_old` |"))
    assert docgen.main(["--check", str(stale)]) == 1
    assert docgen.main([str(stale)]) == 0
    assert docgen.main(["--check", str(stale)]) == 0
    assert stale.read_text() == docgen.DOC.read_text()


def test_every_instruction_is_listed():
    from fenn_dma.isa.table import SPECS
    body = docgen.encodings()
    for s in SPECS:
        assert f"| `{s.mnemonic}` |" in body


def test_missing_block_is_an_error():
    with pytest.raises(KeyError, match="lacks the generated blocks"):
        docgen.render("no blocks here\n")
