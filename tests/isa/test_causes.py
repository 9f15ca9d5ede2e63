"""One stop-cause enum (isa/causes.py) behind the ISS's causes and the RTL's STATUS.cause codes."""
from fenn_dma.isa.causes import StopCause
from fenn_dma.rtl.causes import RtlCause
from fenn_dma.sim.stop import STOP_CAUSES

# Written out by hand (docs/rtl.md's STATUS.cause, the C engine's CAUSE_LIST order).
RTL_CODES = {"none": 0, "ecall": 1, "ebreak": 2, "illegal_instruction": 3, "misaligned_fetch": 4, "fetch_fault": 5,
             "misaligned_load": 6, "load_fault": 7, "misaligned_store": 8, "store_fault": 9, "max_cycles": 10}
ISS_ORDER = ("ecall", "ebreak", "misaligned_fetch", "fetch_fault", "illegal_instruction", "misaligned_load",
             "load_fault", "misaligned_store", "store_fault", "raw_hazard", "max_instructions")


def test_rtl_codes():
    assert {c.value: c.code for c in StopCause if c.code is not None} == RTL_CODES
    assert {c.name: int(c) for c in RtlCause} == {StopCause(v).name: n for v, n in RTL_CODES.items()}
    for value, code in RTL_CODES.items():
        assert StopCause.from_code(code) is StopCause(value)
        assert RtlCause[StopCause(value).name] == code


def test_iss_causes_in_c_order():
    assert tuple(c.value for c in STOP_CAUSES) == ISS_ORDER
    assert StopCause.ECALL == "ecall" and str(StopCause.RAW_HAZARD) == "raw_hazard"
