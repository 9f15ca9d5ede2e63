"""The host ABI's transport (``compiler.abi.Transport``) over a board's AXI4-Lite
host port, for any link that reads and writes words at host addresses
(``read(addr, count) -> uint32 array``, ``write(addr, words)``, ``close()``):
the ECP5's serial bridge (``serial_link.SerialLink``) or a mapped register window.

The same host-port steps as the native harness (verify/native/harness.cpp):
CONTROL.clear and wait; images as words (IMEM and DMEM without their zero
words, which the clear has just written); ENTRY, CONTROL.start, poll STATUS
until ``stopped`` (CONTROL.halt past the cycle limit); the SoC's own counters.
"""
from __future__ import annotations

import numpy as np

from fenn_dma.arch import LANES, ROW_BYTES, MachineSpec
from fenn_dma.compiler.abi import Stop
from fenn_dma.errors import FennError
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H

WINDOWS = {"imem": H.IMEM_BASE, "dmem": H.DMEM_BASE, "vmem": H.VMEM_BASE, "llm": H.LLM_BASE}
_SIZES = {"imem": H.IMEM_SIZE, "dmem": H.DMEM_SIZE, "vmem": H.VMEM_SIZE, "llm": H.LLM_SIZE}
# STATUS, STOP_PC, ENTRY, CYCLES lo/hi, INSTRET lo/hi: consecutive registers, one burst.
_RUN_REGS = (H.INSTRET + 8 - H.STATUS) // 4
_HALT_POLLS = 100               # STATUS reads after CONTROL.halt before the board is declared stuck


class BoardError(FennError):
    """The board is not the machine asked for, or refused an access."""


def _bit(value: int, n: int) -> bool:
    return bool(value >> n & 1)


