"""The ``--profile`` option of every command that depends on the machine
(`compile`, `run`, `sim`, `rtl`, `synth`): one definition, one resolution."""
from __future__ import annotations

import argparse

from fenn_dma.arch import DEFAULT_PROFILE, PROFILES, MachineSpec, profile


def add_profile_argument(parser: argparse.ArgumentParser, default: str | None = DEFAULT_PROFILE,
                         default_text: str | None = None) -> None:
    """Add ``--profile NAME`` (a fenn_dma.arch profile). ``default=None`` leaves the
    choice to the command (``default_text`` says what it picks)."""
    said = default_text or default
    parser.add_argument("--profile", metavar="NAME", choices=list(PROFILES), default=default,
                        help=f"machine description: {', '.join(PROFILES)} (default {said}; docs/machine.md)")


def resolve_profile(args: argparse.Namespace, default: str = DEFAULT_PROFILE) -> MachineSpec:
    """The MachineSpec named by ``--profile`` (``default`` when not given)."""
    return profile(getattr(args, "profile", None) or default)
