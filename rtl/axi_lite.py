"""AXI4-Lite target that turns host transactions into word accesses on the
SoC's register bus (``bus.reg_bus``), one transaction at a time.

Writes: AW and W are accepted in either order (or together); once both are
held the bus write happens and B is answered. Reads: AR is accepted only when
no write is half-taken, the bus reads (one cycle), and R is answered with the
word. Responses are always OKAY: unmapped addresses read 0 and ignore writes
(docs/rtl.md), like the core's unlisted CSRs.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import AXI_RESP_OKAY, axi4_lite, reg_bus


class AxiLiteTarget(wiring.Component):
    def __init__(self, addr_width: int):
        self.addr_width = addr_width
        super().__init__({
            "axi": In(axi4_lite(addr_width)),
            "bus": Out(reg_bus(addr_width - 2)),
        })

    def elaborate(self, platform):
        m = Module()
        axi, bus = self.axi, self.bus

        aw_held, w_held = Signal(), Signal()
        waddr = Signal(self.addr_width - 2)
        wdata, wstrb = Signal(32), Signal(4)
        raddr = Signal(self.addr_width - 2)
        rdata = Signal(32)

        m.d.comb += [axi.bresp.eq(AXI_RESP_OKAY), axi.rresp.eq(AXI_RESP_OKAY), axi.rdata.eq(rdata)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += [axi.awready.eq(~aw_held), axi.wready.eq(~w_held)]
                with m.If(axi.awvalid & ~aw_held):
                    m.d.sync += [aw_held.eq(1), waddr.eq(axi.awaddr[2:])]
                with m.If(axi.wvalid & ~w_held):
                    m.d.sync += [w_held.eq(1), wdata.eq(axi.wdata), wstrb.eq(axi.wstrb)]
                with m.If(aw_held & w_held):
                    m.d.comb += [bus.addr.eq(waddr), bus.w_en.eq(1), bus.w_data.eq(wdata), bus.w_strb.eq(wstrb)]
                    m.d.sync += [aw_held.eq(0), w_held.eq(0)]
                    m.next = "WRITE_RESP"
                with m.Elif(~aw_held & ~w_held & ~axi.awvalid & ~axi.wvalid):
                    # Reads wait while a write is being offered: writes first, no reordering surprises.
                    m.d.comb += axi.arready.eq(1)
                    with m.If(axi.arvalid):
                        m.d.comb += [bus.addr.eq(axi.araddr[2:]), bus.r_en.eq(1)]
                        m.d.sync += raddr.eq(axi.araddr[2:])
                        m.next = "READ"
            with m.State("WRITE_RESP"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.next = "IDLE"
            with m.State("READ"):
                m.d.comb += bus.addr.eq(raddr)
                m.d.sync += rdata.eq(bus.r_data)
                m.next = "READ_RESP"
            with m.State("READ_RESP"):
                m.d.comb += axi.rvalid.eq(1)
                with m.If(axi.rready):
                    m.next = "IDLE"
        # Internal state, exposed for the formal proof's inductive invariants (tests/rtl).
        self.formal_view = dict(aw_held=aw_held, w_held=w_held, waddr=waddr, wdata=wdata, wstrb=wstrb,
                                idle=fsm.ongoing("IDLE"), write_resp=fsm.ongoing("WRITE_RESP"),
                                read=fsm.ongoing("READ"), read_resp=fsm.ongoing("READ_RESP"))
        return m
