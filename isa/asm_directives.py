"""The directives of the assembler (first pass): sections, data, alignment,
symbols. Each handler reads one statement and adds items to the current
section through the assembler object."""
from __future__ import annotations

from .asm_expr import parse_expr
from .asm_layout import Data, Fixed
from .asm_lexer import IDENT, STRING, Statement, Token, did_you_mean

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable

    from .assembler import _Assembler

MAX_ALIGN_LOG2 = 16  # 64 KiB: larger alignments are surely a mistake in these memories


def _count(st: Statement, low: int, high: int | None, usage: str) -> None:
    n = len(st.operands)
    if n < low or (high is not None and n > high):
        assert st.name is not None
        raise st.error(f"wrong number of operands for {st.name.text}: usage is '{st.name.text} {usage}'".rstrip()
                       + f", got {n}")


def _name(tokens: list[Token], st: Statement, what: str) -> Token:
    if len(tokens) == 1 and tokens[0].kind in (IDENT, STRING):
        t = tokens[0]
        if t.kind == STRING:
            return Token(IDENT, t.value.decode(), t.column)  # type: ignore[union-attr]
        return t
    raise st.error(f"expected {what}, found '{' '.join(t.text for t in tokens)}'", tokens[0].column)


def _switch_to(name: str) -> Callable[["_Assembler", Statement], None]:
    def handler(asm: "_Assembler", st: Statement) -> None:
        _count(st, 0, 0, "")
        asm.switch(name, st)
    return handler


def _section(asm: "_Assembler", st: Statement) -> None:
    _count(st, 1, 4, 'NAME[, "flags"[, @type]]')
    name = _name(st.operands[0], st, "a section name")
    asm.switch(name.text, st, name.column)


def _globl(asm: "_Assembler", st: Statement) -> None:
    _count(st, 1, None, "SYMBOL[, SYMBOL...]")
    for tokens in st.operands:
        t = _name(tokens, st, "a symbol name")
        asm.globals.setdefault(t.text, (st.line, t.column))


def _data(width: int) -> Callable[["_Assembler", Statement], None]:
    def handler(asm: "_Assembler", st: Statement) -> None:
        _count(st, 1, None, "EXPR[, EXPR...]")
        values = [parse_expr(tokens, st.line) for tokens in st.operands]
        asm.add(Data(asm.index, st, asm.current.size, width * len(values), width=width, values=values))
    return handler


def _string(terminate: bool) -> Callable[["_Assembler", Statement], None]:
    def handler(asm: "_Assembler", st: Statement) -> None:
        _count(st, 1, None, '"TEXT"[, "TEXT"...]')
        data = b""
        for tokens in st.operands:
            if len(tokens) != 1 or tokens[0].kind != STRING:
                raise st.error("expected a string in double quotes", tokens[0].column)
            data += tokens[0].value + (b"\0" if terminate else b"")  # type: ignore[operator]
        asm.add(Fixed(asm.index, st, asm.current.size, len(data), data))
    return handler


def _fill_byte(asm: "_Assembler", st: Statement, k: int) -> int:
    if len(st.operands) <= k:
        return 0
    expr = parse_expr(st.operands[k], st.line)
    v = asm.const(expr, st, "the fill value")
    if not -128 <= v <= 255:
        raise st.error(f"fill value {v} must be a byte in [-128, 255]", expr.column)
    return v & 0xFF


def _space(asm: "_Assembler", st: Statement) -> None:
    _count(st, 1, 2, "SIZE[, FILL]")
    expr = parse_expr(st.operands[0], st.line)
    size = asm.const(expr, st, "the size")
    if size < 0:
        raise st.error(f"size {size} must not be negative", expr.column)
    fill = _fill_byte(asm, st, 1)
    asm.add(Fixed(asm.index, st, asm.current.size, size, bytes([fill]) * size))


def _align(mode: str) -> Callable[["_Assembler", Statement], None]:
    """``.align``/``.p2align`` take log2 of the alignment (RISC-V gas), ``.balign`` the bytes."""
    def handler(asm: "_Assembler", st: Statement) -> None:
        _count(st, 1, 3, "ALIGN[, FILL[, MAX]]")
        expr = parse_expr(st.operands[0], st.line)
        n = asm.const(expr, st, "the alignment")
        if mode == "log2":
            if not 0 <= n <= MAX_ALIGN_LOG2:
                raise st.error(f"alignment {n} must be in [0, {MAX_ALIGN_LOG2}] (it is the log2 of the "
                               f"byte alignment: .align 2 aligns to 4 bytes)", expr.column)
            alignment = 1 << n
        else:
            if n <= 0 or n & (n - 1) or n > 1 << MAX_ALIGN_LOG2:
                raise st.error(f"alignment {n} must be a power of two in [1, {1 << MAX_ALIGN_LOG2}]",
                               expr.column)
            alignment = n
        fill = _fill_byte(asm, st, 1) if len(st.operands) > 1 and st.operands[1] else None
        limit = None
        if len(st.operands) > 2:
            limit = asm.const(parse_expr(st.operands[2], st.line), st, "the maximum padding")
        asm.align(st, alignment, fill, limit)
    return handler


def _equ(asm: "_Assembler", st: Statement) -> None:
    _count(st, 2, 2, "SYMBOL, EXPR")
    name = _name(st.operands[0], st, "a symbol name")
    asm.define_equ(st, name, parse_expr(st.operands[1], st.line))


def _end(asm: "_Assembler", st: Statement) -> None:
    _count(st, 0, 0, "")
    asm.done = True


def _ignored(asm: "_Assembler", st: Statement) -> None:
    """Directives of compiler output that change nothing in the images."""


DIRECTIVES: dict[str, Callable[["_Assembler", Statement], None]] = {
    ".text": _switch_to(".text"), ".data": _switch_to(".data"),
    ".rodata": _switch_to(".rodata"), ".bss": _switch_to(".bss"),
    ".section": _section,
    ".globl": _globl, ".global": _globl,
    ".word": _data(4), ".long": _data(4), ".4byte": _data(4),
    ".half": _data(2), ".short": _data(2), ".2byte": _data(2),
    ".byte": _data(1), ".dword": _data(8), ".quad": _data(8), ".8byte": _data(8),
    ".string": _string(True), ".asciz": _string(True), ".ascii": _string(False),
    ".space": _space, ".skip": _space, ".zero": _space,
    ".align": _align("log2"), ".p2align": _align("log2"), ".balign": _align("bytes"),
    ".equ": _equ, ".set": _equ,
    ".end": _end,
    ".type": _ignored, ".size": _ignored, ".file": _ignored, ".ident": _ignored,
    ".option": _ignored, ".attribute": _ignored,
}


def run_directive(asm: "_Assembler", st: Statement) -> None:
    assert st.name is not None
    name = st.name.text.lower()
    handler = DIRECTIVES.get(name)
    if handler is None:
        raise st.error(f"unknown directive '{st.name.text}'{did_you_mean(name, DIRECTIVES)}")
    handler(asm, st)
