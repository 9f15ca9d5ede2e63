"""Every form a mnemonic can take: the instructions of the table and the
pseudo-instructions of GNU as, each with its operand syntax, its size and its
expansion into table instructions.

A mnemonic may have several forms told apart by their operand count (``jal
label`` / ``jal rd, label``, ``jalr rs`` / ``jalr rd, imm(rs1)``, ``fence`` /
``fence pred, succ``).
"""
from __future__ import annotations

from . import fields as F
from .asm_expr import Value, hi20, lo12
from .csrs import MCYCLE, MCYCLEH, MINSTRET, MINSTRETH
from .asm_operands import Arg, syntax_parts
from .table import SPECS

# What an expansion hands to the encoder per operand: a parsed operand (evaluated
# there; a pc-relative one becomes target minus the instruction's own pc) or a
# ready field value.
TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Union

    Field = Union[Arg, int]
    Expansion = list[tuple[str, dict[str, Field]]]
    Evaluate = Callable[[Arg], Value]              # second pass: never fails to know
    TryEvaluate = Callable[[Arg], "Value | None"]  # first pass: None when not known yet

ZERO, RA, T1 = 0, 1, 6


class Form:
    """One form of a mnemonic: ``expand(args, pc, evaluate, size)`` gives its table instructions;
    ``size``: bytes, or ``size(args, try_evaluate)``. A plain class (not a dataclass: the
    assembler starts without the dataclasses module)."""

    __slots__ = ("mnemonic", "syntax", "kinds", "expand", "size", "pseudo")

    def __init__(self, mnemonic: str, syntax: str, kinds: dict[str, str],
                 expand: Callable[[dict[str, Arg], int, Evaluate, int], Expansion],
                 size: Union[int, Callable[[dict[str, Arg], TryEvaluate], int]] = 4, pseudo: bool = True):
        self.mnemonic, self.syntax, self.kinds, self.expand, self.size, self.pseudo = (
            mnemonic, syntax, kinds, expand, size, pseudo)

    @property
    def count(self) -> int:
        return len(syntax_parts(self.syntax))


def _real(spec) -> Form:
    kinds = {o.name: o.kind for o in spec.operands}
    names = [o.name for o in spec.operands]
    return Form(spec.mnemonic, spec.syntax, kinds,
                lambda a, pc, ev, size, m=spec.mnemonic, n=tuple(names): [(m, {k: a[k] for k in n})],
                pseudo=False)


def _alias(mnemonic: str, syntax: str, kinds: str, target: str, **fixed) -> Form:
    """A one-instruction pseudo: ``target`` with the named operands passed on
    (``fixed`` gives the rest: an int, or the name of an operand of this form)."""
    names = [n for part in syntax_parts(syntax) for n in part]
    kind_of = dict(zip(names, kinds.split())) if kinds else {}

    def expand(a: dict[str, Arg], pc: int, ev: Evaluate, size: int) -> Expansion:
        ops: dict[str, Field] = {}
        for field_name, src in fixed.items():
            ops[field_name] = a[src] if isinstance(src, str) else src
        return [(target, ops)]
    return Form(mnemonic, syntax, kind_of, expand)


X, V_, I, P, C = F.XREG, F.VREG, F.IMM, F.PCREL, F.CSR


def _signed32(n: int) -> int:
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n >> 31 else n


def li_size(value: Value | None) -> int:
    """gas's choice: addi alone when the value fits 12 bits, lui alone when its
    low 12 bits are zero, else lui+addi. A value not known when the line is
    read (a label, a later symbol) always takes lui+addi."""
    if value is None or value.is_address:
        return 8
    s = _signed32(value.n)
    return 4 if -2048 <= s < 2048 or s & 0xFFF == 0 else 8


def _lui_addi(rd, s: int) -> list[tuple[str, dict]]:
    return [("lui", {"rd": rd, "imm": hi20(s)}), ("addi", {"rd": rd, "rs1": rd, "imm": lo12(s)})]


