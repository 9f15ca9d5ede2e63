"""The DMA's share of VMEM's ``ext`` row port: MM2S row writes and S2MM row
reads, one per cycle, taking turns when both ask. ``wait`` (the host's VMEM
window or the clear sequencer uses the port this cycle) holds both: they keep
asking, their FIFOs absorb it."""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.vector.interface import RowPortSignature

from .config import DmaConfig
from .interface import row_read_signature, row_write_signature


class VmemArbiter(wiring.Component):
    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "write": In(row_write_signature(config)),
            "read": In(row_read_signature(config)),
            "port": Out(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes, byte_writes=True)),
            "wait": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        wr, rd, port = self.write, self.read, self.port
        read_turn = Signal()          # on a tie, the read goes first when set
        grant_w, grant_r = Signal(), Signal()
        m.d.comb += [
            grant_w.eq(~self.wait & wr.valid & (~rd.req.valid | ~read_turn)),
            grant_r.eq(~self.wait & rd.req.valid & ~grant_w),
            wr.ready.eq(grant_w), rd.req.ready.eq(grant_r),
            port.addr.eq(Mux(grant_w, wr.payload.row, rd.req.payload)),
            port.w_en.eq(Mux(grant_w, -1, 0)), port.w_data.eq(wr.payload.data),
            port.r_en.eq(grant_r),
            rd.data.eq(port.r_data),
        ]
        m.d.sync += rd.data_valid.eq(grant_r)
        with m.If(grant_w):
            m.d.sync += read_turn.eq(1)
        with m.Elif(grant_r):
            m.d.sync += read_turn.eq(0)
        return m
