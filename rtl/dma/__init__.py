"""The DMA engine between DRAM (an AXI4 master) and VMEM (docs/dma.md).

``rtl.dma.config`` (parameters and the measured timing constants) imports no
Amaranth; the engine is ``rtl.dma.engine.DmaEngine``."""
