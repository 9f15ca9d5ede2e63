"""The load/store unit's range check (rtl/loadstore.py ``_out_of_range``: the sum's high bits
tested for zero without the address adder's carry chain) against the address it checks:
out of range exactly when ``(base + offset) mod 2**32 >= dmem_size``, on edge cases and random
operands, for DMEM sizes from the smallest to the largest the SoC builds."""
import random

import pytest
from amaranth.sim import Simulator

from fenn_dma.rtl.loadstore import LoadStore

MASK = 0xFFFFFFFF


def _cases(size: int, n: int, seed: int):
    rng = random.Random(seed)
    edges = [0, 1, 3, 4, size - 4, size - 1, size, size + 1, 2 * size, MASK, MASK - 3, 1 << 31, (1 << 31) - 1]
    out = [(b, o) for b in edges for o in edges]
    out += [(b, (t - b) & MASK) for b in edges for t in edges]            # sums right at the edges
    for _ in range(n):
        base = rng.choice((rng.getrandbits(32), rng.randrange(size), rng.randrange(2 * size)))
        offset = rng.choice((rng.getrandbits(32), rng.randrange(-2048, 2048) & MASK,
                             (rng.randrange(size + 64) - base) & MASK))
        out.append((base, offset))
    return out


@pytest.mark.parametrize("size", (64, 1024, 32 * 1024, 1 << 20))
def test_range_check_equals_the_address_compare(size):
    dut = LoadStore(size)
    cases = _cases(size, 3000, size)
    bad = []

    async def bench(ctx):
        for base, offset in cases:
            ctx.set(dut.x_base, base)
            ctx.set(dut.x_offset, offset)
            addr = (base + offset) & MASK
            assert ctx.get(dut.x_addr) == addr
            if ctx.get(dut.x_fault) != (addr >= size):
                bad.append((hex(base), hex(offset), hex(addr)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} of {len(cases)} wrong, e.g. {bad[:5]}"
    assert sum((b + o) & MASK >= size for b, o in cases) > len(cases) // 4       # both outcomes tested