class HostPortTransport:
    """A board's SoC through ``link``; checked against ``spec`` when opened."""

    def __init__(self, link, spec: MachineSpec, name: str, dram_window: int | None = None):
        self.link, self.name, self.dram_window = link, name, dram_window
        self._dram_base = spec.dram_base        # the loaded program's (load)
        try:
            self._check_board(spec)
        except BaseException:
            link.close()
            raise
        self.spec = spec

    def _check_board(self, spec: MachineSpec) -> None:
        magic = int(self.link.read(H.MAGIC, 1)[0])
        if magic != H.MAGIC_VALUE:
            raise BoardError(f"{self.name}: host port answered {magic:#010x} at MAGIC ({H.MAGIC:#x}), not FeNN-DMA's "
                             f"{H.MAGIC_VALUE:#010x}: is the board configured with the FeNN-DMA bitstream?")
        imem, dmem = (int(v) for v in self.link.read(H.IMEM_SIZE, 2))
        features, vmem, llm = (int(v) for v in self.link.read(H.FEATURES, 3))
        self.sizes = {"imem": imem, "dmem": dmem, "vmem": vmem, "llm": LANES * llm}     # LLMs lane-major
        board = {"imem_size": imem, "dmem_size": dmem, "vmem_size": vmem, "llm_size": llm,
                 "full_m": _bit(features, H.FEATURE_FULL_M), "vector": _bit(features, H.FEATURE_VECTOR)}
        wanted = {k: getattr(spec, k) for k in board}
        if not wanted["vector"]:
            wanted.update(vmem_size=0, llm_size=0)
        diff = [f"{k} {board[k]} (machine {spec.name}: {wanted[k]})" for k in board if board[k] != wanted[k]]
        if diff:
            raise BoardError(f"{self.name}: the board's SoC is not machine {spec.name}: {'; '.join(diff)}; "
                             f"program it with a bitstream of that profile or open the device with its own")
        self.dma = _bit(features, H.FEATURE_DMA)

    def _no_dram(self) -> str | None:
        if self.dma and self.dram_window is not None:
            return None
        return (f"{self.name}: the board's link has no window onto its DRAM, so a program with streamed "
                "weights (a DRAM image) cannot be staged over it; compile with the weights in VMEM "
                "(placement='vmem')")

    def cannot_run(self, program) -> str | None:
        return self._no_dram() if program.images.get("dram") else None

    def _check(self, memory: str, addr: int, nbytes: int) -> None:
        size = self.sizes.get(memory, 0)
        if memory not in WINDOWS or addr % 4 or addr < 0 or addr + nbytes > size:
            raise BoardError(f"{self.name}: {memory} bytes {addr}..{addr + nbytes - 1} are outside the host port's "
                             f"{memory} window ({size} bytes, word-aligned accesses)")

    def _status(self) -> int:
        return int(self.link.read(H.STATUS, 1)[0])

    def load(self, images: dict[str, bytes], dram_base: int = 0) -> None:
        dram = images.get("dram", b"")
        if dram and self._no_dram():
            raise BoardError(self._no_dram())
        self.link.write(H.CONTROL, [1 << H.CONTROL_CLEAR])
        while _bit(self._status(), H.STATUS_CLEARING):
            pass
        for memory in ("imem", "dmem", "vmem", "llm"):
            data = images.get(memory, b"")
            if data:
                self._write_image(memory, data, skip_zero=memory in ("imem", "dmem"))
        self._dram_base = dram_base
        if dram:
            self._stage_dram(dram, dram_base)

    def _stage_dram(self, image: bytes, base: int) -> None:
        """The image at physical ``base``, through the link's DRAM window (which starts at the
        machine's ``dram_base``), padded to whole rows like the simulators' DRAM."""
        offset, end = base - self.spec.dram_base, base - self.spec.dram_base + len(image)
        if offset < 0 or end > self.spec.dram_size:
            raise BoardError(f"{self.name}: a DRAM image of {len(image)} bytes at {base:#x} is outside the board's "
                             f"DRAM ({self.spec.dram_size} bytes at {self.spec.dram_base:#x})")
        padded = bytes(image) + bytes(-len(image) % ROW_BYTES)
        # A read first: its answer waits while the DRAM is not ready (LiteDRAM's init after power-on),
        # where a write frame's bytes would be lost (docs/boards.md, "Power-on").
        self.link.read(self.dram_window + offset, 1)
        self.link.write(self.dram_window + offset, _words(padded[:self.spec.dram_size - offset]))

    def _write_image(self, memory: str, data: bytes, skip_zero: bool) -> None:
        words = _words(data)
        self._check(memory, 0, 4 * words.size)
        if not skip_zero:
            self.link.write(WINDOWS[memory], words)
            return
        nonzero = np.flatnonzero(words)
        if nonzero.size == 0:
            return
        # runs of consecutive non-zero words, one burst each
        breaks = np.flatnonzero(np.diff(nonzero) > 1)
        for run in np.split(nonzero, breaks + 1):
            self.link.write(WINDOWS[memory] + 4 * int(run[0]), words[run[0]:run[-1] + 1])

    def write(self, memory: str, addr: int, data: bytes) -> None:
        words = _words(data)
        self._check(memory, addr, 4 * words.size)
        self.link.write(WINDOWS[memory] + addr, words)

    def read(self, memory: str, addr: int, nbytes: int) -> bytes:
        n = -(-nbytes // 4)
        if memory == "dram":      # a record S2MM wrote: the DRAM window, from the program's DRAM base
            offset = self._dram_base - self.spec.dram_base + addr
            if self._no_dram() or offset < 0 or offset % 4 or offset + 4 * n > self.spec.dram_size:
                raise BoardError(f"{self.name}: DRAM bytes 0x{self._dram_base + addr:x}.. ({nbytes}) are outside "
                                 f"the board's DRAM window ({self.spec.dram_size} bytes at {self.spec.dram_base:#x})")
            return self.link.read(self.dram_window + offset, n).astype("<u4").tobytes()[:nbytes]
        self._check(memory, addr, 4 * n)
        return self.link.read(WINDOWS[memory] + addr, n).astype("<u4").tobytes()[:nbytes]

    def start(self, entry: int, max_cycles: int) -> Stop:
        self.link.write(H.ENTRY, [entry])
        self.link.write(H.CONTROL, [1 << H.CONTROL_START])
        limit, polls_after_halt = False, 0
        while True:
            regs = [int(v) for v in self.link.read(H.STATUS, _RUN_REGS)]
            if _bit(regs[0], H.STATUS_STOPPED):
                break
            if limit:
                polls_after_halt += 1
                if polls_after_halt > _HALT_POLLS:
                    raise BoardError(f"{self.name}: the core did not stop after CONTROL.halt (STATUS {regs[0]:#x}, "
                                     f"pc {regs[1]:#x})")
            elif (regs[3] | regs[4] << 32) > max_cycles:
                self.link.write(H.CONTROL, [1 << H.CONTROL_HALT])
                limit = True
        status, pc = regs[0], regs[1]
        cause = StopCause.from_code(status >> H.STATUS_CAUSE_SHIFT & 0xF)
        # DMA bytes: each channel's MOVED register (docs/dma.md), as the rtl device reads them.
        moved = H.dma_moved(lambda a: self.link.read(a, 1)[0]) if self.dma else (0, 0)
        return Stop(str(cause), pc, regs[5] | regs[6] << 32, regs[3] | regs[4] << 32, limit=limit,
                    dma_bytes=moved)

    def close(self) -> None:
        self.link.close()


def _words(data: bytes) -> np.ndarray:
    data = bytes(data)
    if len(data) % 4:
        data += bytes(4 - len(data) % 4)
    return np.frombuffer(data, "<u4").astype(np.uint32)
