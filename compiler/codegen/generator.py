"""The code generator: a quantised network -> layout, firmware, images, I/O map.
Puts the parts together in program order (see the package docstring)."""
from __future__ import annotations

from ..emit import assemble_items, fill_load_use_slots
from ..quantise import QNetwork
from . import control, record_dma
from .emitter import Emitter
from .layout import CompileOptions, plan_layout
from .packaging import Compiled, images, io_map
from .propagation import Propagation
from .update import UpdateDriver


class CodeGenerator:
    def __init__(self, qnet: QNetwork, options: CompileOptions | None = None):
        self.q = qnet
        self.opt = options or CompileOptions()

    def generate(self) -> Compiled:
        q, opt = self.q, self.opt
        layout = plan_layout(q, opt)
        em = Emitter()
        control.emit_start(em)
        control.emit_init(em, q, layout)
        regs = control.emit_run_preamble(em, q, layout, opt.sizes.dram_base)
        prop = Propagation(em, q, layout, regs, opt.unroll, opt.sizes.dram_base)
        update = UpdateDriver(em, q, layout, regs)
        for g in q.schedule.phase1:
            prop.emit_group(g)
        for name in q.schedule.order:
            for g in q.schedule.before_update[name]:
                prop.emit_group(g)
            pop = q.populations[name]
            if pop.is_input:
                control.emit_input_step(em, pop, regs)
            else:
                update.emit_update(pop)
                record_dma.emit_copy_out(em, layout, regs, name)
            if prop.streaming is not None:
                prop.streaming.prefetch_point(name)
        control.emit_step_end(em, regs)
        control.emit_exit(em, q, layout, regs)
        if layout.dma_buffers is not None or layout.delay_rings:
            control.emit_dma_error_handler(em)
        if any(r.dram is not None for r in layout.records):
            control.emit_dma_error_handler(em, "s2mm")
        items, filled, nops = fill_load_use_slots(em.finish())
        asm = assemble_items(items, filled, nops)
        layout.plan.place("imem", "code", 4 * len(asm.words), note=f"{len(asm.words)} instructions")
        layout.plan.check()
        return Compiled(q, layout.plan, asm, images(layout, asm), io_map(q, layout, opt.sizes.dram_base),
                        layout.window, opt.sizes.spec)


def compile_network(qnet: QNetwork, options: CompileOptions | None = None) -> Compiled:
    return CodeGenerator(qnet, options).generate()
