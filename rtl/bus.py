"""Bus interfaces, each defined once as a ``wiring.Signature`` (from the
initiator's side; a target uses ``.flip()``).

Port names follow the AXI specification in lower case (``awvalid``...), so a
flattened Verilog port is ``<prefix>__awvalid`` and cocotbext-axi finds the
bus with ``AxiLiteBus.from_prefix(dut, "<prefix>_")``.
"""
from __future__ import annotations

from amaranth.lib.wiring import In, Out, Signature

AXI_RESP_OKAY, AXI_RESP_SLVERR, AXI_RESP_DECERR = 0b00, 0b10, 0b11


def axi4_lite(addr_width: int, data_width: int = 32) -> Signature:
    """AXI4-Lite, initiator side."""
    return Signature({
        "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wvalid": Out(1), "wready": In(1),
        "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
        "rdata": In(data_width), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
    })


AXI_BURST_INCR = 0b01
AXI_CACHE_NORMAL = 0b0011       # normal, non-cacheable, bufferable (what the Zynq HP ports expect)


def _axi4_address(p: str, addr_width: int, id_width: int) -> dict:
    return {
        f"{p}id": Out(id_width), f"{p}addr": Out(addr_width), f"{p}len": Out(8), f"{p}size": Out(3),
        f"{p}burst": Out(2), f"{p}lock": Out(1), f"{p}cache": Out(4), f"{p}prot": Out(3),
        f"{p}valid": Out(1), f"{p}ready": In(1),
    }


def axi4_read(addr_width: int, data_width: int, id_width: int = 1) -> Signature:
    """The read half of AXI4 (AR, R), initiator side; member names as in ``axi4``."""
    return Signature({
        **_axi4_address("ar", addr_width, id_width),
        "rid": In(id_width), "rdata": In(data_width), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    })


def axi4_write(addr_width: int, data_width: int, id_width: int = 1) -> Signature:
    """The write half of AXI4 (AW, W, B), initiator side; member names as in ``axi4``."""
    return Signature({
        **_axi4_address("aw", addr_width, id_width),
        "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wlast": Out(1), "wvalid": Out(1),
        "wready": In(1),
        "bid": In(id_width), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
    })


def axi4(addr_width: int, data_width: int, id_width: int = 1) -> Signature:
    """AXI4 with bursts (the DMA's DRAM master), initiator side: ``axi4_write`` and ``axi4_read``."""
    return Signature({**axi4_write(addr_width, data_width, id_width).members,
                      **axi4_read(addr_width, data_width, id_width).members})


def reg_bus(addr_width: int) -> Signature:
    """The SoC's internal word bus behind the AXI4-Lite slave, initiator side.

    ``r_en`` asks for the word at ``addr``; ``r_data`` is valid in the next
    cycle (the latency of a synchronous block RAM). ``w_en`` writes ``w_data``
    under the byte mask ``w_strb`` at the clock edge. ``addr`` is a word address.
    """
    return Signature({
        "addr": Out(addr_width), "r_en": Out(1), "r_data": In(32),
        "w_en": Out(1), "w_data": Out(32), "w_strb": Out(4),
    })


def sram_bus(addr_width: int) -> Signature:
    """A core's port to a synchronous RAM (word addressed, 32-bit, byte writes), initiator side.
    ``r_data`` is valid one cycle after ``r_en``; holding ``r_en`` low keeps it."""
    return Signature({
        "addr": Out(addr_width), "r_en": Out(1), "r_data": In(32),
        "w_en": Out(4), "w_data": Out(32),
    })
