"""Every package of the tree is in pyproject.toml's list, so a non-editable install
(`pip install .`, a wheel) has all of it, not only what an editable install maps."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"tests", "build", "dist"}


def test_every_package_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"fenn_dma"}
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if not rel.parts or rel.parts[0] in SKIP or rel.parts[0].startswith(".") or "egg-info" in rel.parts[0]:
            continue
        found.add(".".join(("fenn_dma",) + rel.parts))
    assert sorted(found - listed) == [], "packages missing from pyproject.toml"
    assert sorted(listed - found) == [], "listed packages that do not exist"
