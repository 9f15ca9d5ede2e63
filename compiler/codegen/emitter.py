"""The emitter: the instruction builder (compiler/emit.py) with the two register
pools, scoped temporaries and cached constants.

Every register the code generator uses comes from a :class:`Scope`; a scope
frees its registers when it closes, in the order they were taken (the pools
hand out the most recently freed register first, so that order is part of the
produced code)::

    with em.scope() as t:
        row = t.x("row")                  # a scalar register
        w = t.v("weight")                 # a vector register
        em.op("vloadv", w, 0, row)
    # row and w are free again

Registers that live for the whole program (the step counter, the zero vector,
record pointers) come from ``em.program``, a scope that is never closed.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from ..emit import Builder, Item, RegisterPool

# scalar temporaries and argument registers first, so listings read naturally
SCALAR_ORDER = [5, 6, 7, 28, 29, 30, 31] + list(range(10, 18)) + [8, 9] + list(range(18, 28)) + [1, 3, 4, 2]


class Scope:
    """Registers taken for one piece of code; :meth:`close` (or leaving the
    ``with`` block of :meth:`Emitter.scope`) frees them in the order taken."""

    def __init__(self, em: "Emitter"):
        self.em = em
        self._x: list[str] = []
        self._v: list[str] = []

    def x(self, owner: str) -> str:
        """A scalar register held by ``owner`` (named in the out-of-registers error)."""
        r = self.em.xpool.get(owner)
        self._x.append(r)
        return r

    def v(self, owner: str) -> str:
        """A vector register held by ``owner``."""
        r = self.em.vpool.get(owner)
        self._v.append(r)
        return r

    def close(self) -> None:
        self.em.xpool.put(*self._x)
        self.em.vpool.put(*self._v)
        self._x, self._v = [], []


class Constants:
    """Constant registers of a scope, one per key, emitted on first use."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.x_regs: dict[object, str] = {}
        self.v_regs: dict[object, str] = {}

    def x(self, key, owner: str, value: int) -> str:
        """A scalar register holding ``value`` (``li``)."""
        if key not in self.x_regs:
            self.x_regs[key] = self.scope.x(owner)
            self.scope.em.li(self.x_regs[key], value)
        return self.x_regs[key]

    def v(self, key, owner: str, emit: Callable[[str], None]) -> str:
        """A vector register set by ``emit(register)``."""
        if key not in self.v_regs:
            self.v_regs[key] = self.scope.v(owner)
            emit(self.v_regs[key])
        return self.v_regs[key]


class Emitter:
    def __init__(self):
        self.b = Builder()
        self.vpool = RegisterPool("vector", list(range(32)))
        self.xpool = RegisterPool("scalar", SCALAR_ORDER)
        self.program = Scope(self)        # registers live for the whole program

    # --- instructions
    @property
    def region(self) -> str:
        return self.b.region

    @region.setter
    def region(self, name: str) -> None:
        """The kernel the following instructions belong to (listing, profile)."""
        self.b.region = name

    def op(self, mnemonic: str, *args, comment: str = "") -> None:
        """One instruction, operands in assembler order (registers by name)."""
        self.b.op(mnemonic, *args, comment=comment)

    def li(self, rd: str, value: int, comment: str = "") -> None:
        self.b.li(rd, value, comment)

    def label(self, name: str) -> None:
        self.b.label(name)

    def new_label(self, hint: str) -> str:
        return self.b.new_label(hint)

    def finish(self) -> list[Item]:
        """The program's instructions (a trailing label gets a nop to stand on)."""
        self.b.finish()
        return self.b.items

    def addi(self, rd: str, rs: str, value: int) -> None:
        """rd = rs + value for any 32-bit value (through a temporary beyond 12 bits)."""
        if -2048 <= value < 2048:
            self.b.op("addi", rd, rs, value)
            return
        with self.scope() as t:
            self.b.add_const(rd, rs, value, t.x("constant"))

    # --- registers
    @contextmanager
    def scope(self) -> Iterator[Scope]:
        s = Scope(self)
        yield s
        s.close()           # (not on an error: the compilation stops there)

    @property
    def scalars_free(self) -> int:
        return self.xpool.available

    @contextmanager
    def lent(self, held: list[tuple[str, str]]) -> Iterator[None]:
        """Free the held scalar registers ``[(owner, register)]`` for the block
        (their values saved elsewhere) and take the same registers back after."""
        for _, reg in held:
            self.xpool.put(reg)
        yield
        for owner, reg in held:
            self.xpool.take(reg, owner)
