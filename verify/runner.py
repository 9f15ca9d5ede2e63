"""The one way to run programs on the RTL: the Verilated SoC (``rtl_harness``)
loaded with IMEM, DMEM, VMEM and LLM images, reporting the same state dict
as the ISS (``Machine.state_dict``: stop, x, v, per-lane RNG state, counters,
base64 memories), with ``cycles`` the real RTL cycles. Used by `fenn-dma sim
--backend rtl`, the differential tests and the benchmarks.

The SoC is built with the vector unit when the program needs it (a vector
instruction in IMEM, or a VMEM/LLM image), else without (smaller and faster
to build). VMEM and the LLMs are written whole for every program (the image
over the ISS's reset pattern 0xDEAD), since the SoC's CONTROL.clear leaves
them as the previous program left them. A program that uses the DMA (a DRAM
image, or a CSR instruction naming a DMA register) gets the SoC with the DMA
engine on the native harness, whose AXI4 slave DRAM has the ISS's window,
error regions and timing (fenn_dma.dram).
"""
from __future__ import annotations

import base64

from fenn_dma.errors import FennError
from fenn_dma.isa import csrs
from fenn_dma.isa.codec import try_decode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import M, V, Kind
from fenn_dma.rtl.config import SocConfig
from fenn_dma.sim.config import MachineConfig
from fenn_dma.sim.dma import DMA_CSRS
from fenn_dma.sim.machine import UNINITIALISED, Machine

from .rtl_harness import RtlJob, VerilatedSoc, build, run_batch
from .rtl_native import NativeSoc, build_native, run_batch_native, trace_format

# The RTL harnesses: "native" (the C++ run loop of verify/native, the default: ~20x faster) and
# "cocotb" (cocotb + cocotbext-axi on the same Verilog: the protocol-level path, kept in the tests).
HARNESSES = ("native", "cocotb")        # (verify/sim_cli.py names them too, to start without this module)


def build_soc(soc_cfg: SocConfig, harness: str = "native") -> "VerilatedSoc | NativeSoc":
    """The Verilated SoC for ``soc_cfg`` under ``harness`` (built once, cached on disk)."""
    if harness not in HARNESSES:
        raise FennError(f"unknown RTL harness {harness!r}; choose one of {', '.join(HARNESSES)}")
    return build_native(soc_cfg) if harness == "native" else build(soc_cfg)


def run_jobs(soc: "VerilatedSoc | NativeSoc", jobs: list[RtlJob], *, trace=None) -> list[dict]:
    """Run ``jobs`` on a build of either harness (the same result dicts)."""
    if isinstance(soc, NativeSoc):
        return run_batch_native(soc.config, jobs, soc=soc, trace=trace)
    if trace is not None:
        raise FennError("waves (--trace) come from the native RTL harness; the cocotb one writes none")
    return run_batch(soc, jobs)

# Images the RTL can load: IMEM and DMEM over the host port, VMEM and LLM through the RAM
# arrays (with the vector unit), DRAM into the harness's DRAM model (with the DMA).
RTL_IMAGES = ("imem", "dmem", "vmem", "llm", "dram")
VECTOR_IMAGES = ("vmem", "llm")


def soc_config(config: MachineConfig, vector: bool | None = None, dma: bool = False) -> SocConfig:
    """The SoC configuration matching an ISS machine configuration; ``vector``
    (default: the machine has extension V) adds the vector unit with its sizes,
    ``dma`` the DMA engine (which needs the vector unit)."""
    vector = V in config.extensions if vector is None else vector
    if vector and V not in config.extensions:
        raise FennError("the machine has no vector extension (V): the SoC cannot be built with the vector unit")
    if dma and not vector:
        raise FennError("the DMA moves rows between DRAM and VMEM: the SoC needs the vector unit for it")
    extra = {"vector": True, "vmem_size": config.vmem_size, "llm_size": config.llm_size} if vector else {}
    if dma:
        extra["dma"] = True
    return SocConfig(imem_size=config.imem_size, dmem_size=config.dmem_size,
                     full_m=M in config.extensions, hart_id=config.hartid,
                     mul_extra=config.cycle_model.mul_extra,
                     fetch_extra=config.cycle_model.fetch_extra, **extra)


