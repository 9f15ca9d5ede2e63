"""SymbiYosys proof (unbounded: k-induction with smtbmc and Yices) that the host port's AXI4-Lite target
keeps the handshake rules whatever a rule-abiding master does:

- a raised BVALID/RVALID stays raised, with RDATA stable, until accepted;
- no response without a request: every B answers one accepted AW and one
  accepted W, every R one accepted AR, never more than one outstanding;
- the register-bus write carries exactly the accepted address, data and strobes.

The master is modelled by assumptions (valid stays until ready, payload stable).
"""
import pytest
from amaranth import Module, Signal
from amaranth.hdl import Assert, Assume
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.axi_lite import AxiLiteTarget
from fenn_dma.rtl.bus import axi4_lite, reg_bus
from fenn_dma.rtl.formal import missing_tools, run_sby

ADDR = 8


class AxiLiteTargetProof(wiring.Component):
    axi: In(axi4_lite(ADDR))
    bus: Out(reg_bus(ADDR - 2))

    def elaborate(self, platform):
        m = Module()
        dut = AxiLiteTarget(ADDR)
        dut._MustUse__silence = True       # used through its elaborated module below
        m.submodules.dut = dut.elaborate(platform)   # elaborated here, so formal_view exists
        wiring.connect(m, wiring.flipped(self.axi), dut.axi)
        wiring.connect(m, wiring.flipped(self.bus), dut.bus)
        a = self.axi

        # Master rules (assumptions), from the previous cycle's registered view.
        prev = {name: Signal.like(getattr(a, name), name=f"prev_{name}") for name in (
            "awvalid", "awready", "awaddr", "wvalid", "wready", "wdata", "wstrb", "arvalid", "arready", "araddr",
            "bvalid", "bready", "rvalid", "rready", "rdata")}
        for name, sig in prev.items():
            m.d.sync += sig.eq(getattr(a, name))
        started = Signal()
        m.d.sync += started.eq(1)
        with m.If(started):
            for valid, ready, payload in (("awvalid", "awready", ("awaddr",)), ("wvalid", "wready", ("wdata", "wstrb")),
                                          ("arvalid", "arready", ("araddr",))):
                with m.If(prev[valid] & ~prev[ready]):
                    m.d.comb += Assume(getattr(a, valid))
                    for p in payload:
                        m.d.comb += Assume(getattr(a, p) == prev[p])
            # Target rules (assertions).
            with m.If(prev["bvalid"] & ~prev["bready"]):
                m.d.comb += Assert(a.bvalid)
            with m.If(prev["rvalid"] & ~prev["rready"]):
                m.d.comb += [Assert(a.rvalid), Assert(a.rdata == prev["rdata"])]

        # Transaction bookkeeping: outstanding requests and the accepted write payload.
        aw_open, w_open, ar_open = Signal(2), Signal(2), Signal(2)
        aw_addr, w_data, w_strb = Signal(ADDR), Signal(32), Signal(4)
        written = Signal()                         # the bus write of the open pair happened
        aw_hs, w_hs, ar_hs = a.awvalid & a.awready, a.wvalid & a.wready, a.arvalid & a.arready
        b_hs, r_hs = a.bvalid & a.bready, a.rvalid & a.rready
        m.d.sync += [aw_open.eq(aw_open + aw_hs - b_hs), w_open.eq(w_open + w_hs - b_hs),
                     ar_open.eq(ar_open + ar_hs - r_hs)]
        with m.If(aw_hs):
            m.d.sync += aw_addr.eq(a.awaddr)
        with m.If(w_hs):
            m.d.sync += [w_data.eq(a.wdata), w_strb.eq(a.wstrb)]
        with m.If(self.bus.w_en):
            m.d.sync += written.eq(1)
        with m.If(b_hs):
            m.d.sync += written.eq(0)
        m.d.comb += [
            Assert(aw_open <= 1), Assert(w_open <= 1), Assert(ar_open <= 1),
            Assert(~a.bvalid | ((aw_open == 1) & (w_open == 1) & written)),
            Assert(~a.rvalid | (ar_open == 1)),
        ]
        # Inductive strengthening: the bookkeeping agrees with the target's own state.
        v = dut.formal_view
        m.d.comb += [
            Assert(aw_open == (v["aw_held"] | v["write_resp"])),
            Assert(w_open == (v["w_held"] | v["write_resp"])),
            Assert(ar_open == (v["read"] | v["read_resp"])),
            Assert(written == v["write_resp"]),
            Assert(~(v["aw_held"] | v["w_held"]) | v["idle"]),
            Assert(~v["aw_held"] | (v["waddr"] == aw_addr[2:])),
            Assert(~v["w_held"] | ((v["wdata"] == w_data) & (v["wstrb"] == w_strb))),
        ]
        with m.If(self.bus.w_en):
            m.d.comb += [Assert((aw_open == 1) & (w_open == 1) & ~written),
                         Assert(self.bus.addr == aw_addr[2:]), Assert(self.bus.w_data == w_data),
                         Assert(self.bus.w_strb == w_strb)]
        return m


def test_axi_lite_target_handshake_proof(tmp_path):
    missing = missing_tools()
    if missing:
        pytest.skip(missing)
    result = run_sby(AxiLiteTargetProof(), tmp_path, mode="prove", depth=8, timeout=600)
    assert result.passed, result.log
