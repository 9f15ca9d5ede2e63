"""The host side of the FeNN host/firmware ABI, written once for every device.

A compiled program's firmware is called once per *window* of at most
``io["window"]`` steps: the host writes the window's input spike words into
DMEM, the step count and ``ready = 0`` into the control block, starts the core
at the entry; the firmware runs the steps and stops with ``ecall`` after
setting ``ready = 1`` (``ebreak`` after storing the DMA status on a DMA error).
The host then reads the window's records; readouts are read at the end. The
``init`` word makes the next call re-initialise the state (``reset``).

Devices differ only in how they reach the machine: a :class:`Transport`
(read/write bytes of a memory, load images, start at an address and wait for
the stop). :class:`FirmwareSession` is the ABI over any transport; the ISS's
``compiler.runtime.Runtime`` and every ``fenn_dma.host`` device use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fenn_dma.arch import ROW_BYTES, MachineSpec
from fenn_dma.boundary import count
from fenn_dma.errors import FennError
from fenn_dma.isa import csrs

from .errors import ModelError
from .validate import spike_array

ENTRY = 0                       # the firmware's entry point (compiler/codegen/control.py: _start)


class RunError(FennError):
    """The program stopped abnormally (``cause`` and ``pc`` say how and where)."""

    def __init__(self, message: str, cause: str | None = None, pc: int | None = None):
        super().__init__(message)
        self.cause, self.pc = cause, pc


class DmaError(RunError):
    """A DMA transfer failed; ``address`` and ``connections`` (streamed weights) or
    ``records`` (a record in DRAM) name it."""


class LimitExceeded(RunError):
    """A firmware call ran past the device's cycle (or instruction) limit."""


@dataclass(frozen=True)
class Stop:
    """How one start ended: ``cause`` (``fenn_dma.isa.causes.StopCause`` value), ``pc``,
    instructions retired and cycles from the start to the stop (pipeline fill included),
    and the DMA payload bytes moved meanwhile per channel (MM2S read from DRAM, S2MM
    written to DRAM; docs/runtime.md "Counters"), None where the transport cannot count them."""
    cause: str
    pc: int
    instructions: int
    cycles: int
    limit: bool = False          # stopped by the device's cycle/instruction limit
    dma_bytes: tuple[int, int] | None = None      # (MM2S, S2MM), the order of fenn_dma.sim.state.CHANNEL_NAMES


class Transport(Protocol):
    """What a device must do for the ABI. Addresses are byte offsets in a memory
    (``"dmem"``, ``"vmem"``; ``"dram"`` from the DRAM base ``load`` was given, read
    only, for records in DRAM); reads and writes are whole 32-bit words."""

    spec: MachineSpec

    def load(self, images: dict[str, bytes], dram_base: int = 0) -> None:
        """The machine cleared (reset state) with these images at address 0 (``dram`` at the
        program's DRAM base ``dram_base``, ``llm`` lane-major)."""

    def write(self, memory: str, addr: int, data: bytes) -> None: ...

    def read(self, memory: str, addr: int, nbytes: int) -> bytes: ...

    def start(self, entry: int, max_cycles: int) -> Stop:
        """Start the core at ``entry`` and wait until it stops or ``max_cycles`` pass."""

    def close(self) -> None: ...


@dataclass
class RunOutput:
    records: dict[str, np.ndarray] = field(default_factory=dict)   # (steps, size)
    readouts: dict[str, np.ndarray] = field(default_factory=dict)  # (size,)
    instructions: int = 0
    cycles: int = 0
    calls: int = 0                                                 # firmware calls (windows)
    dma_mm2s_bytes: int | None = 0                                 # DMA payload bytes read from DRAM
    dma_s2mm_bytes: int | None = 0                                 # ... written to DRAM (None: not counted)

    @property
    def dma_bytes(self) -> int | None:
        """DMA payload bytes moved, both channels (None where the device does not count them)."""
        if self.dma_mm2s_bytes is None or self.dma_s2mm_bytes is None:
            return None
        return self.dma_mm2s_bytes + self.dma_s2mm_bytes

    def add_dma(self, moved: tuple[int, int] | None) -> None:
        if moved is None:
            self.dma_mm2s_bytes = self.dma_s2mm_bytes = None
        elif self.dma_mm2s_bytes is not None and self.dma_s2mm_bytes is not None:
            self.dma_mm2s_bytes += int(moved[0])
            self.dma_s2mm_bytes += int(moved[1])


def pack_spikes(spikes: np.ndarray, words: int) -> np.ndarray:
    """(T, n) bool -> (T, words) uint32, neuron i at bit i % 32 of word i // 32."""
    s = np.asarray(spikes, bool)
    T, n = s.shape
    padded = np.zeros((T, words * 32), bool)
    padded[:, :n] = s
    return np.packbits(padded.reshape(T, words, 32), axis=2, bitorder="little").view("<u4").reshape(T, words)


