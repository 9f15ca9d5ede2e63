"""Instruction emission: a code builder with labels, kernel regions and a listing,
a load-use slot filler, and register pools that fail with a clear error.

Instructions are written positionally in assembler order (``b.op("vadd_s",
"v3", "v1", "v2")``), encoded with ``fenn_dma.isa.codec.encode`` and printed as
assembly text that the project's assembler reads back to the same words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from fenn_dma.isa import fields as F
from fenn_dma.isa.asm_forms import li_expansion
from fenn_dma.isa.codec import encode
from fenn_dma.isa.registers import SCALAR_REGS, VECTOR_REGS, scalar_name
from fenn_dma.isa.table import BY_MNEMONIC, LOAD_USE_OPS, SPECS, InstrSpec, Kind, ops_of

from .errors import ResourceError

BRANCH_OPS = ops_of(Kind.BRANCH, Kind.JUMP)
SCALAR_LOADS = ops_of(Kind.LOAD)
MEM_EFFECT = {s.op: (s.memory, s.is_store) for s in SPECS if s.memory}  # op -> (memory, is_store)
BARRIER_OPS = ops_of(Kind.SYSTEM, Kind.CSR, Kind.FENCE)
_SYNTAX_NAMES = re.compile(r"[a-z0-9]+")


@dataclass
class Item:
    spec: InstrSpec
    values: dict[str, int | str]      # operand name -> value (a label name for pc-relative ones)
    comment: str = ""
    region: str = ""
    labels: list[str] = field(default_factory=list)   # labels placed before this instruction

    @property
    def op(self) -> str:
        return self.spec.op

    def uses_rng(self) -> bool:
        return self.spec.uses_rng

    def reads(self) -> set[str]:
        r = {f"v{self.values[_name(self.spec, s)]}" for s in self.spec.vector_sources()}
        r |= {f"x{self.values[_name(self.spec, s)]}" for s in self.spec.scalar_sources()}
        r.discard("x0")
        return r

    def writes(self) -> set[str]:
        w = set()
        if self.spec.vector_dest():
            w.add(f"v{self.values['rd']}")
        if self.spec.scalar_dest() and self.values["rd"] != 0:
            w.add(f"x{self.values['rd']}")
        return w

    def text(self) -> str:
        parts = self.spec.syntax
        out = parts
        for name in _SYNTAX_NAMES.findall(parts):
            operand = self.spec.operand(name)
            v = self.values[name]
            if operand.kind == F.VREG:
                s = f"v{v}"
            elif operand.kind == F.XREG:
                s = scalar_name(int(v))
            else:
                s = str(v)
            out = re.sub(rf"\b{name}\b", s, out, count=1)
        return f"{self.spec.mnemonic} {out}".strip()


def _name(spec: InstrSpec, slot: str) -> str:
    for o in spec.operands:
        if o.slot == slot:
            return o.name
    raise KeyError(slot)


def _reg(kind: str, value) -> int:
    if isinstance(value, int):
        return value
    table = VECTOR_REGS if kind == F.VREG else SCALAR_REGS
    if value not in table:
        raise ResourceError(f"internal: {value!r} is not a {'vector' if kind == F.VREG else 'scalar'} register")
    return table[value]


class Builder:
    def __init__(self):
        self.items: list[Item] = []
        self._pending_labels: list[str] = []
        self.region = ""
        self._label_count = 0

    def new_label(self, hint: str) -> str:
        self._label_count += 1
        return f".L{hint}_{self._label_count}"

    def label(self, name: str) -> None:
        self._pending_labels.append(name)

    def op(self, mnemonic: str, *args, comment: str = "") -> None:
        spec = BY_MNEMONIC[mnemonic]
        names = _SYNTAX_NAMES.findall(spec.syntax)
        if len(args) != len(names):
            raise ValueError(f"{mnemonic} takes {names}, got {args}")
        values: dict[str, int | str] = {}
        for name, a in zip(names, args):
            kind = spec.operand(name).kind
            if kind in (F.VREG, F.XREG):
                values[name] = _reg(kind, a)
            elif kind == F.PCREL:
                values[name] = a if isinstance(a, str) else int(a)
            else:
                values[name] = int(a)
        self.items.append(Item(spec, values, comment, self.region, self._pending_labels))
        self._pending_labels = []

    def li(self, rd, value: int, comment: str = "") -> None:
        """Load a 32-bit constant: the assembler's ``li`` (addi, lui, or lui + addi)."""
        for k, (mnemonic, ops) in enumerate(li_expansion(rd, value)):
            self.op(mnemonic, *ops.values(), comment=comment if k == 0 else "")

    def add_const(self, rd, rs, value: int, tmp) -> None:
        """rd = rs + value, through ``tmp`` when value does not fit 12 bits."""
        if -2048 <= value < 2048:
            if value or rd != rs:
                self.op("addi", rd, rs, value)
        else:
            self.li(tmp, value)
            self.op("add", rd, rs, tmp)

    def finish(self) -> None:
        if self._pending_labels:
            self.op("addi", "zero", "zero", 0, comment="end")


# --- load-use slot filling ---------------------------------------------------

def _is_boundary(item: Item) -> bool:
    return item.op in BRANCH_OPS or item.op in BARRIER_OPS


