"""Source text -> statements of tokens, each token knowing its line and column.

Comments (``#``, ``//``, ``/* ... */``) are blanked out first so columns stay
those of the original text; ``;`` separates statements on one line, as in GNU
as for RISC-V. Errors carry file:line:column and show the line with a caret.
"""
from __future__ import annotations

import os
import re
from collections import namedtuple

from fenn_dma.errors import FennError


class AsmError(FennError):
    """An assembly error at file:line:column, shown with the line and a caret."""

    def __init__(self, message: str, file: str = "<input>", line: int = 0, column: int = 0, text: str = ""):
        self.message, self.file, self.line, self.column, self.text = message, file, line, column, text
        where = f"{file}:{line}:{column}" if line else file
        shown = f"{where}: {message}"
        if text:
            # Keep tabs in the caret line so the caret sits under the right character.
            pad = "".join(c if c == "\t" else " " for c in text[:max(column - 1, 0)])
            shown += f"\n    {text}\n    {pad}^"
        super().__init__(shown)


def did_you_mean(name: str, choices) -> str:
    """'; did you mean 'x'?' for the nearest of ``choices``, or ''."""
    import difflib      # here: only a misspelt name needs it, and it costs start-up time
    near = difflib.get_close_matches(name, list(choices), n=5, cutoff=0.6)
    if not near:
        return ""
    # Equally close candidates: prefer the one sharing the longest prefix (vad -> vadd, not vand).
    def score(c: str) -> tuple[float, int]:
        ratio = difflib.SequenceMatcher(None, name, c).ratio()
        return round(ratio, 6), len(os.path.commonprefix([name, c]))
    return f"; did you mean '{max(near, key=score)}'?"


# Records here are named tuples and plain classes, not dataclasses: `fenn-dma sim x.s` starts
# without the dataclasses module (docs/iss.md "Speed").
class Line(namedtuple("Line", "file number text")):
    """One physical source line (for messages and the source map)."""

    __slots__ = ()
    file: str
    number: int
    text: str

    def error(self, message: str, column: int) -> AsmError:
        return AsmError(message, self.file, self.number, column, self.text)


# Token kinds.
IDENT, NUMBER, LOCALREF, STRING, CHAR, OP, RELOC = "ident", "number", "localref", "string", "char", "op", "reloc"


class Token(namedtuple("Token", "kind text column value", defaults=(None,))):
    __slots__ = ()
    kind: str
    text: str
    column: int          # 1-based column of the first character
    value: object        # int for NUMBER/CHAR, bytes for STRING, (n, 'f'|'b') for LOCALREF; else None


class Statement:
    """Labels, then an optional mnemonic/directive and its comma-separated operands;
    ``assignment``: ``sym = expr`` (name is the symbol, operands[0] the expression)."""

    __slots__ = ("line", "labels", "name", "operands", "assignment")

    def __init__(self, line: Line, labels: list[Token] | None = None, name: Token | None = None,
                 operands: list[list[Token]] | None = None, assignment: bool = False):
        self.line = line
        self.labels = [] if labels is None else labels
        self.name = name
        self.operands = [] if operands is None else operands
        self.assignment = assignment

    def error(self, message: str, column: int | None = None) -> AsmError:
        if column is None:
            column = self.name.column if self.name else 1
        return self.line.error(message, column)


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<reloc>%[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>0[xX][0-9A-Fa-f_]+|0[bB][01_]+(?![0-9A-Za-z_.$])|[0-9]+[fFbB](?![0-9A-Za-z_.$])|[0-9][0-9A-Za-z_]*)
  | (?P<ident>[A-Za-z_.$@][A-Za-z0-9_.$]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<char>'(?:[^'\\]|\\[^x0-7]|\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3})'?)
  | (?P<op><<|>>|[-+*/%&|^~(),:=!<>])
""", re.VERBOSE)

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27}


def _unescape(body: str, line: Line, column: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.extend(c.encode("utf-8"))
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise line.error("unfinished escape sequence", column + i)
        c = body[i]
        if c == "x":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 1:])
            if not m:
                raise line.error("\\x needs hex digits", column + i)
            out.append(int(m.group(), 16))
            i += 1 + len(m.group())
        elif c in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i:])
            out.append(int(m.group(), 8) & 0xFF)
            i += len(m.group())
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
            i += 1
        else:
            raise line.error(f"unknown escape sequence '\\{c}'", column + i - 1)
    return bytes(out)


def _number(text: str, line: Line, column: int) -> Token:
    clean = text.replace("_", "")
    low = clean.lower()
    try:
        if low.startswith("0x"):
            return Token(NUMBER, text, column, int(low[2:], 16))
        if low.startswith("0b") and len(low) > 2:
            return Token(NUMBER, text, column, int(low[2:], 2))
        if low[-1] in "fb" and low[:-1].isdigit():
            return Token(LOCALREF, text, column, (int(low[:-1]), low[-1]))
        if len(low) > 1 and low.startswith("0"):
            return Token(NUMBER, text, column, int(low, 8))
        return Token(NUMBER, text, column, int(low, 10))
    except ValueError:
        raise line.error(f"bad number '{text}' (use decimal, 0x hex, 0b binary or 0 octal)", column) from None


def tokenize(text: str, line: Line) -> list[Token]:
    """Tokens of one comment-free line (``text`` keeps the original columns)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise line.error(f"unexpected character {text[pos]!r}", pos + 1)
        kind, s, col = m.lastgroup, m.group(), pos + 1
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "num":
            tokens.append(_number(s, line, col))
        elif kind == "ident":
            tokens.append(Token(IDENT, s, col))
        elif kind == "reloc":
            tokens.append(Token(RELOC, s.lower(), col))
        elif kind == "string":
            tokens.append(Token(STRING, s, col, _unescape(s[1:-1], line, col + 1)))
        elif kind == "char":
            body = s[1:-1] if s.endswith("'") and len(s) > 2 else s[1:]
            data = _unescape(body, line, col + 1)
            if len(data) != 1:
                raise line.error(f"bad character literal {s}", col)
            tokens.append(Token(CHAR, s, col, data[0]))
        else:
            tokens.append(Token(OP, s, col))
    return tokens


