"""fenn_dma.boards"""
