"""Vector register file: 32 registers x lanes x int16.

Two asynchronous read ports (rs1, rs2) for the execute stage and one write
port with a write enable per lane (VSEL and VLOADL write only some lanes, so
no third "old rd" read port is needed), written in writeback. The value being
written is forwarded to the reads of the same cycle, lane by lane, unless it
comes from memory (the load-use slot, docs/isa.md section 6, makes that path
unnecessary). The forwarded value has its own input, ``w_forward_data`` (the
lanes' registered result, equal to ``w_data`` in the lanes of ``w_forward_lanes``), so
that no path runs from a memory's read data into the execute stage's lanes; which lanes
are forwarded (``w_forward_lanes``: the written lanes when the value is not a memory
read) comes from a register too, so a read's forward is one address compare and a mux. On
UltraScale+ this maps to distributed RAM, one copy per read port.
"""
from __future__ import annotations

from amaranth import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .arith import S16

REGISTERS = 32


class VectorRegFile(wiring.Component):
    def __init__(self, *, lanes: int):
        self.lanes = lanes
        row = data.ArrayLayout(S16, lanes)
        self.row_layout = row
        self.mem = Memory(shape=row, depth=REGISTERS, init=[])     # public: tests read it
        super().__init__({
            "x_rs1_addr": In(5), "x_rs1_data": Out(row),
            "x_rs2_addr": In(5), "x_rs2_data": Out(row),
            "w_addr": In(5), "w_en": In(lanes), "w_data": In(row),
            "w_forward_lanes": In(lanes),  # lanes of w_data that may be forwarded (written, not a memory read) ...
            "w_forward_data": In(row),     # ... and their value
            "clear": In(1), "clear_addr": In(5),    # write zeros to clear_addr instead
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        wr = mem.write_port(granularity=1)
        with m.If(self.clear):
            m.d.comb += [wr.addr.eq(self.clear_addr), wr.en.eq(-1), wr.data.eq(0)]
        with m.Else():
            m.d.comb += [wr.addr.eq(self.w_addr), wr.en.eq(self.w_en), wr.data.eq(self.w_data)]
        for addr, out in ((self.x_rs1_addr, self.x_rs1_data), (self.x_rs2_addr, self.x_rs2_data)):
            rd = mem.read_port(domain="comb")
            m.d.comb += rd.addr.eq(addr)
            hit = self.w_addr == addr
            for lane in range(self.lanes):
                m.d.comb += out[lane].eq(Mux(hit & self.w_forward_lanes[lane], self.w_forward_data[lane],
                                             rd.data[lane]))
        return m
