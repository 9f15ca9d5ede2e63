"""The machine: architectural state in flat buffers, loading, and the run API.

The state lives in plain buffers (``Machine.buffers``: bytearrays, and an anonymous mapping for the
DRAM model, whose untouched pages cost nothing); ``m.x``, ``m.v``, ``m.dmem`` ... are numpy views of
them, made on first use. Both engines execute on these very buffers (the C engine through the
buffer protocol), so a machine can be run by one engine, inspected, and continued by the other, and
a run on the fast engine needs no numpy (`fenn-dma sim` starts without it).
"""
from __future__ import annotations

import mmap
import warnings
from array import array

from fenn_dma.arch import DMA_CHANNELS, MEMORY_NAMES, RESET_FILL
from fenn_dma.errors import FennError
from fenn_dma.isa import csrs
from fenn_dma.isa.codec import Instruction
from fenn_dma.isa.program import MEMORIES as PROGRAM_MEMORIES
from fenn_dma.isa.program import Program

from .config import MachineConfig
from .dma import DMA_CSRS, reset_channels
from .predecode import decode_imem
from .state import CHANNEL_NAMES, CORE, CORE_FIELDS, DMA, DMA_FIELDS, NO_VLOAD
from .stop import Stop, StopCause

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    import numpy as np

    from .dma import DmaChannels

UNINITIALISED = RESET_FILL  # VMEM and LLM reset pattern (fenn_dma.arch)
ENGINES = ("auto", "fast", "reference")
# Buffers from this size on are anonymous mappings: zero pages until written.
MAPPED_BYTES = 1 << 20


def _zeroed(size: int):
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE) if size >= MAPPED_BYTES and hasattr(mmap, "MAP_PRIVATE") \
        else bytearray(size)


def _view(name: str, dtype: str, shape, doc: str) -> property:
    """A numpy view of buffer ``name`` (made once; numpy is imported on first use)."""
    def get(self: "Machine") -> "np.ndarray":
        view = self._views.get(name)
        if view is None:
            import numpy as np
            view = self._views[name] = np.frombuffer(self.buffers[name], dtype).reshape(shape(self.config))
        return view
    return property(get, doc=doc)


