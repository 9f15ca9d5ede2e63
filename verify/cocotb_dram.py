"""The cocotb harness's DRAM (imported inside the simulator by ``rtl_harness_tb``): cocotbext-axi's
AXI4 slave (``AxiSlaveRead`` + ``AxiSlaveWrite``) on the SoC's ``dram__*`` master, with this object
as its memory target, held to the one timing model of ``fenn_dma.dram`` (what the ISS predicts and
the native harness's C++ slave does):

- AR, AW and W are accepted at once: the sinks' queues are unbounded (cocotbext-axi bounds them
  to 2, which would drop ARREADY with several bursts waiting for their latency).
- A read burst's first R beat is taken ``latency`` cycles after its AR handshake, the beats
  follow one a cycle, a burst's after the previous burst's; B is taken ``latency`` cycles after
  a write burst's last W beat. cocotbext-axi has no latency setting (as shipped it is the
  model at L = 2: tests/rtl_dma plain_axiram_tb.py), so each handshake is stamped with its clock edge as the sink samples it (an instance
  ``_transaction_obj``), and the burst's first beat (its B) is handed to the source half a cycle
  before the edge that drives it: the source then presents it on exactly the model's edge,
  whatever the order of coroutines within an edge. This needs ``latency`` >= 2.
- A burst with any byte outside [base, base + size) is answered DECERR on every beat (its B),
  one touching an error region SLVERR; such bursts neither read nor write the image (the
  native slave's rule; cocotbext-axi itself answers only SLVERR, per beat, on a target that
  raises, so the burst's response is set here on the R and B objects instead).
- Back-pressure: cocotbext-axi's pause generators on all five channels, each paused a cycle
  with probability stall/256 (seeded per job). Under back-pressure only the state is the
  model's, not the cycles.
"""
from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass

from cocotb.triggers import Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiBus
from cocotbext.axi.axi_slave import AxiSlaveRead, AxiSlaveWrite
from cocotbext.axi.constants import AxiResp

from .rtl_harness import COCOTB_MIN_LATENCY as MIN_LATENCY


def _pauses(rng: random.Random, stall: int):
    """Paused (True) a cycle with probability stall/256, for ever."""
    for _ in itertools.count():
        yield rng.randrange(256) < stall


@dataclass
class _Burst:
    resp: int
    stamp: int              # sim steps of the AR/AW handshake edge
    waited: bool = False    # the first beat's latency has been served


