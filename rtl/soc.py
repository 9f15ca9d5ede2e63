"""The SoC: scalar core, instruction and data RAMs, and the host's AXI4-Lite port;
with the vector unit, VMEM and the LLMs; with the DMA, the engine and its AXI4
master ``dram`` (docs/dma.md).

Each RAM has a port for the core and a second one for the host. The host's
address map (docs/rtl.md) has a window of control/status registers (with the
register file behind it while the core is stopped, and the DMA's registers)
and one window per RAM.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fenn_dma.arch import LANES

from fenn_dma import hostmap as H
from .axi_lite import AxiLiteTarget
from .bus import axi4, axi4_lite
from .config import HOST_ADDR_WIDTH, SocConfig
from .core import Core
from .dma.engine import DmaEngine
from .dma.regs import HOST_OFFSETS, host_word
from .vector import VectorBlock, VectorConfig


def _words(image: bytes | None, depth: int) -> list[int]:
    if not image:
        return []
    image = image + bytes(-len(image) % 4)
    return [int.from_bytes(image[i:i + 4], "little") for i in range(0, min(len(image), depth * 4), 4)]


class Soc(wiring.Component):
    """Ports: ``host`` (AXI4-Lite target), ``stopped`` (level: the core has stopped, the
    host's interrupt line) and, with the DMA, ``dram`` (AXI4 master, ``dma_data_bits`` wide)."""

    def __init__(self, config: SocConfig, *, imem_init: bytes | None = None, dmem_init: bytes | None = None):
        self.config = config
        self.imem_init, self.dmem_init = imem_init, dmem_init
        members = {"host": In(axi4_lite(HOST_ADDR_WIDTH)), "stopped": Out(1)}
        if config.dma:
            members["dram"] = Out(axi4(config.dma_config.addr_bits, config.dma_data_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.core = core = Core(cfg, vector=cfg.vector)
        m.submodules.axi = axi = AxiLiteTarget(HOST_ADDR_WIDTH)
        wiring.connect(m, wiring.flipped(self.host), axi.axi)
        m.submodules.imem = imem = Memory(shape=32, depth=cfg.imem_words, init=_words(self.imem_init, cfg.imem_words))
        m.submodules.dmem = dmem = Memory(shape=32, depth=cfg.dmem_words, init=_words(self.dmem_init, cfg.dmem_words))

        # Write ports first (the core's, then the host's), so that read ports can name them.
        core_dmem_w = dmem.write_port(granularity=8)
        host_w = {"imem": imem.write_port(granularity=8), "dmem": dmem.write_port(granularity=8)}
        # Core ports: a synchronous read port (and a byte-write port at the same address for DMEM).
        # A DMEM read sees the other port's write of the same word in the same cycle: ECP5 block RAMs
        # leave that collision undefined, so yosys maps DMEM to them only with these semantics.
        core_imem = imem.read_port()
        core_dmem_r = dmem.read_port(transparent_for=(host_w["dmem"],))
        m.d.comb += [
            core_imem.addr.eq(core.imem.addr), core_imem.en.eq(core.imem.r_en), core.imem.r_data.eq(core_imem.data),
            core_dmem_r.addr.eq(core.dmem.addr), core_dmem_r.en.eq(core.dmem.r_en),
            core.dmem.r_data.eq(core_dmem_r.data),
            core_dmem_w.addr.eq(core.dmem.addr), core_dmem_w.en.eq(core.dmem.w_en),
            core_dmem_w.data.eq(core.dmem.w_data),
        ]

        # Host side: decode the register bus into the three windows.
        bus = axi.bus
        region = bus.addr[H.REGION_SHIFT - 2:]
        offset = bus.addr[:H.REGION_SHIFT - 2]           # word offset inside the window
        ctrl = region == H.REGION_CTRL
        byte_off = offset << 2
        control_write = bus.w_en & ctrl & (byte_off == H.CONTROL) & bus.w_strb[0]

        # CONTROL.clear: zero IMEM, DMEM and x1..x31 (one word per cycle) while the core is stopped,
        # so that a run starts from the ISS's reset state without thousands of host writes.
        # A DMA transfer still running (the core may stop while one is) finishes first: the
        # clear waits for it (`clear_pending`, shown as clearing), then also resets the DMA.
        clear_words = max(cfg.imem_words, cfg.dmem_words, 32)
        clearing = Signal()
        clear_at = Signal(range(clear_words))
        clear_pending, dma_busy = Signal(), Signal()
        if cfg.dma:
            clear_go = Signal()
            clear_asked = control_write & bus.w_data[H.CONTROL_CLEAR] & ~core.running
            m.d.comb += clear_go.eq((clear_pending | clear_asked) & ~dma_busy & ~clearing)
        with m.If(clearing):
            m.d.sync += clear_at.eq(clear_at + 1)
            with m.If(clear_at == clear_words - 1):
                m.d.sync += clearing.eq(0)
        if cfg.dma:
            with m.Elif(clear_go):
                m.d.sync += [clearing.eq(1), clear_at.eq(0), clear_pending.eq(0)]
            with m.Elif(clear_asked):
                m.d.sync += clear_pending.eq(1)      # dma_busy: wait for the transfer
        else:
            with m.Elif(control_write & bus.w_data[H.CONTROL_CLEAR] & ~core.running):
                m.d.sync += [clearing.eq(1), clear_at.eq(0)]
            clear_go = None                          # built below where it is used (the same Verilog as before the DMA)

        host_ports = {}
        for name, mem, region_id in (("imem", imem, H.REGION_IMEM), ("dmem", dmem, H.REGION_DMEM)):
            wr = host_w[name]
            rd = mem.read_port(transparent_for=(core_dmem_w,) if mem is dmem else ())
            aw = (mem.depth - 1).bit_length()
            hit = (region == region_id) & (offset < mem.depth)
            # The host's read and write share one address (the clear sequencer's while clearing),
            # so with the core's port the RAM has two read/write ports: a true dual-port block RAM.
            # Separate addresses make three ports, which yosys can only build from flip-flops.
            addr = Mux(clearing, clear_at[:aw], offset[:aw])
            m.d.comb += [rd.addr.eq(addr), wr.addr.eq(addr), rd.en.eq(bus.r_en & hit)]
            with m.If(clearing):
                m.d.comb += [wr.data.eq(0), wr.en.eq(Mux(clear_at < mem.depth, 0b1111, 0))]
            with m.Else():
                m.d.comb += [wr.data.eq(bus.w_data), wr.en.eq(Mux(bus.w_en & hit, bus.w_strb, 0))]
            host_ports[region_id] = rd.data

        # The vector unit: issue from the core, host windows onto VMEM and the LLMs.
        vector_clearing = Signal()
        if cfg.vector:
            m.submodules.vector = vector = VectorBlock(VectorConfig.from_machine(cfg))
            wiring.connect(m, core.vector, vector.issue)
            for region_id, port, size in ((H.REGION_VMEM, vector.host_vmem, cfg.vmem_size),
                                          (H.REGION_LLM, vector.host_llm, LANES * cfg.llm_size)):
                hit = (region == region_id) & (offset < size // 4)
                m.d.comb += [port.addr.eq(offset[:len(port.addr)]), port.r_en.eq(bus.r_en & hit),
                             port.w_en.eq(bus.w_en & hit), port.w_data.eq(bus.w_data), port.w_strb.eq(bus.w_strb)]
                host_ports[region_id] = port.r_data
            vector_clear = clear_go if cfg.dma else control_write & bus.w_data[H.CONTROL_CLEAR] & ~core.running
            m.d.comb += [vector.clear.eq(vector_clear), vector_clearing.eq(vector.clearing)]

        # The DMA: the core's CSRs, the host's registers (in the control window), VMEM's external
        # port (the host's VMEM window goes first), the AXI4 master to DRAM.
        dma_read = None
        if cfg.dma:
            m.submodules.dma = dma = DmaEngine(cfg.dma_config)
            wiring.connect(m, core.dma, dma.csr)
            wiring.connect(m, dma.vmem, vector.dma_vmem)
            wiring.connect(m, dma.axi, wiring.flipped(self.dram))
            in_dma = ctrl & (byte_off >= H.DMA_BASE) & (byte_off < H.DMA_END)
            dma_word = offset - H.DMA_BASE // 4
            m.d.comb += [dma.vmem_wait.eq(vector.dma_wait), dma.clear.eq(clear_go), dma_busy.eq(dma.busy),
                         dma.run_start.eq(core.start),
                         dma.host.addr.eq(dma_word[:len(dma.host.addr)]), dma.host.w_en.eq(bus.w_en & in_dma),
                         dma.host.w_data.eq(bus.w_data), dma.host.w_strb.eq(bus.w_strb)]
            dma_read = dma.host.r_data

        # Control/status registers (byte offsets of hostmap.py).
        reg = Signal(32)      # the register read this cycle, delivered in the next
        in_regfile = ctrl & (byte_off >= H.XREG_BASE) & (byte_off < H.XREG_BASE + 4 * 32)
        with m.If(clearing):
            m.d.comb += [core.dbg_addr.eq(clear_at[:5]), core.dbg_w_data.eq(0), core.dbg_w_en.eq(clear_at < 32)]
        with m.Else():
            m.d.comb += [core.dbg_addr.eq(offset[:5]), core.dbg_w_data.eq(bus.w_data),
                         core.dbg_w_en.eq(bus.w_en & in_regfile)]
        m.d.comb += [
            core.start.eq(control_write & bus.w_data[H.CONTROL_START] & ~clearing & ~vector_clearing),
            core.halt.eq(control_write & bus.w_data[H.CONTROL_HALT]),
            self.stopped.eq(core.stopped),
        ]
        entry = Signal(32)
        with m.If(bus.w_en & ctrl & (byte_off == H.ENTRY)):
            m.d.sync += entry.eq(bus.w_data)
        m.d.comb += core.entry.eq(entry)

        status = (core.running << H.STATUS_RUNNING) | (core.stopped << H.STATUS_STOPPED) | \
                 (((clearing | vector_clearing | clear_pending) if cfg.dma else (clearing | vector_clearing))
                  << H.STATUS_CLEARING) | \
                 (core.cause << H.STATUS_CAUSE_SHIFT)
        features = (int(cfg.full_m) << H.FEATURE_FULL_M | int(cfg.vector) << H.FEATURE_VECTOR
                    | int(cfg.dma) << H.FEATURE_DMA)
        readable = {
            H.STATUS: status, H.STOP_PC: core.stop_pc, H.ENTRY: entry,
            H.CYCLES: core.cycles[:32], H.CYCLES + 4: core.cycles[32:],
            H.INSTRET: core.instret[:32], H.INSTRET + 4: core.instret[32:],
            H.MCYCLE: core.mcycle[:32], H.MCYCLE + 4: core.mcycle[32:],
            H.MINSTRET: core.minstret[:32], H.MINSTRET + 4: core.minstret[32:],
            H.IMEM_SIZE: cfg.imem_size, H.DMEM_SIZE: cfg.dmem_size, H.MAGIC: H.MAGIC_VALUE,
            H.FEATURES: features,
            H.VMEM_SIZE: cfg.vmem_size if cfg.vector else 0, H.LLM_SIZE: cfg.llm_size if cfg.vector else 0,
        }
        if dma_read is not None:                   # (unmapped, so 0, without the DMA)
            readable[H.DMA_DATA_BITS] = cfg.dma_data_bits
            for channel in range(2):
                for index in HOST_OFFSETS:
                    readable[H.DMA_BASE + 4 * host_word(channel, index)] = dma_read
        with m.If(bus.r_en):
            with m.Switch(byte_off):
                for address, value in readable.items():
                    with m.Case(address):
                        m.d.sync += reg.eq(value)
                with m.Default():
                    m.d.sync += reg.eq(Mux(in_regfile, core.dbg_r_data, 0))

        read_region = Signal.like(region)
        with m.If(bus.r_en):
            m.d.sync += read_region.eq(region)
        with m.Switch(read_region):
            with m.Case(H.REGION_CTRL):
                m.d.comb += bus.r_data.eq(reg)
            for region_id, r_data in host_ports.items():
                with m.Case(region_id):
                    m.d.comb += bus.r_data.eq(r_data)
        return m
