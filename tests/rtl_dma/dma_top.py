"""The DMA engine alone, for its cocotb tests: the engine, a VMEM (the vector
unit's ``VectorMemory``, backdoor ``vmem.mem``) on its external row port, the
register ports and the AXI4 master as top-level ports (``dram__*``), and
``vmem_wait`` to play the host's VMEM traffic."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import axi4
from fenn_dma.rtl.dma.config import DmaConfig
from fenn_dma.rtl.dma.engine import DmaEngine
from fenn_dma.rtl.dma.interface import csr_port_signature, host_port_signature
from fenn_dma.rtl.vector.config import VectorConfig
from fenn_dma.rtl.vector.vmem import VectorMemory

TOP = "dma_top"


class DmaTop(wiring.Component):
    def __init__(self, config: DmaConfig):
        self.config = config
        super().__init__({
            "csr": In(csr_port_signature()), "host": In(host_port_signature()),
            "dram": Out(axi4(config.addr_bits, config.data_bits)),
            "vmem_wait": In(1), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dma = dma = DmaEngine(self.config)
        m.submodules.vmem = vmem = VectorMemory(VectorConfig(vmem_bytes=self.config.vmem_bytes, fill=0))
        wiring.connect(m, wiring.flipped(self.csr), dma.csr)
        wiring.connect(m, wiring.flipped(self.host), dma.host)
        wiring.connect(m, dma.axi, wiring.flipped(self.dram))
        wiring.connect(m, dma.vmem, vmem.ext)
        m.d.comb += [dma.vmem_wait.eq(self.vmem_wait), self.busy.eq(dma.busy)]
        return m
