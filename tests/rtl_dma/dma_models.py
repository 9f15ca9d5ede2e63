"""cocotb models around the DMA's AXI4 master (imported by the benches inside the simulator):

- ``AxiChecker``: asserts the master's handshake rules on every cycle of every test
  (VALID held until READY, payload stable meanwhile, INCR bursts of <= 16 beats at the
  port's size never crossing 4 KiB, full WSTRB, WLAST on each burst's last beat, W beats
  per burst = AWLEN + 1, RREADY always high, at most ``outstanding`` reads in flight).
- ``FixedLatencyDram``: the contract's timing slave: AR/AW accepted at once, the first R beat
  ``latency`` cycles after the AR handshake then one a cycle, B ``latency`` cycles after a
  burst's last W beat; error ranges answer SLVERR/DECERR; outside [base, base + size) DECERR.
- ``ErrorAxiRam``: cocotbext-axi's AxiRam answering SLVERR/DECERR on chosen ranges.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiBus, AxiRam
from cocotbext.axi.constants import AxiResp

PERIOD_NS = 10
OKAY, SLVERR, DECERR = 0, 2, 3


_origin = [0]


async def start_clock(clk) -> None:
    """Start a clock of PERIOD_NS and make the rising edge after this call cycle 0 for
    ``cycle_now`` (each test starts its own clock at whatever time the last one ended)."""
    from cocotb.clock import Clock
    Clock(clk, PERIOD_NS, unit="ns").start()
    await RisingEdge(clk)
    _origin[0] = int(get_sim_time("ns"))


def at_falling_edge() -> bool:
    return (int(get_sim_time("ns")) - _origin[0]) % PERIOD_NS == PERIOD_NS // 2


def cycle_now() -> int:
    """The current cycle: cycle n runs from rising edge n to rising edge n + 1."""
    return (int(get_sim_time("ns")) - _origin[0]) // PERIOD_NS


class _Bus:
    def __init__(self, dut, prefix: str):
        self.dut, self.prefix = dut, prefix

    def __getitem__(self, name):
        return getattr(self.dut, f"{self.prefix}__{name}")

    def get(self, name) -> int:
        return int(self[name].value)


class AxiChecker:
    CHANNELS = {"ar": ("araddr", "arlen", "arsize", "arburst", "arid", "arcache", "arprot", "arlock"),
                "aw": ("awaddr", "awlen", "awsize", "awburst", "awid", "awcache", "awprot", "awlock"),
                "w": ("wdata", "wstrb", "wlast")}

    def __init__(self, dut, clk, *, prefix: str = "dram", beat_bytes: int, outstanding: int):
        self.bus, self.clk = _Bus(dut, prefix), clk
        self.beat_bytes, self.outstanding = beat_bytes, outstanding
        self.errors: list[str] = []
        self.ar_bursts: list[tuple[int, int]] = []     # (address, beats) per AR handshake
        self.aw_bursts: list[tuple[int, int]] = []
        self.w_bursts: list[int] = []                  # beats per W burst (WLAST seen)
        self.w_run = 0
        self.reads_in_flight = self.max_reads_in_flight = 0
        self.r_beats = self.b_count = 0
        cocotb.start_soon(self._run())

    def _fail(self, what: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(f"cycle {cycle_now()}: {what}")

    def _check_address(self, ch: str, v: dict) -> None:
        addr, beats = v[f"{ch}addr"], v[f"{ch}len"] + 1
        if v[f"{ch}len"] > 15:
            self._fail(f"{ch.upper()}LEN {v[f'{ch}len']} > 15")
        if 1 << v[f"{ch}size"] != self.beat_bytes:
            self._fail(f"{ch.upper()}SIZE {v[f'{ch}size']} is not the port's {self.beat_bytes} bytes")
        if v[f"{ch}burst"] != 1:
            self._fail(f"{ch.upper()}BURST {v[f'{ch}burst']} is not INCR")
        if addr % self.beat_bytes:
            self._fail(f"{ch.upper()}ADDR 0x{addr:x} not beat aligned")
        if (addr % 4096) + beats * self.beat_bytes > 4096:
            self._fail(f"{ch.upper()} burst 0x{addr:x} + {beats} beats crosses 4 KiB")

    async def _run(self) -> None:
        names = [n for fields in self.CHANNELS.values() for n in fields] + [
            "arvalid", "arready", "awvalid", "awready", "wvalid", "wready", "rvalid", "rready", "rlast",
            "bvalid", "bready"]
        prev = None
        while True:
            await RisingEdge(self.clk)
            v = {n: self.bus.get(n) for n in names}
            if prev is not None:
                for ch, payload in self.CHANNELS.items():
                    if prev[f"{ch}valid"] and not prev[f"{ch}ready"]:
                        if not v[f"{ch}valid"]:
                            self._fail(f"{ch.upper()}VALID dropped before {ch.upper()}READY")
                        for p in payload:
                            if v[p] != prev[p]:
                                self._fail(f"{p.upper()} changed while {ch.upper()}VALID and not READY")
            if v["arvalid"] and v["arready"]:
                self._check_address("ar", v)
                self.ar_bursts.append((v["araddr"], v["arlen"] + 1))
                self.reads_in_flight += 1
            if v["awvalid"] and v["awready"]:
                self._check_address("aw", v)
                self.aw_bursts.append((v["awaddr"], v["awlen"] + 1))
            if v["wvalid"] and v["wready"]:
                if v["wstrb"] != (1 << self.beat_bytes) - 1:
                    self._fail(f"WSTRB 0x{v['wstrb']:x} is not full")
                self.w_run += 1
                k = len(self.w_bursts)
                if k < len(self.aw_bursts) and self.w_run > self.aw_bursts[k][1]:
                    self._fail(f"W burst {k} longer than its AWLEN + 1 = {self.aw_bursts[k][1]}")
                if v["wlast"]:
                    if k < len(self.aw_bursts) and self.w_run != self.aw_bursts[k][1]:
                        self._fail(f"WLAST after {self.w_run} beats of W burst {k}, AWLEN + 1 = {self.aw_bursts[k][1]}")
                    self.w_bursts.append(self.w_run)
                    self.w_run = 0
            if v["rvalid"]:
                if not v["rready"]:
                    self._fail("RREADY low with RVALID high (R must never stall)")
                if v["rready"]:
                    self.r_beats += 1
                    if v["rlast"]:
                        self.reads_in_flight -= 1
            if v["bvalid"] and v["bready"]:
                self.b_count += 1
            if self.reads_in_flight > self.outstanding:
                self._fail(f"{self.reads_in_flight} read bursts in flight > {self.outstanding}")
            self.max_reads_in_flight = max(self.max_reads_in_flight, self.reads_in_flight)
            prev = v

    def final(self) -> None:
        """Assert everything seen so far kept the rules and nothing is left half done."""
        if self.w_bursts != [n for _, n in self.aw_bursts[:len(self.w_bursts)]] or \
                len(self.w_bursts) != len(self.aw_bursts) or self.w_run:
            self._fail(f"W bursts {self.w_bursts[:8]}... (+{self.w_run}) do not match AW {self.aw_bursts[:8]}...")
        if self.reads_in_flight:
            self._fail(f"{self.reads_in_flight} read bursts still in flight")
        if self.b_count != len(self.aw_bursts):
            self._fail(f"{self.b_count} B responses for {len(self.aw_bursts)} AW bursts")
        assert not self.errors, "AXI protocol violations:\n" + "\n".join(self.errors)


class FixedLatencyDram:
    """``mem``: the DRAM bytes at ``base``; ``errors``: [(lo, hi, resp)] byte ranges."""

    def __init__(self, dut, clk, *, prefix: str = "dram", mem: bytearray, base: int = 0, latency: int,
                 beat_bytes: int, errors: list[tuple[int, int, int]] = ()):
        assert latency >= 1
        self.bus, self.clk, self.mem, self.base = _Bus(dut, prefix), clk, mem, base
        self.latency, self.bb, self.errors = latency, beat_bytes, list(errors)
        self.ar_cycles: list[int] = []       # handshake cycle of each AR
        self.first_w_cycle = None
        for name, value in (("arready", 1), ("awready", 1), ("wready", 1), ("rvalid", 0), ("bvalid", 0),
                            ("rlast", 0), ("rresp", 0), ("bresp", 0), ("rdata", 0), ("rid", 0), ("bid", 0)):
            self.bus[name].value = value
        self.tasks = [cocotb.start_soon(self._read()), cocotb.start_soon(self._write())]

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    def resp(self, lo: int, hi: int) -> int:
        if lo < self.base or hi > self.base + len(self.mem):
            return DECERR
        for a, b, r in self.errors:
            if lo < b and a < hi:
                return r
        return OKAY

    async def _read(self) -> None:
        beats: list[tuple[int, int, bool]] = []    # (cycle, address, last) scheduled
        free = 0
        while True:
            await RisingEdge(self.clk)
            now = cycle_now()                          # the cycle starting at this edge
            b = self.bus
            if b.get("rvalid") and b.get("rready"):
                beats.pop(0)
            if b.get("arvalid") and b.get("arready"):
                h = now - 1
                self.ar_cycles.append(h)
                addr, n = b.get("araddr"), b.get("arlen") + 1
                start = max(h + self.latency, free)
                beats += [(start + i, addr + i * self.bb, i == n - 1) for i in range(n)]
                free = start + n
            if beats and beats[0][0] <= now:
                _, addr, last = beats[0]
                r = self.resp(addr, addr + self.bb)
                data = self.mem[addr - self.base:addr - self.base + self.bb] if r == OKAY else bytes(self.bb)
                b["rdata"].value = int.from_bytes(data, "little")
                b["rresp"].value, b["rlast"].value, b["rvalid"].value = r, int(last), 1
            else:
                b["rvalid"].value = 0

    async def _write(self) -> None:
        aws: list[tuple[int, int]] = []
        cur: list[int] = []                 # data of the W burst in progress
        done: list[tuple[int, int, list[int]]] = []   # W bursts complete: (last cycle, ...)
        bs: list[tuple[int, int]] = []      # (cycle, resp) scheduled
        while True:
            await RisingEdge(self.clk)
            now = cycle_now()
            b = self.bus
            if b.get("bvalid") and b.get("bready"):
                bs.pop(0)
            if b.get("awvalid") and b.get("awready"):
                aws.append((b.get("awaddr"), b.get("awlen") + 1))
            if b.get("wvalid") and b.get("wready"):
                if self.first_w_cycle is None:
                    self.first_w_cycle = now - 1
                cur.append(b.get("wdata"))
                if b.get("wlast"):
                    done.append((now - 1, cur))
                    cur = []
            while done and aws:
                (last_cycle, data), (addr, n) = done.pop(0), aws.pop(0)
                r = self.resp(addr, addr + n * self.bb)
                if r == OKAY:
                    for i, word in enumerate(data):
                        at = addr - self.base + i * self.bb
                        self.mem[at:at + self.bb] = word.to_bytes(self.bb, "little")
                bs.append((max(last_cycle + self.latency, bs[-1][0] + 1 if bs else 0), r))
            if bs and bs[0][0] <= now:
                b["bresp"].value, b["bvalid"].value = bs[0][1], 1
            else:
                b["bvalid"].value = 0


class ErrorAxiRam(AxiRam):
    """AxiRam (cocotbext-axi) whose accesses inside ``errors`` ranges [(lo, hi, resp)] are
    answered SLVERR or DECERR: the read/write raises (AxiRam's SLVERR path) and the
    response is rewritten to DECERR where asked."""

    def __init__(self, bus: AxiBus, clock, reset, size: int, errors: list[tuple[int, int, int]]):
        super().__init__(bus, clock, reset, size=size)
        self.error_ranges = list(errors)
        self.read_if._read = self._checked(self.read_if._read, self.read_if, "r")
        self.write_if._write = self._checked(self.write_if._write, self.write_if, "w")
        for port, channel in ((self.read_if, self.read_if.r_channel), (self.write_if, self.write_if.b_channel)):
            port.decerr_pending = False
            channel.send = self._rewrite(channel.send, port)

    def _hit(self, lo: int, hi: int) -> int:
        for a, b, r in self.error_ranges:
            if lo < b and a < hi:
                return r
        return OKAY

    def _checked(self, access, port, kind):
        async def run(address, arg):
            n = arg if kind == "r" else len(arg)
            r = self._hit(address, address + n)
            if r != OKAY:
                port.decerr_pending = port.decerr_pending or r == DECERR
                raise IOError(f"error range at 0x{address:x}")
            return await access(address, arg)
        return run

    @staticmethod
    def _rewrite(send, port):
        async def run(obj):
            resp = "rresp" if hasattr(obj, "rresp") else "bresp"
            if port.decerr_pending and int(getattr(obj, resp)) == AxiResp.SLVERR:
                setattr(obj, resp, AxiResp.DECERR)
            port.decerr_pending = False
            await send(obj)
        return run
