"""The ``kv260`` device: the SoC on a Kria KV260, driven from the board's Linux.

The bitstream's overlay (``boards/kv260/overlay.py``) gives two devices: a UIO node
for the SoC's AXI4-Lite host window (``/dev/uioN`` whose ``/sys/class/uio/uioN/name``
is :data:`UIO_NAME`) and a ``u-dma-buf`` buffer in DDR (:data:`UDMABUF_NAME`: the
device ``/dev/NAME``, its physical address and size in ``/sys/class/u-dma-buf/NAME/``)
that the SoC's DMA master reads through S_AXI_HP1_FPD. The transport
(:class:`Kv260Transport`) speaks only to two small interfaces, a register window
(32-bit words at host-map offsets, ``hostmap.py``) and a DRAM buffer, so the same
driver runs over the mmapped devices on the board (:class:`MappedRegion`) and over
the simulated SoC's host port and DRAM model in the tests.

The firmware addresses DRAM absolutely (``io["dram_base"]``): a program with
streamed weights runs only if its DRAM regions lie inside the buffer, i.e. it was
compiled for :func:`board_machine` (the buffer's physical address and size). While open,
the transport holds an exclusive lock on the UIO device: one board runs one device at a time.
"""
from __future__ import annotations

import fcntl
import mmap
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from fenn_dma.arch import PROFILES, MachineSpec, mismatches
from fenn_dma.compiler.abi import Stop
from fenn_dma.isa import csrs
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H

from .errors import DeviceError, DeviceUnavailable

UIO_NAME = H.KV260_UIO_NAME          # the overlay's UIO node name (what /sys/class/uio/uioN/name says)
UDMABUF_NAME = H.KV260_UDMABUF_NAME  # the overlay's u-dma-buf device-name
WINDOWS = {"imem": H.IMEM_BASE, "dmem": H.DMEM_BASE, "vmem": H.VMEM_BASE, "llm": H.LLM_BASE}
DMA_BUSY = csrs.DMA_STARTING | csrs.DMA_TRANSFERRING
DMA_STATUS = tuple(H.DMA_BASE + ch * H.DMA_CHANNEL_STRIDE + H.DMA_STATUS for ch in (0, 1))
STALLED_POLLS = 10_000              # polls of a running core whose CYCLES does not move: no clock
ROOT_ENV = "FENN_DMA_KV260_ROOT"    # where /sys and /dev are looked for (tests lay out a tree of files)


def root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/"))


class RegisterWindow(Protocol):
    """The SoC's host window: 32-bit words at byte offsets of the host map."""

    def read_words(self, offset: int, n: int) -> np.ndarray: ...

    def write_words(self, offset: int, words: np.ndarray) -> None: ...


class DramBuffer(Protocol):
    """The memory the SoC's DMA reads: ``size`` bytes at physical address ``phys_addr``."""

    phys_addr: int
    size: int

    def write(self, offset: int, data: bytes) -> None: ...

    def read(self, offset: int, nbytes: int) -> bytes: ...

    def sync_for_device(self, offset: int, size: int) -> None: ...

    def sync_for_cpu(self, offset: int, size: int) -> None: ...


# --- the board's devices, found through sysfs ----------------------------------------------------