class ModelDram:
    """The DRAM on ``dut``'s ``dram__*`` port, clocked by ``clk`` of ``period_steps`` sim steps."""

    def __init__(self, dut, clk, rst, period_steps: int, beat_bytes: int):
        bus = AxiBus.from_prefix(dut, "dram_")
        self.period, self.beat_bytes = period_steps, beat_bytes
        self.reader = AxiSlaveRead(bus.read, clk, rst, target=self)
        self.writer = AxiSlaveWrite(bus.write, clk, rst, target=self)
        for port in (self.reader, self.writer):
            port.log.setLevel(logging.WARNING)
        self.setup(b"", 0, 0, (), MIN_LATENCY, 0, 1)
        r, w = self.reader, self.writer
        for sink, count in ((r.ar_channel, "bursts_read"), (w.aw_channel, "bursts_written"),
                            (w.w_channel, "beats_written")):
            sink.queue_occupancy_limit = -1
            sink._transaction_obj = self._stamped(type(sink)._transaction_obj, count)
        # The bursts the halves are answering (each half takes one AR/AW at a time, in order).
        self._reads = self._writes = _Burst(AxiResp.OKAY, 0)
        self._last_w = 0        # the stamp of the last W beat taken
        r.ar_channel.recv = self._wrap_recv(r.ar_channel.recv, self._read_burst)
        w.aw_channel.recv = self._wrap_recv(w.aw_channel.recv, self._write_burst)
        w.w_channel.recv = self._wrap_recv(w.w_channel.recv, self._w_beat)
        self._send_r, self._send_b = r.r_channel.send, w.b_channel.send
        r.r_channel.send = self._r
        w.b_channel.send = self._b

    def setup(self, image: bytes, base: int, size: int, errors, latency: int, stall: int, seed: int) -> None:
        """The next job's DRAM: ``size`` bytes at ``base`` (``image`` from its start, the rest 0),
        SLVERR regions [start, end), the latency in cycles, back-pressure stall/256 a cycle."""
        if latency < MIN_LATENCY:
            raise ValueError(f"dram_latency = {latency}: the cocotb DRAM needs at least {MIN_LATENCY} cycles")
        self.image = bytearray(image) + bytearray(size - len(image))
        self.base, self.errors, self.latency = base, tuple(errors), latency
        self.counts = dict.fromkeys(("bursts_read", "bursts_written", "beats_read", "beats_written"), 0)
        self.r_bursts_done = self.b_sent = 0
        channels = (self.reader.ar_channel, self.reader.r_channel, self.writer.aw_channel,
                    self.writer.w_channel, self.writer.b_channel)
        for k, channel in enumerate(channels):
            if stall:
                channel.set_pause_generator(_pauses(random.Random(8 * seed + k), stall))   # one stream a channel
            else:
                channel.clear_pause_generator()
                channel.pause = False

    def idle(self) -> bool:
        """No burst accepted and not yet answered, nothing queued or on the bus."""
        r, w = self.reader, self.writer
        return (self.r_bursts_done == self.counts["bursts_read"] and self.b_sent == self.counts["bursts_written"]
                and r.ar_channel.empty() and r.r_channel.idle() and w.aw_channel.empty()
                and w.w_channel.empty() and w.b_channel.idle())

    # ---- responses: the native slave's rule, one answer a burst ----
    def response(self, addr: int, nbytes: int) -> int:
        if addr < self.base or addr + nbytes > self.base + len(self.image):
            return AxiResp.DECERR
        if any(addr < end and start < addr + nbytes for start, end in self.errors):
            return AxiResp.SLVERR
        return AxiResp.OKAY

    # ---- the memory target cocotbext-axi's halves call, a beat at a time ----
    async def read(self, address: int, length: int) -> bytes:
        burst = self._reads
        if not burst.waited:
            burst.waited = True
            await self._until(burst.stamp)
        if burst.resp != AxiResp.OKAY:
            return bytes(length)
        at = address - self.base
        return bytes(self.image[at:at + length])

    async def write(self, address: int, data: bytes) -> None:
        if self._writes.resp == AxiResp.OKAY:
            at = address - self.base
            self.image[at:at + len(data)] = data

    # ---- the hooks ----
    def _stamped(self, make, count: str):
        """The sink's transaction factory, called as it samples a handshake: stamp it, count it."""
        def stamped():
            obj = make()
            obj.stamp = get_sim_time("step")
            self.counts[count] += 1
            return obj
        return stamped

    @staticmethod
    def _wrap_recv(recv, seen):
        async def wrapped():
            obj = await recv()
            seen(obj)
            return obj
        return wrapped

    def _burst(self, addr: int, length: int, stamp: int) -> _Burst:
        return _Burst(self.response(addr, (length + 1) * self.beat_bytes), stamp)

    def _read_burst(self, ar) -> None:
        self._reads = self._burst(int(ar.araddr), int(ar.arlen), ar.stamp)

    def _write_burst(self, aw) -> None:
        self._writes = self._burst(int(aw.awaddr), int(aw.awlen), aw.stamp)

    def _w_beat(self, w) -> None:
        self._last_w = w.stamp

    async def _until(self, stamp: int) -> None:
        """Until half a cycle before the edge ``latency - 1`` cycles after ``stamp``: an object
        queued then is driven at that edge and taken at the next, ``latency`` after ``stamp``."""
        at = stamp + (self.latency - 1) * self.period - self.period // 2
        now = get_sim_time("step")
        if at > now:
            await Timer(at - now, unit="step")

    async def _r(self, r) -> None:
        r.rresp = self._reads.resp
        self.counts["beats_read"] += 1
        await self._send_r(r)
        if r.rlast:
            self.r_bursts_done += 1

    async def _b(self, b) -> None:
        b.bresp = self._writes.resp
        await self._until(self._last_w)
        await self._send_b(b)
        self.b_sent += 1
