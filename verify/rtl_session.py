"""The Verilated SoC as a ``fenn_dma.host`` device: a firmware transport
(``compiler.abi.Transport``) over the native harness's host-port primitives
(the ``fenn_native_host_*`` functions at the end of ``verify/native/harness.cpp``).

Unlike ``rtl_native.run_batch_native``, which runs whole jobs from a clear, a
session keeps one SoC instance: the program is loaded once (CONTROL.clear, then
its images through the AXI4-Lite host port), and each firmware call writes its
inputs, starts the core at the entry and runs it until it stops (or a cycle
limit, then CONTROL.halt). Counters are the SoC's own (CYCLES, INSTRET: the
last start's). The SoC on this branch has no DMA engine, so a program with
streamed weights (a DRAM image) is refused by name.
"""
from __future__ import annotations

import ctypes

import numpy as np

from fenn_dma.compiler.abi import Stop
from fenn_dma.host.devices.errors import DeviceError, DeviceUnavailable
from fenn_dma.isa.causes import StopCause
from fenn_dma.rtl import hostmap as H
from fenn_dma.rtl.config import SocConfig

from .rtl_harness import RtlSimError
from .rtl_native import (OUT_CYCLES, OUT_HALTED, OUT_INSTRET, OUT_STATUS, OUT_STOP_PC, OUT_WORDS, NativeRun,
                         build_native, toolchain_missing)

WINDOWS = {"imem": H.IMEM_BASE, "dmem": H.DMEM_BASE, "vmem": H.VMEM_BASE, "llm": H.LLM_BASE}
_DECLARED: set[int] = set()


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


class RtlTransport:
    """One Verilated SoC of ``spec`` (built with the vector unit when the spec has it, cached
    on disk) driven through its host port."""

    def __init__(self, spec, verbose: bool = False):
        why = toolchain_missing()
        if why:
            raise DeviceUnavailable(f"rtl: not available here: {why}")
        config = SocConfig.from_spec(spec)
        self.soc = build_native(config, verbose=verbose)
        self.spec = config.spec                       # the machine built: no DMA engine, no DRAM
        self._run = NativeRun(self.soc)
        self._lib, self._handle = self._run._lib, self._run._handle
        _declare(self._lib)
        self._sizes = {"imem": self._run.imem_size, "dmem": self._run.dmem_size, "vmem": self._run.vmem_size,
                       "llm": 32 * self._run.llm_size}
        self._out = (ctypes.c_uint64 * OUT_WORDS)()

    def _check(self, memory: str, addr: int, nbytes: int) -> None:
        size = self._sizes.get(memory, 0)
        if memory not in WINDOWS or addr % 4 or addr < 0 or addr + nbytes > size:
            raise DeviceError(f"rtl: {memory} bytes {addr}..{addr + nbytes - 1} are outside the host port's "
                              f"{memory} window ({size} bytes, word-aligned accesses)")

    def load(self, images: dict[str, bytes]) -> None:
        if images.get("dram"):
            raise DeviceUnavailable("rtl: the simulated SoC has no DMA engine or DRAM port yet, so a program with "
                                    "streamed weights (a DRAM image) cannot run on it; compile with the weights in "
                                    "VMEM (placement='vmem') or run it on the ISS (--device iss)")
        self._lib.fenn_native_host_clear(self._handle)
        for memory in ("imem", "dmem", "vmem", "llm"):
            data = images.get(memory, b"")
            if data:
                self.write(memory, 0, data)

    def write(self, memory: str, addr: int, data: bytes) -> None:
        data = bytes(data)
        if len(data) % 4:
            data += bytes(4 - len(data) % 4)
        self._check(memory, addr, len(data))
        words = np.frombuffer(data, "<u4").astype(np.uint32)
        self._lib.fenn_native_host_write(self._handle, WINDOWS[memory] + addr,
                                         words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), words.size)

    def read(self, memory: str, addr: int, nbytes: int) -> bytes:
        n = -(-nbytes // 4)
        self._check(memory, addr, 4 * n)
        words = np.zeros(n, np.uint32)
        self._lib.fenn_native_host_read(self._handle, WINDOWS[memory] + addr,
                                        words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), n)
        return words.astype("<u4").tobytes()[:nbytes]

    def start(self, entry: int, max_cycles: int) -> Stop:
        out = self._out
        self._lib.fenn_native_host_start(self._handle, entry, max_cycles, out)
        cause = StopCause.from_code(out[OUT_STATUS] >> H.STATUS_CAUSE_SHIFT & 0xF)
        return Stop(str(cause), int(out[OUT_STOP_PC]), int(out[OUT_INSTRET]), int(out[OUT_CYCLES]),
                    limit=bool(out[OUT_HALTED]))

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
        self._run.close()


def open_transport(spec, program=None, verbose: bool = False) -> RtlTransport:
    """The ``rtl`` device's transport for machine ``spec`` (``fenn_dma.host.devices.registry``
    loads it by name; one serves every program of that machine)."""
    return RtlTransport(spec, verbose=verbose)
