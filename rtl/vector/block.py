"""The vector unit together with its VMEM, as the SoC instantiates it, with
the host's windows onto VMEM and the LLMs and the clear sequencer.

Host windows (word buses of rtl/bus.py, already selected by the SoC's
address decode; reads answer in the next cycle):

- ``host_vmem``: VMEM bytes from 0, 32-bit words, byte writes.
- ``host_llm``: the LLMs lane-major (lane i at i * llm_bytes), the layout of
  ``Machine.load_image("llm", ...)``; 32-bit words, byte writes.

``clear`` (a pulse, core stopped) starts a sequence of max(VMEM rows, LLM
words, 32) cycles, ``clearing`` high meanwhile, that brings the vector state
to the ISS's reset state: v0-v31 and the RNG zero, VMEM and LLM ISS_FILL.
``dma_vmem`` is VMEM's row port for the DMA; the host and the clear
sequencer take precedence over it: ``dma_wait`` is high in a cycle they use
the port (the DMA's request is not taken; docs/dma.md).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import reg_bus
from fenn_dma.rtl.vector_if import vector_issue_signature

from .config import ISS_FILL, VectorConfig
from .interface import RowPortSignature
from .unit import VectorUnit
from .vmem import VectorMemory, fill_row


def window_bits(size_bytes: int) -> int:
    """Word-address bits of a host window of ``size_bytes``."""
    return max(1, (size_bytes // 4 - 1).bit_length())


class VectorBlock(wiring.Component):
    def __init__(self, config: VectorConfig):
        self.config = config
        self.unit = VectorUnit(config)       # public: tests inspect its state
        self.vmem = VectorMemory(config)
        super().__init__({
            "issue": In(vector_issue_signature()),
            "host_vmem": In(reg_bus(window_bits(config.vmem_bytes))),
            "host_llm": In(reg_bus(window_bits(config.lanes * config.llm_bytes))),
            "dma_vmem": In(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes,
                                            byte_writes=True)),
            "dma_wait": Out(1),
            "clear": In(1),
            "clearing": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.unit = unit = self.unit
        m.submodules.vmem = vmem = self.vmem
        wiring.connect(m, unit.vmem, vmem.unit)
        wiring.connect(m, wiring.flipped(self.issue), unit.issue)

        # Clear sequencer.
        steps = max(cfg.vmem_rows, cfg.llm_bytes // 4, 32)
        step = Signal(range(steps))
        with m.If(self.clearing):
            m.d.sync += step.eq(step + 1)
            with m.If(step == steps - 1):
                m.d.sync += self.clearing.eq(0)
        with m.Elif(self.clear):
            m.d.sync += [self.clearing.eq(1), step.eq(0)]
        m.d.comb += [unit.clear.eq(self.clearing & (step < max(cfg.llm_bytes // 4, 32))),
                     unit.clear_addr.eq(step)]

        # VMEM's external port: clear, else host, else DMA.
        ext, host = vmem.ext, self.host_vmem
        row_words = cfg.row_bytes // 4
        word_bits = (row_words - 1).bit_length()
        host_word = Signal(range(row_words))
        with m.If(host.r_en):
            m.d.sync += host_word.eq(host.addr[:word_bits])
        m.d.comb += host.r_data.eq(ext.r_data.word_select(host_word, 32))
        with m.If(self.clearing):
            m.d.comb += [ext.addr.eq(step), ext.w_data.eq(fill_row(ISS_FILL, cfg.lanes)),
                         ext.w_en.eq(Mux(step < cfg.vmem_rows, -1, 0))]
        with m.Elif(host.r_en | host.w_en):
            m.d.comb += [ext.addr.eq(host.addr[word_bits:]), ext.r_en.eq(host.r_en),
                         ext.w_data.eq(host.w_data.replicate(row_words)),
                         ext.w_en.eq(Mux(host.w_en, host.w_strb << (4 * host.addr[:word_bits]), 0))]
        with m.Else():
            dma = self.dma_vmem
            m.d.comb += [ext.addr.eq(dma.addr), ext.r_en.eq(dma.r_en), ext.w_en.eq(dma.w_en),
                         ext.w_data.eq(dma.w_data)]
        m.d.comb += [self.dma_vmem.r_data.eq(ext.r_data),
                     self.dma_wait.eq(self.clearing | host.r_en | host.w_en)]

        # LLM host port: lane-major words.
        llm, lhost = unit.llm_ext, self.host_llm
        lane_words = cfg.llm_bytes // 4
        lane_bits = (lane_words - 1).bit_length()
        m.d.comb += [llm.lane.eq(lhost.addr[lane_bits:]), llm.addr.eq(lhost.addr[:lane_bits]),
                     llm.r_en.eq(lhost.r_en), llm.w_en.eq(Mux(lhost.w_en, lhost.w_strb, 0)),
                     llm.w_data.eq(lhost.w_data), lhost.r_data.eq(llm.r_data)]
        return m
