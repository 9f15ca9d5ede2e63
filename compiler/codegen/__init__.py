"""Code generation: a quantised network -> memory plan + vector firmware.

Program structure (one call runs ``steps`` timesteps, then ``ecall``)::

    _start:  if INIT: zero state, rings, spike words; seed the RNG; t = 0
    run:     for each of ``steps`` steps:
               phase 1   deliver spikes of t-1 (latency >= 1 connections)
               per population in schedule order:
                   deliver latency-0 input, then update (or load input spikes)
               t += 1
             save t; DMEM word 0 = 1 (ready); ecall

Kernels (their names are the listing's regions and the profile's rows):
``input propagation`` / ``<pop> propagation`` (bit loops over 32-bit spike
words with ctz), ``<pop> update`` (vectorised neuron update with VTST/VSEL
predication), ``init``, ``control``.

Synaptic input goes to one of two accumulators per target population:
- *direct*: dense, undelayed, arriving next step: either held in vector
  registers for the whole step (vloadv weight + vadd_s per 32 synapses) or in
  VMEM (vloadv weight, vloadv acc, vadd_s, vstorev);
- *ring*: a dendritic ring buffer in the lane-local memories, lane ``i % 32``
  holding neuron ``i``: LLM byte address ``ring_base + (i // 32) * 2D + 2 slot``.
  Sparse rows are ELL columns of packed ``(weight | address)`` words split with
  VANDADD and delivered with VLOADL/VSTOREL; dense delayed rows carry a
  parallel row of ``2 * delay``.

The generator in parts (docs/compiler.md, "Code generator structure"):

- ``layout``: the memory plan -> a frozen ``ProgramLayout`` (and ``MachineSizes``,
  ``CompileOptions``, the control block ``CONTROL``);
- ``emitter``: the instruction builder with register pools and scoped temporaries;
- ``control``: start, initialisation, run preamble, step end, exit, DMA error;
- ``propagation``: spike passes (dense, sparse, ring buffers; ``ConnState``);
- ``streaming``: passes with rows streamed from DRAM (composed into propagation);
- ``delay_ring`` / ``delay_ring_layout``: delay rings in VMEM (rows of segments
  streamed from DRAM) for populations whose LLM ring does not fit;
- ``update``: the neuron-update driver;
- ``packaging``: images and the I/O map (``Compiled``);
- ``generator``: ``CodeGenerator`` / ``compile_network``, the parts in program order.
"""
from __future__ import annotations

from .generator import CodeGenerator, compile_network
from .layout import (CONTROL, CTRL, CTRL_SIZE, VEC, CompileOptions, ConnectionLayout, ControlBlock, MachineSizes,
                     PopLayout, ProgramLayout, RecordWindow, plan_layout)
from .packaging import Compiled

__all__ = ["CONTROL", "CTRL", "CTRL_SIZE", "VEC", "CodeGenerator", "CompileOptions", "Compiled", "ConnectionLayout",
           "ControlBlock", "MachineSizes", "PopLayout", "ProgramLayout", "RecordWindow", "compile_network",
           "plan_layout"]
