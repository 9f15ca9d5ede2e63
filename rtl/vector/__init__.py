"""fenn_dma.rtl.vector: the 32-lane int16 vector unit, its register file,
VMEM and lane-local memories (docs/vector_unit.md)."""
from .block import VectorBlock
from .config import ISS_FILL, VectorConfig
from .decoder import VectorControl, VectorDecoder, VectorOp
from .interface import LanePortSignature, RowPortSignature
from .unit import VectorUnit
from .vmem import VectorMemory

__all__ = ["VectorBlock", "VectorConfig", "ISS_FILL", "VectorControl", "VectorDecoder", "VectorOp",
           "LanePortSignature", "RowPortSignature",
           "VectorUnit", "VectorMemory"]
