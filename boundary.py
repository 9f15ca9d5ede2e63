"""Checks and writes at the boundary between a user and the tools: one set of
helpers every command (and the Python API where it takes user data) uses, so a
bad input gets the same clear :class:`~fenn_dma.errors.FennError` everywhere.

- argparse types: :func:`int_at_least` (``positive_int``, ``nonnegative_int``),
  :func:`finite_float`; argparse reports their message as
  ``argument --steps: must be an integer >= 1, got '0'`` and exits 2.
- outputs: :func:`check_output` (before any work: the folder exists, the path is
  not a folder) and :func:`write_outputs` (every file through a temporary file
  renamed into place, all of them or none, with the mode the umask gives).
- input files: :func:`load_npz` (the arrays of one ``.npz``; what they must hold is
  checked by the layer that knows it, e.g. ``compiler.validate.spike_array``).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from fenn_dma.errors import FennError

TYPE_CHECKING = False      # typing.TYPE_CHECKING without importing typing: `fenn-dma sim` starts faster
if TYPE_CHECKING:
    from typing import Callable, Union

    import numpy as np

    Content = Union[bytes, str, Callable[[Path], None]]   # what write_outputs writes to one path


class UsageError(FennError):
    """An option or argument value outside what is allowed."""


class OutputError(FennError):
    """An output file that cannot be written where asked."""


# ---- argparse types ------------------------------------------------------------------------------

def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low``."""
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def count(value, what: str, low: int = 1) -> int:
    """``value`` as an int, after checking it is an integer ``>= low`` (the Python
    API's counterpart of :func:`int_at_least`)."""
    import numbers
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, numbers.Integral) \
            or value < low:
        raise UsageError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def finite_float(low: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number (not nan/inf), ``>= low`` (``> low`` with ``above``)."""
    bound = "" if low is None else f" {'>' if above else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
            if text.strip().lower() not in ("nan", "+nan", "-nan"):
                raise argparse.ArgumentTypeError(f"must be a finite number{bound}, got {text!r}") from None
        if not math.isfinite(value) or (low is not None and (value < low or (above and value == low))):
            raise argparse.ArgumentTypeError(f"must be a finite number{bound}, got {text!r}")
        return value
    parse.__name__ = f"finite number{bound}"
    return parse


def _terminal_columns() -> int:
    """The width shutil.get_terminal_size would give ($COLUMNS, else the terminal's, else 80),
    without importing shutil (with bz2 and lzma): argparse builds a formatter for every option
    it adds, so every command would pay for it at start-up."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default (unless its help already names one, or it has none)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or not action.option_strings:
            return text
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            return text
        return f"{text} (default: %(default)s)"


# ---- outputs -------------------------------------------------------------------------------------

def check_output(path: str | os.PathLike, option: str) -> Path:
    """``path`` as a Path, after checking it can be written: its folder exists and
    is writable, and it is not itself a folder. Call before any work."""
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        raise OutputError(f"{option} {p}: is a folder; give a file name")
    if not parent.is_dir():
        raise OutputError(f"{option} {p}: the folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {p}: the folder {parent} is not writable")
    return p


def output_folder(path: str | os.PathLike, option: str) -> Path:
    """``path`` as a Path, created (with its parents) if missing; an error naming
    ``option`` when it cannot be (a file in the way, no permission)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{option} {p}: is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{option} {p}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {p}: the folder is not writable")
    return p


def file_mode() -> int:
    """The mode a new file gets under the current umask (0o666 & ~umask)."""
    umask = os.umask(0o22)
    os.umask(umask)
    return 0o666 & ~umask


def write_outputs(outputs: dict[str | os.PathLike, Content]) -> list[Path]:
    """Write every output, or none: each to a temporary file beside it (``bytes``,
    ``str``, or a callable that writes the file at the path it is given), then all
    renamed into place. The files get the mode the umask gives (not mkstemp's 0600).
    An OSError becomes an :class:`OutputError` naming the file."""
    import tempfile         # here, not at the top: `fenn-dma sim` without --json does not need it
    mode = file_mode()
    staged: list[tuple[str, Path]] = []
    try:
        for target, content in outputs.items():
            target = Path(target)
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
            staged.append((tmp, target))
            try:
                if callable(content):
                    os.close(fd)
                    content(Path(tmp))
                else:
                    with os.fdopen(fd, "wb") as f:
                        f.write(content.encode() if isinstance(content, str) else content)
                os.chmod(tmp, mode)
            except OSError as exc:
                raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    return [target for _, target in staged]


def load_npz(path: str | os.PathLike, option: str) -> "dict[str, np.ndarray]":
    """The arrays of an ``.npz`` file (np.savez), without pickles; an ``.npy`` or any
    other file is refused by name."""
    import zipfile

    import numpy as np      # here, not at the top: every command imports this module at start-up
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{option} {p}: no such file")
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        why = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
        raise UsageError(f"{option} {p}: not an .npz file of arrays (as np.savez writes){why}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise UsageError(f"{option} {p}: an .npy file (one array of shape {np.shape(loaded)}); an .npz is "
                         "expected, one array per spike source named like the population "
                         "(np.savez('spikes.npz', input=spikes))")
    try:
        with loaded as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{option} {p}: cannot read its arrays ({exc})") from None
