"""An on-chip DRAM window for boards whose SDRAM controller is not in the build
(docs/boards.md says why): a block RAM behind an AXI4 target port for the DMA's
``dram`` master and an AXI4-Lite target port for the host's bridge, which stages
the program's DRAM image there.

The AXI4 port serves one burst at a time (INCR, the DMA's only kind), writes at
one beat a cycle, reads at one beat every two cycles; beats outside the window
answer DECERR (reads return 0, writes are dropped). Both ports are one address
each, so yosys maps the RAM to true dual-port block RAM (DP16KD on an ECP5).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from fenn_dma.errors import FennError
from fenn_dma.rtl.bus import axi4, axi4_lite

RESP_OKAY, RESP_DECERR = 0b00, 0b11


class AxiRam(wiring.Component):
    """``size`` bytes of 32-bit words: ``dram`` (AXI4 target, byte address ``a`` is word
    ``a // 4``) and ``host`` (AXI4-Lite target, the same words)."""

    def __init__(self, size: int, addr_width: int, host_addr_width: int, data_bits: int = 32):
        if data_bits != 32:
            raise FennError(f"the on-chip DRAM window is 32 bits wide; a {data_bits}-bit DMA master needs a "
                            "width converter (use dma_data_bits = 32)")
        if size < 64 or size & (size - 1):
            raise FennError(f"on-chip DRAM window of {size} bytes: a power of two of at least 64 bytes")
        self.size = size
        super().__init__({"dram": In(axi4(addr_width, data_bits)), "host": In(axi4_lite(host_addr_width))})

    def elaborate(self, platform):
        m = Module()
        words = self.size // 4
        m.submodules.mem = mem = Memory(shape=32, depth=words, init=[])
        # Each read sees the other port's write of the same cycle (DP16KD leaves that read
        # undefined otherwise, and yosys then builds the RAM from flip-flops).
        dram_w, host_w = mem.write_port(granularity=8), mem.write_port(granularity=8)
        self._dram_port(m, dram_w, mem.read_port(transparent_for=(host_w,)), words)
        self._host_port(m, host_w, mem.read_port(transparent_for=(dram_w,)), words)
        return m

    def _dram_port(self, m: Module, wp, rp, words: int) -> None:
        axi = self.dram
        addr = Signal.like(axi.awaddr)
        left = Signal(8)                      # beats after this one
        bid = Signal.like(axi.awid)
        resp = Signal(2)                      # the burst's worst answer so far (B)
        inside = addr < self.size
        word = addr[2:][:(words - 1).bit_length()]
        m.d.comb += [wp.addr.eq(word), rp.addr.eq(word), wp.data.eq(axi.wdata), rp.en.eq(0),
                     axi.bid.eq(bid), axi.rid.eq(bid), axi.bresp.eq(resp),
                     axi.rdata.eq(Mux(inside, rp.data, 0)), axi.rresp.eq(Mux(inside, RESP_OKAY, RESP_DECERR)),
                     axi.rlast.eq(left == 0)]
        with m.FSM(name="dram"):
            with m.State("IDLE"):
                m.d.comb += axi.awready.eq(1)
                with m.If(axi.awvalid):
                    m.d.sync += [addr.eq(axi.awaddr), left.eq(axi.awlen), bid.eq(axi.awid), resp.eq(RESP_OKAY)]
                    m.next = "WRITE"
                with m.Else():
                    m.d.comb += axi.arready.eq(1)
                    with m.If(axi.arvalid):
                        m.d.sync += [addr.eq(axi.araddr), left.eq(axi.arlen), bid.eq(axi.arid)]
                        m.next = "READ"
            with m.State("WRITE"):
                m.d.comb += axi.wready.eq(1)
                with m.If(axi.wvalid):
                    m.d.comb += wp.en.eq(Mux(inside, axi.wstrb, 0))
                    m.d.sync += [addr.eq(addr + 4), left.eq(left - 1)]
                    with m.If(~inside):
                        m.d.sync += resp.eq(RESP_DECERR)
                    with m.If(axi.wlast):
                        m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.next = "IDLE"
            with m.State("READ"):                 # the word at addr is read at this edge...
                m.d.comb += rp.en.eq(1)
                m.next = "BEAT"
            with m.State("BEAT"):                 # ...and held (en low) until the beat is taken
                m.d.comb += axi.rvalid.eq(1)
                with m.If(axi.rready):
                    m.d.sync += [addr.eq(addr + 4), left.eq(left - 1)]
                    m.next = "IDLE"
                    with m.If(left != 0):
                        m.next = "READ"

    def _host_port(self, m: Module, wp, rp, words: int) -> None:
        lite = self.host
        addr = Signal.like(lite.awaddr)
        m.d.comb += addr.eq(Mux(lite.awvalid, lite.awaddr, lite.araddr))
        word = addr[2:][:(words - 1).bit_length()]
        m.d.comb += [wp.addr.eq(word), rp.addr.eq(word), wp.data.eq(lite.wdata), lite.rdata.eq(rp.data), rp.en.eq(0),
                     lite.bresp.eq(RESP_OKAY), lite.rresp.eq(RESP_OKAY)]
        with m.FSM(name="host"):
            with m.State("IDLE"):
                with m.If(lite.awvalid & lite.wvalid):
                    m.d.comb += [lite.awready.eq(1), lite.wready.eq(1), wp.en.eq(lite.wstrb)]
                    m.next = "WRITTEN"
                with m.Elif(lite.arvalid & ~lite.awvalid):
                    m.d.comb += [lite.arready.eq(1), rp.en.eq(1)]
                    m.next = "READ"
            with m.State("WRITTEN"):
                m.d.comb += lite.bvalid.eq(1)
                with m.If(lite.bready):
                    m.next = "IDLE"
            with m.State("READ"):
                m.d.comb += lite.rvalid.eq(1)
                with m.If(lite.rready):
                    m.next = "IDLE"
