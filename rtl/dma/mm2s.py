"""MM2S, DRAM -> VMEM: AR bursts, the R FIFO, and the packer that turns beats into rows.

- AR: INCR bursts of at most ``max_burst`` beats that never cross 4 KiB
  (``BurstPlanner``), back to back, at most ``outstanding`` in flight, each issued
  only when the R FIFO has room reserved for all its beats, so RREADY is always high.
- R: an OKAY beat goes into the FIFO; the first SLVERR/DECERR ends the transfer:
  no more AR, the beats still coming are discarded (the FIFO drains to VMEM).
- Packer: ``beats_per_row`` beats (little-endian, first beat lowest bytes) make
  a row, written to VMEM through ``vmem`` (a stream: the arbiter may make it wait).
- Done when every row is written (or, after an error, when nothing is in flight).
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import AXI_BURST_INCR, AXI_CACHE_NORMAL, AXI_RESP_OKAY, axi4_read

from .bursts import BurstPlanner
from .config import DmaConfig
from .interface import channel_signature, row_write_signature


class ReadEngine(wiring.Component):
    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "ch": In(channel_signature(config)),
            "axi": Out(axi4_read(config.addr_bits, config.data_bits)),
            "vmem": Out(row_write_signature(config)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        K, B, cap = cfg.beats_per_row, cfg.beat_bytes, cfg.read_fifo_beats
        axi, ch = self.axi, self.ch
        m.submodules.planner = planner = BurstPlanner(cfg)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=cfg.data_bits, depth=cap)

        busy = Signal()
        err = Signal(2)                              # the first error response, 0 while none
        seen_first = Signal()
        ar_addr = Signal(cfg.addr_bits)              # next burst's address
        ar_left = Signal(range(cfg.max_beats + 1))   # beats not yet requested
        inflight = Signal(range(cfg.outstanding + 1))   # bursts requested (AR presented) whose RLAST is due
        # (a burst whose RLAST arrives this cycle frees its place for an AR presented this cycle)
        reserved = Signal(range(cap + 1))            # beats requested and not yet out of the FIFO / discarded

        m.d.comb += [axi.arsize.eq((B - 1).bit_length()), axi.arburst.eq(AXI_BURST_INCR),
                     axi.arcache.eq(AXI_CACHE_NORMAL), axi.rready.eq(1)]

        # ---- AR: registered VALID and payload, reloaded on the handshake (back to back).
        m.d.comb += [planner.addr.eq(ar_addr), planner.left.eq(ar_left)]
        load = Signal()
        last = Signal()
        m.d.comb += load.eq(busy & (err == 0) & (planner.beats != 0) & (inflight - last < cfg.outstanding)
                            & (reserved + planner.beats <= cap) & (~axi.arvalid | axi.arready))
        with m.If(load):
            m.d.sync += [axi.arvalid.eq(1), axi.araddr.eq(ar_addr), axi.arlen.eq(planner.beats - 1),
                         ar_addr.eq(ar_addr + planner.beats * B), ar_left.eq(ar_left - planner.beats)]
        with m.Elif(axi.arready):
            m.d.sync += axi.arvalid.eq(0)

        # ---- R: into the FIFO, or discarded after an error.
        r_ok = axi.rresp == AXI_RESP_OKAY
        beat = busy & axi.rvalid
        push, discard = Signal(), Signal()
        m.d.comb += [push.eq(beat & (err == 0) & r_ok), discard.eq(beat & ~push), last.eq(beat & axi.rlast),
                     fifo.w_en.eq(push), fifo.w_data.eq(axi.rdata)]
        with m.If(beat & ~r_ok & (err == 0)):
            m.d.sync += err.eq(axi.rresp)
        with m.If(beat & ~seen_first):
            m.d.sync += seen_first.eq(1)
        m.d.comb += ch.first.eq(beat & ~seen_first)

        # ---- Packer: K beats -> one row, held in `out` until VMEM takes it.
        out = self.vmem
        idx = Signal(range(K))
        acc = Signal(8 * cfg.row_bytes)
        row_ptr = Signal(range(cfg.vmem_rows))
        take = Signal()
        completes = (idx == K - 1) if K > 1 else 1
        m.d.comb += [take.eq(fifo.r_rdy & (~completes | ~out.valid | out.ready)), fifo.r_en.eq(take)]
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)
        with m.If(take):
            with m.If(completes):
                low = acc[:(K - 1) * cfg.data_bits] if K > 1 else None
                m.d.sync += [out.valid.eq(1), out.payload.row.eq(row_ptr), row_ptr.eq(row_ptr + 1),
                             out.payload.data.eq(Cat(low, fifo.r_data) if K > 1 else fifo.r_data)]
                if K > 1:
                    m.d.sync += idx.eq(0)
            if K > 1:
                with m.Else():
                    m.d.sync += [acc.word_select(idx, cfg.data_bits).eq(fifo.r_data), idx.eq(idx + 1)]

        m.d.sync += [inflight.eq(inflight + load - last),
                     reserved.eq(reserved + Mux(load, planner.beats, 0) - take - discard)]

        # ---- Command and completion.
        idle_bus = (reserved == 0) & ~out.valid
        done = Signal()
        m.d.comb += [done.eq(busy & idle_bus & ((err != 0) | (ar_left == 0))),
                     ch.done.eq(done), ch.resp.eq(err), ch.cmd.ready.eq(~busy)]
        with m.If(done):
            m.d.sync += [busy.eq(0), idx.eq(0)]
        with m.If(ch.cmd.valid & ~busy):
            cmd = ch.cmd.payload
            m.d.sync += [busy.eq(1), err.eq(0), seen_first.eq(0), idx.eq(0), ar_addr.eq(cmd.dram),
                         ar_left.eq(cmd.rows * K), row_ptr.eq(cmd.row)]
        # Internal state, for the formal proof's inductive invariants (tests/rtl_dma).
        self.formal_view = dict(busy=busy, ar_addr=ar_addr, ar_left=ar_left)
        return m
