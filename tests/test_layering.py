"""The import order of the packages, checked on the source (every ``import``
and ``from ... import`` of every module, including the ones inside functions,
so that a lazy import cannot bring a cycle back):

    errors, arch, cli_machine, boundary, dram, hostmap  <-  isa  <-  sim  <-  compiler  <-  host
                                                                compiler  <-  models
                      isa  <-  rtl  <-  boards         compiler  <-  boards
    verify (the verification code), then benchmarks, examples and tests above all;
    cli.py (the command line) above everything.

``A <- B``: B may import A, never the other way round. A module named by a whole
string constant (``"fenn_dma.x.y"`` or ``"fenn_dma.x.y:function"``, as importlib
loads it late) counts as imported; the only such import against the layers is
the host's declared table of transports above it
(``fenn_dma.host.devices.registry.ABOVE_HOST``: the rtl device's Verilated SoC,
a verification model)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent      # the fenn_dma package
PACKAGE = "fenn_dma"
BASE = {"errors", "arch", "cli_machine", "boundary", "dram", "hostmap"}   # cli_machine: the shared --profile option;
# boundary: input/output checks; dram: the DRAM timing model (the ISS, the RTL harness, the benchmarks)

# Layer -> the layers its modules may import (besides their own).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "arch": {"errors"},
    "cli_machine": {"errors", "arch"},
    "boundary": {"errors"},
    "dram": {"errors"},
    "hostmap": set(),
    "isa": BASE,
    "firmware": BASE | {"isa"},
    "sim": BASE | {"isa"},
    "compiler": BASE | {"isa", "sim", "firmware"},
    "host": BASE | {"isa", "sim", "compiler", "firmware"},
    "models": BASE | {"isa", "sim", "compiler", "firmware"},   # published networks (models/)
    "rtl": BASE | {"isa"},
    "boards": BASE | {"isa", "rtl", "compiler"},     # compiler: the host ABI's Transport/Stop (board devices)
    "demo": {"*"},                  # the end-to-end demo: the whole pipeline, like the command line
    "__init__": set(),
    "verify": BASE | {"isa", "sim", "compiler", "host", "rtl", "boards", "firmware"},
    "cli": {"*"},
}
# Folders whose code sits above every layer (not part of the installed layers), and the build script.
ABOVE_ALL = {"tests", "benchmarks", "examples", "setup.py"}

# Known imports owned by another part of issue 9, each with who removes it. The list must be
# exact: an entry that no longer occurs fails too, so it is deleted when the fix lands.
PENDING: dict[tuple[str, str], str] = {}

# A string naming a module (and a function) of the package, as the device registry loads transports.
NAMED = re.compile(r"fenn_dma(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?")
REGISTRY = "fenn_dma.host.devices.registry"


def above_host() -> dict[str, str]:
    """The registry's declared transports above the host layer (device -> "module:function")."""
    from fenn_dma.host.devices.registry import ABOVE_HOST
    return dict(ABOVE_HOST)


def late_bound() -> set[tuple[str, str]]:
    """The (importer, imported) pairs the registry's ABOVE_HOST declares."""
    return {(REGISTRY, target.partition(":")[0]) for target in above_host().values()}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join([PACKAGE, *parts])


def layer(module: str) -> str | None:
    """The layer of a fenn_dma module (its first name below the package), or None outside."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def imports(module: str, source: str, is_package: bool = False) -> set[str]:
    """Every fenn_dma module ``module``'s source imports, anywhere in it (relative ones resolved)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from fenn_dma import sim` imports the subpackage sim.
            if target == PACKAGE:
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and NAMED.fullmatch(node.value):
            found.add(node.value.partition(":")[0])       # named for importlib: imported late
    return {name for name in found if name.split(".")[0] == PACKAGE}


