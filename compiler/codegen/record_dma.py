"""V records in DRAM: the S2MM channel copies each step's record rows out of VMEM.

A DRAM record (``RecordWindow.dram``, chosen by ``CompileOptions.record_memory``)
keeps two VMEM slots of one step each. The update writes the step's rows into the
slot its record pointer is at; then the firmware waits until S2MM is idle (the
previous step's copy, from the other slot, is done), starts S2MM on this slot to
the DRAM address in the record's pointer word, advances that word and moves the
record pointer to the other slot. The next step overwrites nothing S2MM still
reads. Before ``ecall`` the firmware waits for the last copy, so the host reads a
whole window from DRAM (``control.emit_exit``; the pointer words are set at each call's
start, ``control.emit_run_preamble``). A failed copy stops the firmware with ``ebreak`` through
the S2MM error exit (codegen/control.py), which the runtime reports by record.
"""
from __future__ import annotations

from fenn_dma.isa import csrs

from .control import ProgramRegisters, wait_s2mm
from .emitter import Emitter
from .layout import ProgramLayout


def emit_copy_out(em: Emitter, layout: ProgramLayout, regs: ProgramRegisters, population: str) -> None:
    """After ``population``'s update: start S2MM on the slot its V record just filled and
    point the record at the other slot (no code for a record in VMEM)."""
    rec = layout.record(population, "v")
    if rec is None or rec.dram is None:
        return
    em.region = "record"
    ptr = regs.record_ptr(population, "v")
    nbytes = rec.dram.size // layout.window            # the recorded rows of a step
    base, slot = rec.region.offset, rec.slot
    wait_s2mm(em)
    with em.scope() as s:
        start, t, word = s.x("slot"), s.x("tmp"), s.x("pointer word")
        em.addi(start, ptr, -nbytes)
        em.op("csrrw", "zero", csrs.S2MM_SRC_ADDR, start, comment=f"{rec.key}: this step's rows")
        em.li(word, rec.dram_ptr.offset)
        em.op("lw", t, 0, word)
        em.op("csrrw", "zero", csrs.S2MM_DST_ADDR, t)
        em.addi(t, t, nbytes)
        em.op("sw", t, 0, word)
        em.li(t, nbytes)
        em.op("csrrw", "zero", csrs.S2MM_COUNT, t)
        em.op("csrrwi", "zero", csrs.S2MM_CONTROL, 1, comment="start the copy to DRAM")
        # the other slot: base + slot - (start - base)
        em.li(t, 2 * base + slot)
        em.op("sub", ptr, t, start)