def rtl_machine_config(config: MachineConfig, vector: bool = False) -> MachineConfig:
    """The ISS configuration that describes the SoC built: without the vector
    unit, extension V is dropped (vector instructions are illegal on both)."""
    return config if vector else config.with_(extensions=frozenset(config.extensions - {V}))


def needs_vector(program: Program, llm: bytes = b"") -> bool:
    """Whether running ``program`` needs the vector unit: a VMEM or LLM image,
    or a word of IMEM that decodes to a vector instruction."""
    if llm or any(program.images.get(name) for name in VECTOR_IMAGES):
        return True
    text = program.images.get("imem", b"")
    for at in range(0, len(text) - 3, 4):
        ins = try_decode(int.from_bytes(text[at:at + 4], "little"))
        if ins is not None and ins.spec.is_vector:
            return True
    return False


def needs_dma(program: Program, dram: bytes = b"") -> bool:
    """Whether running ``program`` needs the DMA engine: a DRAM image, or a CSR instruction
    in IMEM that names a DMA register."""
    if dram or program.images.get("dram"):
        return True
    text = program.images.get("imem", b"")
    for at in range(0, len(text) - 3, 4):
        ins = try_decode(int.from_bytes(text[at:at + 4], "little"))
        if ins is not None and ins.spec.kind == Kind.CSR and ins.imm in DMA_CSRS:
            return True
    return False


def _job(program: Program, config: MachineConfig, soc: SocConfig, max_cycles: int, read_dmem: str,
         llm: bytes = b"", dram: bytes = b"", dram_stall: int = 0, x_init: dict[int, int] | None = None) -> RtlJob:
    images = dict(program.images)
    if llm:
        images["llm"] = llm
    if dram:
        images["dram"] = dram
    if images.get("dram") and not soc.dma:
        raise FennError("a DRAM image needs the SoC with the DMA engine (this one is built without)")
    dram_fields = {}
    if soc.dma:
        if config.dma.dram.beat_bytes * 8 != soc.dma_data_bits:
            raise FennError(f"the ISS's DRAM beats are {config.dma.dram.beat_bytes} bytes, the SoC's AXI4 port "
                            f"{soc.dma_data_bits} bits: they must agree")
        image = images.pop("dram", b"")
        if len(image) > config.dram_size:
            raise FennError(f"dram image of {len(image)} bytes does not fit in {config.dram_size} bytes")
        # The DRAM window and its timing are the ISS's (MachineConfig and its DmaModel).
        dram_fields = dict(dram=image, dram_base=config.dram_base, dram_size=config.dram_size,
                           dram_errors=tuple(config.dram_error_regions), dram_latency=config.dma.dram.latency,
                           dram_stall=dram_stall or config.dma.dram.stall, dram_seed=config.dma.dram.seed)
    for name, image in images.items():
        if image and name not in RTL_IMAGES:
            raise FennError(f"the RTL backend cannot load a {name} image (only {', '.join(RTL_IMAGES)})")
        if image and name in VECTOR_IMAGES and not soc.vector:
            raise FennError(f"a {name} image needs the SoC with the vector unit (this one is built without)")
    sizes = {"imem": config.imem_size, "dmem": config.dmem_size, "vmem": config.vmem_size,
             "llm": config.lanes * config.llm_size}
    for name, size in sizes.items():
        if len(images.get(name, b"")) > size:
            raise FennError(f"{name} image of {len(images[name])} bytes does not fit in {size} bytes")
    vmem = llm = b""
    if soc.vector:
        # CONTROL.clear leaves VMEM and the LLMs as they are (the previous program's): write them
        # whole, the image over the ISS's reset pattern, so that both start alike.
        vmem = _over_reset_fill(images.get("vmem", b""), config.vmem_size)
        llm = _over_reset_fill(images.get("llm", b""), config.lanes * config.llm_size)
    return RtlJob(imem=images.get("imem", b""), dmem=images.get("dmem", b""), vmem=vmem, llm=llm,
                  entry=program.entry, max_cycles=max_cycles, read_dmem=read_dmem, read_vector=soc.vector,
                  # Whole-DMEM images (the random vector programs' 16 KiB) through the RAM array: as
                  # AXI4-Lite writes from cocotb they took most of the vector tests' time. The scalar
                  # SoC's loads keep testing the host port's write path.
                  write_dmem="backdoor" if len(images.get("dmem", b"")) > 4096 else "host",
                  x_init=dict(x_init or {}), **dram_fields)


