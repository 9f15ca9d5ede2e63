"""Scalar load/store unit: address, alignment and range checks in execute,
the data RAM access, and the load data's extraction in writeback."""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import sram_bus

SIZE_BYTE, SIZE_HALF, SIZE_WORD = 0, 1, 2


class LoadStore(wiring.Component):
    def __init__(self, dmem_size: int):
        self.dmem_size = dmem_size
        super().__init__({
            "x_base": In(32), "x_offset": In(32), "x_store_data": In(32),
            "x_size": In(2), "x_load": In(1), "x_store": In(1),
            "x_enable": In(1),          # the access may happen (valid and not stopping)
            "x_addr": Out(32), "x_misaligned": Out(1), "x_fault": Out(1),
            "w_size": In(2), "w_unsigned": In(1), "w_offset": In(2),
            "w_data": Out(32),
            "dmem": Out(sram_bus((dmem_size // 4 - 1).bit_length())),
        })

    def elaborate(self, platform):
        m = Module()
        addr = self.x_addr
        m.d.comb += addr.eq(self.x_base + self.x_offset)
        misaligned = Mux(self.x_size == SIZE_WORD, addr[:2] != 0,
                         Mux(self.x_size == SIZE_HALF, addr[0], 0))
        m.d.comb += [
            self.x_misaligned.eq(misaligned),
            self.x_fault.eq(addr >= self.dmem_size),
            self.dmem.addr.eq(addr[2:]),
            self.dmem.r_en.eq(self.x_enable & self.x_load),
        ]
        byte_mask = Mux(self.x_size == SIZE_WORD, 0b1111, Mux(self.x_size == SIZE_HALF, 0b0011, 0b0001))
        store_data = Mux(self.x_size == SIZE_WORD, self.x_store_data,
                         Mux(self.x_size == SIZE_HALF, self.x_store_data[:16].replicate(2),
                             self.x_store_data[:8].replicate(4)))
        with m.If(self.x_enable & self.x_store):
            m.d.comb += self.dmem.w_en.eq((byte_mask << addr[:2])[:4])
        m.d.comb += self.dmem.w_data.eq(store_data)

        shifted = Signal(32)
        m.d.comb += shifted.eq(self.dmem.r_data >> (self.w_offset * 8))
        with m.Switch(self.w_size):
            with m.Case(SIZE_BYTE):
                m.d.comb += self.w_data.eq(Mux(self.w_unsigned, shifted[:8], shifted[:8].as_signed()))
            with m.Case(SIZE_HALF):
                m.d.comb += self.w_data.eq(Mux(self.w_unsigned, shifted[:16], shifted[:16].as_signed()))
            with m.Default():
                m.d.comb += self.w_data.eq(shifted)
        return m
