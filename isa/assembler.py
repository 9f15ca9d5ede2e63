"""The assembler: GNU-as style RISC-V source -> ``Program`` (memory images,
symbols, source map). See docs/assembler.md for the accepted language.

Two passes: the first reads every statement, checks its operands and gives
every label its place (all sizes are known while reading, see ``li_size``);
the second evaluates expressions with the final addresses and encodes.
"""
from __future__ import annotations

from pathlib import Path

from . import fields as F
from .asm_directives import run_directive
from .asm_expr import Expr, Unknown, Value, lo12, parse_expr
from .asm_forms import FORMS, describe
from .asm_layout import Data, Fixed, Instr, Item, NOBITS, Section, SymbolDef, layout, section_memory
from .asm_lexer import AsmError, Line, Statement, did_you_mean, parse_statements
from .asm_operands import Arg, parse_operands
from .asm_samples import operand_choices
from .codec import encode
from .program import MEMORIES, SECTION_MEMORY, Program, SourceLocation, Symbol
from .table import BY_MNEMONIC

__all__ = ["AsmError", "assemble", "assemble_file"]


def assemble(source: str, filename: str = "<input>") -> Program:
    """Assemble ``source``; raises ``AsmError`` (file:line:column) on the first error."""
    return _Assembler(filename).run(source)


def assemble_file(path: str | Path) -> Program:
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AsmError(f"cannot read {path}: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError as exc:
        raise AsmError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})", str(path)) from None
    return assemble(source, str(path))


def _signed32(n: int) -> int:
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n >> 31 else n


class _Context:
    """What an expression sees: symbols, local labels and '.', in one pass."""

    def __init__(self, asm: "_Assembler", final: bool, line: Line, index: int, dot: Value):
        self.asm, self.final, self.line, self.index, self._dot = asm, final, line, index, dot

    def dot(self) -> Value:
        return self._dot

    def _place(self, section: str, offset: int) -> Value:
        base = self.asm.sections[section].base if self.final else 0
        return Value(base + offset, section)

    def symbol(self, name: str, column: int) -> Value:
        d = self.asm.symbols.get(name)
        if d is None:
            if not self.final:
                raise Unknown(name)
            raise self.line.error(f"undefined symbol '{name}'{did_you_mean(name, self.asm.symbols)}", column)
        if d.is_label:
            return self._place(d.section, d.offset)  # type: ignore[arg-type]
        if d.value is None:
            d.value = self.asm.evaluate_equ(d, self.final)
            if d.value is None:
                raise Unknown(name)
        v = d.value
        return self._place(v.section, v.n) if v.is_address else v

    def local(self, number: int, direction: str, column: int) -> Value:
        defs = self.asm.locals.get(number, [])
        if direction == "b":
            found = [d for d in defs if d.index <= self.index]
            d = found[-1] if found else None
        else:
            d = next((d for d in defs if d.index > self.index), None)
        if d is None:
            if direction == "f" and not self.final:
                raise Unknown(f"{number}f")
            where = "before" if direction == "b" else "after"
            raise self.line.error(f"no local label '{number}:' {where} this line (for '{number}{direction}')",
                                  column)
        return self._place(d.section, d.offset)  # type: ignore[arg-type]

    def note_pcrel_hi(self, delta: int) -> None:
        self.asm.pcrel_hi[self._dot.n] = delta

    def pcrel_lo(self, label: Value, column: int) -> int:
        delta = self.asm.pcrel_hi.get(label.n)
        if delta is None:
            raise self.line.error(f"%pcrel_lo needs the label of an earlier auipc with %pcrel_hi "
                                  f"(none at 0x{label.n:x})", column)
        return lo12(delta)


