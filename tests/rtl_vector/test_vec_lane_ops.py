"""VectorLane accounts for every vector op of the instruction table (a forgotten op would write zeros)."""
import pytest
from amaranth.hdl import Fragment

from fenn_dma.isa import fields as F
from fenn_dma.isa import table
from fenn_dma.isa.table import SPECS, VSPC, InstrSpec, Kind
from fenn_dma.rtl.vector.lane import VectorLane, unhandled_vector_ops


def test_every_table_vector_op_is_handled():
    assert unhandled_vector_ops() == []
    Fragment.get(VectorLane(index=0, llm_bytes=64), None)    # elaborates


def test_an_op_missing_from_the_lane_is_refused(monkeypatch):
    extra = InstrSpec("vnewop", "vnewop", table.V, ((F.OPCODE, VSPC), (F.FUNCT3, 7)), (F.VD, F.VS1),
                      "rd, rs1", kind=Kind.VALU)
    monkeypatch.setattr(table, "SPECS", SPECS + (extra,))
    assert unhandled_vector_ops() == ["vnewop"]
    with pytest.raises(NotImplementedError, match=r"VectorLane does not implement the vector op\(s\) vnewop"):
        Fragment.get(VectorLane(index=0, llm_bytes=64), None)
