"""One device, the same life cycle whatever it is:

    dev = open_device("iss" | "rtl" | "kv260" | "ecp5:PORT", profile="kv260")
    dev.load("net.fenn")                  # or a FennProgram / Compiled; another machine's is refused
    dev.write_inputs({"input": spikes})   # (steps, size) per spike source, validated here
    out = dev.run(steps=40)               # continues from the current state
    out.records, out.readouts, dev.counters
    dev.reset()                           # the next run starts from the initial state
    res = dev.run_batch({"input": x})     # (batch, steps, size): each sample from the initial state
    dev.close()

The firmware ABI is ``compiler.abi.FirmwareSession``; a device only chooses the
transport (``registry.KINDS``) and the machine: ``profile`` (a name of
``fenn_dma.arch.PROFILES`` or a ``MachineSpec``), else the loaded program's own.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fenn_dma.arch import MachineSpec, check_compatible, profile as arch_profile
from fenn_dma.compiler.abi import FirmwareSession, RunOutput, check_inputs, program_machine

from .clock import clock_mhz
from .errors import DeviceError, DeviceUnavailable
from .registry import DeviceKind, parse, transport_factory
from .results import DMA_ARRAYS

DEFAULT_MAX_CYCLES = 10 ** 9        # per firmware call (one window of steps)


def as_program(program):
    """A ``FennProgram`` from a path, a ``FennProgram`` or a ``Compiled``."""
    from fenn_dma.compiler.fennfile import FennProgram, load
    if isinstance(program, (str, Path)):
        return load(program)
    if isinstance(program, FennProgram):
        return program
    if hasattr(program, "asm") and hasattr(program, "qnet"):
        from fenn_dma.compiler.pipeline import to_program
        return to_program(program)
    raise DeviceError(f"load() takes a .fenn path, a FennProgram or a Compiled, not {type(program).__name__}")


def needed_machine(program) -> MachineSpec:
    """What the program needs of a machine: a program without a DRAM image streams nothing,
    so it does not need the DMA unit its machine has."""
    spec = program_machine(program)
    if spec.dma and not program.images.get("dram"):
        spec = spec.with_(dma=False, dram_base=0, dram_size=0)
    return spec


class Device:
    """A device of kind ``kind`` (see the module docstring); use :func:`open_device`."""

    def __init__(self, name: str, kind: DeviceKind, arg: str | None, profile=None, max_cycles: int = DEFAULT_MAX_CYCLES,
                 **options):
        unknown = sorted(set(options) - set(kind.options))
        if unknown:
            raise DeviceError(f"device {name!r} takes no option {', '.join(unknown)}"
                              + (f"; options: {', '.join(kind.options)}" if kind.options else ""))
        why = kind.availability(arg)
        if why:
            raise DeviceUnavailable(f"{name}: not available here: {why}")
        self.name, self.kind, self.arg = name, kind, arg
        self.profile = arch_profile(profile) if isinstance(profile, str) else profile
        if self.profile is not None and not isinstance(self.profile, MachineSpec):
            raise DeviceError(f"profile: a profile name or a MachineSpec, not {type(profile).__name__}")
        self.max_cycles = max_cycles
        self.options = dict(options, **({"port": arg} if arg else {}))
        self.program = None
        self._session: FirmwareSession | None = None
        self._transport = None
        self._staged: dict | None = None
        self._closed = False
        self.counters: dict = {}
        self.reset_counters()
        if self.profile is not None and kind.reusable:      # open the machine now: a board or a build
            self._transport = self._open_transport(self.profile, None)

    # --- life cycle ----------------------------------------------------------------------------

    def _open_transport(self, spec: MachineSpec, program):
        return transport_factory(self.kind)(spec, program, **self.options)

    def _alive(self) -> None:
        if self._closed:
            raise DeviceError(f"device {self.name!r} is closed")

    @property
    def spec(self) -> MachineSpec | None:
        """The machine this device is (its profile, else the loaded program's)."""
        if self._transport is not None:
            return self._transport.spec
        return self.profile or (program_machine(self.program) if self.program is not None else None)

    @property
    def clock_mhz(self) -> float | None:
        spec = self.profile or (program_machine(self.program) if self.program is not None else None)
        return clock_mhz(spec) if spec is not None else None

    def load(self, program) -> "Device":
        """Load a program (a ``.fenn`` path, ``FennProgram`` or ``Compiled``); refused with
        ``MachineMismatch`` if it was compiled for another machine than the device's profile."""
        self._alive()
        program = as_program(program)
        spec = self.profile or program_machine(program)
        if self.profile is not None:
            check_compatible(needed_machine(program), self.profile, f"program {program.name!r}")
        transport = self._transport
        if transport is None or not self.kind.reusable or transport_spec_differs(transport, spec):
            if transport is not None:
                transport.close()
            self._transport = None
            transport = self._open_transport(spec, program)
        self._transport = transport
        why = getattr(transport, "cannot_run", lambda _: None)(program)
        if why:
            raise DeviceUnavailable(why)
        check_compatible(needed_machine(program), transport.spec, f"program {program.name!r}")
        self._session = None
        self._session = FirmwareSession(program, transport, self.max_cycles)
        self.program = program
        self._staged = None
        self.reset_counters()
        return self

    def _loaded(self) -> FirmwareSession:
        self._alive()
        if self._session is None:
            raise DeviceError(f"device {self.name!r}: load a program first (load('net.fenn'))")
        return self._session

    @property
    def io(self) -> dict:
        return self._loaded().io

    def write_inputs(self, inputs: dict[str, np.ndarray]) -> None:
        """Stage one sample's spikes ((steps, size) per spike source) for the next ``run``;
        checked now (names, shape, 0/1 values), nothing is written to the device on an error."""
        session = self._loaded()
        self._staged, _ = check_inputs(session.io, inputs, None)

    def run(self, steps: int | None = None, inputs: dict[str, np.ndarray] | None = None) -> RunOutput:
        """Run ``steps`` timesteps (default: the inputs' length) from the current state, on
        ``inputs`` or the staged ones."""
        session = self._loaded()
        if inputs is None:
            inputs = self._staged if self._staged is not None else {}
        self._staged = None
        out = session.run(inputs, steps)
        self._count(out)
        return out

    def reset(self) -> None:
        """The next run starts from the program's initial state."""
        self._loaded().reset()

    def reset_counters(self) -> None:
        """Zero the counters: ``instructions``, ``cycles``, ``calls`` (firmware calls) and the DMA
        payload bytes ``dma_mm2s_bytes`` (read from DRAM), ``dma_s2mm_bytes`` (written to DRAM)
        and ``dma_bytes`` (both), summed over every run since the load (docs/runtime.md)."""
        self.counters = {"instructions": 0, "cycles": 0, "calls": 0, "dma_bytes": 0, "dma_mm2s_bytes": 0,
                         "dma_s2mm_bytes": 0}

    def _count(self, out: RunOutput) -> None:
        self.count(out.instructions, out.cycles, out.calls, out.dma_mm2s_bytes, out.dma_s2mm_bytes)

    def count(self, instructions: int, cycles: int, calls: int, mm2s: int | None, s2mm: int | None) -> None:
        """Add a run's (or a batch's) figures to the counters; DMA bytes a device cannot count
        make the DMA counters None."""
        c = self.counters
        c["instructions"] += int(instructions)
        c["cycles"] += int(cycles)
        c["calls"] += int(calls)
        if mm2s is None or s2mm is None or c["dma_bytes"] is None:
            c["dma_bytes"] = c["dma_mm2s_bytes"] = c["dma_s2mm_bytes"] = None
        else:
            c["dma_mm2s_bytes"] += int(mm2s)
            c["dma_s2mm_bytes"] += int(s2mm)
            c["dma_bytes"] = c["dma_mm2s_bytes"] + c["dma_s2mm_bytes"]

    def read_state(self, population: str, var: str = "V") -> np.ndarray:
        """A per-neuron state variable (``V``, ``I``, ``A``, ...) of a population now, as int16."""
        return self._loaded().read_state(population, var)

    @property
    def t(self) -> int:
        return self._loaded().t

    def run_samples(self, inputs: dict[str, np.ndarray], steps: int | None = None, progress=None) -> dict:
        """Each sample of ``inputs`` ((batch, steps, size) arrays) from the initial state, here
        in this process: {"records", "readouts", "cycles", "instructions", "dma_mm2s_bytes",
        "dma_s2mm_bytes"} arrays over samples (the DMA ones None where the device does not count)."""
        session = self._loaded()
        inputs, steps = check_inputs(session.io, inputs, steps, batch=True)
        B = next(iter(inputs.values())).shape[0] if inputs else 1
        outs = []
        for b in range(B):
            session.reset()
            outs.append(session.run({k: v[b] for k, v in inputs.items()}, steps))
            self._count(outs[-1])
            if progress is not None:
                progress(1)
        return {"records": {k: np.stack([o.records[k] for o in outs]) for k in outs[0].records},
                "readouts": {k: np.stack([o.readouts[k] for o in outs]) for k in outs[0].readouts},
                "cycles": np.array([o.cycles for o in outs], np.int64),
                "instructions": np.array([o.instructions for o in outs], np.int64),
                **{key: None if any(getattr(o, key) is None for o in outs)
                   else np.array([getattr(o, key) for o in outs], np.int64)
                   for key in DMA_ARRAYS},
                "calls": sum(o.calls for o in outs)}

    def run_batch(self, inputs: dict[str, np.ndarray], steps: int | None = None, *, workers: int = 1,
                  backend: str = "processes", client=None, progress: bool | None = None):
        """Every sample from the initial state; a :class:`~fenn_dma.host.devices.results.BatchResult`.
        ``workers`` > 1 spreads the samples over that many processes (``backend="processes"``),
        or ``backend="dask"`` over a ``distributed.Client`` (``client``; the ``distributed``
        extra). ``progress``: a tqdm bar (default: on a terminal, for batches over 1000 steps)."""
        from .batch import run_batch
        self._loaded()
        return run_batch(self, inputs, steps, workers=workers, backend=backend, client=client, progress=progress)

    def recipe(self) -> dict:
        """What a worker process needs to open the same device (see batch.py)."""
        return {"name": self.name, "profile": self.profile, "max_cycles": self.max_cycles,
                "options": {k: v for k, v in self.options.items() if k != "port"}}

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._session = None
        self._closed = True

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        what = f", program {self.program.name!r}" if self.program is not None else ""
        return f"<Device {self.name} {self.spec.name if self.spec else '(no machine yet)'}{what}>"


def transport_spec_differs(transport, spec: MachineSpec) -> bool:
    """Whether a reusable transport was made for another machine than ``spec`` (sizes, units;
    not the DMA, which a transport may lack: ``cannot_run`` says so per program)."""
    return bool(spec.differences(transport.spec, ("imem_size", "dmem_size", "vmem_size", "llm_size", "full_m",
                                                  "vector")))


def open_device(name: str, profile=None, *, max_cycles: int = DEFAULT_MAX_CYCLES, **options) -> Device:
    """A device by name: ``"iss"`` (options: ``engine="fast"|"reference"|"auto"``), ``"rtl"``
    (``verbose``), ``"kv260"``, ``"ecp5:PORT"``. ``profile``: the machine (name or
    ``MachineSpec``; default the loaded program's). ``max_cycles``: the limit of one firmware
    call (``LimitExceeded`` beyond it). A device that cannot be used here raises
    ``DeviceUnavailable`` saying why."""
    kind, arg = parse(name)
    return Device(name, kind, arg, profile, max_cycles, **options)
