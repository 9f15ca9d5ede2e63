"""fenn_dma.sim"""
