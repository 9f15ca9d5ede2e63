"""The DMA engine: both channels' registers, the MM2S and S2MM data engines, one
AXI4 master to DRAM and a share of VMEM's external row port (docs/dma.md)."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import axi4
from fenn_dma.rtl.vector.interface import RowPortSignature

from .arbiter import VmemArbiter
from .config import DmaConfig
from .interface import csr_port_signature, host_port_signature
from .mm2s import ReadEngine
from .regs import DmaRegisters
from .s2mm import WriteEngine


def connect_half(m: Module, outer, inner) -> None:
    """Drive the members of ``inner`` (a sub-engine's AXI half, initiator side) through the
    same-named members of ``outer`` (the engine's whole AXI4 master)."""
    for name, member in inner.signature.members.items():
        if member.flow == Out:
            m.d.comb += getattr(outer, name).eq(getattr(inner, name))
        else:
            m.d.comb += getattr(inner, name).eq(getattr(outer, name))


class DmaEngine(wiring.Component):
    """``clear`` (only while ``busy`` is low): registers and status to their reset values."""

    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "csr": In(csr_port_signature()),
            "host": In(host_port_signature()),
            "clear": In(1),
            "run_start": In(1),          # the core starts a run: MOVED to 0
            "busy": Out(1),
            "axi": Out(axi4(config.addr_bits, config.data_bits)),
            "vmem": Out(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes, byte_writes=True)),
            "vmem_wait": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.regs = regs = DmaRegisters(cfg)
        m.submodules.mm2s = mm2s = ReadEngine(cfg)
        m.submodules.s2mm = s2mm = WriteEngine(cfg)
        m.submodules.arbiter = arb = VmemArbiter(cfg)
        wiring.connect(m, wiring.flipped(self.csr), regs.csr)
        wiring.connect(m, wiring.flipped(self.host), regs.host)
        m.d.comb += [regs.clear.eq(self.clear), regs.run_start.eq(self.run_start), self.busy.eq(regs.busy),
                     arb.wait.eq(self.vmem_wait)]
        wiring.connect(m, regs.mm2s, mm2s.ch)
        wiring.connect(m, regs.s2mm, s2mm.ch)
        wiring.connect(m, mm2s.vmem, arb.write)
        wiring.connect(m, s2mm.vmem, arb.read)
        wiring.connect(m, arb.port, wiring.flipped(self.vmem))
        connect_half(m, self.axi, mm2s.axi)
        connect_half(m, self.axi, s2mm.axi)
        return m