class _Assembler:
    def __init__(self, filename: str):
        self.filename = filename
        self.sections: dict[str, Section] = {}
        self.symbols: dict[str, SymbolDef] = {}
        self.locals: dict[int, list[SymbolDef]] = {}
        self.globals: dict[str, tuple[Line, int]] = {}
        self.pcrel_hi: dict[int, int] = {}
        self._evaluating: set[str] = set()
        self.current: Section = self.switch(".text")
        self.index = 0
        self.done = False

    # ---- first pass ---------------------------------------------------------------------------

    def switch(self, name: str, st: Statement | None = None, column: int = 0) -> Section:
        if name not in self.sections:
            memory = section_memory(name)
            if memory is None:
                known = ", ".join(f"{k} -> {v}" for k, v in SECTION_MEMORY.items())
                assert st is not None
                raise st.error(f"unknown section '{name}': known sections (and names starting with "
                               f"them and a dot) are {known}", column)
            self.sections[name] = Section(name, memory, name in NOBITS or name.startswith(tuple(n + "." for n in NOBITS)))
        self.current = self.sections[name]
        return self.current

    def dot(self) -> Value:
        return Value(self.current.size, self.current.name)

    def context(self, st: Statement, final: bool, index: int | None = None, dot: Value | None = None) -> _Context:
        return _Context(self, final, st.line, self.index if index is None else index, dot or self.dot())

    def try_eval(self, expr: Expr, st: Statement) -> Value | None:
        try:
            return expr.eval(self.context(st, final=False))
        except Unknown:
            return None

    def const(self, expr: Expr, st: Statement, what: str) -> int:
        """A number that must be known while reading (sizes, alignments)."""
        try:
            v = expr.eval(self.context(st, final=False))
        except Unknown as exc:
            raise st.error(f"{what} must be a constant known at this point, but it uses {exc.what} "
                           f"(define it earlier)", expr.column) from None
        if v.is_address:
            raise st.error(f"{what} must be a number, not an address", expr.column)
        return v.n

    def add(self, item: Item) -> None:
        sec = self.current
        if sec.nobits and not (isinstance(item, Fixed) and not any(item.data)):
            raise item.statement.error(f"{sec.name} holds no data: only .zero/.space/.align (and labels) "
                                       f"may be used in it")
        sec.items.append(item)
        sec.size += item.size

    def align(self, st: Statement, alignment: int, fill: int | None = None, limit: int | None = None) -> None:
        sec = self.current
        pad = -sec.size % alignment
        if limit is not None and pad > limit:
            return
        sec.align = max(sec.align, alignment)
        if fill is None and sec.memory == "imem":
            # Code is padded with nops (zero bytes up to a word boundary first), as gas does.
            head = -sec.size % 4 if pad >= 4 else pad
            nops = (pad - head) // 4
            data = bytes(head) + encode("addi", rd=0, rs1=0, imm=0).to_bytes(4, "little") * nops
        else:
            data = bytes([fill or 0]) * pad
        if pad:
            self.add(Fixed(self.index, st, sec.size, pad, data))

    def define_label(self, st: Statement, token) -> None:
        if token.text.isdigit():
            d = SymbolDef(token.text, st.line, token.column, self.index, self.current.name, self.current.size)
            self.locals.setdefault(int(token.text), []).append(d)
            return
        self.define(SymbolDef(token.text, st.line, token.column, self.index, self.current.name,
                              self.current.size), st)

    def define(self, d: SymbolDef, st: Statement) -> None:
        if d.name == ".":
            raise st.error("assigning to '.' is not supported (use .space or .align to move it)", d.column)
        old = self.symbols.get(d.name)
        if old is not None:
            kind = "label" if d.is_label else "symbol"
            raise st.error(f"duplicate {kind} '{d.name}' (first defined at {old.where})", d.column)
        self.symbols[d.name] = d

    def define_equ(self, st: Statement, name_token, expr: Expr) -> None:
        d = SymbolDef(name_token.text, st.line, name_token.column, self.index, is_label=False,
                      expr=expr, dot=self.dot())
        self.define(d, st)
        d.value = self.evaluate_equ(d, final=False)

    def evaluate_equ(self, d: SymbolDef, final: bool) -> Value | None:
        """The value of a .equ symbol (section-relative if an address); None when unknown
        in the first pass."""
        if d.name in self._evaluating:
            raise d.line.error(f"symbol '{d.name}' is defined in terms of itself", d.column)
        self._evaluating.add(d.name)
        try:
            ctx = _Context(self, final, d.line, d.index, self._at(d.dot, final))  # type: ignore[arg-type]
            v = d.expr.eval(ctx)  # type: ignore[union-attr]
        except Unknown:
            return None
        finally:
            self._evaluating.discard(d.name)
        if v.is_address and final:
            v = Value(v.n - self.sections[v.section].base, v.section)  # type: ignore[index]
        return v

    def _at(self, v: Value, final: bool) -> Value:
        return Value(self.sections[v.section].base + v.n, v.section) if final else v  # type: ignore[index]

    def instruction(self, st: Statement) -> None:
        assert st.name is not None
        mnemonic = st.name.text.lower()
        forms = FORMS.get(mnemonic)
        if forms is None:
            raise st.error(f"unknown instruction '{st.name.text}'{did_you_mean(mnemonic, FORMS)}")
        form = next((f for f in forms if f.count == len(st.operands)), None)
        if form is None:
            n = len(st.operands)
            raise st.error(f"wrong number of operands for '{mnemonic}': expected {describe(forms)}, "
                           f"got {n}")
        args = parse_operands(st, form.syntax, form.kinds, mnemonic)
        sec = self.current
        if sec.memory != "imem":
            raise st.error(f"instruction '{mnemonic}' in section {sec.name}, which is placed in "
                           f"{sec.memory.upper()}: code must be in .text (IMEM)")
        if sec.size % 4:
            raise st.error(f"instruction '{mnemonic}' is not 4-byte aligned (offset 0x{sec.size:x} of "
                           f"{sec.name}); put '.align 2' before it")
        size = form.size if isinstance(form.size, int) else form.size(args, lambda a: self.try_eval(a.expr, st))
        sec.align = max(sec.align, 4)
        self.add(Instr(self.index, st, sec.size, size, form=form, args=args))

    def first_pass(self, statements: list[Statement]) -> None:
        for self.index, st in enumerate(statements):
            for label in st.labels:
                self.define_label(st, label)
            if st.name is None:
                continue
            if st.assignment:
                self.define_equ(st, st.name, parse_expr(st.operands[0], st.line))
            elif st.name.text.startswith("."):
                run_directive(self, st)
            else:
                self.instruction(st)
            if self.done:
                break

    # ---- second pass --------------------------------------------------------------------------

    def evaluate(self, expr: Expr, item: Item, sec: Section, dot: int) -> Value:
        return expr.eval(_Context(self, True, item.statement.line, item.index, Value(dot, sec.name)))

    def emit_data(self, item: Data, sec: Section) -> bytes:
        out = bytearray()
        bits = 8 * item.width
        lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
        for k, expr in enumerate(item.values):
            v = self.evaluate(expr, item, sec, sec.address(item.offset + k * item.width)).n
            if not lo <= v <= hi:
                raise item.statement.error(f"value {v} does not fit in {item.width} byte"
                                           f"{'s' if item.width > 1 else ''}: must be in [{lo}, {hi}]",
                                           expr.column)
            out += (v & hi).to_bytes(item.width, "little")
        return bytes(out)

    def field_value(self, item: Instr, mnemonic: str, name: str, f: Arg | int, pc: int, sec: Section) -> int:
        if isinstance(f, int):
            return f
        if f.reg is not None:
            return f.reg
        st = item.statement
        operand = BY_MNEMONIC[mnemonic].operand(name)
        what = item.form.mnemonic  # type: ignore[union-attr]
        v = self.evaluate(f.expr, item, sec, sec.address(item.offset))  # type: ignore[arg-type]
        if operand.kind == F.PCREL:
            offset = _signed32(v.n - pc)
            target = v.n & 0xFFFFFFFF
            # Odd offsets cannot be encoded; a label (not '.') must be on an instruction.
            labels = [n for n in f.expr.symbols() if n != "."]  # type: ignore[union-attr]
            if offset % 2 or (v.is_address and labels and target % 4):
                raise st.error(f"misaligned branch target 0x{target:x}: instructions are 4-byte aligned "
                               f"(offset {offset} from pc 0x{pc:x})", f.column)
            low, high, _ = operand_choices(operand)
            if not low <= offset <= high:
                raise st.error(f"branch target 0x{target:x} out of range for '{what}': the offset {offset} "
                               f"from pc 0x{pc:x} must be in [{low}, {high}]", f.column)
            return offset
        n = v.n
        if not operand.min <= n <= operand.max:
            label = "immediate" if operand.kind in (F.IMM, F.PCREL) else operand.kind.upper()
            raise st.error(f"{label} {n} out of range for '{what}' operand {f.name}: must be in "
                           f"[{operand.min}, {operand.max}]", f.column)
        return n

    def emit_instr(self, item: Instr, sec: Section, program: Program) -> bytes:
        form = item.form
        assert form is not None
        pc = sec.address(item.offset)
        if form.mnemonic == "li":
            self._check_li(item, sec, pc)
        ev = lambda a: self.evaluate(a.expr, item, sec, pc)  # noqa: E731
        expansion = form.expand(item.args, pc, ev, item.size)
        assert 4 * len(expansion) == item.size, form.mnemonic
        out = bytearray()
        line = item.statement.line
        for k, (mnemonic, ops) in enumerate(expansion):
            ipc = pc + 4 * k
            values = {name: self.field_value(item, mnemonic, name, f, ipc, sec) for name, f in ops.items()}
            out += encode(mnemonic, **values).to_bytes(4, "little")
            program.source_map[ipc] = SourceLocation(line.file, line.number, line.text.strip())
        return bytes(out)

    def _check_li(self, item: Instr, sec: Section, pc: int) -> None:
        arg = item.args["imm"]
        v = self.evaluate(arg.expr, item, sec, pc).n  # type: ignore[arg-type]
        if not -(1 << 31) <= v < (1 << 32):
            raise item.statement.error(f"immediate {v} out of range for 'li': must be a 32-bit value in "
                                       f"[{-(1 << 31)}, {(1 << 32) - 1}]", arg.column)

    def second_pass(self) -> Program:
        program = Program()
        images = {m: bytearray() for m in MEMORIES}
        for sec in self.sections.values():
            image = images[sec.memory]
            image.extend(bytes(sec.base - len(image)))
            for item in sec.items:
                if isinstance(item, Fixed):
                    image += item.data
                elif isinstance(item, Data):
                    image += self.emit_data(item, sec)
                elif isinstance(item, Instr):
                    image += self.emit_instr(item, sec, program)
            assert len(image) == sec.base + sec.size, sec.name
        program.images = {m: bytes(b) for m, b in images.items() if b}
        for name, d in self.symbols.items():
            ctx = _Context(self, True, d.line, d.index, Value(0))
            v = ctx.symbol(name, d.column)
            program.symbols[name] = Symbol(name, v.n, v.section, name in self.globals)
        for name, (line, column) in self.globals.items():
            if name not in self.symbols:
                raise line.error(f".globl names '{name}', which is never defined", column)
        start = program.symbols.get("_start")
        program.entry = start.value if start is not None and start.section is not None \
            and self.sections[start.section].memory == "imem" else 0
        return program

    def run(self, source: str) -> Program:
        statements = parse_statements(source, self.filename)
        self.first_pass(statements)
        layout(self.sections)
        return self.second_pass()

