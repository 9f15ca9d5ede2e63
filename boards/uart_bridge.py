"""A serial bridge onto the SoC's AXI4-Lite host port, for boards without a CPU.

8N1 UART at ``clock / divisor`` baud. Frames from the host (little-endian):

- ``'W'`` (0x57), address (4 bytes), data (4 bytes): a word write (all byte
  strobes); the bridge answers ``ACK`` (0x06) once the write response came.
- ``'R'`` (0x52), address (4 bytes): a word read; the bridge answers the
  4 data bytes.

Any other byte where a command is expected is ignored, so a host resynchronises
by sending a few bytes that are not commands. Addresses are the host map's
byte addresses (docs/rtl.md), truncated to the SoC's address width.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import axi4_lite

CMD_WRITE, CMD_READ, ACK = 0x57, 0x52, 0x06


class UartRx(wiring.Component):
    """Receiver: ``valid`` pulses for one cycle with ``data`` after each stop bit."""
    rx: In(1, init=1)
    data: Out(8)
    valid: Out(1)

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError(f"UART divisor {divisor}: must be at least 4 clocks per bit")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        sync_rx = Signal(2, init=0b11)             # two flip-flops against metastability
        m.d.sync += sync_rx.eq(Cat(self.rx, sync_rx[0]))
        line = sync_rx[1]
        timer = Signal(range(self.divisor))
        bit = Signal(range(9))
        shift = Signal(8)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2)
                    m.next = "START"
            with m.State("START"):                 # wait to the middle of the start bit
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"            # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.comb += self.valid.eq(1)
                    m.next = "IDLE"                # a framing error drops the byte
        m.d.comb += self.data.eq(shift)
        return m


class UartTx(wiring.Component):
    """Transmitter: ``start`` with ``data`` when ``ready``."""
    tx: Out(1, init=1)
    data: In(8)
    start: In(1)
    ready: Out(1)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(10, init=0x3FF)             # stop bit, data, start bit; shifted out LSB first
        left = Signal(range(11))
        m.d.comb += [self.ready.eq(left == 0), self.tx.eq(frame[0])]
        with m.If(left == 0):
            with m.If(self.start):
                m.d.sync += [frame.eq(Cat(0, self.data, 1)), left.eq(10), timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), left.eq(left - 1), timer.eq(self.divisor - 1)]
        return m


class UartHostBridge(wiring.Component):
    """UART frames in, AXI4-Lite transactions out (one at a time), answers back."""

    def __init__(self, divisor: int, addr_width: int):
        self.divisor, self.addr_width = divisor, addr_width
        super().__init__({"rx": In(1, init=1), "tx": Out(1), "axi": Out(axi4_lite(addr_width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        axi = self.axi

        is_write = Signal()
        args = Signal(64)           # bytes shifted in from the top: after 8 bytes, address then data
        count = Signal(range(9))
        reply = Signal(32)
        reply_left = Signal(range(5))
        aw_done, w_done = Signal(), Signal()
        addr = Signal(32)
        m.d.comb += addr.eq(args[:32])
        m.d.comb += [axi.awaddr.eq(addr), axi.araddr.eq(addr), axi.wdata.eq(args[32:]), axi.wstrb.eq(0xF),
                     axi.awprot.eq(0), axi.arprot.eq(0), utx.data.eq(reply[:8])]

        with m.FSM():
            with m.State("COMMAND"):
                with m.If(urx.valid & ((urx.data == CMD_WRITE) | (urx.data == CMD_READ))):
                    m.d.sync += [is_write.eq(urx.data == CMD_WRITE), count.eq(0)]
                    m.next = "ARGS"
            with m.State("ARGS"):
                with m.If(urx.valid):
                    m.d.sync += [args.eq(Cat(args[8:], urx.data)), count.eq(count + 1)]
                    with m.If(is_write & (count == 7)):
                        m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                        m.next = "WRITE"
                    with m.Elif(~is_write & (count == 3)):
                        m.next = "ALIGN_READ"
            with m.State("ALIGN_READ"):        # four bytes came: move the address down
                m.d.sync += args.eq(args[32:])
                m.next = "READ"
            with m.State("WRITE"):
                m.d.comb += [axi.awvalid.eq(~aw_done), axi.wvalid.eq(~w_done), axi.bready.eq(1)]
                with m.If(axi.awready):
                    m.d.sync += aw_done.eq(1)
                with m.If(axi.wready):
                    m.d.sync += w_done.eq(1)
                with m.If(axi.bvalid):
                    m.d.sync += [reply.eq(ACK), reply_left.eq(1)]
                    m.next = "REPLY"
            with m.State("READ"):
                m.d.comb += axi.arvalid.eq(1)
                with m.If(axi.arready):
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                m.d.comb += axi.rready.eq(1)
                with m.If(axi.rvalid):
                    m.d.sync += [reply.eq(axi.rdata), reply_left.eq(4)]
                    m.next = "REPLY"
            with m.State("REPLY"):
                with m.If(reply_left == 0):
                    m.next = "COMMAND"
                with m.Elif(utx.ready):
                    m.d.comb += utx.start.eq(1)
                    m.d.sync += [reply.eq(reply >> 8), reply_left.eq(reply_left - 1)]
        return m
