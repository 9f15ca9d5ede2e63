"""fenn_dma.host"""
