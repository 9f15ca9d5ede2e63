"""FeNN-DMA: an open RISC-V + 32-lane int16 vector processor for spiking neural networks.

Subpackages: ``isa`` (encodings, assembler), ``sim`` (ISS), ``rtl`` (Amaranth),
``firmware`` (assembly), ``compiler`` (SNN -> firmware), ``host`` (runtime,
training, export), ``boards`` (FPGA targets); ``verify`` (random programs,
kernels, the RTL runner: verification, above all of them).
"""
__version__ = "0.1.0"
