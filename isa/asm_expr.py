"""Integer expressions of the assembler: parse once into a tree, evaluate twice.

Operators and precedence follow GNU as (not C): unary ``- ~ + !`` bind
tightest, then ``* / % << >>``, then ``| & ^``, then ``+ -``. Operands are
numbers, character literals, symbols, numeric local references (``1b``/``1f``),
``.`` (the address of the current statement) and the RISC-V relocation
operators ``%hi %lo %pcrel_hi %pcrel_lo``.

A value is a number plus the section it is an address in (``None`` for plain
numbers), so that ``end - start`` is a constant while the layout of the
sections is still unknown (first pass).
"""
from __future__ import annotations

from collections import namedtuple

from .asm_lexer import CHAR, IDENT, LOCALREF, NUMBER, OP, RELOC, Line, Token

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Protocol

    class Context(Protocol):
        final: bool  # second pass: every symbol has its address
        line: Line

        def symbol(self, name: str, column: int) -> Value: ...
        def local(self, number: int, direction: str, column: int) -> Value: ...
        def dot(self) -> Value: ...
        def pcrel_lo(self, label: Value, column: int) -> int: ...
        def note_pcrel_hi(self, delta: int) -> None: ...

# Records here are named tuples and plain classes, not dataclasses: `fenn-dma sim x.s` starts
# without the dataclasses module (docs/iss.md "Speed").


class Value(namedtuple("Value", "n section", defaults=(None,))):
    __slots__ = ()
    n: int
    section: str | None  # section of an address; None for an absolute number

    @property
    def is_address(self) -> bool:
        return self.section is not None


