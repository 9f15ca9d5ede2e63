"""Lane-local memories: one private memory per lane, 32-bit words of two
halfwords (a BRAM18 per lane by default), with two synchronous ports:

- the lanes' port: each lane reads or writes one halfword at its own
  halfword address (``x_addr``), the word's half chosen by the low bit;
- the host port: one 32-bit word of one lane per access, byte writes, in
  the lane-major layout of ``Machine.load_image("llm", ...)``.

A read of a word the other port writes in the same cycle sees the old word,
or with ``collisions`` transparent (ECP5 DP16KD) the new one.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.config import TRANSPARENT_COLLISIONS

from .config import ISS_FILL, VectorConfig
from .interface import LanePortSignature


class LaneLocalMemory(wiring.Component):
    def __init__(self, config: VectorConfig):
        self.config = config
        lanes, halfwords = config.lanes, config.llm_halfwords
        addrs = data.ArrayLayout(range(halfwords), lanes)
        halfs = data.ArrayLayout(16, lanes)
        super().__init__({
            "x_addr": In(addrs), "x_r_en": In(lanes), "x_w_en": In(lanes), "x_w_data": In(halfs),
            "w_r_data": Out(halfs),                     # one cycle after x_r_en
            "ext": In(LanePortSignature(lanes=lanes, words=config.llm_bytes // 4)),
            # Clearing: every lane writes ISS_FILL at word clear_addr (the host port is idle).
            "clear": In(1), "clear_addr": In(range(config.llm_bytes // 4)),
        })
        init = [] if config.fill is None else [config.fill * 0x10001] * (config.llm_bytes // 4)
        self.mems = [Memory(shape=32, depth=config.llm_bytes // 4, init=init)   # public: tests read them
                     for _ in range(lanes)]

    def elaborate(self, platform):
        m = Module()
        ext = self.ext
        ext_lane = Signal.like(ext.lane)
        with m.If(ext.r_en):
            m.d.sync += ext_lane.eq(ext.lane)
        both = self.config.collisions == TRANSPARENT_COLLISIONS
        for lane, mem in enumerate(self.mems):
            m.submodules[f"lane{lane}"] = mem
            wr = mem.write_port(granularity=16)
            ext_wr = mem.write_port(granularity=8)
            rd = mem.read_port(transparent_for=(ext_wr,) if both else ())
            addr = self.x_addr[lane]
            high = Signal(name=f"high{lane}")              # which half the last read asked for
            with m.If(self.x_r_en[lane]):
                m.d.sync += high.eq(addr[0])
            m.d.comb += [wr.addr.eq(addr[1:]), rd.addr.eq(addr[1:]), rd.en.eq(self.x_r_en[lane]),
                         wr.data.eq(self.x_w_data[lane].replicate(2)),
                         wr.en.eq(Mux(self.x_w_en[lane], Mux(addr[0], 0b10, 0b01), 0)),
                         self.w_r_data[lane].eq(Mux(high, rd.data[16:], rd.data[:16]))]
            ext_sel = ext.lane == lane
            ext_rd = mem.read_port(transparent_for=(wr,) if both else ())
            # One address for the host's read and write (the clear's while clearing): with the
            # lanes' port that makes two read/write ports, a true dual-port block RAM for yosys
            # (three ports with separate addresses would be built from flip-flops).
            ext_addr = Mux(self.clear, self.clear_addr, ext.addr)
            m.d.comb += [ext_rd.addr.eq(ext_addr), ext_wr.addr.eq(ext_addr), ext_rd.en.eq(ext.r_en & ext_sel)]
            with m.If(self.clear):
                m.d.comb += [ext_wr.data.eq(ISS_FILL * 0x10001), ext_wr.en.eq(0b1111)]
            with m.Else():
                m.d.comb += [ext_wr.data.eq(ext.w_data), ext_wr.en.eq(Mux(ext_sel, ext.w_en, 0))]
            with m.If(ext_lane == lane):
                m.d.comb += ext.r_data.eq(ext_rd.data)
        return m
