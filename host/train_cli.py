"""`fenn-dma train`: train a spiking network and write checkpoint, metrics,
plots, the trained network (.npz) and optionally NIR / Loihi netx files."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from fenn_dma.boundary import finite_float, nonnegative_int, positive_int, write_outputs
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.network import hidden_models

if TYPE_CHECKING:
    from fenn_dma.host.train import TrainConfig

FINITE = finite_float()
POSITIVE = finite_float(0, above=True)
NONNEGATIVE = finite_float(0)

COMMAND = "train"
HELP = "train a spiking network (PyTorch): LIF/ALIF, learnable delays, QAT, NIR/netx export"


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="yinyang", choices=["yinyang", "digits", "shd", "ssc", "synthetic-shd"], help="data set")
    d.add_argument("--data-path", help="SHD/SSC: folder with shd_train.h5/shd_test.h5 (or one .h5 file)")
    d.add_argument("--steps", type=positive_int, help="steps per sample (yinyang, digits)")
    d.add_argument("--dt", type=POSITIVE, default=1.0, help="ms per step")
    d.add_argument("--max-time", type=POSITIVE, default=1000.0, help="SHD/SSC: crop at this many ms")
    d.add_argument("--channel-pool", type=positive_int, default=1, help="SHD/SSC: OR this many neighbouring channels")
    d.add_argument("--limit", type=positive_int, help="SHD/SSC: read only the first N samples of each file")
    d.add_argument("--encoding", default="latency", choices=["latency", "rate"], help="digits encoding")
    n = p.add_argument_group("network")
    n.add_argument("--hidden", default="64", help="hidden sizes, comma separated (e.g. 128,64)")
    n.add_argument("--neuron", default="LIF", help="hidden neuron model: " + ", ".join(hidden_models()))
    n.add_argument("--recurrent", action="store_true", help="recurrent connections in every hidden layer")
    n.add_argument("--tau-mem", type=POSITIVE, default=20.0, help="ms")
    n.add_argument("--tau-syn", type=POSITIVE, default=5.0, help="ms")
    n.add_argument("--threshold", type=POSITIVE, default=1.0, help="firing threshold")
    n.add_argument("--refractory", type=nonnegative_int, default=0, help="steps")
    n.add_argument("--tau-adapt", type=POSITIVE, default=2000.0, help="ALIF, ms")
    n.add_argument("--beta-adapt", type=FINITE, default=0.0174, help="ALIF")
    n.add_argument("--delays", default="none", help="none, synapse or position")
    n.add_argument("--max-delay", type=positive_int, default=16, help="delay taps (delays 0..N-1 steps)")
    n.add_argument("--delay-kernel", default="gauss", help="gauss or triangle")
    n.add_argument("--readout", default="mean", help="mean or max of the readout voltage over time")
    t = p.add_argument_group("training")
    t.add_argument("--method", default="bptt", choices=["bptt", "eventprop"], help="surrogate BPTT or EventProp")
    t.add_argument("--max-spikes", type=positive_int, default=64, help="EventProp: spike buffer per neuron and sample")
    t.add_argument("--epochs", type=int, default=20, help="training epochs")
    t.add_argument("--fine-tune-epochs", type=nonnegative_int, default=None,
                   help="epochs with rounded, frozen delays (default: 2 with --delays, else 0)")
    t.add_argument("--qat-epochs", type=int, default=0, help="quantisation-aware training epochs")
    t.add_argument("--qat-format", help="weight format for QAT, e.g. s7.8 or auto8")
    t.add_argument("--qat-states", action="store_true",
                   help="QAT of the neuron states in the compiler's fixed-point arithmetic (bit-exact)")
    t.add_argument("--rounding", default="nearest", choices=("truncate", "nearest", "stochastic"),
                   help="rounding of the quantised multiplies (QAT)")
    t.add_argument("--batch-size", type=positive_int, default=64, help="samples per batch")
    t.add_argument("--lr", type=POSITIVE, default=2e-3, help="learning rate of the weights")
    t.add_argument("--lr-delay", type=NONNEGATIVE, default=0.05, help="learning rate of the delays")
    t.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the data split and the initial weights")
    t.add_argument("--max-batches", type=positive_int, help="limit batches per epoch (quick runs)")
    t.add_argument("--threads", type=nonnegative_int, default=1,
                   help="torch CPU threads; 0: torch's default, every core (on a 2-core machine 0 took 57 s "
                        "an epoch of Yin-Yang against 2 s with 1)")
    t.add_argument("--deepr-connectivity", metavar="SPEC",
                   help="DEEP R sparse training: fraction of active connections for every hidden projection "
                        "(0.1) or per projection (hidden0=0.1,hidden0.rec=0.05,readout=0.5)")
    t.add_argument("--deepr-temperature", type=NONNEGATIVE, default=1e-6, help="DEEP R noise temperature T")
    t.add_argument("--deepr-l1", type=NONNEGATIVE, default=1e-5, help="DEEP R L1 prior alpha")
    t.add_argument("--config", help="JSON file of TrainConfig fields; command-line options given explicitly win")
    o = p.add_argument_group("output")
    o.add_argument("--out", help="output folder (required, except with --resume)")
    o.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint (its own options; options given "
                        "here must equal them, except --no-progress, --no-plots, --threads and the exports); "
                        "the result equals that of the run never interrupted")
    o.add_argument("--no-plots", action="store_true", help="do not draw curves.png, raster.png, delays.png")
    o.add_argument("--no-progress", action="store_true",
                   help="no progress bar (drawn only on a terminal; the one-line epoch summaries still print)")
    o.add_argument("--export-nir", action="store_true", help="write network.nir")
    o.add_argument("--nir-step", type=POSITIVE, metavar="SECONDS",
                   help="write network.nir for a simulator with this step (1e-4: snnTorch's importer, which "
                        "assumes it); default: the network's own dt")
    o.add_argument("--export-netx", action="store_true", help="write network_netx.h5 and its Loihi-model accuracy")


def _config(args) -> "TrainConfig":
    from fenn_dma.host.train import TrainConfig

    try:
        hidden_sizes = [int(h) for h in str(args.hidden).split(",") if h.strip()]
    except ValueError:
        raise ConfigError(f"--hidden {args.hidden!r}: expected comma-separated integers, e.g. 128,64") from None
    hidden = [{"size": h, "model": args.neuron, "recurrent": args.recurrent, "tau_mem": args.tau_mem,
               "tau_syn": args.tau_syn, "threshold": args.threshold, "refractory": args.refractory,
               "tau_adapt": args.tau_adapt, "beta_adapt": args.beta_adapt} for h in hidden_sizes]
    data: dict = {"dt": args.dt}
    if args.dataset in ("yinyang", "digits"):
        if args.steps is not None:
            data["n_steps"] = args.steps
        if args.dataset == "digits":
            data["encoding"] = args.encoding
    else:
        data.update(path=args.data_path, max_time=args.max_time, channel_pool=args.channel_pool,
                    limit=args.limit, val_fraction=0.1)
    cfg = dict(dataset=args.dataset, data=data,
               net={"hidden": hidden, "delay_mode": args.delays, "max_delay": args.max_delay,
                    "delay_kernel": args.delay_kernel, "readout_reduce": args.readout},
               epochs=args.epochs, fine_tune_epochs=args.fine_tune_epochs, qat_epochs=args.qat_epochs,
               qat_format=args.qat_format, qat_states=args.qat_states, rounding=args.rounding, batch_size=args.batch_size, lr=args.lr,
               lr_delay=args.lr_delay, seed=args.seed, out_dir=args.out, plots=not args.no_plots,
               progress=not args.no_progress, max_batches=args.max_batches, threads=args.threads,
               deepr_connectivity=args.deepr_connectivity, deepr_temperature=args.deepr_temperature,
               deepr_l1=args.deepr_l1, method=args.method, max_spikes=args.max_spikes)
    if args.config:
        path = Path(args.config)
        try:
            extra = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"--config {path}: cannot read JSON ({exc})") from None
        unknown = set(extra) - set(TrainConfig.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"--config {path}: unknown field(s) {sorted(unknown)}; "
                              f"allowed: {sorted(TrainConfig.__dataclass_fields__)}")
        for key, value in extra.items():
            if key in ("net", "data"):
                cfg[key] = {**cfg[key], **value}
            else:
                cfg[key] = value
    return TrainConfig(**cfg)


def _resume_config(args) -> "TrainConfig":
    """The config of ``--resume RUN_DIR``: the run's own (from its checkpoint), with the
    run-only options given here; a training option given here must equal the run's."""
    from fenn_dma.host.epochs import RUN_ONLY
    from fenn_dma.host.train import _jsonable, resume_config

    if args.out is not None and Path(args.out).resolve() != Path(args.resume).resolve():
        raise ConfigError(f"--resume {args.resume} continues the run in its own folder; drop --out {args.out}")
    saved = resume_config(args.resume)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = {**vars(args), "out": args.resume}
    given = _config(argparse.Namespace(**ns))
    default = _config(argparse.Namespace(**{**ns, **{k: parser.get_default(k) for k in vars(args)
                                                     if k not in ("out", "resume", "command")}}))
    g, d, r = (_flat(_jsonable(c)) for c in (given, default, saved))
    differ = [f"{k}: the run's {r.get(k)!r}, given {g[k]!r}" for k in sorted(g)
              if k.split(".")[0] not in RUN_ONLY and g[k] != d.get(k) and g[k] != r.get(k)]
    if differ:
        raise ConfigError(f"--resume {args.resume}: options given that differ from the run's: " + "; ".join(differ)
                          + " (drop them to continue the run, or train into a new --out)")
    for name in RUN_ONLY:
        setattr(saved, name, getattr(given, name))
    return saved


