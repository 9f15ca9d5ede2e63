"""Scalar load/store unit: address, alignment and range checks in execute,
the data RAM access, and the load data's extraction in writeback.

The RAM access does not wait for the core's stop decision (a long path: it
needs this unit's own checks): a load reads whenever one is in execute (a
read has no effect, and a stopping load's data is never used), and a store
writes unless it is misaligned or out of range, the only stops a legal,
fetched store can raise."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
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
            "x_enable": In(1),          # a legal instruction in execute may access (it is not held)
            "x_addr": Out(32), "x_misaligned": Out(1), "x_fault": Out(1),
            "w_size": In(2), "w_unsigned": In(1), "w_offset": In(2),
            "w_data": Out(32),
            "dmem": Out(sram_bus((dmem_size // 4 - 1).bit_length())),
        })

    def _out_of_range(self, m):
        """Whether ``x_base + x_offset`` is outside DMEM (a power of two, ``2**k`` bytes): whether
        the sum's bits from ``k`` up are not all zero, without waiting for the address adder.

        The high part ``a + b + c`` (a, b: the operands' bits from k up; c: the carry out of
        the low k bits) is 0 modulo ``2**(32-k)`` exactly when every carry it needs is the one it
        gets: bit 0 of ``a ^ b`` equals c, and bit i of ``a ^ b`` equals bit i-1 of ``a | b``
        (the carry out of bit i-1 of a sum whose bits are all 0). That is an equality of two
        vectors and a wide AND, beside the short carry chain of the low k bits, instead of the
        32-bit carry chain and an OR tree after it, on the path to the core's stop decision."""
        k = (self.dmem_size - 1).bit_length()
        a, b = self.x_base[k:], self.x_offset[k:]
        carry = Signal(name="x_low_carry")
        rest = Signal(name="x_high_carries")   # bits 1.. of the high part need exactly the carries they get
        m.d.comb += [carry.eq((self.x_base[:k] + self.x_offset[:k])[k]),
                     rest.eq((a ^ b)[1:] == (a | b)[:-1])]
        return ~(rest & ((a ^ b)[0] == carry))

    def elaborate(self, platform):
        m = Module()
        addr = self.x_addr
        m.d.comb += addr.eq(self.x_base + self.x_offset)
        misaligned = Mux(self.x_size == SIZE_WORD, addr[:2] != 0,
                         Mux(self.x_size == SIZE_HALF, addr[0], 0))
        m.d.comb += [
            self.x_misaligned.eq(misaligned),
            self.x_fault.eq(self._out_of_range(m)),
            self.dmem.addr.eq(addr[2:]),
            self.dmem.r_en.eq(self.x_enable & self.x_load),
        ]
        byte_mask = Mux(self.x_size == SIZE_WORD, 0b1111, Mux(self.x_size == SIZE_HALF, 0b0011, 0b0001))
        store_data = Mux(self.x_size == SIZE_WORD, self.x_store_data,
                         Mux(self.x_size == SIZE_HALF, self.x_store_data[:16].replicate(2),
                             self.x_store_data[:8].replicate(4)))
        with m.If(self.x_enable & self.x_store & ~misaligned & ~self.x_fault):
            m.d.comb += self.dmem.w_en.eq((byte_mask << addr[:2])[:4])
        m.d.comb += self.dmem.w_data.eq(store_data)

        # Load data, byte by byte straight from the RAM's word (it arrives late: the RAM's output is not
        # registered). A load in writeback is aligned (a misaligned one stopped in execute), so a
        # word's offset is 0 and a halfword's 0 or 2.
        data, off = self.dmem.r_data, self.w_offset
        byte = [data[8 * i:8 * i + 8] for i in range(4)]
        is_byte, is_half = self.w_size == SIZE_BYTE, self.w_size == SIZE_HALF
        low = Mux(off[1], Mux(off[0], byte[3], byte[2]), Mux(off[0], byte[1], byte[0]))
        sign = Mux(is_half, Mux(off[1], data[31], data[15]), low[7]) & ~self.w_unsigned
        ext = sign.replicate(8)
        m.d.comb += self.w_data.eq(Cat(low, Mux(is_byte, ext, Mux(off[1], byte[3], byte[1])),
                                       Mux(is_byte | is_half, ext, byte[2]), Mux(is_byte | is_half, ext, byte[3])))
        return m