class Machine:
    # The state as numpy views of ``buffers`` (shapes and types as docs/iss.md "State" lists them).
    imem = _view("imem", "u1", lambda c: (c.imem_size,), "IMEM bytes")
    dmem = _view("dmem", "u1", lambda c: (c.dmem_size,), "DMEM bytes")
    vmem = _view("vmem", "u1", lambda c: (c.vmem_size,), "VMEM bytes")
    llm = _view("llm", "u1", lambda c: (c.lanes, c.llm_size), "lane-local memories, [lane, byte]")
    dram = _view("dram", "u1", lambda c: (c.dram_size,), "the DRAM model's bytes (from dram_base)")
    x = _view("x", "u4", lambda c: (32,), "scalar registers")
    v = _view("v", "i2", lambda c: (32, c.lanes), "vector registers, [register, lane]")
    s0 = _view("s0", "u2", lambda c: (c.lanes,), "per-lane RNG state, first half")
    s1 = _view("s1", "u2", lambda c: (c.lanes,), "per-lane RNG state, second half")
    core = _view("core", "u8", lambda c: (len(CORE_FIELDS),), "scalar state slots (state.CORE_FIELDS)")
    dma = _view("dma", "u8", lambda c: (DMA_CHANNELS, len(DMA_FIELDS)), "DMA channels' slots (state.DMA_FIELDS)")
    dram_error_regions = _view("dram_error_regions", "u8", lambda c: (-1, 2),
                               "[start, end) DRAM addresses answered with a slave error")

    def __init__(self, config: MachineConfig | None = None):
        self.config = cfg = config or MachineConfig()
        regions = [int(a) for region in cfg.dram_error_regions for a in region]
        self.buffers = {
            "imem": bytearray(cfg.imem_size), "dmem": _zeroed(cfg.dmem_size), "vmem": bytearray(cfg.vmem_size),
            "llm": bytearray(cfg.lanes * cfg.llm_size), "dram": _zeroed(cfg.dram_size),
            "x": bytearray(32 * 4), "v": bytearray(32 * cfg.lanes * 2), "s0": bytearray(cfg.lanes * 2),
            "s1": bytearray(cfg.lanes * 2), "core": bytearray(len(CORE_FIELDS) * 8),
            "dma": bytearray(DMA_CHANNELS * len(DMA_FIELDS) * 8),
            "dram_error_regions": bytearray(array("Q", regions).tobytes()),
        }
        self._views: dict[str, "np.ndarray"] = {}
        self._core = memoryview(self.buffers["core"]).cast("Q")
        self._dma_channels: "DmaChannels | None" = None
        self.last_stop: Stop | None = None
        self._decoded: tuple[bytes, list[Instruction | None]] | None = None
        self._fast_code = None  # the C engine's translated program, cached by fast.py
        self._reset(fresh=True)

    @property
    def dma_channels(self) -> "DmaChannels":
        """The reference logic of both DMA channels over this machine's buffers."""
        if self._dma_channels is None:
            from .dma import DmaChannels
            cfg = self.config
            self._dma_channels = DmaChannels(self.dma, cfg.dma, self.vmem, self.dram, cfg.dram_base,
                                             self.dram_error_regions)
        return self._dma_channels

    def reset(self) -> None:
        """Reset state: VMEM/LLM 0xDEAD, DMEM/DRAM zero, registers and RNG zero,
        mcountinhibit 0b101, DMA idle, cycles = the cycle model's pipeline fill.
        IMEM keeps its contents."""
        self._reset(fresh=False)

    def _reset(self, fresh: bool) -> None:
        b = self.buffers
        zero = ("x", "v", "s0", "s1", "core", "dma") + (() if fresh else ("dmem", "dram"))  # new buffers are zero
        for name in zero:
            b[name][:] = bytes(len(b[name]))
        fill = UNINITIALISED.to_bytes(2, "little")
        for name in ("vmem", "llm"):
            b[name][:] = fill * (len(b[name]) // 2)
        core = self._core
        core[CORE["mcountinhibit"]] = csrs.MCOUNTINHIBIT_RESET
        core[CORE["vload_dest"]] = NO_VLOAD
        core[CORE["cycles"]] = self.config.cycle_model.pipeline_fill
        reset_channels(memoryview(b["dma"]).cast("Q"))
        self.last_stop = None

    # --- loading ------------------------------------------------------------

    def load(self, program: Program) -> None:
        """Write the program's images at address 0 of their memories and set pc to its entry."""
        for name, image in program.images.items():
            if name not in PROGRAM_MEMORIES:
                raise FennError(f"program image {name!r}: the ISS loads imem, dmem and vmem images")
            self._write_image(name, image)
        self.pc = program.entry

    def _write_image(self, name: str, image: bytes, offset: int = 0) -> None:
        memory = self.buffers[name]
        if offset < 0 or offset + len(image) > len(memory):
            raise FennError(f"{name} image of {len(image)} bytes at offset {offset} does not fit "
                            f"in {name} ({len(memory)} bytes)")
        memory[offset:offset + len(image)] = bytes(image)

    def load_image(self, memory: str, image: bytes, offset: int = 0) -> None:
        """Raw image into imem/dmem/vmem/dram at a byte offset, or into llm
        lane-major (all of lane 0, then lane 1, ...)."""
        if memory in MEMORY_NAMES:   # the LLM buffer is lane-major already
            self._write_image(memory, image, offset)
        else:
            raise FennError(f"unknown memory {memory!r}; known: {', '.join(MEMORY_NAMES)}")

    def decoded(self) -> list[Instruction | None]:
        """IMEM decoded (cached until IMEM changes)."""
        data = bytes(self.buffers["imem"])
        if self._decoded is None or self._decoded[0] != data:
            self._decoded = (data, decode_imem(data, self.config.extensions))
        return self._decoded[1]

    # --- scalar state -------------------------------------------------------

    def _get(self, name: str) -> int:
        return self._core[CORE[name]]

    @property
    def pc(self) -> int:
        return self._get("pc")

    @pc.setter
    def pc(self, value: int) -> None:
        self._core[CORE["pc"]] = value & 0xFFFFFFFF

    @property
    def instret(self) -> int:
        """Instructions retired since reset (whatever mcountinhibit says)."""
        return self._get("instret")

    @property
    def cycles(self) -> int:
        """Predicted cycles since reset (see cycle_model.py)."""
        return self._get("cycles")

    @property
    def dma_bytes(self) -> dict[str, int]:
        """Payload bytes each DMA channel moved since reset, counted as each transfer completes
        done (``mm2s``: read from DRAM into VMEM, ``s2mm``: written from VMEM to DRAM); a
        transfer that fails or is still in flight counts nothing (docs/iss.md "DMA bytes")."""
        slots = memoryview(self.buffers["dma"]).cast("Q")
        return {name: slots[ch * len(DMA_FIELDS) + DMA["moved"]] for ch, name in enumerate(CHANNEL_NAMES)}

    @property
    def mcycle(self) -> int:
        return self._get("mcycle")

    @property
    def minstret(self) -> int:
        return self._get("minstret")

    def csr_read(self, number: int) -> int:
        """A CSR as the next instruction would read it."""
        from .reference import ReferenceEngine
        now = self.cycles
        if number in DMA_CSRS:
            self.dma_channels.advance(now)
        return ReferenceEngine(self).csr_read(number, now)

    def csr_write(self, number: int, value: int) -> None:
        """A CSR write as the next instruction would do it (read-only ones ignore it)."""
        from .reference import ReferenceEngine
        now = self.cycles
        self.dma_channels.advance(now)
        ReferenceEngine(self).csr_write(number, value, now)

    # --- running ------------------------------------------------------------

    def run(self, max_instructions: int | None = None, engine: str = "auto", trace=None) -> Stop:
        """Run until a stop. ``engine``: "fast" (the C engine; an error if it
        was not built), "reference" (the Python oracle), or "auto" (fast when
        built, else reference with a warning). ``trace`` (a callable, see
        reference.TraceHook) forces the reference engine."""
        if engine not in ENGINES:
            raise FennError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
        if max_instructions is not None and max_instructions < 0:
            raise FennError("max_instructions must be >= 0")
        if self.config.dma.dram.stall and self.last_stop is not None and \
                self.last_stop.cause != StopCause.MAX_INSTRUCTIONS:
            # A new start of the core after a stop: the DRAM's stall pattern counts its cycles from
            # here, as the hardware's (each start pays the pipeline fill; docs/dma.md "Back-pressure").
            self.dma_channels.cycle_origin = self.cycles - self.config.cycle_model.pipeline_fill
        from . import fast
        if trace is not None and engine == "fast":
            raise FennError("tracing runs on the reference engine; use engine='reference' or 'auto'")
        if engine == "auto":
            if trace is None and fast.available():
                engine = "fast"
            else:
                if trace is None:
                    warnings.warn(f"fast ISS engine not built ({fast.build_hint()}); "
                                  "using the reference engine", RuntimeWarning, stacklevel=2)
                engine = "reference"
        if engine == "fast":
            stop = fast.run(self, max_instructions)
        else:
            from .reference import ReferenceEngine
            stop = ReferenceEngine(self).run(max_instructions, trace)
        self.last_stop = stop
        return stop

    # --- reporting ----------------------------------------------------------

    def state_dict(self, dump_mem: bool = False) -> dict:
        """The final state as JSON-ready data (the shape the RTL harness also produces)."""
        b, lanes = self.buffers, self.config.lanes
        v = memoryview(b["v"]).cast("h").tolist()
        d = {
            "stop": self.last_stop.to_json() if self.last_stop else None,
            "x": memoryview(b["x"]).cast("I").tolist(),
            "v": [v[r * lanes:(r + 1) * lanes] for r in range(32)],
            "rng": {"s0": memoryview(b["s0"]).cast("H").tolist(),
                    "s1": memoryview(b["s1"]).cast("H").tolist()},   # per lane
            "instret": self.instret,
            "cycles": self.cycles,
            "mcycle": self.mcycle,
            "minstret": self.minstret,
            "dma_bytes": self.dma_bytes,
        }
        if dump_mem:
            import base64
            for name in ("dmem", "vmem", "llm", "dram"):
                d[name] = base64.b64encode(bytes(b[name])).decode("ascii")
        return d

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of every piece of state (registers, RNG, memories, counters,
        DMA), for comparing engines."""
        return {name: getattr(self, name).copy() for name in
                ("x", "v", "s0", "s1", "core", "dma") + MEMORY_NAMES}