def _over_reset_fill(image: bytes, size: int) -> bytes:
    full = bytearray(UNINITIALISED.to_bytes(2, "little") * (size // 2))
    full[:len(image)] = image
    return bytes(full)


def _b64(hex_text: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_text)).decode("ascii")


def _state(result: dict, dump_mem: bool) -> dict:
    """An RTL result shaped like ``Machine.state_dict`` (v and rng only with the vector unit)."""
    state = {"stop": result["stop"], "x": result["x"]}
    if "v" in result:
        state["v"], state["rng"] = result["v"], result["rng"]
    state.update({k: result[k] for k in ("instret", "cycles", "mcycle", "minstret")})
    if "dma_status" in result:
        state["dma_status"] = result["dma_status"]
    if dump_mem:
        for name in ("dmem", "vmem", "llm", "dram"):
            if name in result:
                state[name] = _b64(result[name])
    return state


def run_many_on_rtl(programs: list[Program], config: MachineConfig, *, llm_images: list[bytes] | None = None,
                    dram_images: list[bytes] | None = None, max_cycles: int = 1_000_000, dump_mem: bool = True,
                    dmem_via: str = "backdoor", soc: "VerilatedSoc | NativeSoc | None" = None,
                    vector: bool | None = None, dma: bool | None = None, harness: str = "native",
                    dram_stall: int = 0, x_inits: list[dict[int, int]] | None = None) -> list[dict]:
    """Final states of ``programs`` (each from reset, LLM images lane-major and DRAM images
    beside them) in one simulator launch. ``soc``: a build to reuse; else one is built, with
    the vector unit when ``vector`` says so (default: when a program needs it) and the DMA when
    ``dma`` does (default: when a program needs it; either harness). The DRAM window,
    its error regions and latency are ``config``'s (its DmaModel); ``dram_stall``: the DRAM's
    back-pressure (0 none: the ISS's cycles hold only then); ``x_inits``: x registers to start
    each program with ({register: value}). ``dmem_via``: read DMEM back over
    the host port ("host") or from the RAM array ("backdoor", fast). ``harness``: "native" or
    "cocotb" (for a build made here; a given ``soc`` says which it is)."""
    llm_images = llm_images or [b""] * len(programs)
    dram_images = dram_images or [b""] * len(programs)
    if soc is None:
        if dma is None:
            dma = any(needs_dma(p, d) for p, d in zip(programs, dram_images))
        if vector is None:
            vector = dma or any(needs_vector(p, llm) for p, llm in zip(programs, llm_images))
        soc = build_soc(soc_config(config, vector, dma), harness)
    x_inits = x_inits or [{}] * len(programs)
    jobs = [_job(p, config, soc.config, max_cycles, dmem_via if dump_mem else "no", llm, dram, dram_stall, x)
            for p, llm, dram, x in zip(programs, llm_images, dram_images, x_inits)]
    return [_state(r, dump_mem) for r in run_jobs(soc, jobs)]


def run_on_rtl(program: Program, config: MachineConfig, *, llm: bytes = b"", max_cycles: int = 1_000_000,
               dump_mem: bool = False) -> dict:
    """The final state of one program on the RTL, shaped like ``Machine.state_dict``."""
    return run_many_on_rtl([program], config, llm_images=[llm], max_cycles=max_cycles, dump_mem=dump_mem,
                           dmem_via="host")[0]


def iss_state(program: Program, config: MachineConfig, max_instructions: int = 1_000_000, *,
              llm: bytes = b"", dram: bytes = b"", x_init: dict[int, int] | None = None) -> dict:
    """The ISS's final state of ``program`` (``Machine.state_dict`` with memories), from reset
    with the x registers ``x_init`` ({register: value})."""
    m = Machine(config)
    m.load(program)
    for reg, value in (x_init or {}).items():
        if reg:
            m.x[reg] = value
    if llm:
        m.load_image("llm", llm)
    if dram:
        m.load_image("dram", dram)
    m.run(max_instructions=max_instructions)
    state = m.state_dict(dump_mem=True)
    if m.config.spec.dma:
        state["dma_status"] = [m.csr_read(csrs.MM2S_STATUS), m.csr_read(csrs.S2MM_STATUS)]
    return state


def run_cli(args) -> int:
    """`fenn-dma sim --backend rtl`: the program through the host port of the Verilated SoC
    built for ``--profile`` (with the vector unit when the program needs it); the same report
    and JSON state as the ISS backend."""
    import json
    import time

    from fenn_dma.isa.loader import load_program
    from fenn_dma.cli_machine import resolve_profile
    from fenn_dma.sim.config import MachineConfig
    from fenn_dma.sim.sim_cli import EXIT_OTHER_STOP, _read, _write_atomically

    from fenn_dma.boundary import check_output
    harness = getattr(args, "rtl_harness", "native")
    if args.trace:
        if harness != "native":
            raise FennError("--trace with --backend rtl writes waves (FST for a .fst file, else VCD), which the "
                            "native harness makes (--rtl-harness native)")
        check_output(args.trace, "--trace")
    if args.json:
        check_output(args.json, "--json")
    program = load_program(args.program)
    for memory in ("dmem", "vmem"):
        if getattr(args, memory):
            program.images[memory] = _read(getattr(args, memory))
    llm = _read(args.llm) if args.llm else b""
    from fenn_dma.sim.sim_cli import machine_config
    full = machine_config(args)      # the profile's, with the DRAM options
    dram = _read(args.dram) if args.dram else b""
    dma = needs_dma(program, dram)
    vector = dma or needs_vector(program, llm)
    config = rtl_machine_config(full, vector)
    # The RTL stops on cycles, not instructions: every instruction takes at most 3 cycles here.
    max_cycles = 3 + 3 * args.max_instructions if args.max_instructions is not None else 100_000_000
    soc_cfg = soc_config(config, vector, dma)
    job = _job(program, config, soc_cfg, max_cycles, "backdoor" if args.dump_mem else "no", llm, dram)
    unit = "with" if vector else "without"
    print(f"building/loading the Verilated SoC for profile {full.name} ({unit} the vector unit, "
          f"{harness} harness{', traced' if args.trace else ''}) ...", flush=True)
    soc = build_native(soc_cfg, trace=trace_format(args.trace) if args.trace else False) if harness == "native" else build_soc(soc_cfg, harness)
    t0 = time.perf_counter()
    state = _state(run_jobs(soc, [job], trace=args.trace or None)[0], args.dump_mem)
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


def windows_of_run(program, config: MachineConfig, inputs: dict, engine: str = "fast"):
    """A compiled program's run on the ISS through the compiler's Runtime, and the machine
    state each window's machine run began from (memory images, nonzero x registers): the
    jobs that run the same windows elsewhere. Returns (the Runtime, its RunOutput, windows)."""
    from fenn_dma.compiler.runtime import Runtime
    rt = Runtime(program, engine=engine, config=config)
    m = rt.machine
    windows: list[dict] = []
    original = m.run

    def capture(*args, **kwargs):
        windows.append({"x": {r: int(v) for r, v in enumerate(m.x) if r and v}, "pc": m.pc,
                        **{name: getattr(m, name).tobytes() for name in ("imem", "dmem", "vmem", "llm", "dram")}})
        return original(*args, **kwargs)
    m.run = capture
    try:
        out = rt.run(inputs)
    finally:
        m.run = original
    return rt, out, windows


def run_windows_on_rtl(windows: list[dict], config: MachineConfig, soc, max_cycles: int = 50_000_000) -> list[dict]:
    """The windows of ``windows_of_run`` as RTL jobs (each from CONTROL.clear with its images
    and x registers), final states with memories."""
    if any(w["pc"] != 0 for w in windows):
        raise FennError("a window that does not start at pc 0 cannot run as an RTL job")
    programs = [Program(images={k: w[k] for k in ("imem", "dmem", "vmem")}) for w in windows]
    return run_many_on_rtl(programs, config, soc=soc, llm_images=[w["llm"] for w in windows],
                           dram_images=[w["dram"] for w in windows], x_inits=[w["x"] for w in windows],
                           max_cycles=max_cycles)