def li_expansion(rd, value: int) -> list[tuple[str, dict]]:
    """The instructions ``li rd, value`` assembles to for a known constant
    (the choice of ``li_size``), as (mnemonic, operands in syntax order).
    ``rd`` is passed through as given (a number, or a register name for a
    caller that maps names itself). The one ``li`` expansion of the project:
    the compiler's builder and the test generators use it too."""
    s = _signed32(value)
    if -2048 <= s < 2048:
        return [("addi", {"rd": rd, "rs1": ZERO, "imm": s})]
    if s & 0xFFF == 0:
        return [("lui", {"rd": rd, "imm": (s >> 12) & 0xFFFFF})]
    return _lui_addi(rd, s)


def li_words(rd: int, value: int) -> list[int]:
    """The encoded words of ``li rd, value`` (``li_expansion``)."""
    from .codec import encode
    return [encode(mnemonic, **ops) for mnemonic, ops in li_expansion(rd, value)]


def _li(a: dict[str, Arg], pc: int, ev: Evaluate, size: int) -> Expansion:
    s = _signed32(ev(a["imm"]).n)
    rd = a["rd"].reg
    # A value not known on the first pass was given 8 bytes: always the pair then.
    return li_expansion(rd, s) if size == 4 else _lui_addi(rd, s)


def _pcrel_pair(rd: int, second: str, second_ops: dict[str, Field], target: Value, pc: int) -> Expansion:
    delta = _signed32(target.n - pc)
    return [("auipc", {"rd": rd, "imm": hi20(delta)}), (second, {**second_ops, "imm": lo12(delta)})]


def _la(a: dict[str, Arg], pc: int, ev: Evaluate, size: int) -> Expansion:
    rd = a["rd"].reg
    return _pcrel_pair(rd, "addi", {"rd": rd, "rs1": rd}, ev(a["sym"]), pc)


def _call(a: dict[str, Arg], pc: int, ev: Evaluate, size: int, via: int | None = None,
          link: int = RA) -> Expansion:
    rd = a["rd"].reg if "rd" in a else link
    tmp = rd if via is None else via
    return _pcrel_pair(tmp, "jalr", {"rd": rd, "rs1": tmp}, ev(a["sym"]), pc)


