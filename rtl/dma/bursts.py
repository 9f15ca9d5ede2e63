"""The length of the next AXI4 INCR burst: as many beats as are left, at most
``max_burst``, and never across a 4 KiB boundary. The AR, AW and W sides each
run one, on the same address sequence, so they agree burst for burst."""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import AXI_BOUNDARY, DmaConfig


class BurstPlanner(wiring.Component):
    """Combinational: ``addr`` (beat aligned) and ``left`` (beats still to move,
    may be 0) give ``beats``, the next burst's length (0 when ``left`` is 0)."""

    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "addr": In(config.addr_bits),
            "left": In(range(config.max_beats + 1)),
            "beats": Out(range(config.max_burst + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        shift = (cfg.beat_bytes - 1).bit_length()
        page_beats = AXI_BOUNDARY // cfg.beat_bytes
        # Beats from addr to the next 4 KiB boundary (1..page_beats).
        to_page = Signal(range(page_beats + 1))
        m.d.comb += to_page.eq(page_beats - self.addr[shift:(AXI_BOUNDARY - 1).bit_length()])
        n = Signal(range(cfg.max_beats + 1))
        m.d.comb += n.eq(Mux(self.left < cfg.max_burst, self.left, cfg.max_burst))
        m.d.comb += self.beats.eq(Mux(to_page < n, to_page, n))
        return m
