"""The fast engine: IMEM predecoded into a flat table, executed by C (_fastiss.c).

Op ids are mapped by name: the C module exports its op-name list and this
module maps ``table.OPS`` onto it, failing loudly on any mismatch, so no
encoding lives in C. The state layout (``state.py``), the stop causes and the
cycle-model parameters are matched by name the same way.
"""
from __future__ import annotations

from array import array

from fenn_dma.errors import FennError
from fenn_dma.isa import csrs, table
from fenn_dma.isa.table import OPS

from .cycle_model import CycleModel
from .predecode import program_words, scalar_source_mask, vector_source_mask
from .state import CORE_FIELDS, DMA_FIELDS
from .stop import STOP_CAUSES, Stop

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from .machine import Machine

try:
    from . import _fastiss  # type: ignore[attr-defined]
except ImportError as exc:  # not built: the reference engine still works
    _fastiss = None
    _IMPORT_ERROR = str(exc)
else:
    _IMPORT_ERROR = ""

# Columns of the predecoded table (int32 each), mirrored by the C struct.
COLUMNS = ("op", "rd", "rs1", "rs2", "imm", "xsrc", "vsrc", "flags")
FLAG_SAT, FLAG_ROUND_SHIFT = 1, 1  # flags = sat | round << 1


class FastEngineError(FennError):
    pass


def build_hint() -> str:
    return ("build it with `.venv/bin/pip install -e .` (needs a C compiler and the Python headers)"
            + (f"; import failed: {_IMPORT_ERROR}" if _IMPORT_ERROR else ""))


def available() -> bool:
    return _fastiss is not None


def _check_names(kind: str, ours: tuple[str, ...], theirs: tuple[str, ...]) -> None:
    if tuple(ours) != tuple(theirs):
        raise FastEngineError(f"the C engine's {kind} {list(theirs)} do not match Python's {list(ours)}: "
                              "rebuild it (`pip install -e .`) or update _fastiss.c")


def _op_ids() -> dict[str, int]:
    c_ops = tuple(_fastiss.OPS)
    missing = [op for op in OPS if op not in c_ops]
    extra = [op for op in c_ops if op not in OPS and op != "illegal"]
    if missing or extra:
        raise FastEngineError(f"C engine ops do not match isa/table.py: missing in C {missing}, "
                              f"unknown in the table {extra}; rebuild or update _fastiss.c")
    return {name: i for i, name in enumerate(c_ops)}


if _fastiss is not None:
    _OP_IDS = _op_ids()
    _check_names("core fields", CORE_FIELDS, tuple(_fastiss.CORE_FIELDS))
    _check_names("DMA fields", DMA_FIELDS, tuple(_fastiss.DMA_FIELDS))
    _check_names("stop causes", tuple(c.value for c in STOP_CAUSES), tuple(_fastiss.STOP_CAUSES))
    _check_names("cycle-model parameters", CycleModel.param_names(), tuple(_fastiss.CYCLE_PARAMS))
    _check_names("table columns", COLUMNS, tuple(_fastiss.COLUMNS))
    try:
        # CSR numbers and DMA constants come from isa/csrs.py, rounding codes from isa/table.py,
        # looked up by the C engine's names.
        _CSR_NUMBERS = array("q", [csrs.CSR_BY_NAME[n].number for n in _fastiss.CSRS])
        _CONSTS = array("q", [getattr(table if n.startswith("ROUND_") else csrs, n) for n in _fastiss.CONSTS])
    except (KeyError, AttributeError) as exc:
        raise FastEngineError(f"the C engine names a CSR or constant that isa/csrs.py / isa/table.py lack: "
                              f"{exc}") from exc


def predecode(machine: "Machine") -> array:
    """The table the C engine translates: one row of COLUMNS (int32) per IMEM word, flat."""
    instrs = machine.decoded()
    rows: dict[int, tuple[int, ...]] = {}   # by id(): decode_imem shares repeated words
    illegal = (_OP_IDS["illegal"], 0, 0, 0, 0, 0, 0, 0)
    table = array("i")
    used = program_words(bytes(machine.buffers["imem"]))   # the words after it are zero words
    if used < len(instrs) and instrs[used] is not None:
        used = len(instrs)                   # a zero word that decodes (it does not: illegal in RV32)
    for ins in instrs[:used]:
        if ins is None:
            table.extend(illegal)
            continue
        row = rows.get(id(ins))
        if row is None:
            spec = ins.spec
            xsrc, vsrc = scalar_source_mask(ins), vector_source_mask(ins)
            row = rows[id(ins)] = (_OP_IDS[spec.op], ins.rd, ins.rs1, ins.rs2, ins.imm,
                                   xsrc - (1 << 32) if xsrc >> 31 else xsrc,
                                   vsrc - (1 << 32) if vsrc >> 31 else vsrc,
                                   int(spec.sat) | spec.round << FLAG_ROUND_SHIFT)
        table.extend(row)
    table += array("i", illegal) * (len(instrs) - used)
    return table


def run(machine: "Machine", max_instructions: int | None) -> Stop:
    if _fastiss is None:
        raise FastEngineError(f"the fast ISS engine is not built: {build_hint()}; "
                              "or run with engine='reference'")
    cfg = machine.config
    params = array("q", cfg.cycle_model.as_params())
    b = machine.buffers
    key = (bytes(b["imem"]), params.tobytes())
    cached = machine._fast_code
    if cached is None or cached[0] != key:
        # translated once per program and cycle model (the costs of straight-line runs are folded in)
        cached = machine._fast_code = (key, _fastiss.translate(predecode(machine), params, _CONSTS))
    dma = dict(zip(("dma_mm2s_first", "dma_mm2s_done", "dma_mm2s_error", "dma_s2mm_first", "dma_s2mm_done",
                    "dma_s2mm_error", "dma_zero", "dma_beat_bytes", "dma_max_burst", "dma_boundary",
                    "dma_outstanding"), cfg.dma.as_params()))
    misc_values = {**dma, "dma_stall": cfg.dma.dram.stall, "dram_base": cfg.dram_base, "hartid": cfg.hartid}
    misc = array("q", [misc_values[n] for n in _fastiss.MISC])
    limit = -1 if max_instructions is None else int(max_instructions)
    cause, pc = _fastiss.run(cached[1], b["x"], b["v"], b["s0"], b["s1"], b["dmem"], b["vmem"], b["llm"],
                             b["dram"], b["core"], b["dma"], b["dram_error_regions"], params, misc, _CSR_NUMBERS,
                             _CONSTS, limit, lambda ch, now: machine.dma_channels.timed_start(ch, now))
    return Stop(STOP_CAUSES[cause], pc)