def violations(modules: dict[str, tuple[str, bool]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that break ALLOWED, for modules {name: (source, is_package)}."""
    bad = []
    for name, (source, is_package) in sorted(modules.items()):
        own = layer(name)
        allowed = ALLOWED.get(own)
        for target in sorted(imports(name, source, is_package)):
            other = layer(target)
            if other == own or other == "__init__" or allowed is None or "*" in allowed:
                continue
            if other not in allowed:
                bad.append((name, target))
    return bad


def project_modules() -> dict[str, tuple[str, bool]]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        if rel[0] in ABOVE_ALL or rel[0].startswith(".") or "build" in rel[:1] or any(
                p in ("__pycache__", "site-packages") for p in rel):
            continue
        modules[module_name(path)] = (path.read_text(), path.name == "__init__.py")
    return modules


def test_every_layer_is_known():
    layers = {layer(name) for name in project_modules()}
    assert layers <= set(ALLOWED), f"modules in layers without a rule: {layers - set(ALLOWED)}"
    assert {"isa", "sim", "compiler", "host", "rtl", "boards", "verify", "errors", "cli"} <= layers


def test_imports_follow_the_layers():
    found = violations(project_modules())
    unexpected = [f"{a} imports {b}" for a, b in found if (a, b) not in PENDING and (a, b) not in late_bound()]
    stale = [f"{a} -> {b} ({why})" for (a, b), why in PENDING.items() if (a, b) not in found]
    assert not unexpected, "imports against the layer order:\n" + "\n".join(unexpected)
    assert not stale, "PENDING entries that no longer occur (delete them):\n" + "\n".join(stale)


def test_the_product_does_not_import_verification():
    """Only the registry's declared transports name verification code, and only by a string."""
    product = {"isa", "sim", "compiler", "host", "rtl", "boards", "errors", "arch", "firmware"}
    declared = late_bound()
    for name, (source, is_package) in project_modules().items():
        if layer(name) in product:
            bad = [t for t in imports(name, source, is_package) if layer(t) == "verify" and (name, t) not in declared]
            assert not bad, f"{name} imports {bad}"


def test_the_declared_transports_exist_and_load_late():
    """Each ABOVE_HOST entry names a module of the package defining the transport function
    (spec, program, **options), the registry uses it for its device, and importing the device
    API loads none of them."""
    from fenn_dma.host.devices.registry import KINDS
    table = above_host()
    assert table, "the registry declares no transport above the host (the rtl device's)"
    for device, target in table.items():
        module, _, function = target.partition(":")
        assert KINDS[device].transport == target
        assert layer(module) not in ALLOWED["host"] | {"host"}, f"{target}: within the host's layers, not above"
        path = ROOT.joinpath(*module.split(".")[1:]).with_suffix(".py")
        assert path.exists(), f"{device}: {target} names no module of the package"
        defs = {n.name: n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert function in defs, f"{device}: {module} has no function {function}"
        assert [a.arg for a in defs[function].args.args[:2]] == ["spec", "program"], target
    code = ("import sys, fenn_dma.host.devices, fenn_dma.host.devices.registry as r; "
            "print(sorted(m for m in sys.modules if any(m == t.partition(':')[0] for t in r.ABOVE_HOST.values())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---- the checker itself catches violations (a synthetic module set) -----------------------

SYNTHETIC = {
    "fenn_dma.isa.table": ("X = 1\n", False),
    "fenn_dma.sim.machine": ("from fenn_dma.isa.table import X\n", False),          # allowed
    "fenn_dma.rtl.core": ("def f():\n    from fenn_dma.sim.machine import M\n", False),   # lazy: caught
    "fenn_dma.rtl.vector.unit": ("from ...sim import machine\n", False),           # relative: caught
    "fenn_dma.isa.codec": ("import fenn_dma.compiler.emit\n", False),              # upwards: caught
    "fenn_dma.sim.cli_part": ("from fenn_dma import verify\n", False),             # subpackage: caught
    "fenn_dma.verify.runner": ("from fenn_dma.rtl.core import C\nfrom fenn_dma.sim import machine\n", False),
    "fenn_dma.boards": ("from ..rtl import core\nfrom . import parts\n", True),                # allowed
    "fenn_dma.host.late": ('"""Loads fenn_dma.verify late."""\nT = "fenn_dma.verify.rtl_session:open"\n', False),
}


def test_checker_catches_synthetic_violations():
    assert violations(SYNTHETIC) == [
        ("fenn_dma.host.late", "fenn_dma.verify.rtl_session"),      # named by a string: caught
        ("fenn_dma.isa.codec", "fenn_dma.compiler.emit"),
        ("fenn_dma.rtl.core", "fenn_dma.sim.machine"),
        ("fenn_dma.rtl.vector.unit", "fenn_dma.sim"),
        ("fenn_dma.sim.cli_part", "fenn_dma.verify"),
    ]


@pytest.mark.parametrize("module, source, expected", [
    ("fenn_dma.rtl.vector.unit", "from ..config import SocConfig\n", {"fenn_dma.rtl.config"}),
    ("fenn_dma.rtl.vector.unit", "from . import lane\n", {"fenn_dma.rtl.vector"}),
    ("fenn_dma.sim.x", "if True:\n    import fenn_dma.isa.codec as c\n", {"fenn_dma.isa.codec"}),
    ("fenn_dma.sim.x", "import numpy\nfrom os import path\n", set()),
    ("fenn_dma.host.x", 'T = "fenn_dma.verify.rtl_session:open_transport"\n', {"fenn_dma.verify.rtl_session"}),
    ("fenn_dma.host.x", 'M = "see fenn_dma.verify for more"\n', set()),          # prose, not a name
])
def test_import_resolution(module, source, expected):
    assert imports(module, source) == expected
