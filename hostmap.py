"""The host's address map of the SoC (its AXI4-Lite port), documented in docs/rtl.md:
the contract between the hardware and everything that drives it from outside (the
RTL, the simulation harnesses, the board flows and the on-board drivers), so it
sits in the base layer that all of them may import."""
from __future__ import annotations

HOST_WINDOW = 1 << 20                 # bytes of one region of the host map
HOST_CTRL_BASE, HOST_IMEM_BASE, HOST_DMEM_BASE = 0, 1 * HOST_WINDOW, 2 * HOST_WINDOW
HOST_VMEM_BASE, HOST_LLM_BASE = 3 * HOST_WINDOW, 4 * HOST_WINDOW     # with the vector unit
HOST_ADDR_WIDTH = 23

REGION_SHIFT = HOST_WINDOW.bit_length() - 1          # byte address bits inside one window
REGION_CTRL, REGION_IMEM, REGION_DMEM = 0, HOST_IMEM_BASE >> REGION_SHIFT, HOST_DMEM_BASE >> REGION_SHIFT
IMEM_BASE, DMEM_BASE = HOST_IMEM_BASE, HOST_DMEM_BASE
# With the vector unit: VMEM from byte 0, and the LLMs lane-major (lane i at i * llm_size),
# 32-bit words with byte writes (docs/vector_unit.md).
REGION_VMEM, REGION_LLM = HOST_VMEM_BASE >> REGION_SHIFT, HOST_LLM_BASE >> REGION_SHIFT
VMEM_BASE, LLM_BASE = HOST_VMEM_BASE, HOST_LLM_BASE

# Control window: byte offsets of 32-bit registers.
CONTROL = 0x00        # W: bit 0 start (from ENTRY, counters cleared), bit 1 halt, bit 2 clear memories
STATUS = 0x04         # R: bit 0 running, bit 1 stopped, bit 2 clearing, bits 11:8 cause (causes.RtlCause)
                      # (clear also brings v0-v31, the RNG, VMEM and LLM to the ISS's reset state)
STOP_PC = 0x08        # R: pc of the instruction that stopped the core
ENTRY = 0x0C          # RW: pc at start
CYCLES = 0x10         # R: 64-bit cycles of the last run (lo, hi at +4)
INSTRET = 0x18        # R: 64-bit instructions retired in the last run
MCYCLE = 0x20         # R: the mcycle CSR (64-bit)
MINSTRET = 0x28       # R: the minstret CSR (64-bit)
IMEM_SIZE = 0x30      # R: bytes
DMEM_SIZE = 0x34      # R: bytes
MAGIC = 0x38          # R: MAGIC_VALUE
FEATURES = 0x3C       # R: bit 0 full M extension, bit 1 vector unit, bit 2 DMA
VMEM_SIZE = 0x40      # R: bytes (0 without the vector unit)
LLM_SIZE = 0x44       # R: bytes per lane (0 without the vector unit)
DMA_DATA_BITS = 0x48  # R: the DMA's AXI4 data width in bits (0 without the DMA)
XREG_BASE = 0x80      # RW: x0..x31 at XREG_BASE + 4 i (writes only while stopped; x0 stays 0)
# With the DMA (docs/dma.md): channel c's registers at DMA_BASE + c * DMA_CHANNEL_STRIDE + the
# register's offset, c = 0 MM2S, 1 S2MM; the same registers as the core's DMA CSRs.
DMA_BASE, DMA_CHANNEL_STRIDE = 0x100, 0x20
DMA_SRC, DMA_DST, DMA_COUNT, DMA_CONTROL, DMA_STATUS = 0x00, 0x04, 0x08, 0x0C, 0x10
DMA_MOVED = 0x14     # R (host port only): bytes of the transfers ended done since the core's start or a clear
DMA_END = DMA_BASE + 2 * DMA_CHANNEL_STRIDE
DMA_CHANNELS = 2
# MOVED of MM2S and of S2MM: the DMA bytes a driver reports after the stop (docs/runtime.md "Counters").
DMA_MOVED_ADDRS = tuple(DMA_BASE + c * DMA_CHANNEL_STRIDE + DMA_MOVED for c in range(DMA_CHANNELS))

CONTROL_START, CONTROL_HALT, CONTROL_CLEAR = 0, 1, 2
STATUS_RUNNING, STATUS_STOPPED, STATUS_CLEARING, STATUS_CAUSE_SHIFT = 0, 1, 2, 8
FEATURE_FULL_M, FEATURE_VECTOR, FEATURE_DMA = 0, 1, 2
MAGIC_VALUE = 0xFE110D3A

# The KV260's device-tree overlay names the nodes its on-board driver looks for
# (boards/kv260 writes them, host/devices/kv260.py finds them by these names).
KV260_UIO_NAME = "fenn_dma"           # /sys/class/uio/uioN/name
KV260_UDMABUF_NAME = "udmabuf-fenn"   # /dev/<name>, /sys/class/u-dma-buf/<name>


def dma_moved(read_word) -> tuple[int, ...]:
    """(MM2S bytes, S2MM bytes): each channel's MOVED register read through ``read_word(addr)``,
    the one host-port read every driver (rtl, kv260, ecp5) makes after the stop."""
    return tuple(int(read_word(addr)) for addr in DMA_MOVED_ADDRS)
