"""`fenn-dma devices`: the devices usable here, and why the others are not."""
from __future__ import annotations

import argparse

COMMAND = "devices"
HELP = "list the devices a program can run on here, and why the others cannot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    from .registry import devices
    rows = devices()
    if args.json:
        import json
        print(json.dumps([{"device": n, "usable": ok, "why" if not ok else "description": text}
                          for n, ok, text in rows], indent=1))
        return 0
    width = max(len(n) for n, _, _ in rows)
    for name, ok, text in rows:
        print(f"{name:<{width}}  {'usable' if ok else 'not available'}: {text}")
    return 0
