"""Every error of the assembler says file:line:column, shows the line with a
caret under the culprit, and says what is allowed."""
from __future__ import annotations

import pytest

from fenn_dma.errors import FennError
from fenn_dma.isa.assembler import AsmError, assemble, assemble_file


def error(src: str) -> AsmError:
    with pytest.raises(AsmError) as info:
        assemble(src, "prog.s")
    return info.value


def check(src: str, line: int, column: int, *parts: str) -> str:
    e = error(src)
    text = str(e)
    assert (e.file, e.line, e.column) == ("prog.s", line, column), text
    assert text.startswith(f"prog.s:{line}:{column}: "), text
    shown, caret = text.splitlines()[1:3]
    assert shown.strip() == src.split("\n")[line - 1].strip()
    assert caret.index("^") == shown.index(src.split("\n")[line - 1].lstrip()[0]) + \
        (column - 1 - (len(src.split("\n")[line - 1]) - len(src.split("\n")[line - 1].lstrip())))
    for part in parts:
        assert part in text, text
    return text


def test_is_a_fenn_error():
    assert issubclass(AsmError, FennError)


def test_unknown_mnemonic_suggests_the_nearest():
    check("nop\n  vad v1, v2, v3", 2, 3, "unknown instruction 'vad'", "did you mean 'vadd'")
    check("addd a0, a1, a2", 1, 1, "did you mean 'add'")


def test_immediate_out_of_range_gives_the_range():
    check("addi a0, a0, 2048", 1, 14, "immediate 2048", "[-2048, 2047]")
    check("slli a0, a0, 32", 1, 14, "[0, 31]")
    check("vmul v1, v2, v3, 16", 1, 18, "[0, 15]")
    check("vextract a0, v1, 32", 1, 18, "[0, 31]")
    check("vlui v1, 65536", 1, 10, "[-32768, 65535]")
    check("lui a0, -1", 1, 9, "[0, 1048575]")
    check("li a0, 0x100000000", 1, 8, "32-bit", "[-2147483648, 4294967295]")
    check("csrr a0, 4096", 1, 10, "[0, 4095]")
    check(".byte 256", 1, 7, "[-128, 255]")


def test_branch_out_of_range():
    check("beq a0, a1, far\n.zero 4096\nfar: nop", 1, 13, "out of range", "[-4096, 4094]")
    check("j far\n.zero 0x100000\nfar: nop", 1, 3, "[-1048576, 1048574]")


def test_undefined_and_duplicate_labels():
    check("j nowhere", 1, 3, "undefined symbol 'nowhere'")
    check("loop: nop\n j lop", 2, 4, "undefined symbol 'lop'", "did you mean 'loop'")
    check("x: nop\n  x: nop", 2, 3, "duplicate label 'x'", "first defined at prog.s:1")
    check(".equ A, 1\n.equ A, 2", 2, 6, "duplicate symbol 'A'")
    check("j 1b\n1: nop", 1, 3, "no local label '1:' before this line")
    check("1: nop\nj 1f", 2, 3, "no local label '1:' after this line")
    check(".globl main\nnop", 1, 8, "'main'", "never defined")


def test_misaligned_branch_target():
    check("beq a0, a1, 3", 1, 13, "misaligned branch target 0x3")
    check("j data\n.byte 1\ndata: .byte 2", 1, 3, "misaligned branch target 0x5", "4-byte aligned")


def test_wrong_register_kind():
    check("vadd v1, x2, v3", 1, 10, "rs1 must be a vector register v0-v31", "x2")
    check("add a0, v1, a2", 1, 9, "rs1 must be a scalar register", "v1")
    check("vsel v1, v2, v3", 1, 10, "rs1 must be a scalar register")
    check("vloadv v1, 0(v2)", 1, 14, "rs1 must be a scalar register")
    check("vloadl v1, 0(a2)", 1, 14, "rs1 must be a vector register")
    check("addi a0, 5, a1", 1, 10, "rs1 must be a scalar register", "found '5'")


def test_wrong_operand_count():
    check("add a0, a1", 1, 1, "wrong number of operands for 'add'", "3 operands (add rd, rs1, rs2)", "got 2")
    check("jalr a0, a1, 4, 5", 1, 1, "1 operand (jalr rs)", "2 operands (jalr rd, imm(rs1))", "got 4")
    check("ecall a0", 1, 1, "0 operands")


def test_bad_directives():
    check(".wrod 1", 1, 1, "unknown directive '.wrod'", "did you mean '.word'")
    check(".section .foo", 1, 10, "unknown section '.foo'", ".text -> imem", ".vmem -> vmem")
    check(".align 17", 1, 8, "[0, 16]")
    check(".balign 3", 1, 9, "power of two")
    check(".space -1", 1, 8, "must not be negative")
    check(".space N\n.equ N, 4", 1, 8, "constant known at this point", "N")
    check(".word", 1, 1, "wrong number of operands for .word")
    check(".string 5", 1, 9, "expected a string")
    check(".bss\n.word 1", 2, 1, ".bss holds no data")
    check(".data\nnop", 2, 1, "code must be in .text")
    check(".byte 1\nnop", 2, 1, "not 4-byte aligned", ".align 2")


def test_syntax_errors():
    check("addi a0, a0, (1", 1, 16, "expected ')'")
    check("lw a0, 4[sp]", 1, 9, "unexpected character '['")
    check("lw a0, 4", 1, 8, "expected 'offset(rs1)'")
    check("addi a0, a0, 1 2", 1, 16, "unexpected '2'")
    check("addi a0,, a0", 1, 9, "empty operand")
    check("addi a0, a0, 08", 1, 14, "bad number '08'")
    check("fence rx, w", 1, 7, "letters i, o, r, w")
    check("addi a0, a0, 1/0", 1, 15, "division by zero")
    check(".word %foo(1)", 1, 7, "unknown operator '%foo'")
    check(".equ A, A + 1\n.word A", 1, 6, "defined in terms of itself")
    check(".string \"a\\q\"", 1, 11, "unknown escape")


def test_missing_file_is_an_asm_error(tmp_path):
    with pytest.raises(AsmError, match="cannot read"):
        assemble_file(tmp_path / "none.s")


def test_caret_is_under_the_column_with_tabs():
    text = str(error("\taddi a0, a0, 5000"))
    shown, caret = text.splitlines()[1:3]
    assert caret.replace("\t", " ").index("^") == shown.replace("\t", " ").index("5000")
