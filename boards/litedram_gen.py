"""LiteDRAM as a standalone core: ``litedram_gen`` (PyPI litedram, with LiteX and
Migen: the ``boards`` extra) run on a config built here, its Verilog and what the
Amaranth wrapper (``boards/litedram.py``) needs from it, cached.

``litedram_gen`` runs offline (it only elaborates Migen and writes files) at the
first build of a configuration; its outputs are kept under
``$FENN_DMA_CACHE/litedram/<key>`` (default ``~/.cache/fenn-dma``), keyed by a hash
of the config, of the LiteDRAM/LiteX/Migen versions and of this module, behind a
file lock, like the Verilator builds.

From the generated files this module keeps:

- ``litedram_core.v``, with the Date/sha1 banner lines dropped (so equal configs give
  equal text, and equal Verilator/yosys cache keys) and ``sdram_dq`` declared
  ``inout`` (LiteX writes the port of its ``TRELLIS_IO`` tristates as an ``input``);
- the init sequence that LiteX's firmware would run (``sdram_init()`` in
  liblitedram: software control, ``init_sequence()`` of the generated
  ``sdram_phy.h``, hardware control, ``init_done``), as Wishbone writes to the
  core's CSRs at the addresses of the generated ``csr.json``. The core is built
  with ``cpu: None``, which has no init engine of its own: ``init_done`` and
  ``init_error`` are CSRs that firmware sets, and its user ports stay blocked until
  ``init_done`` is set.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fenn_dma.errors import FennError
from fenn_dma.rtl.toolchain import fenn_cache

CORE = "litedram_core"
# What litedram_gen needs: --sim reaches LiteX's litex_sim (which imports LiteEth and LiteScope)
# and LiteX's Verilator back end (which looks up the TAP config's data package).
PACKAGES = ("litedram", "litex", "migen", "liteeth", "litescope", "yaml", "pythondata_misc_tapcfg")
PIP_NAMES = {"yaml": "pyyaml", "pythondata_misc_tapcfg": "pythondata-misc-tapcfg"}


class LiteDramError(FennError):
    """LiteDRAM's generator failed, or gave something this wrapper cannot use."""


def missing() -> str | None:
    """Why the core cannot be generated here (tests skip with this), or None."""
    absent = [PIP_NAMES.get(p, p) for p in PACKAGES if importlib.util.find_spec(p) is None]
    if absent:
        return f"{', '.join(absent)} not installed (pip install 'fenn-dma[boards]')"
    return None


@dataclass(frozen=True)
class LiteDramConfig:
    """What the core is generated for. ``module`` is a ``litedram.modules`` class: the
    ULX3S's chip is an ISSI IS42S16160 (16M x 16, 32 MiB) or, on some boards, an Alliance
    AS4C32M16SB (64 MiB; with IS42S16160's geometry the core uses its lower 32 MiB).
    ``sim`` puts LiteDRAM's SDRAMPHYModel (the chip's behaviour, its contents in
    Verilog arrays) in place of the PHY and the pins."""
    sys_clk_hz: float
    device: str = "LFE5U-85F-6BG381C"
    module: str = "IS42S16160"
    chip_bytes: int = 2                 # a 16-bit chip: sdram_module_nb
    data_bits: int = 32                 # both user ports (LiteDRAM's native port converter: 2 chip words a word)
    dma_id_bits: int = 1
    sim: bool = False

    def yaml_config(self) -> dict:
        """litedram_gen's YAML config (JSON is YAML)."""
        return {
            "device": self.device, "cpu": "None", "memtype": "SDR", "sdram_phy": "GENSDRPHY",
            "sdram_module": self.module, "sdram_module_nb": self.chip_bytes, "sdram_rank_nb": 1,
            "sys_clk_freq": self.sys_clk_hz,
            "user_ports": {"dma": {"type": "axi", "id_width": self.dma_id_bits, "data_width": self.data_bits},
                           "host": {"type": "axi", "id_width": 1, "data_width": self.data_bits}},
        }


