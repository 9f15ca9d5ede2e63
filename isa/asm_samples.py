"""Operand values for every instruction of the table: random ones (for
property tests and random instruction streams) and the boundary ones (each
operand at its minimum, maximum and zero)."""
from __future__ import annotations

from .fields import Operand
from .table import InstrSpec

TYPE_CHECKING = False      # the assembler imports this module: no typing or random at start-up
if TYPE_CHECKING:
    import random


def operand_choices(o: Operand) -> tuple[int, int, int]:
    """(low, high, step) of the values an operand takes."""
    step = o.field.align
    low = -(-o.min // step) * step
    return low, o.max // step * step, step


def random_operands(spec: InstrSpec, rng: random.Random) -> dict[str, int]:
    values = {}
    for o in spec.operands:
        low, high, step = operand_choices(o)
        values[o.name] = rng.randrange(low, high + 1, step)
    return values


def boundary_operands(spec: InstrSpec) -> list[dict[str, int]]:
    """Every operand at its minimum, then its maximum, then zero (others at
    their minimum), so each field's extreme bits are exercised."""
    lows = {o.name: operand_choices(o)[0] for o in spec.operands}
    cases = [dict(lows)]
    for o in spec.operands:
        low, high, _ = operand_choices(o)
        for v in {high, 0 if low <= 0 <= high else low}:
            cases.append({**lows, o.name: v})
    return cases
