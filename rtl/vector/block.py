"""The vector unit together with its VMEM, as the SoC instantiates it."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from .config import VectorConfig
from fenn_dma.rtl.vector_if import vector_issue_signature

from .interface import LanePortSignature, RowPortSignature
from .unit import VectorUnit
from .vmem import VectorMemory


class VectorBlock(wiring.Component):
    """``issue`` from the core; ``vmem_ext``: VMEM's second row port (DMA, host);
    ``llm_ext``: host access to the lane-local memories."""

    def __init__(self, config: VectorConfig):
        self.config = config
        self.unit = VectorUnit(config)       # public: tests inspect its state
        self.vmem = VectorMemory(config)
        super().__init__({
            "issue": In(vector_issue_signature()),
            "vmem_ext": In(RowPortSignature(rows=config.vmem_rows, row_bits=8 * config.row_bytes)),
            "llm_ext": In(LanePortSignature(lanes=config.lanes, halfwords=config.llm_halfwords)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        m.submodules.vmem = vmem = self.vmem
        wiring.connect(m, unit.vmem, vmem.unit)
        wiring.connect(m, wiring.flipped(self.issue), unit.issue)
        wiring.connect(m, wiring.flipped(self.vmem_ext), vmem.ext)
        wiring.connect(m, wiring.flipped(self.llm_ext), unit.llm_ext)
        return m