class Unknown(Exception):
    """First pass only: the expression needs something not known yet."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def hi20(x: int) -> int:
    """%hi: upper 20 bits, rounded so that hi20 << 12 plus the sign-extended lo12 is x."""
    return ((x + 0x800) >> 12) & 0xFFFFF


def lo12(x: int) -> int:
    """%lo: the low 12 bits of x as a signed value."""
    v = x & 0xFFF
    return v - 0x1000 if v & 0x800 else v


# ---- tree ---------------------------------------------------------------------------------------

class Expr:
    """A node of the tree: each kind below is a named tuple whose first field is its ``column``."""

    __slots__ = ()
    column: int

    def eval(self, ctx: Context) -> Value:
        raise NotImplementedError

    def symbols(self) -> list[str]:
        return []


class Num(namedtuple("Num", "column value"), Expr):
    __slots__ = ()
    value: int

    def eval(self, ctx: Context) -> Value:
        return Value(self.value)


class Sym(namedtuple("Sym", "column name"), Expr):
    __slots__ = ()
    name: str

    def eval(self, ctx: Context) -> Value:
        return ctx.dot() if self.name == "." else ctx.symbol(self.name, self.column)

    def symbols(self) -> list[str]:
        return [self.name]


class LocalRef(namedtuple("LocalRef", "column number direction"), Expr):
    __slots__ = ()
    number: int
    direction: str  # 'b' or 'f'

    def eval(self, ctx: Context) -> Value:
        return ctx.local(self.number, self.direction, self.column)

    def symbols(self) -> list[str]:
        return [f"{self.number}{self.direction}"]


class Unary(namedtuple("Unary", "column op arg"), Expr):
    __slots__ = ()
    op: str
    arg: Expr

    def eval(self, ctx: Context) -> Value:
        a = self.arg.eval(ctx)
        if a.is_address and self.op != "+":
            a = _absolute(a, ctx, self.column, f"unary '{self.op}'")
        n = {"-": -a.n, "~": ~a.n, "+": a.n, "!": int(not a.n)}[self.op]
        return Value(n, a.section if self.op == "+" else None)

    def symbols(self) -> list[str]:
        return self.arg.symbols()


class Binary(namedtuple("Binary", "column op left right"), Expr):
    __slots__ = ()
    op: str
    left: Expr
    right: Expr

    def eval(self, ctx: Context) -> Value:
        a, b = self.left.eval(ctx), self.right.eval(ctx)
        if self.op == "+":
            if a.is_address and b.is_address:
                raise ctx.line.error("cannot add two addresses", self.column)
            return Value(a.n + b.n, a.section or b.section)
        if self.op == "-":
            if a.is_address and b.is_address:
                if a.section != b.section and not ctx.final:
                    raise Unknown(f"the distance between sections {a.section} and {b.section}")
                return Value(a.n - b.n)
            if b.is_address:
                b = _absolute(b, ctx, self.column, "subtracting an address from a number")
            return Value(a.n - b.n, a.section)
        a = _absolute(a, ctx, self.column, f"'{self.op}'")
        b = _absolute(b, ctx, self.column, f"'{self.op}'")
        x, y = a.n, b.n
        if self.op in ("/", "%") and y == 0:
            raise ctx.line.error("division by zero", self.column)
        if self.op in ("<<", ">>") and not 0 <= y < 64:
            raise ctx.line.error(f"shift amount {y} must be in [0, 63]", self.column)
        if self.op == "/":
            q = abs(x) // abs(y)
            return Value(q if (x >= 0) == (y >= 0) else -q)  # truncates toward zero, as gas
        if self.op == "%":
            r = abs(x) % abs(y)
            return Value(r if x >= 0 else -r)
        return Value({"*": lambda: x * y, "<<": lambda: x << y, ">>": lambda: x >> y,
                      "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y}[self.op]())

    def symbols(self) -> list[str]:
        return self.left.symbols() + self.right.symbols()


class Reloc(namedtuple("Reloc", "column name arg"), Expr):
    __slots__ = ()
    name: str  # %hi, %lo, %pcrel_hi, %pcrel_lo
    arg: Expr

    def eval(self, ctx: Context) -> Value:
        if self.name == "%pcrel_hi":
            delta = _absolute(Binary(self.column, "-", self.arg, Sym(self.column, ".")).eval(ctx),
                              ctx, self.column, "%pcrel_hi").n
            if ctx.final:
                ctx.note_pcrel_hi(delta)
            return Value(hi20(delta))
        a = self.arg.eval(ctx)
        if self.name == "%pcrel_lo":
            if not ctx.final:
                raise Unknown("%pcrel_lo")
            return Value(ctx.pcrel_lo(a, self.column))
        x = _absolute(a, ctx, self.column, self.name).n
        return Value(hi20(x) if self.name == "%hi" else lo12(x))

    def symbols(self) -> list[str]:
        return self.arg.symbols()


RELOCS = ("%hi", "%lo", "%pcrel_hi", "%pcrel_lo")


def _absolute(v: Value, ctx: Context, column: int, what: str) -> Value:
    """A number from a value; an address is only a number once the layout is known."""
    if v.is_address and not ctx.final:
        raise Unknown(f"an address used in {what}")
    return Value(v.n)


# ---- parser -------------------------------------------------------------------------------------

_LEVELS: tuple[tuple[str, ...], ...] = (("+", "-"), ("|", "&", "^"), ("*", "/", "%", "<<", ">>"))


class _Parser:
    def __init__(self, tokens: list[Token], line: Line):
        self.tokens, self.line, self.i = tokens, line, 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def end_column(self) -> int:
        last = self.tokens[-1]
        return last.column + len(last.text)

    def expect(self, text: str) -> Token:
        t = self.peek()
        if t is None or t.kind != OP or t.text != text:
            col = t.column if t else self.end_column()
            found = f"'{t.text}'" if t else "the end of the operand"
            raise self.line.error(f"expected '{text}', found {found}", col)
        self.i += 1
        return t

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (t := self.peek()) is not None and t.kind == OP and t.text in _LEVELS[level]:
            self.i += 1
            left = Binary(t.column, t.text, left, self.binary(level + 1))
        return left

    def unary(self) -> Expr:
        t = self.peek()
        if t is None:
            raise self.line.error("expected an expression", self.end_column() if self.tokens else 1)
        self.i += 1
        if t.kind == OP and t.text in ("-", "~", "+", "!"):
            return Unary(t.column, t.text, self.unary())
        if t.kind == OP and t.text == "(":
            e = self.binary(0)
            self.expect(")")
            return e
        if t.kind in (NUMBER, CHAR):
            return Num(t.column, int(t.value))  # type: ignore[arg-type]
        if t.kind == LOCALREF:
            n, d = t.value  # type: ignore[misc]
            return LocalRef(t.column, n, d)
        if t.kind == IDENT:
            return Sym(t.column, t.text)
        if t.kind == RELOC:
            if t.text not in RELOCS:
                raise self.line.error(f"unknown operator '{t.text}' (known: {', '.join(RELOCS)})", t.column)
            self.expect("(")
            e = self.binary(0)
            self.expect(")")
            return Reloc(t.column, t.text, e)
        raise self.line.error(f"expected a number, symbol or '(', found '{t.text}'", t.column)


def parse_expr(tokens: list[Token], line: Line) -> Expr:
    """The expression made of all of ``tokens`` (an error if any are left over)."""
    p = _Parser(tokens, line)
    e = p.binary(0)
    if p.i < len(tokens):
        t = tokens[p.i]
        raise line.error(f"unexpected '{t.text}' after the expression", t.column)
    return e

