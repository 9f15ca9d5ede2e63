"""fenn_dma.sim: the instruction-set simulator (reference and fast engines,
cycle model, DMA/DRAM model)."""
from fenn_dma.isa.table import ALL_EXTENSIONS, BASE_EXTENSIONS

from .config import PROFILES, MachineConfig, profile
from .cycle_model import CycleModel
from .dma import DmaModel
from .machine import Machine
from .stop import Stop, StopCause

__all__ = ["ALL_EXTENSIONS", "BASE_EXTENSIONS", "CycleModel", "DmaModel", "Machine", "MachineConfig",
           "PROFILES", "Stop", "StopCause", "profile"]
