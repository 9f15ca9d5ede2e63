"""A serial bridge onto the SoC's AXI4-Lite host port, for boards without a CPU:
LiteX's UARTBone (``boards/uartbone.py`` describes the frames), so LiteX's own
``litex_server --uart`` / ``RemoteClient`` and the ``ecp5`` device both talk to it.

8N1 UART at ``clock / divisor`` baud. The frame's word address ``a`` is the host
map's byte address ``4 a`` (docs/rtl.md), truncated to the SoC's address width.
Differences from LiteX's bridge, both at the edges of the protocol: LiteX drops a
frame that has lasted 100 ms, this one a frame whose next byte has not come for
``timeout`` cycles (so a long read answer is never cut); a frame of length 0
moves no word (LiteX's would run until its timer fires). Unknown commands are
dropped after their address, as LiteX does.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.rtl.bus import axi4_lite

from .uartbone import ADDRESS_BYTES, CMD_READ_FIXED, CMD_READ_INCR, CMD_WRITE_FIXED, CMD_WRITE_INCR, WORD_BYTES


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
    """UARTBone frames in, AXI4-Lite word transactions out (one at a time), read words back."""

    def __init__(self, divisor: int, addr_width: int, timeout: int):
        if timeout < 12 * divisor:
            raise ValueError(f"UARTBone timeout {timeout} cycles: must be longer than a byte ({10 * divisor})")
        self.divisor, self.addr_width, self.timeout = divisor, addr_width, timeout
        super().__init__({"rx": In(1, init=1), "tx": Out(1), "axi": Out(axi4_lite(addr_width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        axi = self.axi

        cmd = Signal(8)
        length = Signal(8)
        word_addr = Signal(32)
        data = Signal(32)
        done = Signal(8)                          # words of the frame moved so far
        nbytes = Signal(range(WORD_BYTES + 1))    # bytes of the address or word in hand
        aw_done, w_done = Signal(), Signal()
        idle = Signal(range(self.timeout + 1))    # cycles since the last byte of an open frame
        is_write = (cmd == CMD_WRITE_INCR) | (cmd == CMD_WRITE_FIXED)
        is_read = (cmd == CMD_READ_INCR) | (cmd == CMD_READ_FIXED)
        incr = (cmd == CMD_WRITE_INCR) | (cmd == CMD_READ_INCR)
        last = done + 1 == length

        byte_addr = Cat(Signal(2), word_addr)[:self.addr_width]
        m.d.comb += [axi.awaddr.eq(byte_addr), axi.araddr.eq(byte_addr), axi.wdata.eq(data), axi.wstrb.eq(0xF),
                     axi.awprot.eq(0), axi.arprot.eq(0), utx.data.eq(data[24:])]

        def next_word():
            m.d.sync += [done.eq(done + 1), word_addr.eq(word_addr + incr), nbytes.eq(0)]

        def received():
            """In a state that waits for the host's next byte: the byte, or the frame dropped
            after ``timeout`` quiet cycles (the host resynchronises by pausing, as with LiteX's)."""
            m.d.sync += idle.eq(idle + 1)
            with m.If(~urx.valid & (idle == self.timeout)):
                m.next = "COMMAND"
            return m.If(urx.valid)

        with m.FSM():
            with m.State("COMMAND"):
                with m.If(urx.valid):
                    m.d.sync += [cmd.eq(urx.data), nbytes.eq(0), done.eq(0), idle.eq(0)]
                    m.next = "LENGTH"
            with m.State("LENGTH"):
                with received():
                    m.d.sync += [length.eq(urx.data), idle.eq(0)]
                    m.next = "ADDRESS"
            with m.State("ADDRESS"):
                with received():
                    m.d.sync += [word_addr.eq(Cat(urx.data, word_addr)), nbytes.eq(nbytes + 1), idle.eq(0)]
                    with m.If(nbytes == ADDRESS_BYTES - 1):
                        m.d.sync += nbytes.eq(0)
                        with m.If(length == 0):
                            m.next = "COMMAND"
                        with m.Elif(is_write):
                            m.next = "DATA"
                        with m.Elif(is_read):
                            m.next = "READ"
                        with m.Else():
                            m.next = "COMMAND"          # not a UARTBone command: dropped
            with m.State("DATA"):
                with received():
                    m.d.sync += [data.eq(Cat(urx.data, data)), nbytes.eq(nbytes + 1), idle.eq(0)]
                    with m.If(nbytes == WORD_BYTES - 1):
                        m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                        m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [axi.awvalid.eq(~aw_done), axi.wvalid.eq(~w_done), axi.bready.eq(1)]
                with m.If(axi.awready):
                    m.d.sync += aw_done.eq(1)
                with m.If(axi.wready):
                    m.d.sync += w_done.eq(1)
                with m.If(axi.bvalid):
                    next_word()
                    m.d.sync += idle.eq(0)
                    m.next = "DATA"
                    with m.If(last):
                        m.next = "COMMAND"
            with m.State("READ"):
                m.d.comb += axi.arvalid.eq(1)
                with m.If(axi.arready):
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                m.d.comb += axi.rready.eq(1)
                with m.If(axi.rvalid):
                    m.d.sync += [data.eq(axi.rdata), nbytes.eq(0)]
                    m.next = "SEND"
            with m.State("SEND"):                        # most significant byte first
                with m.If(utx.ready):
                    m.d.comb += utx.start.eq(1)
                    m.d.sync += [data.eq(data << 8), nbytes.eq(nbytes + 1)]
                    with m.If(nbytes == WORD_BYTES - 1):
                        next_word()
                        m.next = "READ"
                        with m.If(last):
                            m.next = "COMMAND"
        return m
