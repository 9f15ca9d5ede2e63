"""`fenn-dma synth-shd`: write the SYNTHETIC SHD-format spoken-digit set (host/synth_shd.py)."""
from __future__ import annotations

import argparse

from fenn_dma.boundary import int_at_least

COMMAND = "synth-shd"
HELP = "make the SYNTHETIC SHD-format spoken-digit set (espeak-ng + lauscher)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder for synthetic_shd_train.h5 and synthetic_shd_test.h5")
    parser.add_argument("--per-class", type=int_at_least(1), default=30, help="training samples per digit")
    parser.add_argument("--test-per-class", type=int_at_least(1),
                        help="test samples per digit (default: a quarter of --per-class, at least 1)")
    parser.add_argument("--channels", type=int_at_least(1), default=700,
                        help="cochlea channels (SHD: 700; fewer for quick sets)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="seed of every sample's variation")
    parser.add_argument("--jobs", type=int_at_least(1), default=1, help="worker processes")
    parser.add_argument("--classes", type=_labels, metavar="L,L,...",
                        help="only these labels (0-9 English, 10-19 German digits); default all 20")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="DIR",
                       help="keep every sample made here and reuse it (default $FENN_DMA_CACHE/synthetic-shd, "
                            "else ~/.cache/fenn-dma/synthetic-shd)")
    cache.add_argument("--no-cache", action="store_true", help="make every sample, keep none")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _labels(text: str) -> tuple[int, ...]:
    try:
        labels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated labels 0..19 expected") from None
    if not labels or not all(0 <= c < 20 for c in labels):
        raise argparse.ArgumentTypeError(f"{text!r}: labels must be 0..19")
    return labels


def run(args: argparse.Namespace) -> int:
    from fenn_dma.host.synth_shd import generate

    paths = generate(args.out, args.per_class, args.test_per_class, args.channels, args.seed, args.jobs,
                     progress=not args.no_progress, classes=args.classes,
                     cache=None if args.no_cache else (args.cache or "default"))
    print(f"wrote {', '.join(str(p) for p in paths.values())} (SYNTHETIC speech in the SHD layout; "
          f"train with --dataset synthetic-shd --data-path {args.out})")
    return 0