def unpack_spikes(words: np.ndarray, n: int) -> np.ndarray:
    w = np.ascontiguousarray(words, dtype="<u4")
    T = w.shape[0]
    bits = np.unpackbits(w.view(np.uint8).reshape(T, -1), axis=1, bitorder="little")
    return bits[:, :n].astype(bool)


def program_machine(program) -> MachineSpec:
    """The machine a program (a ``FennProgram`` or a ``Compiled``) was compiled for."""
    from .fennfile import spec_of_plan
    return getattr(program, "machine", None) or spec_of_plan(program.plan)


def check_input_names(io: dict, inputs: dict) -> None:
    for name in io["inputs"]:
        if name not in inputs:
            raise ModelError(f"no input spikes for spike source {name!r} (inputs are keyed by the "
                             f"spike sources' population names: {sorted(io['inputs'])})")
    unknown = set(inputs) - set(io["inputs"])
    if unknown:
        raise ModelError(f"inputs for {sorted(unknown)}: not spike sources of this program "
                         f"(sources: {sorted(io['inputs'])})")


def check_inputs(io: dict, inputs: dict | None, steps, batch: bool = False) -> tuple[dict, int]:
    """The inputs validated (names, values, sizes, lengths) and the step count, before
    anything is written to a device. ``batch``: arrays are (batch, steps, size)."""
    inputs = dict(inputs or {})
    check_input_names(io, inputs)
    for name, spec in io["inputs"].items():
        inputs[name] = spike_array(name, inputs[name], spec["size"], batch=batch)
    if batch:
        sizes = {name: a.shape[0] for name, a in inputs.items()}
        if len(set(sizes.values())) > 1:
            raise ModelError(f"the inputs' batch sizes differ: {sizes}")
        if inputs and not next(iter(sizes.values())):
            raise ModelError("the inputs hold no sample (batch size 0)")
    axis = 1 if batch else 0
    if steps is not None:
        steps = count(steps, "steps")
    else:
        steps = min((np.shape(a)[axis] for a in inputs.values()), default=None)
        if steps is None:
            raise ModelError("give the number of steps (the program has no spike source to take it from)")
    for name, a in inputs.items():
        if np.shape(a)[axis] < steps:
            raise ModelError(f"inputs[{name!r}] has {np.shape(a)[axis]} steps, {steps} asked")
    return inputs, steps


