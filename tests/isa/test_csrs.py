"""The CSR enum (isa/csrs.py) against the CSR map written out by hand (docs/isa.md)."""
from fenn_dma.isa import csrs
from fenn_dma.isa.csrs import CSR_BY_NAME, CSR_BY_NUMBER, CSRS, Csr, csr_name

MAP = {"mcountinhibit": 0x320, "mcycle": 0xB00, "minstret": 0xB02, "mcycleh": 0xB80, "minstreth": 0xB82,
       "mhartid": 0xF14, "mm2s_src_addr": 0xBC0, "mm2s_dst_addr": 0xBC1, "mm2s_count": 0xBC2,
       "mm2s_control": 0xBC3, "mm2s_status": 0xFC0, "s2mm_src_addr": 0xBD0, "s2mm_dst_addr": 0xBD1,
       "s2mm_count": 0xBD2, "s2mm_control": 0xBD3, "s2mm_status": 0xFD0}


def test_csr_map():
    assert {c.asm_name: c.number for c in CSRS} == MAP
    assert set(CSR_BY_NAME) == set(MAP) and set(CSR_BY_NUMBER) == set(MAP.values())
    for name, number in MAP.items():
        assert getattr(csrs, name.upper()) is Csr(number) is CSR_BY_NAME[name]
        assert csr_name(number) == name
    assert csr_name(0x7C0) == "0x7c0"
    assert {c.access for c in CSRS} <= {"R", "W", "RW"}
