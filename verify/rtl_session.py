"""The Verilated SoC as a ``fenn_dma.host`` device: a firmware transport
(``compiler.abi.Transport``) over the native harness's host-port primitives
(the ``fenn_native_host_*`` functions at the end of ``verify/native/harness.cpp``).

Unlike ``rtl_native.run_batch_native``, which runs whole jobs from a clear, a
session keeps one SoC instance: the program is loaded once (CONTROL.clear, then
its images through the AXI4-Lite host port), and each firmware call writes its
inputs, starts the core at the entry and runs it until it stops (or a cycle
limit, then CONTROL.halt). Counters are the SoC's own (CYCLES, INSTRET: the
last start's). A program with streamed weights gets its DRAM image in the
harness's AXI4 DRAM model (``fenn_native_dram_setup``; the timing of
``fenn_dma.dram``'s default preset, the ISS's), on a SoC built with the DMA.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
from pathlib import Path

import numpy as np

from fenn_dma.boundary import write_outputs

from fenn_dma.compiler.abi import Stop
from fenn_dma.dram import DEFAULT_PRESET
from fenn_dma.host.devices.errors import DeviceError, DeviceUnavailable
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H
from fenn_dma.rtl.config import SocConfig

from .rtl_harness import DRAM_START_CYCLE, RtlSimError, cache_root
from .rtl_native import (LIBRARY, OUT_CYCLES, OUT_HALTED, OUT_INSTRET, OUT_STATUS, OUT_STOP_PC, OUT_WORDS,
                         NativeRun, NativeSoc, build_native, toolchain_missing)

WINDOWS = {"imem": H.IMEM_BASE, "dmem": H.DMEM_BASE, "vmem": H.VMEM_BASE, "llm": H.LLM_BASE}
_DECLARED: set[int] = set()
NO_DRAM = ("rtl: this SoC was built without the DMA engine, so a program with streamed weights (a DRAM image) "
           "cannot run on it; use a profile with the DMA (e.g. kv260) or compile with the weights in VMEM "
           "(placement='vmem')")


def _declare(lib: ctypes.CDLL) -> None:
    """The argument types of the host-port primitives (once per loaded library)."""
    if id(lib) in _DECLARED:
        return
    u32, u64, vp = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_void_p
    words = ctypes.POINTER(u32)
    for name, args in (("fenn_native_host_write", [vp, u32, words, u32]),
                       ("fenn_native_host_read", [vp, u32, words, u32]),
                       ("fenn_native_host_clear", [vp]),
                       ("fenn_native_host_start", [vp, u32, u64, ctypes.POINTER(u64)]),
                       ("fenn_native_host_vector_state", [vp, ctypes.POINTER(ctypes.c_int16),
                                                          ctypes.POINTER(ctypes.c_uint16)])):
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise RtlSimError(f"the native harness library lacks {name}: rebuild it") from None
        fn.argtypes, fn.restype = args, ctypes.c_int
    _DECLARED.add(id(lib))


# Verilated instances are kept for the process and handed out again, never freed: freeing two
# instances in another order than they were made hangs in the model's destructor (Verilator's
# per-thread context), and the next load clears the SoC anyway.
_pool: dict[Path, list] = {}


def _take(soc: NativeSoc):
    """(library, handle, memory sizes) of an idle instance of ``soc``, or of a new one."""
    free = _pool.get(soc.library)
    run = None
    if free:
        handle, sizes = free.pop()
    else:
        run = NativeRun(soc)
        handle, run._handle = run._handle, None          # ours now: NativeRun must not free it
        sizes = {"imem": run.imem_size, "dmem": run.dmem_size, "vmem": run.vmem_size, "llm": 32 * run.llm_size}
    from .rtl_native import _library
    lib = _library(soc)
    _declare(lib)
    return lib, handle, sizes


class RtlTransport:
    """One Verilated SoC of ``spec`` (built with the vector unit when the spec has it, cached
    on disk) driven through its host port."""

    def __init__(self, spec, verbose: bool = False, dram=None):
        from fenn_dma.dram import DramTiming
        from fenn_dma.host.devices.iss import dram_timing
        self.dram_timing = DramTiming.preset(DEFAULT_PRESET) if dram is None else dram_timing(dram, "rtl")
        why = toolchain_missing()
        if why:
            raise DeviceUnavailable(f"rtl: not available here: {why}")
        config = SocConfig.from_spec(spec)
        self.soc = cached_build(config, verbose)
        self.spec = config.spec                       # the machine built (with the DMA when the spec has it)
        self._lib, self._handle, self._sizes = _take(self.soc)
        self._out = (ctypes.c_uint64 * OUT_WORDS)()

    def _check(self, memory: str, addr: int, nbytes: int) -> None:
        size = self._sizes.get(memory, 0)
        if memory not in WINDOWS or addr % 4 or addr < 0 or addr + nbytes > size:
            raise DeviceError(f"rtl: {memory} bytes {addr}..{addr + nbytes - 1} are outside the host port's "
                              f"{memory} window ({size} bytes, word-aligned accesses)")

    def cannot_run(self, program) -> str | None:
        """Why this SoC cannot run ``program`` although the machines match (None: it can)."""
        return NO_DRAM if program.images.get("dram") and not self.soc.config.dma else None

    def load(self, images: dict[str, bytes], dram_base: int = 0) -> None:
        dram = images.get("dram", b"")
        if dram and not self.soc.config.dma:
            raise DeviceUnavailable(NO_DRAM)
        self._lib.fenn_native_host_clear(self._handle)
        if self.soc.config.dma:
            self.dram_setup(dram, dram_base)
        for memory in ("imem", "dmem", "vmem", "llm"):
            data = images.get(memory, b"")
            if data:
                self.write(memory, 0, data)

    def dram_setup(self, image: bytes, base: int) -> None:
        """The DRAM model: the program's image at ``base`` (a 64-byte window when it has none),
        the device's timing (``dram``, by default the ISS's preset without back-pressure), no
        error regions; the stall pattern counts from each CONTROL.start as the ISS's from each run."""
        from fenn_dma.isa import csrs
        timing = self.dram_timing
        size = max(-(-len(image) // 64) * 64, 64)
        status = (ctypes.c_uint32 * 2)(*(H.DMA_BASE + ch * H.DMA_CHANNEL_STRIDE + H.DMA_STATUS for ch in (0, 1)))
        errors = (ctypes.c_uint32 * 1)()
        rc = self._lib.fenn_native_dram_setup(self._handle, base, size, bytes(image), len(image),
                                              self.soc.config.dma_data_bits // 8, timing.latency, timing.stall,
                                              timing.seed, DRAM_START_CYCLE, errors, 0,
                                              status, csrs.DMA_STARTING | csrs.DMA_TRANSFERRING)
        if rc != 0:
            raise DeviceError(f"rtl: {self._lib.fenn_native_error(self._handle).decode()}")

    def host_write_words(self, offset: int, words) -> None:
        """32-bit words to the host port from byte ``offset`` of its map (each access clocks the
        SoC, as a board's SoC runs while its host writes); for transports built on this one."""
        words = np.ascontiguousarray(words, np.uint32)
        self._lib.fenn_native_host_write(self._handle, offset, words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                                         words.size)

    def host_read_words(self, offset: int, n: int) -> np.ndarray:
        """``n`` 32-bit words from the host port from byte ``offset`` of its map."""
        words = np.zeros(n, np.uint32)
        self._lib.fenn_native_host_read(self._handle, offset, words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), n)
        return words

    def write(self, memory: str, addr: int, data: bytes) -> None:
        data = bytes(data)
        if len(data) % 4:
            data += bytes(4 - len(data) % 4)
        self._check(memory, addr, len(data))
        self.host_write_words(WINDOWS[memory] + addr, np.frombuffer(data, "<u4"))

    def read(self, memory: str, addr: int, nbytes: int) -> bytes:
        if memory == "dram":                   # records in DRAM: from the base the image was set up at
            return self.dram_image(addr + nbytes)[addr:]
        n = -(-nbytes // 4)
        self._check(memory, addr, 4 * n)
        return self.host_read_words(WINDOWS[memory] + addr, n).astype("<u4").tobytes()[:nbytes]

    def dram_image(self, nbytes: int) -> bytes:
        """The DRAM model's first ``nbytes`` now (what the DMA wrote included)."""
        image = (ctypes.c_uint8 * nbytes)()
        counts = (ctypes.c_uint64 * 6)()
        if not self.soc.config.dma or self._lib.fenn_native_dram_read(self._handle, image, nbytes, counts) != 0:
            why = self._lib.fenn_native_error(self._handle).decode() if self.soc.config.dma else NO_DRAM
            raise DeviceError(f"rtl: DRAM bytes 0..{nbytes - 1}: {why}")
        return bytes(image)

    def dram_beats(self) -> tuple[int, int]:
        """(beats read, beats written) by the DMA since the load, counted by the harness's DRAM
        model (the tests' check on the SoC's own MOVED registers)."""
        if not self.soc.config.dma:
            return 0, 0
        counts, image = (ctypes.c_uint64 * 6)(), (ctypes.c_uint8 * 1)()     # no byte of the image
        if self._lib.fenn_native_dram_read(self._handle, image, 0, counts) != 0:
            raise DeviceError(f"rtl: {self._lib.fenn_native_error(self._handle).decode()}")
        return int(counts[2]), int(counts[3])

    def start(self, entry: int, max_cycles: int) -> Stop:
        out = self._out
        self._lib.fenn_native_host_start(self._handle, entry, max_cycles, out)
        cause = StopCause.from_code(out[OUT_STATUS] >> H.STATUS_CAUSE_SHIFT & 0xF)
        # DMA bytes: each channel's MOVED register (the bytes of its transfers that ended done
        # since the start: the ISS's count, docs/runtime.md "Counters"), read as a board's driver does.
        moved = H.dma_moved(lambda a: self.host_read_words(a, 1)[0]) if self.soc.config.dma else (0, 0)
        return Stop(str(cause), int(out[OUT_STOP_PC]), int(out[OUT_INSTRET]), int(out[OUT_CYCLES]),
                    limit=bool(out[OUT_HALTED]), dma_bytes=moved)

    def vector_state(self) -> tuple[np.ndarray, np.ndarray]:
        """v0..v31 as (32, 32) int16 and the lanes' RNG state as (2, 32) uint16 (s0, s1)."""
        v = np.zeros((32, 32), np.int16)
        rng = np.zeros((2, 32), np.uint16)
        rc = self._lib.fenn_native_host_vector_state(self._handle, v.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                                     rng.ctypes.data_as(ctypes.POINTER(ctypes.c_uint16)))
        if rc:
            raise DeviceError(f"rtl: {self._lib.fenn_native_error(self._handle).decode()}")
        return v, rng

    def close(self) -> None:
        if self._handle is not None:
            _pool.setdefault(self.soc.library, []).append((self._handle, self._sizes))
            self._handle = None


def _sources_digest(config: SocConfig) -> str:
    """A digest of everything the SoC's Verilog and the harness are made from: the RTL, ISA and
    machine sources, the Amaranth version, the harness sources and the configuration."""
    from importlib.metadata import version

    from . import rtl_native
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(repr((config.to_dict(), version("amaranth"))).encode())
    for path in sorted([*(root / "rtl").rglob("*.py"), *(root / "rtl").rglob("*.vlt"), *(root / "isa").rglob("*.py"),
                        root / "arch.py", root / "errors.py", Path(rtl_native.__file__)]):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    h.update(rtl_native._harness_digest(False, config.vector).encode())
    return h.hexdigest()[:16]


def cached_build(config: SocConfig, verbose: bool = False) -> NativeSoc:
    """``build_native(config)``, without elaborating the SoC again when a build of the same sources
    exists: generating the vector SoC's Verilog (to find its build folder) takes longer than
    loading the model, and every batch worker would pay it. The index maps the sources' digest to
    the build folder ``build_native`` chose."""
    index = cache_root() / "sessions" / f"{_sources_digest(config)}.json"
    if index.exists():
        try:
            build_dir = Path(json.loads(index.read_text())["build_dir"])
        except (ValueError, KeyError, TypeError):
            build_dir = None
        if build_dir is not None and (build_dir / "built.json").exists() and \
                (build_dir / "obj" / LIBRARY).exists():
            return NativeSoc(config, build_dir, False)
    soc = build_native(config, verbose=verbose)
    index.parent.mkdir(parents=True, exist_ok=True)
    write_outputs({index: json.dumps({"build_dir": str(soc.build_dir), "config": config.to_dict()})})
    return soc


def open_transport(spec, program=None, verbose: bool = False, dram=None) -> RtlTransport:
    """The ``rtl`` device's transport for machine ``spec`` (``fenn_dma.host.devices.registry``
    loads it by name; one serves every program of that machine); ``dram``: its DRAM's timing
    (a ``fenn_dma.dram.DramTiming``; default the ISS's preset, no back-pressure)."""
    return RtlTransport(spec, verbose=verbose, dram=dram)
