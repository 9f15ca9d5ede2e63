"""`fenn-dma sim PROGRAM`: run a program on the ISS and report its final state.

PROGRAM is assembler source (.s), an ELF executable or a raw little-endian
IMEM image (with PROGRAM.dmem / PROGRAM.vmem beside it, as `fenn-dma asm`
writes them). Exit status: 0 when the program stops with ecall, 3 for any
other stop (ebreak, an exception, the instruction limit), 1 for errors.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fenn_dma.errors import FennError

COMMAND = "sim"
HELP = "run a program on the ISS (or the RTL) and report its final state"
EXIT_OTHER_STOP = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fenn_dma.cli_machine import add_profile_argument
    parser.add_argument("program", metavar="PROGRAM", help=".s source, ELF, or raw IMEM image")
    for memory, what in (("dmem", "DMEM"), ("vmem", "VMEM"), ("dram", "the DRAM model")):
        parser.add_argument(f"--{memory}", metavar="FILE", help=f"raw image loaded at address 0 of {what}")
    parser.add_argument("--llm", metavar="FILE", help="raw LLM image, lane-major (all of lane 0, then lane 1, ...)")
    parser.add_argument("--max-instructions", type=int, metavar="N", help="stop after N instructions")
    parser.add_argument("--trace", metavar="FILE",
                        help="write one line per executed instruction (pc, word, disassembly, register written); "
                             "runs on the reference engine")
    parser.add_argument("--json", metavar="FILE", help="write the final state as JSON")
    parser.add_argument("--dump-mem", action="store_true", help="add base64 memory images to the JSON")
    add_profile_argument(parser)
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast")
    parser.add_argument("--backend", choices=("iss", "rtl"), default="iss")


def _write_atomically(path: str, write) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


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
    if args.backend == "rtl":
        from .rtl_backend import run_cli
        return run_cli(args)
    from fenn_dma.isa.loader import load_program

    from fenn_dma.cli_machine import resolve_profile

    from .config import MachineConfig
    from .machine import Machine

    program = load_program(args.program, require_code=True)
    machine = Machine(MachineConfig.from_spec(resolve_profile(args)))
    machine.load(program)
    for memory in ("dmem", "vmem", "llm", "dram"):
        path = getattr(args, memory)
        if path:
            machine.load_image(memory, _read(path))
    engine = args.engine
    t0 = time.perf_counter()
    if args.trace:
        engine = "reference"
        lines: list[str] = []
        stop = machine.run(args.max_instructions, engine="reference",
                           trace=lambda pc, ins, written: lines.append(_trace_line(pc, ins, written)))
        seconds = time.perf_counter() - t0
        _write_atomically(args.trace, lambda f: f.writelines(lines))
    else:
        stop = machine.run(args.max_instructions, engine=engine)
        seconds = time.perf_counter() - t0
    if args.json:
        state = machine.state_dict(dump_mem=args.dump_mem)
        _write_atomically(args.json, lambda f: json.dump(state, f))
    location = program.source_map.get(stop.pc)
    where = f" ({location})" if location else ""
    ips = machine.instret / seconds if seconds > 0 else float("inf")
    print(f"stop: {stop.cause.value} at pc 0x{stop.pc:08x}{where}")
    print(f"instructions: {machine.instret}  cycles: {machine.cycles}  "
          f"speed: {ips / 1e6:.2f} M instructions/s ({engine} engine)")
    return 0 if stop.ok else EXIT_OTHER_STOP
