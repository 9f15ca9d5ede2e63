"""fenn_dma.firmware"""