def _independent(a: Item, b: Item) -> bool:
    """True when a and b can swap places."""
    ra, wa, rb, wb = a.reads(), a.writes(), b.reads(), b.writes()
    if wa & (rb | wb) or wb & ra:
        return False
    ma, mb = MEM_EFFECT.get(a.op), MEM_EFFECT.get(b.op)
    if ma and mb and ma[0] == mb[0] and (ma[1] or mb[1]):
        return False
    if a.uses_rng() and b.uses_rng():
        return False
    return True


def _hazard(load: Item, nxt: Item) -> bool:
    if load.op in LOAD_USE_OPS:
        return f"v{load.values['rd']}" in nxt.reads()
    if load.op in SCALAR_LOADS and load.values["rd"] != 0:
        return f"x{load.values['rd']}" in nxt.reads()
    return False


def fill_load_use_slots(items: list[Item]) -> tuple[list[Item], int, int]:
    """Move independent later instructions (of the same basic block) into the
    slot after every load whose result the next instruction reads; insert a
    ``nop`` where none exists for a vector load (required by isa.md section 6;
    a scalar load only costs a stall cycle). Returns (items, filled, nops)."""
    out = list(items)
    filled = nops = 0
    i = 0
    while i < len(out) - 1:
        ld, nxt = out[i], out[i + 1]
        if not (ld.op in LOAD_USE_OPS or ld.op in SCALAR_LOADS) or _is_boundary(ld) or not _hazard(ld, nxt):
            i += 1
            continue
        moved = False
        for k in range(i + 2, min(len(out), i + 24)):
            cand = out[k]
            if cand.labels or _is_boundary(cand):
                break
            if _hazard(ld, cand) or not _independent(ld, cand):
                continue
            if all(_independent(out[m], cand) for m in range(i + 1, k)):
                # the candidate must not itself be a load feeding the instruction after it
                if cand.op in LOAD_USE_OPS and _hazard(cand, nxt):
                    continue
                out.insert(i + 1, out.pop(k))
                if out[i + 1].labels:
                    raise AssertionError("moved a labelled instruction")
                filled += 1
                moved = True
                break
        if not moved and ld.op in LOAD_USE_OPS:
            nop = Item(BY_MNEMONIC["addi"], {"rd": 0, "rs1": 0, "imm": 0}, "load-use slot", ld.region)
            out.insert(i + 1, nop)
            nops += 1
        i += 1
    return out, filled, nops


# --- assembling ----------------------------------------------------------------

@dataclass
class Assembled:
    words: list[int]
    listing: str
    regions: dict[str, list[tuple[int, int]]]     # kernel -> [start, end) byte ranges
    labels: dict[str, int]
    pc_region: list[str]                          # per instruction index
    filled_slots: int = 0
    nops: int = 0


def assemble_items(items: list[Item], filled: int = 0, nops: int = 0) -> Assembled:
    labels: dict[str, int] = {}
    for i, it in enumerate(items):
        for lab in it.labels:
            labels[lab] = 4 * i
    words, lines, pc_region = [], [], []
    regions: dict[str, list[tuple[int, int]]] = {}
    current = None
    for i, it in enumerate(items):
        pc = 4 * i
        vals = dict(it.values)
        for o in it.spec.operands:
            if o.kind == F.PCREL and isinstance(vals[o.name], str):
                target = vals[o.name]
                if target not in labels:
                    raise ResourceError(f"internal: undefined label {target}")
                vals[o.name] = labels[target] - pc
        words.append(encode(it.spec, **vals))
        if it.region != current:
            lines.append(f"\n# ---- {it.region} ----")
            current = it.region
            regions.setdefault(it.region, []).append((pc, pc))
        start, _ = regions[it.region][-1]
        regions[it.region][-1] = (start, pc + 4)
        pc_region.append(it.region)
        for lab in it.labels:
            lines.append(f"{lab}:")
        text = it.text()
        lines.append(f"    {text:<36}# {pc:05x}" + (f"  {it.comment}" if it.comment else ""))
    return Assembled(words, "\n".join(lines).lstrip() + "\n", regions, labels, pc_region, filled, nops)


# --- registers -----------------------------------------------------------------

class RegisterPool:
    """Named allocation of vector or scalar registers; running out is an error
    that says who holds them."""

    def __init__(self, kind: str, free: list[int]):
        self.kind = kind
        self.free = list(free)
        self.owner: dict[int, str] = {}

    def get(self, owner: str) -> str:
        if not self.free:
            held = ", ".join(f"{self._name(r)}={o}" for r, o in sorted(self.owner.items()))
            raise ResourceError(f"out of {self.kind} registers allocating {owner!r}; held: {held}")
        r = self.free.pop(0)
        self.owner[r] = owner
        return self._name(r)

    def take(self, name: str, owner: str) -> str:
        """Allocate this very register (it must be free), e.g. to restore a spilled value."""
        r = int(name[1:]) if self.kind == "vector" else SCALAR_REGS[name]
        if r not in self.free:
            raise ResourceError(f"internal: {name} is held by {self.owner.get(r)!r}, cannot take it for {owner!r}")
        self.free.remove(r)
        self.owner[r] = owner
        return name

    def put(self, *names: str) -> None:
        for name in names:
            r = int(name[1:]) if self.kind == "vector" else SCALAR_REGS[name]
            del self.owner[r]
            self.free.insert(0, r)

    def _name(self, r: int) -> str:
        return f"v{r}" if self.kind == "vector" else scalar_name(r)

    @property
    def available(self) -> int:
        return len(self.free)