def _read_sysfs(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise DeviceUnavailable(f"kv260: cannot read {path} ({what}): {exc.strerror}") from None


def _sysfs_int(path: Path, what: str) -> int:
    text = _read_sysfs(path, what)
    try:
        return int(text, 0)
    except ValueError:
        raise DeviceUnavailable(f"kv260: {path} ({what}) holds {text!r}, not a number") from None


def find_uio(name: str = UIO_NAME) -> tuple[Path, int]:
    """(``/dev/uioN``, the size of its map 0) of the UIO device called ``name``."""
    dev, classdir = root() / "dev", root() / "sys" / "class" / "uio"
    found = sorted(classdir.glob("uio*"), key=lambda p: p.name)
    names = {p.name: _read_sysfs(p / "name", "the UIO device's name") for p in found}
    for entry, value in names.items():
        if value == name:
            node = dev / entry
            if not node.exists():
                raise DeviceUnavailable(f"kv260: UIO device {name!r} is {classdir / entry} but {node} does not exist")
            return node, _sysfs_int(classdir / entry / "maps" / "map0" / "size", "the UIO map's size")
    seen = ", ".join(f"{k} ({v})" for k, v in names.items()) or "none"
    raise DeviceUnavailable(
        f"kv260: no UIO device named {name!r} in {classdir} (UIO devices: {seen}); load the FeNN-DMA app "
        "(sudo xmutil loadapp fenn-dma, docs/boards.md) and boot with uio_pdrv_genirq.of_id=generic-uio")


def find_udmabuf(name: str = UDMABUF_NAME) -> tuple[Path, Path, int, int]:
    """(``/dev/NAME``, its sysfs folder, physical address, size) of the u-dma-buf ``name``."""
    dev, classdir = root() / "dev", root() / "sys" / "class" / "u-dma-buf"
    folder = classdir / name
    if not folder.is_dir():
        seen = ", ".join(sorted(p.name for p in classdir.glob("*"))) or "none"
        raise DeviceUnavailable(
            f"kv260: no u-dma-buf device {name!r} ({folder} is missing; u-dma-buf devices: {seen}); install the "
            "u-dma-buf kernel module (modprobe u-dma-buf) and load the FeNN-DMA app (docs/boards.md)")
    node = dev / name
    if not node.exists():
        raise DeviceUnavailable(f"kv260: u-dma-buf {name!r} is in {classdir} but {node} does not exist")
    return (node, folder, _sysfs_int(folder / "phys_addr", "the buffer's physical address"),
            _sysfs_int(folder / "size", "the buffer's size"))


class MappedRegion:
    """``size`` bytes of a device file (``/dev/uioN``, ``/dev/udmabuf``; a plain file in tests)
    mapped shared. Register accesses go one 32-bit word at a time: the AXI4-Lite port takes no
    wider ones."""

    def __init__(self, path: Path, size: int, what: str):
        self.path, self.size, self.what = Path(path), size, what
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as exc:
            raise DeviceUnavailable(f"kv260: cannot open {self.path} ({what}): {exc.strerror}") from None
        try:
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, ValueError) as exc:
            raise DeviceUnavailable(f"kv260: cannot map {size} bytes of {self.path} ({what}): {exc}") from None
        finally:
            os.close(fd)
        self._words = memoryview(self._map).cast("I")

    def _range(self, offset: int, nbytes: int) -> None:
        if offset < 0 or offset % 4 or offset + nbytes > self.size:
            raise DeviceError(f"kv260: bytes {offset}..{offset + nbytes - 1} are outside {self.what} "
                              f"({self.path}, {self.size} bytes, word-aligned)")

    def read_words(self, offset: int, n: int) -> np.ndarray:
        self._range(offset, 4 * n)
        w, base = self._words, offset // 4
        return np.array([w[base + i] for i in range(n)], np.uint32)

    def write_words(self, offset: int, words: np.ndarray) -> None:
        words = np.asarray(words, np.uint32)
        self._range(offset, 4 * words.size)
        w, base = self._words, offset // 4
        for i, value in enumerate(words.tolist()):
            w[base + i] = value

    def write(self, offset: int, data: bytes) -> None:
        """Bytes into the buffer (ordinary memory: one copy)."""
        self._range(offset, -(-len(data) // 4) * 4)
        self._map[offset:offset + len(data)] = data

    def read(self, offset: int, nbytes: int) -> bytes:
        self._range(offset - offset % 4, -(-(nbytes + offset % 4) // 4) * 4)
        return bytes(self._map[offset:offset + nbytes])

    def close(self) -> None:
        self._words.release()
        self._map.close()


class UdmaBuffer:
    """The u-dma-buf buffer: mapped cached, cleaned to DDR for the device through its sysfs
    sync attributes (S_AXI_HP1_FPD is not coherent with the CPU's caches)."""

    def __init__(self, name: str = UDMABUF_NAME):
        node, self.folder, self.phys_addr, self.size = find_udmabuf(name)
        self.region = MappedRegion(node, self.size, f"u-dma-buf {name!r}")

    def write(self, offset: int, data: bytes) -> None:
        self.region.write(offset, data)

    def read(self, offset: int, nbytes: int) -> bytes:
        return self.region.read(offset, nbytes)

    def sync_for_device(self, offset: int, size: int) -> None:
        self._sync(offset, size, 1, "sync_for_device", "cleaning the DRAM buffer for the SoC's DMA")

    def sync_for_cpu(self, offset: int, size: int) -> None:
        self._sync(offset, size, 2, "sync_for_cpu", "invalidating the CPU's cache of what the SoC's DMA wrote")

    def _sync(self, offset: int, size: int, direction: int, attr_done: str, why: str) -> None:
        # u-dma-buf's manual sync: direction 1 = to the device, 2 = from it (DMA_FROM_DEVICE)
        for attr, value in (("sync_offset", offset), ("sync_size", size), ("sync_direction", direction),
                            (attr_done, 1)):
            try:
                (self.folder / attr).write_text(f"{value}\n")
            except OSError as exc:
                raise DeviceError(f"kv260: cannot write {self.folder / attr} ({why}): {exc.strerror}") from None

    def close(self) -> None:
        self.region.close()


# --- the transport -------------------------------------------------------------------------------

def hardware_spec(regs: RegisterWindow) -> MachineSpec:
    """The machine the loaded bitstream is, from its own registers (MAGIC, sizes, FEATURES),
    named after the profile it equals (``board`` if none)."""
    magic = int(regs.read_words(H.MAGIC, 1)[0])
    if magic != H.MAGIC_VALUE:
        raise DeviceUnavailable(f"kv260: the UIO window answers MAGIC 0x{magic:08x}, not FeNN-DMA's "
                                f"0x{H.MAGIC_VALUE:08x}: is the FeNN-DMA bitstream loaded?")
    imem, dmem = (int(v) for v in regs.read_words(H.IMEM_SIZE, 2))
    features = int(regs.read_words(H.FEATURES, 1)[0])
    vmem, llm = (int(v) for v in regs.read_words(H.VMEM_SIZE, 2))
    spec = MachineSpec("board", imem_size=imem, dmem_size=dmem, vmem_size=vmem, llm_size=llm,
                       full_m=bool(features >> H.FEATURE_FULL_M & 1), vector=bool(features >> H.FEATURE_VECTOR & 1),
                       dma=bool(features >> H.FEATURE_DMA & 1))
    return next((p.with_(dram_base=0, dram_size=0) for p in PROFILES.values()
                 if p.with_(name="board", dram_base=0, dram_size=0) == spec), spec)


def board_spec(spec: MachineSpec, buffer: DramBuffer) -> MachineSpec:
    """``spec`` with its DRAM window on ``buffer``: what to compile for to stream weights on the board."""
    return spec.with_(dram_base=buffer.phys_addr, dram_size=buffer.size) if spec.dma else spec


class Kv260Transport:
    """``compiler.abi.Transport`` over a register window and a DRAM buffer. ``spec``: the machine
    asked for (a profile or the program's), checked against the bitstream's registers."""

    def __init__(self, spec: MachineSpec, regs: RegisterWindow, buffer: DramBuffer, closers=()):
        self.regs, self.buffer, self._closers = regs, buffer, list(closers)
        try:
            hw = board_spec(hardware_spec(regs), buffer)
        except BaseException:
            self.close()
            raise
        why = mismatches(spec, hw)
        if why:
            self.close()
            raise DeviceError(f"kv260: the bitstream on this board is {hw.describe()}, not the machine asked for, "
                              f"{spec.describe()}: {'; '.join(why)} (load the matching app, or compile for this one)")
        self.hw = hw
        self.spec = board_spec(spec, buffer)
        self._sizes = {"imem": hw.imem_size, "dmem": hw.dmem_size, "vmem": hw.vmem_size, "llm": 32 * hw.llm_size}
        self._dram_base = buffer.phys_addr       # the loaded program's (load)

    # --- registers --------------------------------------------------------------------------------

    def _reg(self, offset: int) -> int:
        return int(self.regs.read_words(offset, 1)[0])

    def _reg64(self, offset: int) -> int:
        lo, hi = (int(v) for v in self.regs.read_words(offset, 2))
        return lo | hi << 32

    def _live64(self, offset: int) -> int:
        """A 64-bit counter that is counting: high, low, high again until the high word holds."""
        while True:
            hi = self._reg(offset + 4)
            lo = self._reg(offset)
            if self._reg(offset + 4) == hi:
                return lo | hi << 32

    def _set(self, offset: int, value: int) -> None:
        self.regs.write_words(offset, np.array([value], np.uint32))

    def _wait(self, done, what: str, polls: int = 1 << 22) -> None:
        for _ in range(polls):
            if done():
                return
        raise DeviceError(f"kv260: the SoC did not {what} after {polls} polls of its registers")

    def _stop_core(self) -> None:
        """Halt a core left running (an interrupted run), and wait for its DMA to finish."""
        if self._reg(H.STATUS) >> H.STATUS_RUNNING & 1:
            self._set(H.CONTROL, 1 << H.CONTROL_HALT)
            self._wait(lambda: not self._reg(H.STATUS) >> H.STATUS_RUNNING & 1, "halt")
        if self.hw.dma:
            self._wait(lambda: not any(self._reg(o) & DMA_BUSY for o in DMA_STATUS), "finish its DMA transfers")

    # --- Transport --------------------------------------------------------------------------------

    def dram_problem(self, io: dict, dram: bytes) -> str | None:
        """Why the program's DRAM image and regions do not fit the buffer (None: they do)."""
        if not dram:
            return None
        if not self.hw.dma:
            return "kv260: the bitstream has no DMA engine, so a program with streamed weights cannot run on it"
        base, buf = int(io.get("dram_base", 0)), self.buffer
        spans = [(base, len(dram), "its DRAM image")]
        spans += [(int(start), int(size), f"DRAM region {name!r}")
                  for name, (start, size, _) in io.get("dram_regions", {}).items()]
        for start, size, what in spans:
            if start < buf.phys_addr or start + size > buf.phys_addr + buf.size:
                return (f"kv260: the program's {what} (bytes 0x{start:x}..0x{start + size - 1:x}) is outside the "
                        f"DRAM buffer {UDMABUF_NAME!r} ({buf.size} bytes at physical 0x{buf.phys_addr:x}): the "
                        "firmware addresses DRAM absolutely, so compile it for this board's buffer, "
                        f"dram_base=0x{buf.phys_addr:x}, dram_size <= {buf.size} "
                        "(CompileOptions(sizes=MachineSizes.from_spec(kv260.board_spec(...))), docs/boards.md)")
        return None

    def cannot_run(self, program) -> str | None:
        return self.dram_problem(program.io, program.images.get("dram", b""))

    def load(self, images: dict[str, bytes], dram_base: int = 0) -> None:
        dram = images.get("dram", b"")
        why = self.dram_problem({"dram_base": dram_base}, dram)
        if why:
            raise DeviceError(why)
        self._stop_core()
        self._set(H.CONTROL, 1 << H.CONTROL_CLEAR)
        self._wait(lambda: not self._reg(H.STATUS) >> H.STATUS_CLEARING & 1, "finish CONTROL.clear")
        for memory in ("imem", "dmem", "vmem", "llm"):
            data = images.get(memory, b"")
            if data:
                self.write(memory, 0, data, skip_zero=memory in ("imem", "dmem"))
        self._dram_base = dram_base
        if dram:
            offset = dram_base - self.buffer.phys_addr
            self.buffer.write(offset, bytes(dram))
            self.buffer.sync_for_device(offset, len(dram))

    def _check(self, memory: str, addr: int, nbytes: int) -> None:
        size = self._sizes.get(memory, 0)
        if memory not in WINDOWS or addr % 4 or addr < 0 or addr + nbytes > size:
            raise DeviceError(f"kv260: {memory} bytes {addr}..{addr + nbytes - 1} are outside the host port's "
                              f"{memory} window ({size} bytes, word-aligned accesses)")

    def write(self, memory: str, addr: int, data: bytes, skip_zero: bool = False) -> None:
        """``skip_zero``: leave out zero words (IMEM and DMEM just after CONTROL.clear zeroed them)."""
        data = bytes(data)
        if len(data) % 4:
            data += bytes(4 - len(data) % 4)
        self._check(memory, addr, len(data))
        words = np.frombuffer(data, "<u4").astype(np.uint32)
        base = WINDOWS[memory] + addr
        if not skip_zero:
            self.regs.write_words(base, words)
            return
        nonzero = np.flatnonzero(words)
        if nonzero.size:         # runs of non-zero words, each one block write
            breaks = np.flatnonzero(np.diff(nonzero) != 1) + 1
            for run in np.split(nonzero, breaks):
                self.regs.write_words(base + 4 * int(run[0]), words[run[0]:run[-1] + 1])

    def read(self, memory: str, addr: int, nbytes: int) -> bytes:
        if memory == "dram":       # a record the SoC's S2MM wrote, from the program's DRAM base
            offset = self._dram_base - self.buffer.phys_addr + addr
            if offset < 0 or offset + nbytes > self.buffer.size:
                raise DeviceError(f"kv260: DRAM bytes 0x{self._dram_base + addr:x}.. ({nbytes}) are outside the "
                                  f"u-dma-buf buffer ({self.buffer.size} bytes at 0x{self.buffer.phys_addr:x})")
            self.buffer.sync_for_cpu(offset, nbytes)
            return self.buffer.read(offset, nbytes)
        n = -(-nbytes // 4)
        self._check(memory, addr, 4 * n)
        return self.regs.read_words(WINDOWS[memory] + addr, n).astype("<u4").tobytes()[:nbytes]

    def start(self, entry: int, max_cycles: int) -> Stop:
        """ENTRY, CONTROL.start, then poll STATUS until the core stops; past ``max_cycles`` (the
        core's live CYCLES) CONTROL.halt."""
        self._set(H.ENTRY, entry)
        self._set(H.CONTROL, 1 << H.CONTROL_START)
        halted, last, still, t0 = False, -1, 0, time.monotonic()
        while not self._reg(H.STATUS) >> H.STATUS_STOPPED & 1:
            cycles = self._live64(H.CYCLES)
            if cycles > max_cycles:
                self._set(H.CONTROL, 1 << H.CONTROL_HALT)
                halted = True
                self._wait(lambda: self._reg(H.STATUS) >> H.STATUS_STOPPED & 1, "stop after CONTROL.halt")
                break
            still = still + 1 if cycles == last else 0
            last = cycles
            if still > STALLED_POLLS:
                raise DeviceError(f"kv260: the core is running but its CYCLES counter stays at {cycles} "
                                  f"({time.monotonic() - t0:.1f} s): is the PL clock (pl_clk0) running?")
        status = self._reg(H.STATUS)
        if self.hw.dma:        # a transfer in flight at the stop finishes before the host reads or clears
            self._wait(lambda: not any(self._reg(o) & DMA_BUSY for o in DMA_STATUS), "finish its DMA transfers")
        code = status >> H.STATUS_CAUSE_SHIFT & 0xF
        try:
            cause = str(StopCause.from_code(code))
        except ValueError:
            raise DeviceError(f"kv260: STATUS 0x{status:08x} holds stop cause {code}, which no cause has") from None
        moved = H.dma_moved(self._reg) if self.hw.dma else (0, 0)
        return Stop(cause, self._reg(H.STOP_PC), self._reg64(H.INSTRET), self._reg64(H.CYCLES), limit=halted,
                    dma_bytes=moved)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def window_bytes(spec: MachineSpec) -> int:
    """How much of the host map the driver uses for ``spec``: up to its last memory window's end."""
    sizes = {"imem": spec.imem_size, "dmem": spec.dmem_size, "vmem": spec.vmem_size, "llm": 32 * spec.llm_size}
    return max([H.DMA_END] + [WINDOWS[m] + s for m, s in sizes.items() if s])


def open_board(spec: MachineSpec, *, uio_name: str = UIO_NAME, udmabuf_name: str = UDMABUF_NAME) -> Kv260Transport:
    """The transport over this board's UIO window and u-dma-buf buffer."""
    node, map_size = find_uio(uio_name)
    if map_size < window_bytes(spec):
        raise DeviceUnavailable(f"kv260: UIO {uio_name!r} maps {map_size} bytes; the SoC's host window for "
                                f"{spec.describe()} needs {window_bytes(spec)}")
    lock = _lock(node)
    try:
        regs = MappedRegion(node, map_size, f"the UIO window {uio_name!r}")
    except BaseException:
        os.close(lock)
        raise
    try:
        buffer = UdmaBuffer(udmabuf_name)
    except BaseException:
        regs.close()
        os.close(lock)
        raise
    return Kv260Transport(spec, regs, buffer, closers=(lambda: os.close(lock), regs.close, buffer.close))


def _lock(node: Path) -> int:
    """An exclusive lock on the UIO device, held while the transport is open: one board runs one
    program at a time (a batch over several processes would interleave their register writes)."""
    try:
        fd = os.open(node, os.O_RDWR)
    except OSError as exc:
        raise DeviceUnavailable(f"kv260: cannot open {node} (the UIO window): {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise DeviceUnavailable(f"kv260: {node} is in use by another kv260 device (this process or another): "
                                "the board runs one at a time, so close it first, and batch with workers=1") from None
    return fd


def board_machine(spec: MachineSpec, udmabuf_name: str = UDMABUF_NAME) -> MachineSpec:
    """``spec`` with the DRAM window of this board's buffer: compile for it to stream weights,
    ``CompileOptions(sizes=MachineSizes.from_spec(board_machine(profile("kv260"))))``."""
    _, _, phys, size = find_udmabuf(udmabuf_name)
    return spec.with_(dram_base=phys, dram_size=size)


def why_unavailable() -> str | None:
    """Why the kv260 device cannot be opened here (None: the app's UIO and buffer are present)."""
    try:
        find_uio()
        find_udmabuf()
    except DeviceUnavailable as exc:
        return str(exc).removeprefix("kv260: ")
    return None


def open_transport(spec, program=None) -> Kv260Transport:
    """The ``kv260`` device's transport (``registry.KINDS``)."""
    return open_board(spec)
