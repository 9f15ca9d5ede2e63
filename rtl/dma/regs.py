"""The DMA channels' registers (docs/isa.md section 2, docs/dma.md): SRC, DST,
COUNT, CONTROL and STATUS of each channel, written by the core's CSR port and
the host's port, with the rules of sim/dma.py:

- writing 1 to CONTROL bit 0 of an idle channel starts a transfer with SRC/DST/COUNT
  latched at that moment (the engine takes them; later writes do not disturb it);
  a start on a busy channel is ignored; CONTROL reads 0, STATUS ignores writes;
- at the start both addresses must be 64-byte aligned, the count a multiple of 64
  below 2^19 and the VMEM range inside VMEM, else STATUS = idle | internal error and
  nothing moves;
- STATUS: idle (reset), starting (until the first beat moves), transferring, then
  idle | done / slave error / decode error from the bus;
- MOVED (host port only, read-only): the bytes of the transfers that ended done since
  the core's last start (``run_start``) or clear, the ISS's DMA bytes (docs/runtime.md).

Both ports in one cycle: each write applies; to the same register the core's wins.
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.isa import csrs
from fenn_dma import hostmap as H
from fenn_dma.rtl.bus import AXI_RESP_DECERR, AXI_RESP_SLVERR

from .config import DmaConfig
from .interface import channel_signature, csr_port_signature, host_port_signature

SRC, DST, COUNT, CONTROL, STATUS, MOVED = range(6)   # register index inside a channel
MM2S, S2MM = 0, 1
CHANNEL_CSRS = (
    {SRC: csrs.MM2S_SRC_ADDR, DST: csrs.MM2S_DST_ADDR, COUNT: csrs.MM2S_COUNT, CONTROL: csrs.MM2S_CONTROL,
     STATUS: csrs.MM2S_STATUS},
    {SRC: csrs.S2MM_SRC_ADDR, DST: csrs.S2MM_DST_ADDR, COUNT: csrs.S2MM_COUNT, CONTROL: csrs.S2MM_CONTROL,
     STATUS: csrs.S2MM_STATUS},
)
HOST_OFFSETS = {SRC: H.DMA_SRC, DST: H.DMA_DST, COUNT: H.DMA_COUNT, CONTROL: H.DMA_CONTROL, STATUS: H.DMA_STATUS,
                MOVED: H.DMA_MOVED}

WRITE_LAYOUT = data.StructLayout({"en": 1, "reg": range(4), "data": 32, "mask": 32})


def host_word(channel: int, reg: int) -> int:
    """Word offset of a register in the host's DMA block."""
    return (channel * H.DMA_CHANNEL_STRIDE + HOST_OFFSETS[reg]) // 4


