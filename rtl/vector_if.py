"""The scalar core's port to the vector unit (rtl/vector/unit.py).

Issue happens in the core's execute stage, in program order, one instruction
at a time:

- ``x_valid``: a vector instruction is offered: its word (the vector unit
  decodes it itself, rtl/vector/decoder.py) and the scalar operands x[rs1],
  x[rs2] already forwarded.
- ``x_ready``: the vector unit accepts it at the end of this cycle. While
  ``x_valid & ~x_ready`` the core stalls the execute stage and everything
  behind it (today's unit is always ready, so the ISS cycle model has no
  vector stall).
- ``x_result``: for VTST (mask) and VEXTRACT (lane value) the scalar result,
  in the issue cycle, so that the core forwards it like an ALU result (the
  neuron update's ``vtst`` + ``vsel`` pair runs without a stall, as the ISS
  cycle model assumes). ``w_result``: the same value in the next cycle.
- ``busy``: instructions are still in flight inside the vector unit (the host
  sees it in STATUS; the core needs it for nothing else).
- ``x_fault``/``x_cause``: the offered instruction faults (a misaligned or
  out-of-range VLOADV/VSTOREV/VLOADR/VLOADL/VSTOREL), with its RtlCause. A
  function of the offered instruction and its operands only, never of
  ``x_valid`` (the core folds it into its stop logic, which gates ``x_valid``);
  the vector unit never commits an instruction that faults.

An instruction that the vector unit finds illegal has already been rejected
by the core's decoder, which knows every vector encoding from isa/table.py.
"""
from __future__ import annotations

from amaranth.lib.wiring import In, Out, Signature


def vector_issue_signature() -> Signature:
    """Core side (initiator)."""
    return Signature({
        "x_valid": Out(1),
        "x_ready": In(1),
        "x_word": Out(32),
        "x_src1": Out(32), "x_src2": Out(32),
        "x_result": In(32), "w_result": In(32),
        "busy": In(1),
        "x_fault": In(1), "x_cause": In(4),
    })
