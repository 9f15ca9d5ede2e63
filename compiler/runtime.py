"""Running a compiled program on the ISS: load it, write input spikes, run N
timesteps (in windows of at most ``window`` steps per call of the firmware),
read records and readouts back.

    rt = Runtime(program)                     # a .fenn file's FennProgram or a Compiled
    out = rt.run({"input": spikes_TxN}, steps=100)
    out.records["hidden.spikes"], out.readouts["output"]

``run`` continues from the current state; ``reset()`` makes the next run
start from the initial state (the firmware re-initialises itself).

A program with streamed weights carries a DRAM image; it is loaded into the
machine's DRAM at ``io["dram_base"]`` (without a ``config``, the ISS is the
program's machine with its DRAM sized to the image; a ``config`` for another
machine is refused with :class:`fenn_dma.arch.MachineMismatch`). A DMA error stops the firmware with ``ebreak`` after it
stored the MM2S status and address in the control block: :class:`RunError`
says which transfer failed and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fenn_dma.arch import ROW_BYTES, MachineSpec, check_compatible
from fenn_dma.boundary import count

from .validate import spike_array
from fenn_dma.errors import FennError
from fenn_dma.isa import csrs
from fenn_dma.isa.program import MEMORIES as PROGRAM_MEMORIES
from fenn_dma.isa.program import Program

from .errors import ModelError


class RunError(FennError):
    """The program stopped abnormally or was given inputs of the wrong shape."""


@dataclass
class RunOutput:
    records: dict[str, np.ndarray] = field(default_factory=dict)   # (steps, size)
    readouts: dict[str, np.ndarray] = field(default_factory=dict)  # (size,)
    instructions: int = 0
    cycles: int = 0


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


class Runtime:
    """``config``: the ISS machine (``MachineConfig``) to run on; by default the
    program's own machine with a DRAM model the size of its DRAM image. A machine
    that does not match the program's (``fenn_dma.arch.mismatches``) is refused."""

    def __init__(self, program, engine: str = "fast", config=None):
        from fenn_dma.sim import Machine, MachineConfig
        self.images = dict(program.images)
        self.io = program.io
        self.engine = engine
        self.spec = program_machine(program)
        dram = self.images.get("dram", b"")
        base = int(self.io.get("dram_base", 0))
        if config is None:
            config = MachineConfig.from_spec(self.spec, dram_size=max(-(-len(dram) // ROW_BYTES) * ROW_BYTES,
                                                                      ROW_BYTES), dram_base=base)
        else:
            check_compatible(self.spec, config.spec)
        if dram and (config.dram_base > base or base + len(dram) > config.dram_base + config.dram_size):
            raise RunError(f"the program's DRAM image ({len(dram)} bytes at 0x{base:x}) does not fit the machine's "
                           f"DRAM ({config.dram_size} bytes at 0x{config.dram_base:x}); give MachineConfig a "
                           "larger dram_size")
        self.machine = Machine(config)
        self.machine.load(Program(images={k: v for k, v in self.images.items() if k in PROGRAM_MEMORIES}))
        if self.images.get("llm"):
            self.machine.load_image("llm", self.images["llm"])
        if dram:
            self.machine.load_image("dram", dram, base - config.dram_base)
        self.instructions = 0
        self.cycles = 0

    def _dmem_words(self, addr: int, count: int) -> np.ndarray:
        return self.machine.dmem[addr:addr + 4 * count].view("<u4")

    def reset(self) -> None:
        self._dmem_words(self.io["control"]["init"], 1)[0] = 1

    @property
    def t(self) -> int:
        return int(self._dmem_words(self.io["control"]["t"], 1)[0])

    def run(self, inputs: dict[str, np.ndarray] | None = None, steps: int | None = None) -> RunOutput:
        io = self.io
        inputs = dict(inputs or {})
        self._check_names(inputs)
        for name, spec in io["inputs"].items():
            inputs[name] = spike_array(name, inputs[name], spec["size"])
        if steps is not None:
            steps = count(steps, "steps")
        if steps is None:
            steps = min((np.shape(a)[0] for a in inputs.values()), default=0)
        for name, a in inputs.items():
            if np.shape(a)[0] < steps:
                raise ModelError(f"inputs[{name!r}] has {np.shape(a)[0]} steps, {steps} asked")
        packed = {n: pack_spikes(np.asarray(a)[:steps], io["inputs"][n]["words"]) for n, a in inputs.items()}
        out = RunOutput()
        recs = {k: [] for k in io["records"]}
        window = io["window"]
        m = self.machine
        i0, c0 = m.instret, m.cycles
        done = 0
        while done < steps:
            n = min(window, steps - done)
            for name, spec in io["inputs"].items():
                rows = packed[name][done:done + n]
                self._dmem_words(spec["addr"], rows.size)[:] = rows.ravel()
            ctrl = io["control"]
            self._dmem_words(ctrl["steps"], 1)[0] = n
            self._dmem_words(ctrl["ready"], 1)[0] = 0
            m.pc = 0
            stop = m.run(engine=self.engine)
            if not stop.ok or self._dmem_words(ctrl["ready"], 1)[0] != 1:
                self._raise_stop(stop, self.t, n)
            for key, spec in io["records"].items():
                if spec["memory"] == "dmem":
                    w = self._dmem_words(spec["addr"], n * spec["words"]).reshape(n, spec["words"])
                    recs[key].append(unpack_spikes(w, spec["size"]))
                else:
                    rb = spec["row_bytes"]
                    raw = m.vmem[spec["addr"]:spec["addr"] + n * rb].view("<i2").reshape(n, rb // 2)
                    recs[key].append(raw[:, :spec["size"]].copy())
            done += n
        for key, parts in recs.items():
            spec = io["records"][key]
            empty = np.zeros((0, spec["size"]), bool if spec["memory"] == "dmem" else np.int16)
            out.records[key] = np.concatenate(parts) if parts else empty
        for name, spec in io["readouts"].items():
            out.readouts[name] = self.read_state(name, spec=spec)
        out.instructions = m.instret - i0
        out.cycles = m.cycles - c0
        self.instructions += out.instructions
        self.cycles += out.cycles
        return out

    def _check_names(self, inputs: dict) -> None:
        for name in self.io["inputs"]:
            if name not in inputs:
                raise ModelError(f"no input spikes for spike source {name!r} (inputs are keyed by the "
                                 f"spike sources' population names: {sorted(self.io['inputs'])})")
        unknown = set(inputs) - set(self.io["inputs"])
        if unknown:
            raise ModelError(f"inputs for {sorted(unknown)}: not spike sources of this program "
                             f"(sources: {sorted(self.io['inputs'])})")

    def _raise_stop(self, stop, first: int, n: int) -> None:
        ctrl = self.io["control"]
        status = int(self._dmem_words(ctrl["dma_status"], 1)[0]) if "dma_status" in ctrl else 0
        if status & (csrs.DMA_INTERNAL_ERROR | csrs.DMA_DECODE_ERROR | csrs.DMA_SLAVE_ERROR):
            addr = int(self._dmem_words(ctrl["dma_src"], 1)[0])
            why = [name for bit, name in ((csrs.DMA_INTERNAL_ERROR, "internal error (alignment/count/VMEM range)"),
                                          (csrs.DMA_DECODE_ERROR, "decode error (address outside DRAM)"),
                                          (csrs.DMA_SLAVE_ERROR, "slave error (the DRAM answered with an error)"))
                   if status & bit]
            where = ["connection" + ("s " if len(conns) > 1 else " ") + ", ".join(repr(c) for c in conns)
                     for start, size, conns in self.io.get("dram_regions", {}).values()
                     if start <= addr < start + size]
            raise RunError(f"DMA error streaming weights from DRAM address 0x{addr:08x}"
                           + (f" ({where[0]})" if where else "") + f": MM2S status 0x{status:02x}, "
                           + "; ".join(why) + f"; the firmware stopped with {stop} during steps {first}..{first + n - 1}")
        raise RunError(f"the program stopped with {stop} (expected ecall with ready = 1)")

    def read_state(self, pop: str, var: str | None = None, spec: dict | None = None) -> np.ndarray:
        """A per-neuron variable (``V``, ``I``, ``A``, ``rc``, ``ro``) of a population, as int16."""
        if spec is None:
            st = self.io["state"][pop]
            spec = {"addr": st["addr"] + st["offsets"][var], "stride": st["stride"],
                    "chunks": st["chunks"], "size": st["size"]}
        m = self.machine
        rows = [m.vmem[spec["addr"] + c * spec["stride"]:][:ROW_BYTES].view("<i2") for c in range(spec["chunks"])]
        return np.concatenate(rows)[:spec["size"]].copy()

    def run_batch(self, inputs: dict[str, np.ndarray], steps: int | None = None) -> RunOutput:
        """Each sample (axis 0 of every input) from the initial state; stacked outputs."""
        inputs = dict(inputs or {})
        self._check_names(inputs)
        for name, spec in self.io["inputs"].items():
            inputs[name] = spike_array(name, inputs[name], spec["size"], batch=True)
        sizes = {name: a.shape[0] for name, a in inputs.items()}
        if len(set(sizes.values())) > 1:
            raise ModelError(f"the inputs' batch sizes differ: {sizes}")
        B = next(iter(sizes.values())) if inputs else 1
        if B == 0:
            raise ModelError("the inputs hold no sample (batch size 0)")
        outs = []
        for bi in range(B):
            self.reset()
            outs.append(self.run({k: v[bi] for k, v in inputs.items()}, steps))
        res = RunOutput(instructions=sum(o.instructions for o in outs), cycles=sum(o.cycles for o in outs))
        for k in outs[0].records:
            res.records[k] = np.stack([o.records[k] for o in outs])
        for k in outs[0].readouts:
            res.readouts[k] = np.stack([o.readouts[k] for o in outs])
        return res