class ChannelRegisters(wiring.Component):
    """One channel. ``host_w`` then ``core_w`` apply in a cycle (the core's wins on a
    register both write); ``clear`` (only while idle) brings the reset state back;
    ``run_start`` zeroes ``moved``."""

    def __init__(self, config: DmaConfig, *, vmem_is_dst: bool):
        self.config, self.vmem_is_dst = config, vmem_is_dst
        super().__init__({
            "host_w": In(WRITE_LAYOUT), "core_w": In(WRITE_LAYOUT), "clear": In(1), "run_start": In(1),
            "src": Out(32), "dst": Out(32), "count": Out(32), "status": Out(8), "busy": Out(1),
            "moved": Out(32),
            "engine": Out(channel_signature(config)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        regs = {SRC: self.src, DST: self.dst, COUNT: self.count}
        start = Signal()
        for w in (self.host_w, self.core_w):
            with m.If(w.en):
                for index, reg in regs.items():
                    with m.If(w.reg == index):
                        m.d.sync += reg.eq((reg & ~w.mask) | (w.data & w.mask))
        core_ctrl = self.core_w.en & (self.core_w.reg == CONTROL)
        host_ctrl = self.host_w.en & (self.host_w.reg == CONTROL)
        m.d.comb += start.eq(Mux(core_ctrl, self.core_w.data[0] & self.core_w.mask[0],
                                 host_ctrl & self.host_w.data[0] & self.host_w.mask[0]))

        vmem_addr = self.dst if self.vmem_is_dst else self.src
        dram_addr = self.src if self.vmem_is_dst else self.dst
        align = csrs.DMA_ALIGN - 1
        vmem_end = Signal(33)
        m.d.comb += vmem_end.eq(vmem_addr + self.count)
        bad = ((self.src & align).any() | (self.dst & align).any() | (self.count & align).any()
               | (self.count >= csrs.DMA_MAX_COUNT) | (vmem_end > cfg.vmem_bytes))

        status = Signal(8, init=csrs.DMA_IDLE)       # while idle
        transferring = Signal()
        latched = Signal(range(csrs.DMA_MAX_COUNT))  # the running transfer's COUNT (for MOVED)
        eng = self.engine
        row_shift = (cfg.row_bytes - 1).bit_length()
        m.d.comb += [eng.cmd.payload.dram.eq(dram_addr),
                     eng.cmd.payload.row.eq(vmem_addr[row_shift:]),
                     eng.cmd.payload.rows.eq(self.count[row_shift:])]
        with m.If(self.busy):
            with m.If(eng.first):
                m.d.sync += transferring.eq(1)
            with m.If(eng.done):
                result = Mux(eng.resp == AXI_RESP_SLVERR, csrs.DMA_SLAVE_ERROR,
                             Mux(eng.resp == AXI_RESP_DECERR, csrs.DMA_DECODE_ERROR, csrs.DMA_DONE))
                m.d.sync += [self.busy.eq(0), transferring.eq(0), status.eq(csrs.DMA_IDLE | result)]
                with m.If(result == csrs.DMA_DONE):
                    m.d.sync += self.moved.eq(self.moved + latched)
        with m.Elif(start):
            with m.If(bad):
                m.d.sync += status.eq(csrs.DMA_IDLE | csrs.DMA_INTERNAL_ERROR)
            with m.Else():
                m.d.comb += eng.cmd.valid.eq(1)
                with m.If(eng.cmd.ready):
                    m.d.sync += [self.busy.eq(1), latched.eq(self.count)]
        with m.If(self.run_start):
            m.d.sync += self.moved.eq(0)
        with m.If(self.clear & ~self.busy):
            m.d.sync += [status.eq(csrs.DMA_IDLE), self.src.eq(0), self.dst.eq(0), self.count.eq(0),
                         self.moved.eq(0)]
        m.d.comb += self.status.eq(Mux(self.busy, Mux(transferring, csrs.DMA_TRANSFERRING, csrs.DMA_STARTING),
                                       status))
        return m


class DmaRegisters(wiring.Component):
    """Both channels' registers behind the core's CSR port and the host's port."""

    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "csr": In(csr_port_signature()), "host": In(host_port_signature()), "clear": In(1),
            "run_start": In(1), "mm2s": Out(channel_signature(config)), "s2mm": Out(channel_signature(config)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        chans = []
        for index, name in ((MM2S, "mm2s"), (S2MM, "s2mm")):
            ch = ChannelRegisters(self.config, vmem_is_dst=index == MM2S)
            m.submodules[name] = ch
            wiring.connect(m, ch.engine, wiring.flipped(getattr(self, name)))
            m.d.comb += [ch.clear.eq(self.clear), ch.run_start.eq(self.run_start)]
            chans.append(ch)
        m.d.comb += self.busy.eq(chans[MM2S].busy | chans[S2MM].busy)

        host_mask = Signal(32)
        m.d.comb += host_mask.eq(Cat(*(self.host.w_strb[i].replicate(8) for i in range(4))))
        for index, ch in enumerate(chans):
            for reg in (SRC, DST, COUNT, CONTROL):
                with m.If(self.csr.w_en & (self.csr.addr == CHANNEL_CSRS[index][reg])):
                    m.d.comb += [ch.core_w.en.eq(1), ch.core_w.reg.eq(reg), ch.core_w.data.eq(self.csr.w_data),
                                 ch.core_w.mask.eq(0xFFFF_FFFF)]
                with m.If(self.host.w_en & (self.host.addr == host_word(index, reg))):
                    m.d.comb += [ch.host_w.en.eq(1), ch.host_w.reg.eq(reg), ch.host_w.data.eq(self.host.w_data),
                                 ch.host_w.mask.eq(host_mask)]

        # Reads (combinational): the values of the registers, CONTROL 0, 0 elsewhere.
        with m.Switch(self.csr.addr):
            for index, ch in enumerate(chans):
                for reg, value in ((SRC, ch.src), (DST, ch.dst), (COUNT, ch.count), (STATUS, ch.status)):
                    with m.Case(CHANNEL_CSRS[index][reg]):
                        m.d.comb += self.csr.r_data.eq(value)
        with m.Switch(self.host.addr):
            for index, ch in enumerate(chans):
                for reg, value in ((SRC, ch.src), (DST, ch.dst), (COUNT, ch.count), (STATUS, ch.status),
                                   (MOVED, ch.moved)):
                    with m.Case(host_word(index, reg)):
                        m.d.comb += self.host.r_data.eq(value)
        return m
