"""S2MM, VMEM -> DRAM: VMEM rows read ahead into a row FIFO, AW bursts, W beats, B.

- Reader: requests a row only when the FIFO has room for it and for every row
  already requested (VMEM answers in the next cycle, without back-pressure).
- AW: INCR bursts as in MM2S (``BurstPlanner``), at most ``outstanding`` awaiting B.
- W: the beats of each row in order (full WSTRB), WLAST on each burst's last beat
  (its own ``BurstPlanner`` on the same addresses); a burst's beats start once its
  AW is presented.
- B: the first SLVERR/DECERR ends the transfer: no more AW; the bursts already
  presented get their W beats and B; then the row FIFO is emptied.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import AXI_BURST_INCR, AXI_CACHE_NORMAL, AXI_RESP_OKAY, axi4_write

from .bursts import BurstPlanner
from .config import DmaConfig
from .interface import channel_signature, row_read_signature

ROW_FIFO_ROWS = 4     # rows read ahead: a row a cycle at a 512-bit port (request, data, FIFO output)


class WriteEngine(wiring.Component):
    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "ch": In(channel_signature(config)),
            "axi": Out(axi4_write(config.addr_bits, config.data_bits)),
            "vmem": Out(row_read_signature(config)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        K, B, depth = cfg.beats_per_row, cfg.beat_bytes, ROW_FIFO_ROWS
        axi, ch, rd = self.axi, self.ch, self.vmem
        m.submodules.aw_planner = aw_planner = BurstPlanner(cfg)
        m.submodules.w_planner = w_planner = BurstPlanner(cfg)
        flush = Signal()
        fifo = SyncFIFOBuffered(width=8 * cfg.row_bytes, depth=depth)
        m.submodules.fifo = ResetInserter(flush)(fifo)

        busy = Signal()
        err = Signal(2)
        seen_first = Signal()

        # ---- Reader: VMEM rows into the FIFO.
        rd_row = Signal(range(cfg.vmem_rows))
        rd_left = Signal(range(cfg.max_rows + 1))
        rows_held = Signal(range(depth + 1))       # rows requested and not yet consumed by W
        rd_pending = Signal()                      # a request was taken last cycle: its row arrives now
        pop = Signal()
        w_finished = Signal()                      # after an error: every presented burst has its W beats
        m.d.comb += [rd.req.valid.eq(busy & (rd_left != 0) & (rows_held < depth) & ~w_finished),
                     rd.req.payload.eq(rd_row),
                     fifo.w_en.eq(rd.data_valid), fifo.w_data.eq(rd.data)]
        m.d.sync += rd_pending.eq(rd.req.valid & rd.req.ready)
        with m.If(rd.req.valid & rd.req.ready):
            m.d.sync += [rd_row.eq(rd_row + 1), rd_left.eq(rd_left - 1)]
        m.d.sync += rows_held.eq(rows_held + (rd.req.valid & rd.req.ready) - pop)

        m.d.comb += [axi.awsize.eq((B - 1).bit_length()), axi.awburst.eq(AXI_BURST_INCR),
                     axi.awcache.eq(AXI_CACHE_NORMAL), axi.bready.eq(1),
                     axi.wstrb.eq(-1)]

        # ---- AW.
        aw_addr = Signal(cfg.addr_bits)
        aw_left = Signal(range(cfg.max_beats + 1))
        b_pending = Signal(range(cfg.outstanding + 1))   # bursts presented on AW whose B is due
        w_credit = Signal(range(cfg.outstanding + 1))    # bursts presented on AW whose W beats have not started
        m.d.comb += [aw_planner.addr.eq(aw_addr), aw_planner.left.eq(aw_left)]
        load = Signal()
        m.d.comb += load.eq(busy & (err == 0) & (aw_planner.beats != 0) & (b_pending < cfg.outstanding)
                            & (~axi.awvalid | axi.awready))
        with m.If(load):
            m.d.sync += [axi.awvalid.eq(1), axi.awaddr.eq(aw_addr), axi.awlen.eq(aw_planner.beats - 1),
                         aw_addr.eq(aw_addr + aw_planner.beats * B), aw_left.eq(aw_left - aw_planner.beats)]
        with m.Elif(axi.awready):
            m.d.sync += axi.awvalid.eq(0)

        # ---- W: beats of the FIFO's head row; burst lengths from the W planner.
        w_addr = Signal(cfg.addr_bits)
        w_left = Signal(range(cfg.max_beats + 1))
        in_burst = Signal()
        burst_left = Signal(range(cfg.max_burst + 1))      # beats left in the current burst (in_burst)
        j = Signal(range(K))
        m.d.comb += [w_planner.addr.eq(w_addr), w_planner.left.eq(w_left)]
        cur = Signal(range(cfg.max_burst + 1))
        m.d.comb += cur.eq(Mux(in_burst, burst_left, w_planner.beats))
        starts = ~in_burst
        m.d.comb += [axi.wvalid.eq(busy & fifo.r_rdy & (in_burst | ((w_left != 0) & (w_credit != 0)))),
                     axi.wdata.eq(fifo.r_data.word_select(j, cfg.data_bits) if K > 1 else fifo.r_data),
                     axi.wlast.eq(cur == 1)]
        w_beat = axi.wvalid & axi.wready
        row_end = (j == K - 1) if K > 1 else 1
        m.d.comb += [pop.eq(w_beat & row_end), fifo.r_en.eq(pop)]
        with m.If(w_beat):
            m.d.sync += [w_addr.eq(w_addr + B), w_left.eq(w_left - 1), in_burst.eq(cur != 1),
                         burst_left.eq(cur - 1)]
            if K > 1:
                m.d.sync += j.eq(Mux(row_end, 0, j + 1))
        m.d.sync += w_credit.eq(w_credit + load - (w_beat & starts))
        with m.If(w_beat & ~seen_first):
            m.d.sync += seen_first.eq(1)
        m.d.comb += ch.first.eq(w_beat & ~seen_first)

        # ---- B.
        b_beat = busy & axi.bvalid
        with m.If(b_beat & (axi.bresp != AXI_RESP_OKAY) & (err == 0)):
            m.d.sync += err.eq(axi.bresp)
        m.d.sync += b_pending.eq(b_pending + load - b_beat)

        # ---- Command and completion.
        m.d.comb += w_finished.eq((err != 0) & ~axi.awvalid & (w_credit == 0) & ~in_burst)
        done = Signal()
        ok_done = (aw_left == 0) & (w_left == 0)
        m.d.comb += [done.eq(busy & (b_pending == 0) & ~axi.awvalid & (ok_done | (w_finished & ~rd_pending))),
                     ch.done.eq(done), ch.resp.eq(err), ch.cmd.ready.eq(~busy), flush.eq(done & (err != 0))]
        with m.If(done):
            m.d.sync += [busy.eq(0), in_burst.eq(0), rows_held.eq(0)]
            if K > 1:
                m.d.sync += j.eq(0)
        with m.If(ch.cmd.valid & ~busy):
            cmd = ch.cmd.payload
            m.d.sync += [busy.eq(1), err.eq(0), seen_first.eq(0), rd_row.eq(cmd.row), rd_left.eq(cmd.rows),
                         aw_addr.eq(cmd.dram), aw_left.eq(cmd.rows * K), w_addr.eq(cmd.dram),
                         w_left.eq(cmd.rows * K)]
        # Internal state, for the formal proof's inductive invariants (tests/rtl_dma).
        self.formal_view = dict(busy=busy, aw_addr=aw_addr, aw_left=aw_left, w_addr=w_addr, w_left=w_left,
                                in_burst=in_burst, burst_left=burst_left, w_credit=w_credit, b_pending=b_pending, err=err,
                                fifo_level=fifo.level, j=j)
        return m
