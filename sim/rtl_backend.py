"""The RTL as a backend of `fenn-dma sim`: run programs on the Verilated SoC
and report the same state dict as the ISS (``Machine.state_dict``), with
``cycles`` the real RTL cycles. Also the ISS-vs-RTL comparison used by the
differential tests and benchmarks."""
from __future__ import annotations

import base64
from dataclasses import replace

from fenn_dma.errors import FennError
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import M, V
from fenn_dma.rtl.config import SocConfig

from .config import MachineConfig
from .rtl_harness import RtlJob, VerilatedSoc, build, run_batch

# Images this backend loads: it builds the scalar SoC (the SoC with the vector unit, VMEM and
# LLM runs under tests/rtl_vector's harness; the RTL has no DMA, so no DRAM, yet).
RTL_IMAGES = ("imem", "dmem")


def soc_config(config: MachineConfig) -> SocConfig:
    """The SoC configuration matching an ISS machine configuration."""
    return SocConfig(imem_size=config.imem_size, dmem_size=config.dmem_size,
                     full_m=M in config.extensions, hart_id=config.hartid)


def rtl_machine_config(config: MachineConfig) -> MachineConfig:
    """The ISS configuration that describes what this backend builds: the scalar SoC, no vector unit."""
    return replace(config, extensions=frozenset(config.extensions - {V}))


def _job(program: Program, config: MachineConfig, max_cycles: int, read_dmem: str) -> RtlJob:
    for name, image in program.images.items():
        if name not in RTL_IMAGES and image:
            raise FennError(f"the RTL backend cannot load a {name} image yet (only {', '.join(RTL_IMAGES)})")
    for name, size in (("imem", config.imem_size), ("dmem", config.dmem_size)):
        if len(program.images.get(name, b"")) > size:
            raise FennError(f"{name} image of {len(program.images[name])} bytes does not fit in {size} bytes")
    return RtlJob(imem=program.images.get("imem", b""), dmem=program.images.get("dmem", b""),
                  entry=program.entry, max_cycles=max_cycles, read_dmem=read_dmem)


def _state(result: dict, dump_mem: bool) -> dict:
    state = {k: result[k] for k in ("stop", "x", "instret", "cycles", "mcycle", "minstret")}
    if dump_mem and "dmem" in result:
        state["dmem"] = base64.b64encode(bytes.fromhex(result["dmem"])).decode("ascii")
    return state


def run_many_on_rtl(programs: list[Program], config: MachineConfig, *, max_cycles: int = 1_000_000,
                    dump_mem: bool = True, dmem_via: str = "backdoor",
                    soc: VerilatedSoc | None = None) -> list[dict]:
    """Final states of ``programs``, each from reset, in one simulator launch. ``dmem_via``:
    read DMEM back over the host port ("host") or from the RAM array ("backdoor", fast)."""
    soc = soc or build(soc_config(config))
    jobs = [_job(p, config, max_cycles, dmem_via if dump_mem else "no") for p in programs]
    return [_state(r, dump_mem) for r in run_batch(soc, jobs)]


def run_on_rtl(program: Program, config: MachineConfig, *, max_cycles: int = 1_000_000,
               dump_mem: bool = False) -> dict:
    """The final state of one program on the RTL, shaped like ``Machine.state_dict``."""
    return run_many_on_rtl([program], config, max_cycles=max_cycles, dump_mem=dump_mem, dmem_via="host")[0]


def iss_state(program: Program, config: MachineConfig, max_instructions: int = 1_000_000) -> dict:
    """The ISS's final state of ``program`` with the fields the RTL reports."""
    from .machine import Machine
    m = Machine(config)
    m.load(program)
    m.run(max_instructions=max_instructions)
    state = m.state_dict(dump_mem=True)
    return {"stop": state["stop"], "x": state["x"], "instret": state["instret"], "cycles": state["cycles"],
            "mcycle": m.mcycle, "minstret": m.minstret, "dmem": state["dmem"]}


def first_difference(iss: dict, rtl: dict, fields=("stop", "x", "dmem", "instret", "cycles", "mcycle",
                                                    "minstret")) -> str | None:
    """The first field where two states differ, described; None when equal."""
    for name in fields:
        a, b = iss.get(name), rtl.get(name)
        if a == b:
            continue
        if name == "x":
            reg = next(i for i in range(32) if a[i] != b[i])
            return f"x{reg}: ISS 0x{a[reg]:08x}, RTL 0x{b[reg]:08x}"
        if name == "dmem":
            da, db = base64.b64decode(a), base64.b64decode(b)
            at = next(i for i in range(min(len(da), len(db))) if da[i] != db[i])
            return f"dmem[0x{at:x}]: ISS 0x{da[at]:02x}, RTL 0x{db[at]:02x}"
        return f"{name}: ISS {a}, RTL {b}"
    return None


def run_cli(args) -> int:
    """`fenn-dma sim --backend rtl`: the program through the host port of the Verilated SoC
    built for ``--profile``; the same report and JSON state as the ISS backend."""
    import json
    import time
    from pathlib import Path

    from fenn_dma.isa.loader import load_program

    from .config import profile
    from .sim_cli import EXIT_OTHER_STOP, _read, _write_atomically

    if args.trace:
        raise FennError("--trace needs the ISS (--backend iss)")
    for memory in ("vmem", "llm", "dram"):
        if getattr(args, memory):
            raise FennError(f"--{memory}: the RTL backend loads only IMEM and DMEM images (it builds the scalar SoC)")
    program = load_program(args.program)
    if args.dmem:
        program.images["dmem"] = _read(args.dmem)
    config = rtl_machine_config(profile(args.profile))
    # The RTL stops on cycles, not instructions: every instruction takes at most 3 cycles here.
    max_cycles = 3 + 3 * args.max_instructions if args.max_instructions is not None else 100_000_000
    print(f"building/loading the Verilated SoC for profile {args.profile} ...", flush=True)
    soc = build(soc_config(config))
    t0 = time.perf_counter()
    job = _job(program, config, max_cycles, "backdoor" if args.dump_mem else "no")
    state = _state(run_batch(soc, [job])[0], args.dump_mem)
    seconds = time.perf_counter() - t0
    if args.json:
        _write_atomically(args.json, lambda f: json.dump(state, f))
    stop = state["stop"]
    location = program.source_map.get(stop["pc"])
    where = f" ({location})" if location else ""
    print(f"stop: {stop['cause']} at pc 0x{stop['pc']:08x}{where}")
    print(f"instructions: {state['instret']}  cycles: {state['cycles']}  "
          f"(RTL, {seconds:.1f} s including simulator start)")
    return 0 if stop["cause"] == "ecall" else EXIT_OTHER_STOP