def _flat(d, prefix: str = "") -> dict:
    """A nested config as {dotted key: value} (lists by index)."""
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, (list, tuple)) else None
    if items is None:
        return {prefix: d}
    out = {}
    for k, v in items:
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def run(args) -> int:
    import numpy as np

    from fenn_dma.host.train import train

    if args.resume is None and args.out is None:
        raise ConfigError("--out FOLDER is required (or --resume RUN_DIR to continue a run)")
    cfg = _resume_config(args) if args.resume is not None else _config(args)
    from fenn_dma.host.loihi import CUBA_UNITS
    cuba = [c.name for c in CUBA_UNITS if c.spiking]
    if args.export_netx and (args.recurrent or args.refractory > 0 or args.neuron not in cuba):
        raise ConfigError(f"--export-netx: netx files hold feed-forward {'/'.join(cuba)} layers without "
                          f"refractory periods; drop --recurrent / --refractory / --neuron {args.neuron}, "
                          "or omit --export-netx")
    try:
        result = train(cfg, resume=args.resume)
    except KeyboardInterrupt:
        import sys

        from fenn_dma.host.epochs import CHECKPOINT
        if (out_dir := Path(cfg.out_dir)).joinpath(CHECKPOINT).is_file():
            print(f"fenn-dma train: continue with: fenn-dma train --resume {out_dir}", file=sys.stderr)
        raise
    out = Path(cfg.out_dir)
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return 0
    net = result.network if result.network is not None else result.model.to_trained(result.bundle.n_steps)
    summary = dict(result.summary)
    if args.export_nir:
        from fenn_dma.host.nir_io import export_nir
        export_nir(net, out / "network.nir", step_s=args.nir_step)
    if args.export_netx:
        from fenn_dma.host import loihi
        lnet = loihi.export_netx(net, out / "network_netx.h5")
        test = result.bundle.splits["test"]
        if hasattr(test, "spikes"):
            summary["loihi_test_acc"] = loihi.accuracy(lnet, test.spikes.numpy(), test.labels.numpy())
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["summary"] = summary
    write_outputs({out / "metrics.json": json.dumps(metrics, indent=1)})
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    written = ["checkpoint.pt", "metrics.json", "network.npz"] + (["network.nir"] if args.export_nir else []) \
        + (["network_netx.h5"] if args.export_netx else []) \
        + [p for p in ("curves.png", "raster.png", "delays.png") if cfg.plots and (out / p).is_file()]
    print(f"wrote {out}/ ({', '.join(written)})")
    del np
    return 0
