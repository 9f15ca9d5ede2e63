"""The compiled program's parts: memory images (IMEM words, DMEM/VMEM/DRAM
contents) and the I/O map the runtime and the .fenn file use."""
from __future__ import annotations

from dataclasses import dataclass

from fenn_dma.arch import MachineSpec

from ..emit import Assembled
from ..memory import MemoryPlan
from ..quantise import QNetwork
from .layout import CONTROL, VEC, ProgramLayout


@dataclass
class Compiled:
    qnet: QNetwork
    plan: MemoryPlan
    asm: Assembled
    images: dict[str, bytes]
    io: dict
    window: int
    machine: MachineSpec        # the machine the program was compiled for (recorded in its .fenn)


def images(layout: ProgramLayout, asm: Assembled) -> dict[str, bytes]:
    plan = layout.plan
    imem = b"".join(w.to_bytes(4, "little") for w in asm.words)
    dmem = bytearray(plan.used["dmem"])
    vmem = bytearray(-(-plan.used["vmem"] // VEC) * VEC)
    for off, data in layout.dmem_data:
        dmem[off:off + len(data)] = data
    for off, data in layout.vmem_data:
        vmem[off:off + len(data)] = data
    dmem[CONTROL.init:CONTROL.init + 4] = (1).to_bytes(4, "little")
    out = {"imem": imem, "dmem": bytes(dmem), "vmem": bytes(vmem)}
    if plan.used["dram"]:        # streamed weights, and record windows (zeros) the DMA writes
        dram = bytearray(plan.used["dram"])
        for off, data in layout.dram_data:
            dram[off:off + len(data)] = data
        out["dram"] = bytes(dram)
    return out


def io_map(q: QNetwork, layout: ProgramLayout, dram_base: int) -> dict:
    """Addresses of inputs, records, readouts and state (JSON-ready)."""
    io = {"control": CONTROL.offsets(), "window": layout.window, "inputs": {}, "records": {}, "readouts": {},
          "state": {}, "dram_base": dram_base,
          "dram_regions": {r.name: [dram_base + r.offset, r.size,
                                    sorted(n for n, cl in layout.connections.items() if cl.dram is r)]
                           for r in layout.plan.regions if r.memory == "dram"}}
    for p in q.populations.values():
        lay = layout.populations[p.name]
        if p.is_input:
            io["inputs"][p.name] = {"memory": "dmem", "addr": layout.inputs[p.name].offset,
                                    "words": p.words, "size": p.size}
            continue
        io["state"][p.name] = {"addr": lay.state.offset, "stride": lay.stride, "chunks": p.chunks,
                               "size": p.size, "offsets": dict(lay.offsets)}
        if p.readout:
            io["readouts"][p.name] = {"memory": "vmem", "addr": lay.state.offset + lay.offsets["ro"],
                                      "stride": lay.stride, "chunks": p.chunks, "size": p.size,
                                      "kind": p.readout}
    for rec in layout.records:
        p = q.populations[rec.population]
        n, c = p.recorded(rec.var), p.recorded_chunks(rec.var)      # neurons 0..n-1 in c words (vectors)
        if rec.var == "spikes":
            io["records"][rec.key] = {"memory": "dmem", "addr": rec.region.offset, "words": c, "size": n}
        elif rec.dram is not None:      # addr: from the DRAM base (codegen/record_dma.py)
            io["records"][rec.key] = {"memory": "dram", "addr": rec.dram.offset, "row_bytes": VEC * c,
                                      "size": n}
        else:
            io["records"][rec.key] = {"memory": "vmem", "addr": rec.region.offset, "row_bytes": VEC * c,
                                      "size": n}
    return io
