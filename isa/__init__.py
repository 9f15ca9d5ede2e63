"""fenn_dma.isa"""
