"""Run one fuzz target under atheris (libFuzzer):

    python tests/fuzz/run.py TARGET CORPUS_DIR [libFuzzer options, e.g. -runs=2000 -seed=1]

The project's modules are instrumented for coverage. A crash (an exception
that is not a FennError) prints its traceback, writes the input as
``crash-*`` (see ``-artifact_prefix``) and exits non-zero.
"""
from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["fenn_dma", "targets", "elftools"]):
    import targets


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        sys.exit(f"usage: run.py TARGET [CORPUS] [libFuzzer options]; targets: {', '.join(targets.TARGETS)}")
    target = targets.TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
