"""Vector memory (VMEM): rows of one vector (64 bytes by default), two
synchronous row ports: ``unit`` for the vector unit, ``ext`` for the DMA
and the host.

Each port is one read and one write sharing an address; the unit's writes
whole rows, the external port has byte enables (for the host's word writes).
Without an initial value (synthesis builds) this is the shape that yosys
maps to UltraScale+ URAM (two read/write ports, byte writes; `synth_xilinx
-uram`, else block RAM) or, with ``collisions`` transparent, to ECP5 DP16KD.
"""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from fenn_dma.rtl.config import TRANSPARENT_COLLISIONS

from .config import VectorConfig
from .interface import RowPortSignature


def fill_row(pattern: int, halfwords: int) -> int:
    return sum(pattern << (16 * i) for i in range(halfwords))


class VectorMemory(wiring.Component):
    def __init__(self, config: VectorConfig):
        self.config = config
        port = RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes)
        ext = RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes, byte_writes=True)
        init = [] if config.fill is None else [fill_row(config.fill, config.lanes)] * config.vmem_rows
        self.mem = Memory(shape=8 * config.row_bytes, depth=config.vmem_rows, init=init)  # public: tests read it
        super().__init__({"unit": In(port), "ext": In(ext)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        # URAM288 (yosys `synth_xilinx -uram`) constrains collisions: a port reading while it writes
        # keeps its output (so a read is dropped in a cycle its own port writes; no user does both),
        # and port A's write is seen by port B's read of the same row in that cycle (so `ext` reads
        # are transparent to `unit` writes), while B's writes are not seen by A. DP16KD leaves a
        # collision undefined, so for it the unit's read sees the ext write too (yosys' bypass).
        unit_wr = mem.write_port()
        ext_wr = mem.write_port(granularity=8)
        both = self.config.collisions == TRANSPARENT_COLLISIONS
        unit_rd = mem.read_port(transparent_for=(ext_wr,) if both else ())
        ext_rd = mem.read_port(transparent_for=(unit_wr,))
        for port, wr, rd in ((self.unit, unit_wr, unit_rd), (self.ext, ext_wr, ext_rd)):
            m.d.comb += [wr.addr.eq(port.addr), wr.en.eq(port.w_en), wr.data.eq(port.w_data),
                         rd.addr.eq(port.addr), rd.en.eq(port.r_en & ~port.w_en.any()),
                         port.r_data.eq(rd.data)]
        return m
