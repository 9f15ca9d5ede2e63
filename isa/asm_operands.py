"""Operands of one statement, read according to a syntax string.

A syntax string names the operands in assembler order, e.g. ``"rd, imm(rs1)"``
(from the instruction table) or ``"rd, target"`` (a pseudo-instruction);
each name has a kind (scalar/vector register, immediate, pc-relative target,
CSR, fence set) that says how the text is read.
"""
from __future__ import annotations

import functools
import re
from collections import namedtuple

from . import fields as F
from .asm_expr import Expr, Num, parse_expr
from .asm_lexer import IDENT, OP, Statement, Token
from .csrs import CSR_BY_NAME
from .registers import SCALAR_REGS, VECTOR_REGS

SCALAR_HELP = "a scalar register x0-x31 (or an ABI name such as a0, sp, zero)"
VECTOR_HELP = "a vector register v0-v31"
FENCE_BITS = {"i": 8, "o": 4, "r": 2, "w": 1}


class Arg(namedtuple("Arg", "name kind column reg expr", defaults=(None, None))):
    """One parsed operand: a register number, or an expression evaluated later (a named
    tuple, not a dataclass: the assembler starts without the dataclasses module)."""

    __slots__ = ()
    name: str
    kind: str
    column: int
    reg: int | None
    expr: Expr | None


@functools.lru_cache(maxsize=None)
def syntax_parts(syntax: str) -> tuple[tuple[str, ...], ...]:
    """``"rd, imm(rs1)"`` -> ``(("rd",), ("imm", "rs1"))``."""
    parts: list[tuple[str, ...]] = []
    for piece in filter(None, (p.strip() for p in syntax.split(","))):
        m = re.fullmatch(r"(\w+)\((\w+)\)", piece)
        parts.append((m.group(1), m.group(2)) if m else (piece,))
    return tuple(parts)


def _register(tokens: list[Token], name: str, kind: str, st: Statement, what: str) -> int:
    t = tokens[0]
    text = t.text.lower() if t.kind == IDENT else t.text
    if len(tokens) == 1 and t.kind == IDENT:
        if kind == F.XREG and text in SCALAR_REGS:
            return SCALAR_REGS[text]
        if kind == F.VREG and text in VECTOR_REGS:
            return VECTOR_REGS[text]
        if kind == F.XREG and text in VECTOR_REGS:
            raise st.error(f"{what}: {name} must be {SCALAR_HELP}, not the vector register {t.text}", t.column)
        if kind == F.VREG and text in SCALAR_REGS:
            raise st.error(f"{what}: {name} must be {VECTOR_HELP}, not the scalar register {t.text}", t.column)
    shown = " ".join(x.text for x in tokens)
    helptext = SCALAR_HELP if kind == F.XREG else VECTOR_HELP
    raise st.error(f"{what}: {name} must be {helptext}, found '{shown}'", t.column)


def _fence_set(tokens: list[Token], name: str, st: Statement, what: str) -> Expr:
    t = tokens[0]
    if len(tokens) == 1 and t.kind == IDENT:
        letters = t.text.lower()
        if all(c in FENCE_BITS for c in letters) and len(set(letters)) == len(letters):
            return Num(t.column, sum(FENCE_BITS[c] for c in letters))
        raise st.error(f"{what}: {name} must be a set of the letters i, o, r, w (e.g. 'iorw' or 'rw') "
                       f"or a number 0-15, found '{t.text}'", t.column)
    return parse_expr(tokens, st.line)


def _csr(tokens: list[Token], st: Statement) -> Expr:
    t = tokens[0]
    if len(tokens) == 1 and t.kind == IDENT and t.text.lower() in CSR_BY_NAME:
        return Num(t.column, CSR_BY_NAME[t.text.lower()].number)
    return parse_expr(tokens, st.line)


def parse_operand(tokens: list[Token], name: str, kind: str, st: Statement, what: str) -> Arg:
    col = tokens[0].column
    if kind in (F.XREG, F.VREG):
        return Arg(name, kind, col, reg=_register(tokens, name, kind, st, what))
    if kind == F.FENCE:
        return Arg(name, kind, col, expr=_fence_set(tokens, name, st, what))
    if kind == F.CSR:
        return Arg(name, kind, col, expr=_csr(tokens, st))
    return Arg(name, kind, col, expr=parse_expr(tokens, st.line))


def _split_memory(tokens: list[Token], st: Statement, what: str, reg: str) -> tuple[list[Token], list[Token]]:
    """``imm(reg)`` -> (imm tokens, reg tokens); ``(reg)`` means an offset of 0."""
    if len(tokens) >= 3 and tokens[-1].kind == OP and tokens[-1].text == ")":
        depth = 0
        for k in range(len(tokens) - 1, -1, -1):
            t = tokens[k]
            if t.kind == OP and t.text == ")":
                depth += 1
            elif t.kind == OP and t.text == "(":
                depth -= 1
                if depth == 0:
                    inner = tokens[k + 1:-1]
                    if len(inner) == 1 and inner[0].kind == IDENT:
                        return tokens[:k], inner
                    break
    shown = " ".join(t.text for t in tokens)
    raise st.error(f"{what}: expected 'offset({reg})' with a register in parentheses, found '{shown}'",
                   tokens[0].column)


def parse_operands(st: Statement, syntax: str, kinds: dict[str, str], what: str) -> dict[str, Arg]:
    """The operands of ``st`` read by ``syntax``; the caller has checked the count."""
    args: dict[str, Arg] = {}
    for part, tokens in zip(syntax_parts(syntax), st.operands):
        if len(part) == 1:
            args[part[0]] = parse_operand(tokens, part[0], kinds[part[0]], st, what)
            continue
        imm_name, reg_name = part
        imm_tokens, reg_tokens = _split_memory(tokens, st, what, reg_name)
        args[reg_name] = parse_operand(reg_tokens, reg_name, kinds[reg_name], st, what)
        if imm_tokens:
            args[imm_name] = parse_operand(imm_tokens, imm_name, kinds[imm_name], st, what)
        else:
            args[imm_name] = Arg(imm_name, kinds[imm_name], tokens[0].column, expr=Num(tokens[0].column, 0))
    return args
