"""fenn_dma.rtl"""
