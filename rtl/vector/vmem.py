"""Vector memory (VMEM): rows of one vector (64 bytes by default), two
synchronous row ports: ``unit`` for the vector unit, ``ext`` for the DMA
and the host.

Each port is one read and one write sharing an address, with no byte
enables (every access is a whole row) and no initial value in synthesis
builds: the shape that yosys maps to UltraScale+ URAM (true dual port).
"""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from .config import VectorConfig
from .interface import RowPortSignature


def fill_row(pattern: int, halfwords: int) -> int:
    return sum(pattern << (16 * i) for i in range(halfwords))


class VectorMemory(wiring.Component):
    def __init__(self, config: VectorConfig):
        self.config = config
        port = RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes)
        init = [] if config.fill is None else [fill_row(config.fill, config.lanes)] * config.vmem_rows
        self.mem = Memory(shape=8 * config.row_bytes, depth=config.vmem_rows, init=init)  # public: tests read it
        super().__init__({"unit": In(port), "ext": In(port)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        for port in (self.unit, self.ext):
            wr = mem.write_port()
            rd = mem.read_port()
            m.d.comb += [wr.addr.eq(port.addr), wr.en.eq(port.w_en), wr.data.eq(port.w_data),
                         rd.addr.eq(port.addr), rd.en.eq(port.r_en), port.r_data.eq(rd.data)]
        return m