class FirmwareSession:
    """A compiled program loaded on a device through ``transport``. ``run`` continues
    from the current state; ``reset()`` makes the next run start from the initial state."""

    def __init__(self, program, transport: Transport, max_cycles: int = 1 << 40):
        self.io = program.io
        self.name = getattr(program, "name", None) or getattr(getattr(program, "qnet", None), "name", "program")
        self.images = dict(program.images)
        self.transport = transport
        self.max_cycles = count(max_cycles, "max_cycles")
        transport.load(self.images, int(self.io.get("dram_base", 0)))
        self.instructions = 0
        self.cycles = 0

    # --- control block ------------------------------------------------------------------------

    def _word(self, key: str) -> int:
        return int.from_bytes(self.transport.read("dmem", self.io["control"][key], 4), "little")

    def _set_word(self, key: str, value: int) -> None:
        self.transport.write("dmem", self.io["control"][key], int(value).to_bytes(4, "little"))

    def reset(self) -> None:
        self._set_word("init", 1)

    @property
    def t(self) -> int:
        return self._word("t")

    # --- running ------------------------------------------------------------------------------

    def run(self, inputs: dict[str, np.ndarray] | None = None, steps: int | None = None) -> RunOutput:
        io = self.io
        inputs, steps = check_inputs(io, inputs, steps)
        packed = {n: pack_spikes(np.asarray(a)[:steps], io["inputs"][n]["words"]) for n, a in inputs.items()}
        out = RunOutput()
        recs = {k: [] for k in io["records"]}
        window, done = io["window"], 0
        while done < steps:
            n = min(window, steps - done)
            for name, spec in io["inputs"].items():
                self.transport.write("dmem", spec["addr"], packed[name][done:done + n].astype("<u4").tobytes())
            self._set_word("steps", n)
            self._set_word("ready", 0)
            first = self.t
            stop = self.transport.start(ENTRY, self.max_cycles)
            out.instructions += stop.instructions
            out.cycles += stop.cycles
            out.calls += 1
            out.add_dma(stop.dma_bytes)
            if stop.limit:
                raise LimitExceeded(f"{self.name}: the firmware call for steps {first}..{first + n - 1} ran past "
                                    f"the limit of {self.max_cycles} cycles (stopped at pc 0x{stop.pc:08x} after "
                                    f"{stop.instructions} instructions); raise max_cycles or run fewer steps",
                                    stop.cause, stop.pc)
            if stop.cause != "ecall" or self._word("ready") != 1:
                self._raise_stop(stop, first, n)
            for key, spec in io["records"].items():
                recs[key].append(self._read_record(spec, n))
            done += n
        for key, parts in recs.items():
            spec = io["records"][key]
            empty = np.zeros((0, spec["size"]), bool if spec["memory"] == "dmem" else np.int16)
            out.records[key] = np.concatenate(parts) if parts else empty
        for name, spec in io["readouts"].items():
            out.readouts[name] = self.read_state(name, spec=spec)
        self.instructions += out.instructions
        self.cycles += out.cycles
        return out

    def _read_record(self, spec: dict, n: int) -> np.ndarray:
        if spec["memory"] == "dmem":
            raw = self.transport.read("dmem", spec["addr"], 4 * n * spec["words"])
            return unpack_spikes(np.frombuffer(raw, "<u4").reshape(n, spec["words"]), spec["size"])
        rb = spec["row_bytes"]
        raw = self.transport.read(spec["memory"], spec["addr"], n * rb)      # vmem, or dram (S2MM)
        return np.frombuffer(raw, "<i2").reshape(n, rb // 2)[:, :spec["size"]].copy()

    def _raise_stop(self, stop: Stop, first: int, n: int) -> None:
        ctrl = self.io["control"]
        steps = f"steps {first}..{first + n - 1}"
        status = self._word("dma_status") if "dma_status" in ctrl else 0
        if stop.cause == "ebreak" and status & (csrs.DMA_INTERNAL_ERROR | csrs.DMA_DECODE_ERROR
                                               | csrs.DMA_SLAVE_ERROR):
            addr = self._word("dma_src")
            base = int(self.io.get("dram_base", 0))
            recorded = [k for k, r in self.io["records"].items() if r["memory"] == "dram"
                        and base + r["addr"] <= addr < base + r["addr"] + r["row_bytes"] * self.io["window"]]
            why = [name for bit, name in ((csrs.DMA_INTERNAL_ERROR, "internal error (alignment/count/VMEM range)"),
                                          (csrs.DMA_DECODE_ERROR, "decode error (address outside DRAM)"),
                                          (csrs.DMA_SLAVE_ERROR, "slave error (the DRAM answered with an error)"))
                   if status & bit]
            conns = [c for start, size, cs in self.io.get("dram_regions", {}).values()
                     if start <= addr < start + size for c in cs]
            where = f" ({'connections' if len(conns) > 1 else 'connection'} {', '.join(map(repr, conns))})" \
                if conns else ""
            what = f"recording {recorded[0]} to" if recorded else "streaming weights from"
            error = DmaError(f"DMA error {what} DRAM address 0x{addr:08x}{where}: "
                             f"{'S2MM' if recorded else 'MM2S'} status 0x{status:02x}, {'; '.join(why)}; the "
                             f"firmware stopped with {stop.cause} at pc 0x{stop.pc:08x} during {steps}",
                             stop.cause, stop.pc)
            error.address, error.connections, error.records = addr, conns, recorded
            raise error
        raise RunError(f"{self.name}: the program stopped with {stop.cause} at pc 0x{stop.pc:08x} during {steps} "
                       "(expected ecall with ready = 1)", stop.cause, stop.pc)

    def read_state(self, pop: str, var: str | None = None, spec: dict | None = None) -> np.ndarray:
        """A per-neuron variable (``V``, ``I``, ``A``, ``rc``, ``ro``) of a population, as int16."""
        if spec is None:
            if pop not in self.io["state"]:
                raise ModelError(f"no population {pop!r} with state (populations: {sorted(self.io['state'])})")
            st = self.io["state"][pop]
            if var not in st["offsets"]:
                raise ModelError(f"population {pop!r} has no variable {var!r} (it has {sorted(st['offsets'])})")
            spec = {"addr": st["addr"] + st["offsets"][var], "stride": st["stride"],
                    "chunks": st["chunks"], "size": st["size"]}
        rows = [np.frombuffer(self.transport.read("vmem", spec["addr"] + c * spec["stride"], ROW_BYTES), "<i2")
                for c in range(spec["chunks"])]
        return np.concatenate(rows)[:spec["size"]].copy()

    def run_batch(self, inputs: dict[str, np.ndarray], steps: int | None = None) -> RunOutput:
        """Each sample (axis 0 of every input) from the initial state; stacked outputs."""
        inputs, steps = check_inputs(self.io, inputs, steps, batch=True)
        B = next(iter(inputs.values())).shape[0] if inputs else 1
        outs = []
        for bi in range(B):
            self.reset()
            outs.append(self.run({k: v[bi] for k, v in inputs.items()}, steps))
        return stack_outputs(outs)


def stack_outputs(outs: list[RunOutput]) -> RunOutput:
    res = RunOutput(instructions=sum(o.instructions for o in outs), cycles=sum(o.cycles for o in outs),
                    calls=sum(o.calls for o in outs))
    for o in outs:
        res.add_dma(None if o.dma_bytes is None else (o.dma_mm2s_bytes, o.dma_s2mm_bytes))
    for k in outs[0].records:
        res.records[k] = np.stack([o.records[k] for o in outs])
    for k in outs[0].readouts:
        res.readouts[k] = np.stack([o.readouts[k] for o in outs])
    return res
