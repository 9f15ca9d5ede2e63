"""`fenn-dma sim PROGRAM`: run a program on the ISS and report its final state.

PROGRAM is assembler source (.s), an ELF executable or a raw little-endian
IMEM image (with PROGRAM.dmem / PROGRAM.vmem beside it, as `fenn-dma asm`
writes them). Exit status: 0 when the program stops with ecall, 3 for any
other stop (ebreak, an exception, the instruction limit), 1 for errors, 130
when stopped with Ctrl-C (it prints the pc reached).

``--max-instructions N`` (default 100,000,000) bounds a runaway program on both
backends: the ISS stops before instruction N + 1; the RTL, which counts cycles,
stops after 3 + 3 N cycles (no instruction takes more than 3), so it runs at
least N instructions.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from fenn_dma.boundary import check_output, nonnegative_int, write_outputs
from fenn_dma.errors import FennError

COMMAND = "sim"
HELP = "run a program on the ISS (or the RTL) and report its final state"
EXIT_OTHER_STOP = 3
EXIT_INTERRUPTED = 130
DEFAULT_MAX_INSTRUCTIONS = 100_000_000
# Instructions per call of the engine: between calls Ctrl-C is seen (the fast engine is C code).
CHUNK = {"fast": 5_000_000, "reference": 20_000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fenn_dma.cli_machine import add_profile_argument
    parser.add_argument("program", metavar="PROGRAM", help=".s source, ELF, or raw IMEM image")
    for memory, what in (("dmem", "DMEM"), ("vmem", "VMEM"), ("dram", "the DRAM model")):
        parser.add_argument(f"--{memory}", metavar="FILE", help=f"raw image loaded at address 0 of {what}")
    parser.add_argument("--llm", metavar="FILE", help="raw LLM image, lane-major (all of lane 0, then lane 1, ...)")
    parser.add_argument("--max-instructions", type=nonnegative_int, metavar="N", default=DEFAULT_MAX_INSTRUCTIONS,
                        help="stop after N instructions; the RTL stops after 3 + 3 N cycles "
                             f"(default {DEFAULT_MAX_INSTRUCTIONS:,})")
    parser.add_argument("--trace", metavar="FILE",
                        help="write one line per executed instruction (pc, word, disassembly, register written); "
                             "runs on the reference engine. With --backend rtl: the waves of the run, FST for a "
                             "FILE ending in .fst, else VCD")
    parser.add_argument("--json", metavar="FILE", help="write the final state as JSON")
    parser.add_argument("--dump-mem", action="store_true", help="add base64 memory images to the JSON")
    add_profile_argument(parser)
    add_dram_arguments(parser)
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast",
                        help="ISS engine: fast (C) or reference (Python)")
    parser.add_argument("--backend", choices=("iss", "rtl"), default="iss",
                        help="iss, or rtl (the Verilated SoC; IMEM and DMEM images only)")


def add_dram_arguments(parser: argparse.ArgumentParser) -> None:
    """--dram-timing, --dram-stall, --dram-seed: the DRAM timing model's options (fenn-dma sim, run)."""
    parser.add_argument("--dram-timing", metavar="PRESET", choices=("short", "ddr4"), default=None,
                        help="the DRAM's latency preset (fenn_dma.dram: short 4 cycles, ddr4 53; default the "
                             "profile's, ddr4)")
    parser.add_argument("--dram-stall", type=nonnegative_int, metavar="LEVEL", default=0,
                        help="DRAM back-pressure: each AXI4 channel stalled LEVEL/256 of the cycles, 0..255 "
                             "(default 0; docs/dma.md \"Back-pressure\"); the ISS predicts its cycles")
    parser.add_argument("--dram-seed", type=nonnegative_int, metavar="N", default=1,
                        help="the stall pattern's seed (default 1)")


def dram_timing(args: argparse.Namespace, timing):
    """``timing`` (a DramTiming) with the DRAM options of ``args`` applied."""
    from fenn_dma.dram import DramTiming
    if getattr(args, "dram_timing", None):
        timing = timing._replace(latency=DramTiming.preset(args.dram_timing).latency)
    return timing.with_stall(getattr(args, "dram_stall", 0), getattr(args, "dram_seed", 1))


