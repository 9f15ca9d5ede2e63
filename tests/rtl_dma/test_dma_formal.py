"""SymbiYosys proofs (unbounded: k-induction with smtbmc and Yices) that the DMA's AXI4
master keeps the handshake rules whatever the slave and the rest of the SoC do:

- AR, AW, W: a raised VALID stays raised, with its payload unchanged, until READY;
- every AR/AW burst is INCR at the port's size, 1..max_burst beats (LEN <= 15), beat
  aligned, and never crosses a 4 KiB boundary;
- RREADY is always high (R never stalls); WSTRB is full.

The engines (``ReadEngine``, ``WriteEngine`` of rtl/dma) are proved alone, small
(32-bit port, bursts of up to 4 beats, 2 in flight), with every input free except
that a command's DRAM address is 64-byte aligned (the registers' rule check) and that
the slave answers B only for a burst whose W beats it has (the AXI rule).
"""
import pytest
from amaranth import Module, Signal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import AXI_BURST_INCR, axi4_read, axi4_write
from fenn_dma.rtl.dma.config import AXI_BOUNDARY, DmaConfig
from fenn_dma.rtl.dma.interface import channel_signature, row_read_signature, row_write_signature
from fenn_dma.rtl.dma.mm2s import ReadEngine
from fenn_dma.rtl.dma.s2mm import WriteEngine
from fenn_dma.rtl.formal import missing_tools, run_sby

CONFIG = DmaConfig(vmem_rows=4, data_bits=32, outstanding=2, max_burst=4)
B = CONFIG.beat_bytes


def _stable(m, prev, sig, valid: str, ready: str, payload: tuple[str, ...], started):
    """VALID held and payload unchanged while VALID and not READY."""
    with m.If(started & prev[valid] & ~prev[ready]):
        m.d.comb += Assert(getattr(sig, valid))
        for p in payload:
            m.d.comb += Assert(getattr(sig, p) == prev[p])


def _burst_rules(m, a, ch: str):
    valid = getattr(a, f"{ch}valid")
    addr, length = getattr(a, f"{ch}addr"), getattr(a, f"{ch}len")
    with m.If(valid):
        m.d.comb += [
            Assert(length < CONFIG.max_burst),
            Assert(getattr(a, f"{ch}burst") == AXI_BURST_INCR),
            Assert(getattr(a, f"{ch}size") == (B - 1).bit_length()),
            Assert(addr[:(B - 1).bit_length()] == 0),
            Assert(addr[:12] + (length + 1) * B <= AXI_BOUNDARY),
        ]


def _prev(m, a, names):
    prev = {n: Signal.like(getattr(a, n), name=f"prev_{n}") for n in names}
    for n, s in prev.items():
        m.d.sync += s.eq(getattr(a, n))
    started = Signal()
    m.d.sync += started.eq(1)
    return prev, started


def _engine_under_proof(m, proof, engine, platform):
    """The engine wired to the proof's ports (free inputs), with the registers' rule that a
    command's DRAM address is 64-byte aligned assumed; its formal view."""
    dut = engine(CONFIG)
    dut._MustUse__silence = True
    m.submodules.dut = dut.elaborate(platform)
    wiring.connect(m, wiring.flipped(proof.axi), dut.axi)
    wiring.connect(m, wiring.flipped(proof.ch), dut.ch)
    wiring.connect(m, dut.vmem, wiring.flipped(proof.vmem))
    m.d.comb += Assume(proof.ch.cmd.payload.dram[:6] == 0)
    return dut.formal_view


class ReadProof(wiring.Component):
    axi: Out(axi4_read(32, CONFIG.data_bits))
    ch: In(channel_signature(CONFIG))
    vmem: Out(row_write_signature(CONFIG))

    def elaborate(self, platform):
        m = Module()
        a, v = self.axi, _engine_under_proof(m, self, ReadEngine, platform)
        prev, started = _prev(m, a, ("arvalid", "arready", "araddr", "arlen", "arsize", "arburst", "arcache"))
        _stable(m, prev, a, "arvalid", "arready", ("araddr", "arlen", "arsize", "arburst", "arcache"), started)
        _burst_rules(m, a, "ar")
        m.d.comb += [Assert(a.rready), Assert(v["ar_addr"][:(B - 1).bit_length()] == 0)]
        # Reachable (the cover run): an AR held through a stall, then taken.
        m.d.comb += Cover(started & prev["arvalid"] & ~prev["arready"] & a.arvalid & a.arready)
        return m


class WriteProof(wiring.Component):
    axi: Out(axi4_write(32, CONFIG.data_bits))
    ch: In(channel_signature(CONFIG))
    vmem: Out(row_read_signature(CONFIG))

    def elaborate(self, platform):
        m = Module()
        a, v = self.axi, _engine_under_proof(m, self, WriteEngine, platform)
        names = ("awvalid", "awready", "awaddr", "awlen", "awsize", "awburst", "awcache",
                 "wvalid", "wready", "wdata", "wstrb", "wlast")
        prev, started = _prev(m, a, names)
        _stable(m, prev, a, "awvalid", "awready", ("awaddr", "awlen", "awsize", "awburst", "awcache"), started)
        _stable(m, prev, a, "wvalid", "wready", ("wdata", "wstrb", "wlast"), started)
        _burst_rules(m, a, "aw")
        m.d.comb += Assert(a.wstrb == (1 << B) - 1)
        # The slave's rule: a B answers a burst whose W beats are all in (counted here).
        w_done = Signal(range(CONFIG.outstanding + 2))
        m.d.sync += w_done.eq(w_done + (a.wvalid & a.wready & a.wlast) - (a.bvalid & a.bready))
        m.d.comb += Assume(~a.bvalid | (w_done != 0))
        # Inductive strengthening: the engine's counters agree with each other and with w_done
        # (every burst presented on AW and not yet answered is waiting for W, in W, or for B).
        m.d.comb += [Assert(w_done + v["in_burst"] + v["w_credit"] == v["b_pending"]),
                     Assert(v["b_pending"] <= CONFIG.outstanding),
                     Assert(v["busy"] | ((v["b_pending"] == 0) & ~a.awvalid))]
        # Reachable (the cover run): a W beat held through a stall, then taken as its burst's last.
        m.d.comb += Cover(started & prev["wvalid"] & ~prev["wready"] & a.wvalid & a.wready & a.wlast)
        shift = (B - 1).bit_length()
        m.d.comb += [Assert(v["aw_addr"][:shift] == 0), Assert(v["w_addr"][:shift] == 0),
                     Assert(~v["in_burst"] | ((v["burst_left"] >= 1) & (v["burst_left"] <= v["w_left"])
                                              & (v["w_addr"][:12] + v["burst_left"] * B <= AXI_BOUNDARY)))]
        return m


@pytest.mark.parametrize("mode", ["prove", "cover"])
@pytest.mark.parametrize("proof, depth", [(ReadProof, 4), (WriteProof, 6)], ids=["mm2s", "s2mm"])
def test_dma_master_handshake_proof(tmp_path, proof, depth, mode):
    """``prove``: the assertions hold for ever; ``cover``: the stalled-then-taken handshake
    the assertions are about is reachable under the assumptions (the proof is not vacuous)."""
    missing = missing_tools()
    if missing:
        pytest.skip(missing)
    result = run_sby(proof(), tmp_path, mode=mode, depth=depth if mode == "prove" else 12)
    assert result.passed, result.log
