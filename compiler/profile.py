"""Per-kernel instruction and cycle counts of a compiled program, from a traced
run on the reference ISS (each retired instruction is charged by the ISS's
cycle model, exactly as the ISS charges it)."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from fenn_dma.sim.cycle_model import BRANCH_OPS, SCALAR_LOAD_OPS

from .runtime import Runtime


def profile_run(program, inputs: dict[str, np.ndarray], steps: int, config=None,
                regions: list[str] | None = None):
    """Run ``steps`` steps traced; returns ({kernel: [instructions, cycles]}, the
    run's RunOutput (whose instructions / cycles are the machine's own counts))."""
    rt = Runtime(program, engine="reference", config=config)
    m = rt.machine
    model = m.config.cycle_model
    pc_region = regions if regions is not None else _regions(program)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    prev = {"ins": None, "pc": None}

    def hook(pc, ins, written):
        p = prev["ins"]
        if p is not None:
            _charge(prev["pc"], p, pc)
        prev["ins"], prev["pc"] = ins, pc
        prev.setdefault("before", None)

    last_load = {"rd": 0}

    def _charge(pc, ins, next_pc):
        taken = ins.op in BRANCH_OPS and next_pc != pc + 4
        srcs = {getattr(ins, s) for s in ins.spec.scalar_sources()}
        load_use = last_load["rd"] != 0 and last_load["rd"] in srcs
        last_load["rd"] = ins.rd if ins.op in SCALAR_LOAD_OPS else 0
        c = counts[pc_region[pc // 4]]
        c[0] += 1
        c[1] += model.cost(ins.op, taken=taken, load_use=load_use)

    # run through the runtime, but with the trace hook on the machine
    original = m.run

    def traced(max_instructions=None, engine="reference", trace=None):
        prev["ins"] = None
        last_load["rd"] = 0

        def final_hook(pc, ins, written):
            hook(pc, ins, written)
        stop = original(max_instructions, engine="reference", trace=final_hook)
        if prev["ins"] is not None:
            _charge(prev["pc"], prev["ins"], stop.pc)   # the last one before ecall
        return stop

    m.run = traced
    out = rt.run(inputs, steps)
    return dict(counts), out


def _regions(program) -> list[str]:
    """Kernel of every instruction, from the program's listing region markers."""
    regions, current = [], ""
    for line in program.listing.splitlines():
        if line.startswith("# ---- "):
            current = line[7:].rstrip(" -")
        elif line.startswith("    ") and "#" in line:
            regions.append(current)
    return regions
