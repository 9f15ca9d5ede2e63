"""Cycle model of the planned RTL pipeline, shared by both ISS engines.

The core is a short in-order pipeline that retires one instruction per cycle
with full forwarding. The model charges every retired instruction one cycle
plus:

- ``taken_branch_penalty`` for a taken conditional branch (resolved in
  execute: the younger instructions already fetched are flushed);
- ``jump_penalty`` for ``jal`` and ``jalr`` (same flush);
- ``load_use_stall`` for an instruction that reads, as a scalar source, the
  register written by an immediately preceding scalar load (the loaded value
  arrives one cycle too late for execute);
- ``mul_extra`` / ``div_extra`` for multi-cycle ``mul*`` / ``div*``, ``rem*``.

A core built with extra fetch stages (``MachineSpec.fetch_extra``: the
instruction RAM's output registered, the ECP5 profiles) fills one cycle later
and loses one more fetched instruction on every taken branch and jump:
``CycleModel.of_pipeline(fetch_extra=n)`` adds ``n`` to ``pipeline_fill``,
``taken_branch_penalty`` and ``jump_penalty``; ``fetch_extra`` reads it back.

Vector instructions issue one per cycle and never stall: their load-use slot
is enforced statically (docs/isa.md section 6, the ISS's RAW-hazard stop), so the
compiler fills it. ``pipeline_fill`` cycles pass before the first instruction
retires; the machine's cycle counter starts at that value at reset.

The predicted ``cycles`` of a run are therefore
``pipeline_fill + sum(cost of every retired instruction)``; the stopping
instruction (ecall, ebreak, an exception) is not charged. ``mcycle`` counts the
same per-instruction costs while ``mcountinhibit`` bit 0 is clear. The RTL is
the ground truth: the defaults are calibrated against it (rtl/core.py).
"""
from __future__ import annotations

from collections import namedtuple

from fenn_dma.isa.table import Kind, ops_of

JUMP_OPS = ops_of(Kind.JUMP)
BRANCH_OPS = ops_of(Kind.BRANCH)
SCALAR_LOAD_OPS = ops_of(Kind.LOAD)
MUL_OPS = ops_of(Kind.MUL)
DIV_OPS = ops_of(Kind.DIV)


# The defaults, calibrated against the RTL (rtl/core.py, tests/rtl): fetch/decode fill 2 cycles
# and the stopping instruction's execute cycle 1; branches resolve in execute and redirect the
# fetch address in the same cycle, flushing only decode.
_DEFAULTS = {"pipeline_fill": 3, "taken_branch_penalty": 1, "jump_penalty": 1, "load_use_stall": 1,
             "mul_extra": 0, "div_extra": 0}


class CycleModel(namedtuple("CycleModel", _DEFAULTS, defaults=tuple(_DEFAULTS.values()))):
    """The model's parameters in cycles (an immutable record: a named tuple, so that the ISS
    starts without the dataclasses module)."""

    __slots__ = ()
    pipeline_fill: int
    taken_branch_penalty: int
    jump_penalty: int
    load_use_stall: int
    mul_extra: int
    div_extra: int

    def __new__(cls, *args, **kwargs) -> "CycleModel":
        self = super().__new__(cls, *args, **kwargs)
        for name, value in zip(self._fields, self):
            if int(value) < 0:
                raise ValueError(f"CycleModel.{name} must be >= 0")
        return self

    @classmethod
    def of_pipeline(cls, fetch_extra: int = 0, mul_extra: int = 0) -> "CycleModel":
        """The model of the core built with ``fetch_extra`` extra fetch stages and a
        ``1 + mul_extra``-cycle multiply (MachineSpec.fetch_extra, mul_extra)."""
        if fetch_extra < 0:
            raise ValueError("CycleModel.of_pipeline: fetch_extra must be >= 0")
        return cls(pipeline_fill=_DEFAULTS["pipeline_fill"] + fetch_extra,
                   taken_branch_penalty=_DEFAULTS["taken_branch_penalty"] + fetch_extra,
                   jump_penalty=_DEFAULTS["jump_penalty"] + fetch_extra, mul_extra=mul_extra)

    @property
    def fetch_extra(self) -> int:
        """The extra fetch stages of the core this model describes: ``n`` where the fill and
        both redirect penalties are the defaults plus ``n`` (``of_pipeline``), else 0 (a model
        of no core's pipeline, e.g. a cost experiment)."""
        n = self.pipeline_fill - _DEFAULTS["pipeline_fill"]
        if (n > 0 and self.taken_branch_penalty == _DEFAULTS["taken_branch_penalty"] + n
                and self.jump_penalty == _DEFAULTS["jump_penalty"] + n):
            return n
        return 0

    def cost(self, op: str, *, taken: bool, load_use: bool) -> int:
        """Cycles charged to one retired instruction of semantic op ``op``;
        ``taken``: a conditional branch that was taken; ``load_use``: it reads
        the register loaded by the previous (scalar load) instruction."""
        c = 1
        if load_use:
            c += self.load_use_stall
        if op in JUMP_OPS:
            c += self.jump_penalty
        elif taken:
            c += self.taken_branch_penalty
        if op in MUL_OPS:
            c += self.mul_extra
        elif op in DIV_OPS:
            c += self.div_extra
        return c

    def as_params(self) -> tuple[int, ...]:
        """The parameters as plain numbers, in field order (for the C engine)."""
        return tuple(int(v) for v in self)

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        return cls._fields
