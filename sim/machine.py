"""The machine: architectural state in numpy buffers, loading, and the run API.

Both engines execute on these very buffers (the C engine through the buffer
protocol), so a machine can be run by one engine, inspected, and continued
by the other.
"""
from __future__ import annotations

import base64
import warnings

import numpy as np

from fenn_dma.arch import DMA_CHANNELS, MEMORY_NAMES, RESET_FILL
from fenn_dma.errors import FennError
from fenn_dma.isa import csrs
from fenn_dma.isa.codec import Instruction
from fenn_dma.isa.program import MEMORIES as PROGRAM_MEMORIES
from fenn_dma.isa.program import Program

from .config import MachineConfig
from .dma import DMA_CSRS, DmaChannels
from .predecode import decode_imem
from .state import CHANNEL_NAMES, CORE, CORE_FIELDS, DMA, DMA_FIELDS, NO_VLOAD
from .stop import Stop

UNINITIALISED = RESET_FILL  # VMEM and LLM reset pattern (fenn_dma.arch)
ENGINES = ("auto", "fast", "reference")


class Machine:
    def __init__(self, config: MachineConfig | None = None):
        self.config = cfg = config or MachineConfig()
        self.imem = np.zeros(cfg.imem_size, np.uint8)
        self.dmem = np.zeros(cfg.dmem_size, np.uint8)
        self.vmem = np.zeros(cfg.vmem_size, np.uint8)
        self.llm = np.zeros((cfg.lanes, cfg.llm_size), np.uint8)
        self.dram = np.zeros(cfg.dram_size, np.uint8)
        self.x = np.zeros(32, np.uint32)
        self.v = np.zeros((32, cfg.lanes), np.int16)
        self.s0 = np.zeros(cfg.lanes, np.uint16)
        self.s1 = np.zeros(cfg.lanes, np.uint16)
        self.core = np.zeros(len(CORE_FIELDS), np.uint64)
        self.dma = np.zeros((DMA_CHANNELS, len(DMA_FIELDS)), np.uint64)
        self.dram_error_regions = np.array(cfg.dram_error_regions, dtype=np.uint64).reshape(-1, 2)
        self.dma_channels = DmaChannels(self.dma, cfg.dma, self.vmem, self.dram, cfg.dram_base,
                                        self.dram_error_regions)
        self.last_stop: Stop | None = None
        self._decoded: tuple[bytes, list[Instruction | None]] | None = None
        self._fast_code = None  # the C engine's predecoded table, cached by fast.py
        self.reset()

    def reset(self) -> None:
        """Reset state: VMEM/LLM 0xDEAD, DMEM/DRAM zero, registers and RNG zero,
        mcountinhibit 0b101, DMA idle, cycles = the cycle model's pipeline fill.
        IMEM keeps its contents."""
        self.dmem[:] = 0
        self.dram[:] = 0
        self.vmem.view("<u2")[:] = UNINITIALISED
        self.llm.view("<u2")[:] = UNINITIALISED
        self.x[:] = 0
        self.v[:] = 0
        self.s0[:] = 0
        self.s1[:] = 0
        self.core[:] = 0
        self.core[CORE["mcountinhibit"]] = csrs.MCOUNTINHIBIT_RESET
        self.core[CORE["vload_dest"]] = NO_VLOAD
        self.core[CORE["cycles"]] = self.config.cycle_model.pipeline_fill
        self.dma_channels.reset()
        self.last_stop = None

    # --- loading ------------------------------------------------------------

    def load(self, program: Program) -> None:
        """Write the program's images at address 0 of their memories and set pc to its entry."""
        for name, image in program.images.items():
            if name not in PROGRAM_MEMORIES:
                raise FennError(f"program image {name!r}: the ISS loads imem, dmem and vmem images")
            self._write_image(name, getattr(self, name), image)
        self.pc = program.entry

    @staticmethod
    def _write_image(name: str, memory: np.ndarray, image: bytes, offset: int = 0) -> None:
        if offset + len(image) > memory.size:
            raise FennError(f"{name} image of {len(image)} bytes at offset {offset} does not fit "
                            f"in {name} ({memory.size} bytes)")
        memory[offset:offset + len(image)] = np.frombuffer(bytes(image), np.uint8)

    def load_image(self, memory: str, image: bytes, offset: int = 0) -> None:
        """Raw image into imem/dmem/vmem/dram at a byte offset, or into llm
        lane-major (all of lane 0, then lane 1, ...)."""
        if memory == "llm":
            self._write_image("llm", self.llm.reshape(-1), image, offset)
        elif memory in MEMORY_NAMES:
            self._write_image(memory, getattr(self, memory), image, offset)
        else:
            raise FennError(f"unknown memory {memory!r}; known: {', '.join(MEMORY_NAMES)}")

    def decoded(self) -> list[Instruction | None]:
        """IMEM decoded (cached until IMEM changes)."""
        data = self.imem.tobytes()
        if self._decoded is None or self._decoded[0] != data:
            self._decoded = (data, decode_imem(self.imem, self.config.extensions))
        return self._decoded[1]

    # --- scalar state -------------------------------------------------------

    def _get(self, name: str) -> int:
        return int(self.core[CORE[name]])

    @property
    def pc(self) -> int:
        return self._get("pc")

    @pc.setter
    def pc(self, value: int) -> None:
        self.core[CORE["pc"]] = value & 0xFFFFFFFF

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
        return {name: int(self.dma[ch, DMA["moved"]]) for ch, name in enumerate(CHANNEL_NAMES)}

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
        d = {
            "stop": self.last_stop.to_json() if self.last_stop else None,
            "x": [int(r) for r in self.x],
            "v": [[int(lane) for lane in row] for row in self.v],
            "rng": {"s0": [int(s) for s in self.s0], "s1": [int(s) for s in self.s1]},   # per lane
            "instret": self.instret,
            "cycles": self.cycles,
            "mcycle": self.mcycle,
            "minstret": self.minstret,
            "dma_bytes": self.dma_bytes,
        }
        if dump_mem:
            d["dmem"] = base64.b64encode(self.dmem.tobytes()).decode("ascii")
            d["vmem"] = base64.b64encode(self.vmem.tobytes()).decode("ascii")
            d["llm"] = base64.b64encode(self.llm.tobytes()).decode("ascii")
            d["dram"] = base64.b64encode(self.dram.tobytes()).decode("ascii")
        return d

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of every piece of state (registers, RNG, memories, counters,
        DMA), for comparing engines."""
        return {name: getattr(self, name).copy() for name in
                ("x", "v", "s0", "s1", "core", "dma") + MEMORY_NAMES}
