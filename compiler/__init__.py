"""fenn_dma.compiler"""
