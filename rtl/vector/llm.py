"""Lane-local memories: one halfword-wide memory per lane, each with a port
for its lane of the vector unit (own address) and a host port that reaches
one lane at a time. Synchronous reads; a lane maps to one BRAM18 by default."""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import VectorConfig
from .interface import LanePortSignature


class LaneLocalMemory(wiring.Component):
    def __init__(self, config: VectorConfig):
        self.config = config
        lanes, depth = config.lanes, config.llm_halfwords
        addrs = data.ArrayLayout(range(depth), lanes)
        halfs = data.ArrayLayout(16, lanes)
        super().__init__({
            "x_addr": In(addrs), "x_r_en": In(lanes), "x_w_en": In(lanes), "x_w_data": In(halfs),
            "w_r_data": Out(halfs),                     # one cycle after x_r_en
            "ext": In(LanePortSignature(lanes=lanes, halfwords=depth)),
        })
        init = [] if config.fill is None else [config.fill] * depth
        self.mems = [Memory(shape=16, depth=depth, init=init) for _ in range(lanes)]  # public: tests read them

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        ext_lane = Signal.like(self.ext.lane)
        m.d.sync += ext_lane.eq(self.ext.lane)
        for lane in range(cfg.lanes):
            mem = self.mems[lane]
            m.submodules[f"lane{lane}"] = mem
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [wr.addr.eq(self.x_addr[lane]), wr.en.eq(self.x_w_en[lane]),
                         wr.data.eq(self.x_w_data[lane]),
                         rd.addr.eq(self.x_addr[lane]), rd.en.eq(self.x_r_en[lane]),
                         self.w_r_data[lane].eq(rd.data)]
            ext_sel = self.ext.lane == lane
            ext_wr, ext_rd = mem.write_port(), mem.read_port()
            m.d.comb += [ext_wr.addr.eq(self.ext.addr), ext_wr.en.eq(self.ext.w_en & ext_sel),
                         ext_wr.data.eq(self.ext.w_data),
                         ext_rd.addr.eq(self.ext.addr), ext_rd.en.eq(self.ext.r_en & ext_sel)]
            with m.If(ext_lane == lane):
                m.d.comb += self.ext.r_data.eq(ext_rd.data)
        return m