_PLAIN = re.compile(r"""[^#/'"*]*""")  # a line with none of these needs no comment scan


def strip_comments(source: str) -> list[str]:
    """The lines of ``source`` with comments replaced by spaces (columns kept).
    ``;`` outside strings is kept (it separates statements)."""
    if "/*" not in source:
        lines = source.split("\n")
        if all(_PLAIN.fullmatch(line) for line in lines):
            return lines
        return [line if _PLAIN.fullmatch(line) else _strip_block(line)[0] for line in lines]
    return _strip_block(source)


def _strip_block(source: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    in_block = False
    i, n = 0, len(source)
    quote: str | None = None
    while i < n:
        c = source[i]
        if c == "\n":
            out.append("".join(buf))
            buf = []
            quote = None  # an unterminated string ends at the line end (reported by the tokenizer)
            i += 1
            continue
        if in_block:
            if source.startswith("*/", i):
                buf.append("  ")
                in_block = False
                i += 2
            else:
                buf.append("\t" if c == "\t" else " ")
                i += 1
            continue
        if quote:
            buf.append(c)
            if c == "\\" and i + 1 < n and source[i + 1] != "\n":
                buf.append(source[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c == '"':
            quote = c
        elif c == "'":
            # A character literal: copy it whole ('a', '\n', or gas's unclosed 'a).
            m = re.match(r"'(?:\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3}|\\.|[^\\\n])'?", source[i:])
            if m:
                buf.append(m.group())
                i += len(m.group())
                continue
        elif c == "#" or source.startswith("//", i):
            while i < n and source[i] != "\n":
                i += 1
            continue
        elif source.startswith("/*", i):
            buf.append("  ")
            in_block = True
            i += 2
            continue
        buf.append(c)
        i += 1
    out.append("".join(buf))
    return out


def _split_top(tokens: list[Token], sep: str) -> list[list[Token]]:
    """Split at ``sep`` operators outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == OP and t.text == "(":
            depth += 1
        elif t.kind == OP and t.text == ")":
            depth -= 1
        if t.kind == OP and t.text == sep and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _split_statements(text: str) -> list[tuple[int, str]]:
    """(start offset, text) of each ``;``-separated piece, strings respected."""
    if ";" not in text:
        return [(0, text)]
    pieces, start, quote, i = [], 0, None, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c == '"':
            quote = c
        elif c == "'":
            m = re.match(r"'(?:\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3}|\\.|[^\\])'?", text[i:])
            if m:
                i += len(m.group())
                continue
        elif c == ";":
            pieces.append((start, text[start:i]))
            start = i + 1
        i += 1
    pieces.append((start, text[start:]))
    return pieces


def parse_statements(source: str, file: str) -> list[Statement]:
    """Every statement of ``source`` in order (empty lines give none)."""
    statements: list[Statement] = []
    original = source.split("\n")
    for number, stripped in enumerate(strip_comments(source), start=1):
        line = Line(file, number, original[number - 1].rstrip("\r"))
        for offset, piece in _split_statements(stripped):
            tokens = [Token(t.kind, t.text, t.column + offset, t.value)
                      for t in tokenize(piece, line)]
            if tokens:
                statements.append(_statement(tokens, line))
    return statements


def _statement(tokens: list[Token], line: Line) -> Statement:
    st = Statement(line)
    i = 0
    # Leading labels: ``name:`` or numeric ``1:``.
    while i + 1 < len(tokens) and tokens[i].kind in (IDENT, NUMBER) and tokens[i + 1].text == ":" \
            and tokens[i + 1].kind == OP:
        if tokens[i].kind == NUMBER and not tokens[i].text.isdigit():
            raise line.error(f"a numeric local label must be a plain decimal number, not '{tokens[i].text}'",
                             tokens[i].column)
        st.labels.append(tokens[i])
        i += 2
    rest = tokens[i:]
    if not rest:
        return st
    head = rest[0]
    if head.kind != IDENT:
        raise line.error(f"expected an instruction, directive or label, found '{head.text}'", head.column)
    # ``sym = expr`` assignment (gas), same as ``.set sym, expr``.
    if len(rest) > 1 and rest[1].kind == OP and rest[1].text == "=":
        st.name, st.assignment = head, True
        st.operands = [rest[2:]]
        if not rest[2:]:
            raise line.error(f"missing expression after '{head.text} ='", rest[1].column + 1)
        return st
    st.name = head
    if len(rest) > 1:
        st.operands = _split_top(rest[1:], ",")
        for k, op in enumerate(st.operands):
            if not op:
                col = rest[1].column if k == 0 else _comma_column(rest[1:], k)
                raise line.error("empty operand (two commas in a row, or a trailing comma)", col)
    return st


def _comma_column(tokens: list[Token], k: int) -> int:
    """Column just after the k-th top-level comma (for an empty operand)."""
    seen, depth = 0, 0
    for t in tokens:
        if t.kind == OP and t.text in "()":
            depth += 1 if t.text == "(" else -1
        if t.kind == OP and t.text == "," and depth == 0:
            seen += 1
            if seen == k:
                return t.column + 1
    return tokens[-1].column + len(tokens[-1].text)
