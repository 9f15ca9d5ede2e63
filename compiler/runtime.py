"""Running a compiled program on the ISS: load it, write input spikes, run N
timesteps (in windows of at most ``window`` steps per call of the firmware),
read records and readouts back.

    rt = Runtime(program)                     # a .fenn file's FennProgram or a Compiled
    out = rt.run({"input": spikes_TxN}, steps=100)
    out.records["hidden.spikes"], out.readouts["output"]

``run`` continues from the current state; ``reset()`` makes the next run
start from the initial state (the firmware re-initialises itself). The host
side of the firmware ABI is ``compiler.abi.FirmwareSession`` (shared with every
``fenn_dma.host`` device); this module is its ISS transport.

A program with streamed weights carries a DRAM image; it is loaded into the
machine's DRAM at ``io["dram_base"]`` (without a ``config``, the ISS is the
program's machine with its DRAM sized to the image; a ``config`` for another
machine is refused with :class:`fenn_dma.arch.MachineMismatch`). A DMA error stops the firmware with ``ebreak`` after it
stored the MM2S status and address in the control block: :class:`RunError`
(:class:`~fenn_dma.compiler.abi.DmaError`) says which transfer failed and why.

Cycles are counted per firmware call as the hardware counts them: from the
start to the stop, the pipeline fill included (docs/rtl.md "Timing").
"""
from __future__ import annotations

from fenn_dma.arch import ROW_BYTES, MachineSpec, check_compatible
from fenn_dma.isa.program import MEMORIES as PROGRAM_MEMORIES
from fenn_dma.isa.program import Program
from fenn_dma.sim.state import CHANNEL_NAMES

from .abi import (DmaError, FirmwareSession, LimitExceeded, RunError, RunOutput, Stop, pack_spikes,
                  program_machine, unpack_spikes)

__all__ = ["DmaError", "IssTransport", "LimitExceeded", "RunError", "RunOutput", "Runtime", "iss_config",
           "pack_spikes", "program_machine", "unpack_spikes"]


def iss_config(spec: MachineSpec, program=None, config=None):
    """The ISS machine to run ``program`` on: ``config`` (checked against the program's
    machine), else ``spec``'s with its DRAM model the size of the program's DRAM image."""
    from fenn_dma.sim import MachineConfig
    images = dict(program.images) if program is not None else {}
    io = program.io if program is not None else {}
    dram = images.get("dram", b"")
    base = int(io.get("dram_base", 0))
    if config is None:
        return MachineConfig.from_spec(spec, dram_size=max(-(-len(dram) // ROW_BYTES) * ROW_BYTES, ROW_BYTES),
                                       dram_base=base)
    if program is not None:
        check_compatible(program_machine(program), config.spec)
    if dram and (config.dram_base > base or base + len(dram) > config.dram_base + config.dram_size):
        raise RunError(f"the program's DRAM image ({len(dram)} bytes at 0x{base:x}) does not fit the machine's "
                       f"DRAM ({config.dram_size} bytes at 0x{config.dram_base:x}); give MachineConfig a "
                       "larger dram_size")
    return config


class IssTransport:
    """The ISS (``fenn_dma.sim.Machine``) as a firmware transport: memories are its
    arrays. ``engine``: "fast", "reference" or "auto"."""

    def __init__(self, config, engine: str = "fast", dram_base: int = 0):
        from fenn_dma.sim import Machine
        self.machine = Machine(config)
        self.spec = config.spec
        self.engine = engine
        self.dram_base = dram_base

    def load(self, images: dict[str, bytes], dram_base: int | None = None) -> None:
        if dram_base is not None:
            self.dram_base = dram_base
        m = self.machine
        m.reset()
        m.imem[:] = 0
        m.load(Program(images={k: v for k, v in images.items() if k in PROGRAM_MEMORIES}))
        if images.get("llm"):
            m.load_image("llm", images["llm"])
        if images.get("dram"):
            m.load_image("dram", images["dram"], self.dram_base - m.config.dram_base)

    def _memory(self, memory: str):
        return getattr(self.machine, memory)

    def write(self, memory: str, addr: int, data: bytes) -> None:
        self._memory(memory)[addr:addr + len(data)] = memoryview(data).cast("B")

    def read(self, memory: str, addr: int, nbytes: int) -> bytes:
        if memory == "dram":                    # from the program's DRAM base
            addr += self.dram_base - self.machine.config.dram_base
        return self._memory(memory)[addr:addr + nbytes].tobytes()

    def start(self, entry: int, max_cycles: int) -> Stop:
        m = self.machine
        i0, c0, d0 = m.instret, m.cycles, m.dma_bytes
        m.pc = entry
        # Every instruction takes at least one cycle: max_cycles instructions bound the run.
        stop = m.run(max_cycles, engine=self.engine)
        # The machine charged the pipeline fill once, at reset; the hardware pays it at every start.
        cycles = m.cycles - c0 + m.config.cycle_model.pipeline_fill
        instructions = m.instret - i0
        d1 = m.dma_bytes
        return Stop(str(stop.cause), stop.pc, instructions, cycles,
                    limit=stop.cause == "max_instructions" or cycles > max_cycles,
                    dma_bytes=tuple(d1[ch] - d0[ch] for ch in CHANNEL_NAMES))

    def close(self) -> None:
        pass


class Runtime(FirmwareSession):
    """``config``: the ISS machine (``MachineConfig``) to run on; by default the
    program's own machine with a DRAM model the size of its DRAM image. A machine
    that does not match the program's (``fenn_dma.arch.mismatches``) is refused."""

    def __init__(self, program, engine: str = "fast", config=None, max_cycles: int = 1 << 40):
        self.spec = program_machine(program)
        config = iss_config(self.spec, program, config)
        self.engine = engine
        transport = IssTransport(config, engine, int(program.io.get("dram_base", 0)))
        self.machine = transport.machine
        super().__init__(program, transport, max_cycles)