def machine_config(args: argparse.Namespace):
    """The profile's MachineConfig with the DRAM options (--dram-timing, --dram-stall, --dram-seed)."""
    from fenn_dma.cli_machine import resolve_profile

    from .config import MachineConfig
    from .dma import DmaModel
    cfg = MachineConfig.from_spec(resolve_profile(args))
    return cfg.with_(dma=DmaModel(dram_timing(args, cfg.dma.dram)))


def _write_atomically(path: str, write) -> None:
    """``write(f)`` into ``path`` through a temporary file (boundary.write_outputs)."""
    def text(tmp: Path) -> None:
        with open(tmp, "w") as f:
            write(f)
    write_outputs({path: text})


def _run(machine, limit: int, engine: str, trace=None):
    """``machine.run`` in chunks of CHUNK instructions, so Ctrl-C stops it between two."""
    from .stop import StopCause
    done = 0
    while True:
        n = min(CHUNK[engine], limit - done)
        stop = machine.run(n, engine=engine, trace=trace)
        done += n
        if stop.cause != StopCause.MAX_INSTRUCTIONS or done >= limit:
            return stop


def _interrupted(machine) -> int:
    print(f"interrupted (Ctrl-C) at pc 0x{machine.pc:08x} after {machine.instret} instructions, "
          f"{machine.cycles} cycles; no output written")
    return EXIT_INTERRUPTED


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FennError(f"cannot read {path}: {exc.strerror}") from None


def _trace_line(pc: int, ins, written) -> str:
    from fenn_dma.isa.disassembler import format_instruction
    text = format_instruction(ins, pc)
    if written is None:
        effect = ""
    elif written[0] == "x":
        effect = f"x{written[1]} = 0x{written[2]:08x}"
    else:
        effect = f"v{written[1]} = [{' '.join(str(int(x)) for x in written[2])}]"
    return f"{pc:08x}: {ins.encode():08x}  {text:<36} {effect}".rstrip() + "\n"


def run(args: argparse.Namespace) -> int:
    for option in ("json", "trace"):
        if getattr(args, option):
            check_output(getattr(args, option), f"--{option}")
    if args.backend == "rtl":
        # The RTL backend lives above both packages: fenn_dma.verify.sim_cli (what `fenn-dma sim` runs).
        raise FennError("the RTL backend runs through `fenn-dma sim` (fenn_dma.verify.sim_cli)")
    from fenn_dma.isa.loader import load_program

    from .machine import Machine

    program = load_program(args.program, require_code=True)
    machine = Machine(machine_config(args))
    machine.load(program)
    for memory in ("dmem", "vmem", "llm", "dram"):
        path = getattr(args, memory)
        if path:
            machine.load_image(memory, _read(path))
    engine = args.engine
    t0 = time.perf_counter()
    outputs = {}
    try:
        if args.trace:
            engine = "reference"
            lines: list[str] = []
            stop = _run(machine, args.max_instructions, "reference",
                        trace=lambda pc, ins, written: lines.append(_trace_line(pc, ins, written)))
            outputs[args.trace] = "".join(lines)
        else:
            stop = _run(machine, args.max_instructions, engine)
    except KeyboardInterrupt:
        return _interrupted(machine)
    seconds = time.perf_counter() - t0
    if args.json:
        import json
        outputs[args.json] = json.dumps(machine.state_dict(dump_mem=args.dump_mem))
    if outputs:
        write_outputs(outputs)
    location = program.source_map.get(stop.pc)
    where = f" ({location})" if location else ""
    ips = machine.instret / seconds if seconds > 0 else float("inf")
    print(f"stop: {stop.cause.value} at pc 0x{stop.pc:08x}{where}")
    moved = machine.dma_bytes
    dma = f"  DMA bytes: MM2S {moved['mm2s']}, S2MM {moved['s2mm']}" if any(moved.values()) else ""
    print(f"instructions: {machine.instret}  cycles: {machine.cycles}{dma}  "
          f"speed: {ips / 1e6:.2f} M instructions/s ({engine} engine)")
    return 0 if stop.ok else EXIT_OTHER_STOP
