"""The generated parts of docs/isa.md, from the instruction table and its neighbours.

``python -m fenn_dma.isa.docgen`` rewrites every block of docs/isa.md between
``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` (encodings, kinds,
fields, CSR map, stop causes); ``--check`` only reports whether the file is up
to date (exit status 1 if not; tests/isa/test_isa_doc.py runs the same check).
The text around the blocks is written by hand.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import fields as F
from .causes import StopCause
from .csrs import CSRS
from .table import RV32I, SPECS, InstrSpec, Kind, ops_of

DOC = Path(__file__).resolve().parents[1] / "docs" / "isa.md"
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)

# Bit groups of the pattern column (R-type boundaries).
_GROUPS = ((31, 25), (24, 20), (19, 15), (14, 12), (11, 7), (6, 0))
_EXT_ORDER = (RV32I, "MUL", "M", "Zbb", "Zicsr", "V")


def _pattern(spec: InstrSpec) -> str:
    """The word MSB first in R-type groups: 0/1 fixed bits, '-' operand bits."""
    def bit(b: int) -> str:
        return "-" if not (spec.mask >> b) & 1 else str((spec.match >> b) & 1)
    return " ".join("".join(bit(b) for b in range(hi, lo - 1, -1)) for hi, lo in _GROUPS)


def _flags(spec: InstrSpec) -> str:
    out = []
    if spec.memory:
        out.append(f"{spec.memory} {'store' if spec.is_store else 'load'}, {spec.width} B"
                   + (" per lane" if spec.memory == "llm" else "")
                   + (", zero-extends" if spec.zero_extends else ""))
    if spec.sat:
        out.append("saturates")
    if spec.stochastic:
        out.append("stochastic rounding")
    elif spec.round:
        out.append("rounds to nearest")
    if spec.seeds_rng:
        out.append("loads the RNG state")
    elif spec.uses_rng:
        out.append("advances the RNG")
    if spec.load_use:
        out.append("load-use slot")
    if spec.reads_rd:
        out.append("reads old rd")
    return "; ".join(out)


def operands(spec: InstrSpec) -> str:
    """The assembler syntax with register operands named by their file: ``vd, vs1, xs2``."""
    def name(m: re.Match) -> str:
        o = spec.operand(m.group())
        if o.kind in (F.VREG, F.XREG):
            return o.kind + o.name[1:]
        return o.name
    return re.sub(r"[a-z][a-z0-9]*", name, spec.syntax)


def encodings() -> str:
    lines = ["| mnemonic | operands | ext | kind | encoding (31..0; `-` operand bits) | notes |",
             "|---|---|---|---|---|---|"]
    for ext in _EXT_ORDER:
        for s in SPECS:
            if s.ext == ext:
                text = f"`{operands(s)}`" if s.syntax else ""
                lines.append(f"| `{s.mnemonic}` | {text} | {s.ext} | {s.kind.value} | `{_pattern(s)}` | "
                             f"{_flags(s)} |")
    return "\n".join(lines)


def kinds() -> str:
    lines = ["| kind | semantic ops |", "|---|---|"]
    for k in Kind:
        ops = [op for op in dict.fromkeys(s.op for s in SPECS) if op in ops_of(k)]
        lines.append(f"| `{k.value}` | {', '.join(ops)} |")
    return "\n".join(lines)


def _segments(fld: F.BitField) -> str:
    parts = []
    for wlo, width, vlo in sorted(fld.segments, key=lambda s: -s[2]):
        word = f"[{wlo + width - 1}:{wlo}]" if width > 1 else f"[{wlo}]"
        value = f"[{vlo + width - 1}:{vlo}]" if width > 1 else f"[{vlo}]"
        parts.append(f"inst{word} = v{value}")
    if fld.align > 1:
        n = fld.align.bit_length() - 1
        parts.append("v[0] = 0" if n == 1 else f"v[{n - 1}:0] = 0")
    return ", ".join(parts)


_KIND_TEXT = {F.XREG: "scalar register", F.VREG: "vector register", F.IMM: "immediate",
              F.PCREL: "pc-relative offset", F.CSR: "CSR number", F.FENCE: "fence set"}


def fields() -> str:
    """Every operand field of the table (by operand name and field), in first-use order."""
    seen: dict[tuple[str, str, F.BitField], list[str]] = {}
    for s in SPECS:
        for o in s.operands:
            seen.setdefault((o.name, o.kind, o.field), []).append(s.mnemonic)
    lines = ["| operand | kind | bits | value range | used by |", "|---|---|---|---|---|"]
    for (name, kind, fld), users in seen.items():
        ops = [o for s in SPECS for o in s.operands if (o.name, o.kind, o.field) == (name, kind, fld)]
        lo, hi = min(o.min for o in ops), max(o.max for o in ops)
        shown = users if len(users) <= 6 else users[:5] + [f"... ({len(users)} in all)"]
        shown_name = kind + name[1:] if kind in (F.VREG, F.XREG) else name
        lines.append(f"| `{shown_name}` | {_KIND_TEXT[kind]} | {_segments(fld)}{' (signed)' if fld.signed else ''} "
                     f"| {lo} .. {hi} | {', '.join(shown)} |")
    return "\n".join(lines)


def csr_map() -> str:
    lines = ["| CSR | number | access | meaning |", "|---|---|---|---|"]
    for c in CSRS:
        lines.append(f"| `{c.asm_name}` | 0x{c.number:03X} | {c.access} | {c.doc} |")
    return "\n".join(lines)


def stop_causes() -> str:
    lines = ["| cause | RTL STATUS.cause | reported by |", "|---|---|---|"]
    for c in StopCause:
        who = "ISS and RTL" if c.iss and c.code is not None else ("ISS only" if c.iss else "RTL only")
        lines.append(f"| `{c.value}` | {'-' if c.code is None else c.code} | {who} |")
    return "\n".join(lines)


BLOCKS = {"encodings": encodings, "kinds": kinds, "fields": fields, "csrs": csr_map, "causes": stop_causes}


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    names = set()

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"docs/isa.md: unknown generated block {name!r}")
        names.add(name)
        return f"{m.group(1)}{BLOCKS[name]()}\n{m.group(4)}"

    out = _BLOCK.sub(sub, text)
    missing = set(BLOCKS) - names
    if missing:
        raise KeyError(f"docs/isa.md lacks the generated blocks {sorted(missing)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fenn_dma.isa.docgen", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only check that the file is up to date")
    p.add_argument("path", nargs="?", type=Path, default=DOC)
    args = p.parse_args(argv)
    text = args.path.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.path} is out of date: run python -m fenn_dma.isa.docgen", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.path.write_text(new)
        print(f"updated {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