def _pseudo_forms() -> list[Form]:
    return [
        Form("li", "rd, imm", {"rd": X, "imm": I}, _li, size=lambda a, tev: li_size(tev(a["imm"]))),
        Form("la", "rd, sym", {"rd": X, "sym": I}, _la, size=8),
        Form("lla", "rd, sym", {"rd": X, "sym": I}, _la, size=8),
        Form("call", "sym", {"sym": I}, _call, size=8),
        Form("call", "rd, sym", {"rd": X, "sym": I}, _call, size=8),
        Form("tail", "sym", {"sym": I}, lambda a, pc, ev, size: _call(a, pc, ev, size, via=T1, link=ZERO), size=8),
        _alias("nop", "", "", "addi", rd=ZERO, rs1=ZERO, imm=0),
        _alias("mv", "rd, rs", "x x", "addi", rd="rd", rs1="rs", imm=0),
        _alias("not", "rd, rs", "x x", "xori", rd="rd", rs1="rs", imm=-1),
        _alias("neg", "rd, rs", "x x", "sub", rd="rd", rs1=ZERO, rs2="rs"),
        _alias("seqz", "rd, rs", "x x", "sltiu", rd="rd", rs1="rs", imm=1),
        _alias("snez", "rd, rs", "x x", "sltu", rd="rd", rs1=ZERO, rs2="rs"),
        _alias("sltz", "rd, rs", "x x", "slt", rd="rd", rs1="rs", rs2=ZERO),
        _alias("sgtz", "rd, rs", "x x", "slt", rd="rd", rs1=ZERO, rs2="rs"),
        _alias("j", "target", "pcrel", "jal", rd=ZERO, imm="target"),
        _alias("jal", "target", "pcrel", "jal", rd=RA, imm="target"),
        _alias("jr", "rs", "x", "jalr", rd=ZERO, rs1="rs", imm=0),
        _alias("jalr", "rs", "x", "jalr", rd=RA, rs1="rs", imm=0),
        _alias("jalr", "rd, rs, imm", "x x imm", "jalr", rd="rd", rs1="rs", imm="imm"),
        _alias("ret", "", "", "jalr", rd=ZERO, rs1=RA, imm=0),
        _alias("fence", "", "", "fence", pred=0b1111, succ=0b1111),
        _alias("beqz", "rs, target", "x pcrel", "beq", rs1="rs", rs2=ZERO, imm="target"),
        _alias("bnez", "rs, target", "x pcrel", "bne", rs1="rs", rs2=ZERO, imm="target"),
        _alias("blez", "rs, target", "x pcrel", "bge", rs1=ZERO, rs2="rs", imm="target"),
        _alias("bgez", "rs, target", "x pcrel", "bge", rs1="rs", rs2=ZERO, imm="target"),
        _alias("bltz", "rs, target", "x pcrel", "blt", rs1="rs", rs2=ZERO, imm="target"),
        _alias("bgtz", "rs, target", "x pcrel", "blt", rs1=ZERO, rs2="rs", imm="target"),
        _alias("bgt", "rs, rt, target", "x x pcrel", "blt", rs1="rt", rs2="rs", imm="target"),
        _alias("ble", "rs, rt, target", "x x pcrel", "bge", rs1="rt", rs2="rs", imm="target"),
        _alias("bgtu", "rs, rt, target", "x x pcrel", "bltu", rs1="rt", rs2="rs", imm="target"),
        _alias("bleu", "rs, rt, target", "x x pcrel", "bgeu", rs1="rt", rs2="rs", imm="target"),
        _alias("csrr", "rd, csr", "x csr", "csrrs", rd="rd", csr="csr", rs1=ZERO),
        _alias("csrw", "csr, rs", "csr x", "csrrw", rd=ZERO, csr="csr", rs1="rs"),
        _alias("csrs", "csr, rs", "csr x", "csrrs", rd=ZERO, csr="csr", rs1="rs"),
        _alias("csrc", "csr, rs", "csr x", "csrrc", rd=ZERO, csr="csr", rs1="rs"),
        _alias("csrwi", "csr, zimm", "csr imm", "csrrwi", rd=ZERO, csr="csr", zimm="zimm"),
        _alias("csrsi", "csr, zimm", "csr imm", "csrrsi", rd=ZERO, csr="csr", zimm="zimm"),
        _alias("csrci", "csr, zimm", "csr imm", "csrrci", rd=ZERO, csr="csr", zimm="zimm"),
        # FeNN-DMA has no user-level cycle/instret CSRs (0xC00/0xC02 read 0 like every
        # unlisted CSR), so these read the machine counters; GNU as would emit 0xC00/0xC02.
        _alias("rdcycle", "rd", "x", "csrrs", rd="rd", csr=MCYCLE, rs1=ZERO),
        _alias("rdinstret", "rd", "x", "csrrs", rd="rd", csr=MINSTRET, rs1=ZERO),
        _alias("rdcycleh", "rd", "x", "csrrs", rd="rd", csr=MCYCLEH, rs1=ZERO),
        _alias("rdinstreth", "rd", "x", "csrrs", rd="rd", csr=MINSTRETH, rs1=ZERO),
    ]


def _build() -> dict[str, list[Form]]:
    forms: dict[str, list[Form]] = {}
    for spec in SPECS:
        forms.setdefault(spec.mnemonic, []).append(_real(spec))
    for form in _pseudo_forms():
        forms.setdefault(form.mnemonic, []).append(form)
    for name, alternatives in forms.items():
        counts = [f.count for f in alternatives]
        assert len(counts) == len(set(counts)), f"forms of {name} share an operand count"
    return forms


FORMS: dict[str, list[Form]] = _build()


def describe(forms: list[Form]) -> str:
    """'jalr rs' or 'jalr rd, imm(rs1)' ... for operand-count messages."""
    def one(f: Form) -> str:
        n = f.count
        return f"{n} operand{'s' if n != 1 else ''} ({f.mnemonic} {f.syntax})".replace(" )", ")")
    return " or ".join(one(f) for f in sorted(forms, key=lambda f: f.count))