@dataclass(frozen=True)
class CsrWrite:
    """One write of the init sequence: ``data`` to the CSR at byte address ``addr``, then at
    least ``delay`` cycles before the next (the firmware's ``cdelay``)."""
    what: str
    addr: int
    data: int
    delay: int = 0


@dataclass(frozen=True)
class LiteDramCore:
    config: LiteDramConfig
    folder: Path
    verilog: str
    ports: dict[str, tuple[str, int]]        # name -> (input/output/inout, width)
    init: tuple[CsrWrite, ...]
    size: int                                # bytes the core addresses
    cas_latency: int

    @property
    def addr_bits(self) -> int:
        return self.ports["user_port_dma_awaddr"][1]


# LiteX's liblitedram (sdram.c): DFII_CONTROL_SOFTWARE / DFII_CONTROL_HARDWARE, from sdram_phy.h's bits.
_SOFTWARE = ("DFII_CONTROL_CKE", "DFII_CONTROL_ODT", "DFII_CONTROL_RESET_N")
_HARDWARE = ("DFII_CONTROL_SEL",)


def _key(config: LiteDramConfig) -> str:
    h = hashlib.sha256(json.dumps(config.yaml_config(), sort_keys=True).encode())
    h.update(str(config.sim).encode())
    for package in ("litedram", "litex", "migen", "liteeth", "litescope"):
        h.update(f"{package}={importlib.metadata.version(package)}".encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def generate(config: LiteDramConfig) -> LiteDramCore:
    """The core for ``config``: from the cache, else generated (seconds) and cached."""
    why = missing()
    if why:
        raise LiteDramError(f"LiteDRAM cannot be generated: {why}")
    from filelock import FileLock
    folder = fenn_cache() / "litedram" / f"{CORE}-{'sim-' if config.sim else ''}{_key(config)}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "core.json").exists():
            _run_generator(config, folder)
    return _load(config, folder)


def _run_generator(config: LiteDramConfig, folder: Path) -> None:
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".gen-") as tmp:
        work = Path(tmp)
        (work / "core.yml").write_text(json.dumps(config.yaml_config(), indent=1))
        argv = [sys.executable, "-m", "litedram.gen", "core.yml", "--no-compile-software", "--name", CORE,
                "--output-dir", "out"] + (["--sim"] if config.sim else [])
        with open(work / "litedram_gen.log", "w") as log:
            done = subprocess.run(argv, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode:
            tail = (work / "litedram_gen.log").read_text()[-3000:]
            raise LiteDramError(f"litedram_gen failed (exit {done.returncode}) for {config}; its log ends with:\n{tail}")
        out = work / "out"
        verilog = _clean_verilog((out / "gateware" / f"{CORE}.v").read_text(), config.sim)
        header = (out / "software" / "include" / "generated" / "sdram_phy.h").read_text()
        registers = json.loads((out / "csr.json").read_text())["csr_registers"]
        init = _init_writes(header, {name: r["addr"] for name, r in registers.items()})
        size = int(_define(header, "SDRAM_PHY_SUPPORTED_MEMORY").rstrip("ULul"), 0)
        manifest = {"init": [vars(w) for w in init], "size": size, "cas_latency": int(_define(header, "SDRAM_PHY_CL"))}
        stage = work / "core"
        stage.mkdir()
        (stage / f"{CORE}.v").write_text(verilog)
        generated = out / "software" / "include" / "generated"
        for name, src in {"sdram_phy.h": generated / "sdram_phy.h", "csr.json": out / "csr.json",
                          "core.yml": work / "core.yml", "litedram_gen.log": work / "litedram_gen.log"}.items():
            (stage / name).write_text(src.read_text())
        (stage / "core.json").write_text(json.dumps(manifest, indent=1))      # last: a complete folder
        os.replace(stage, folder)


def _clean_verilog(text: str, sim: bool) -> str:
    text = re.sub(r"^// (LiteX sha1|Date) .*\n", "", text, flags=re.M)
    if not sim:
        text, n = re.subn(r"^(\s*)input(\s+wire\s+\[\d+:0\]\s+sdram_dq,)$", r"\1inout\2", text, count=1, flags=re.M)
        if n != 1:
            raise LiteDramError("the generated core has no sdram_dq port to make inout")
    return text


def _define(header: str, name: str) -> str:
    found = re.search(rf"^#define {name} (\S+)", header, re.M)
    if not found:
        raise LiteDramError(f"the generated sdram_phy.h defines no {name}")
    return found.group(1)


def _bits(expr: str, header: str) -> int:
    value = 0
    for name in expr.split("|"):
        value |= int(_define(header, name.strip()), 0)
    return value


def _init_writes(header: str, csr: dict[str, int]) -> tuple[CsrWrite, ...]:
    """LiteX's sdram_init() for this PHY (no leveling, no memtest) as CSR writes."""
    def reg(name: str) -> int:
        if name not in csr:
            raise LiteDramError(f"the generated core has no CSR {name} (its csr.json lists {', '.join(csr)})")
        return csr[name]

    body = re.search(r"static inline void init_sequence\(void\)\s*\{(.*?)\n\}", header, re.S)
    if not body:
        raise LiteDramError("the generated sdram_phy.h has no init_sequence()")
    software = _bits("|".join(_SOFTWARE), header)
    writes = [CsrWrite("software control", reg("sdram_dfii_control"), software),
              CsrWrite("init_done = 0", reg("ddrctrl_init_done"), 0),
              CsrWrite("init_error = 0", reg("ddrctrl_init_error"), 0)]
    what = "init_sequence"
    calls = {"sdram_dfii_pi0_address_write": "sdram_dfii_pi0_address",
             "sdram_dfii_pi0_baddress_write": "sdram_dfii_pi0_baddress",
             "sdram_dfii_control_write": "sdram_dfii_control"}
    for line in body.group(1).splitlines():
        line = line.strip()
        if not line:
            continue
        if m := re.fullmatch(r"/\* (.*) \*/", line):
            what = m.group(1)
        elif m := re.fullmatch(r"(\w+)\((.+)\);", line):
            fn, arg = m.groups()
            if fn in calls:
                data = _bits(arg, header) if arg.startswith("DFII_") else int(arg, 0)
                writes.append(CsrWrite(what, reg(calls[fn]), data))
            elif fn == "command_p0":
                writes += [CsrWrite(what, reg("sdram_dfii_pi0_command"), _bits(arg, header)),
                           CsrWrite(what, reg("sdram_dfii_pi0_command_issue"), 1)]
            elif fn == "cdelay":
                last = writes.pop()
                writes.append(CsrWrite(last.what, last.addr, last.data, int(arg, 0)))
            else:
                raise LiteDramError(f"sdram_phy.h's init_sequence() calls {fn}(), which this sequencer cannot do")
        else:
            raise LiteDramError(f"sdram_phy.h's init_sequence(): cannot read {line!r}")
    writes += [CsrWrite("hardware control", reg("sdram_dfii_control"), _bits("|".join(_HARDWARE), header)),
               CsrWrite("init_done = 1", reg("ddrctrl_init_done"), 1)]
    return tuple(writes)


_PORT = re.compile(r"^\s*(input|output|inout)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+)\s*,?\s*$")


def _load(config: LiteDramConfig, folder: Path) -> LiteDramCore:
    verilog = (folder / f"{CORE}.v").read_text()
    header = re.search(rf"module {CORE} \((.*?)\);", verilog, re.S)
    if not header:
        raise LiteDramError(f"{folder / (CORE + '.v')}: no module {CORE}")
    ports = {}
    for line in header.group(1).splitlines():
        if m := _PORT.match(line):
            ports[m.group(3)] = (m.group(1), int(m.group(2) or 0) + 1)
    manifest = json.loads((folder / "core.json").read_text())
    return LiteDramCore(config=config, folder=folder, verilog=verilog, ports=ports,
                        init=tuple(CsrWrite(**w) for w in manifest["init"]), size=manifest["size"],
                        cas_latency=manifest["cas_latency"])
