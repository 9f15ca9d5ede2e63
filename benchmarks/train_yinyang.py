"""Yin-Yang with learnable delays: test accuracy (float, quantised, Loihi model)
and seconds per epoch, each beside its reference figure.

    .venv/bin/python benchmarks/train_yinyang.py            # default, a few minutes on 2 cores
    .venv/bin/python benchmarks/train_yinyang.py --epochs 120 --hidden 150

References (docs/benchmarks.md): ANN 4-30-3 97.6 % (goal for the SNN >= 97 %);
deployed vs float: FeNN loses 0.1 pp, mlGeNN -> Loihi loses 0.5-2.5 pp.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fenn_dma.host import loihi
from fenn_dma.host.datasets import load_yinyang
from fenn_dma.host.network import simulate
from fenn_dma.host.train import TrainConfig, train

ANN_REF = 0.976
GOAL = 0.97


def bayes_ceiling(n_steps: int, t_max: float | None, n: int = 2_000_000, seed: int = 0) -> float:
    """Best accuracy any classifier of the latency code can reach: points uniform in
    the disk, each class weighted to 1/3 (as the generator draws them), majority
    class per distinct code word of (x, y, 1-x, 1-y)."""
    t_max = 0.75 * n_steps - 0.5 if t_max is None else t_max
    rng = np.random.default_rng(seed)
    x, y = rng.random(n), rng.random(n)
    keep = np.hypot(x - 0.5, y - 0.5) <= 0.5
    x, y = x[keep], y[keep]
    dr, dl = np.hypot(x - 0.75, y - 0.5), np.hypot(x - 0.25, y - 0.5)
    yin = (dr <= 0.1) | ((dl > 0.1) & (dl <= 0.25)) | ((y > 0.5) & (dr > 0.25))
    c = np.where((dr < 0.1) | (dl < 0.1), 2, yin.astype(int))
    w = np.array([1 / np.mean(c == k) for k in range(3)])[c]
    q = lambda f: np.floor(f * t_max + 0.5).astype(np.int64)     # noqa: E731
    m = n_steps + 1
    _, code = np.unique(((q(x) * m + q(y)) * m + q(1 - x)) * m + q(1 - y), return_inverse=True)
    tot = np.bincount(code * 3 + c, weights=w, minlength=3 * (code.max() + 1)).reshape(-1, 3)
    return float(tot.max(1).sum() / tot.sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--fine-tune-epochs", type=int, default=2)
    ap.add_argument("--qat-epochs", type=int, default=3)
    ap.add_argument("--qat-format", default=None, help="also fake-quantise weights to this format (e.g. auto8)")
    ap.add_argument("--no-qat-states", action="store_true", help="QAT of the weights only (needs --qat-format)")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--delays", default="synapse")
    ap.add_argument("--max-delay", type=int, default=8)
    ap.add_argument("--t-max", type=float, default=None, help="latency window (default 3/4 steps - 1/2)")
    ap.add_argument("--readout", default="mean")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--slope", type=float, default=10.0, help="surrogate slope")
    ap.add_argument("--tau-mem", type=float, default=20.0)
    ap.add_argument("--tau-syn", type=float, default=5.0)
    ap.add_argument("--no-select", action="store_true", help="keep the last epoch, not the best validation one")
    ap.add_argument("--ceiling", action="store_true", help="only print the encoding's Bayes-optimal accuracy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = load_yinyang(n_steps=a.steps, t_max=a.t_max)
    if a.ceiling:
        print(f"{bundle.description}: Bayes-optimal accuracy of the code {100 * bayes_ceiling(a.steps, a.t_max):.2f}%")
        return 0
    hidden = {"size": a.hidden, "tau_mem": a.tau_mem, "tau_syn": a.tau_syn}
    cfg = TrainConfig("yinyang", net={"hidden": [hidden], "delay_mode": a.delays, "surrogate_slope": a.slope,
                                      "max_delay": a.max_delay, "readout_reduce": a.readout, "init_delay": 0.5},
                      epochs=a.epochs, fine_tune_epochs=a.fine_tune_epochs, qat_epochs=a.qat_epochs,
                      qat_format=a.qat_format, batch_size=a.batch_size, seed=a.seed, progress=a.progress,
                      lr=a.lr, lr_schedule=a.schedule, select_best=not a.no_select,
                      qat_states=not a.no_qat_states)
    t0 = time.perf_counter()
    r = train(cfg, bundle)
    wall = time.perf_counter() - t0
    s = r.summary
    test = bundle.splits["test"]
    x, y = test.spikes.numpy(), test.labels.numpy()
    net = r.model.to_trained(a.steps)
    acc_np = float(np.mean(simulate(net, x).argmax(1) == y))
    acc_loihi = loihi.accuracy(loihi.convert(net), x, y)
    main_epochs = [h["seconds"] for h in r.history if h["phase"] == "main"]
    fmt = s.get("weight_format") or ""
    states = ", ".join(f"{k} {v}" if k.endswith(".A") else f"{k} V {v}"
                       for k, v in s.get("formats", {}).items())
    rows = [
        ("test accuracy, float (hard delays)", s["test_acc_float"], ANN_REF, "ANN 4-30-3"),
        ("  vs goal", s["test_acc_float"], GOAL, "goal >= 97 %"),
        ("  Bayes-optimal for this input code", bayes_ceiling(a.steps, a.t_max), ANN_REF, "ANN 4-30-3"),
        (f"test accuracy, PTQ {fmt}", s.get("test_acc_ptq", np.nan), s["test_acc_float"], "float"),
        (f"test accuracy, after QAT {fmt}", s["test_acc"], s["test_acc_float"], "float"),
        ("  compiler reference, deployed net", s.get("test_acc_deployed", np.nan), s["test_acc"], "QAT torch"),
        ("  float64 numpy model of deployed weights", acc_np, s["test_acc"], "QAT torch"),
        ("test accuracy, Loihi CUBA int model", acc_loihi, s["test_acc_float"], "float"),
    ]
    print(f"Yin-Yang 5000/1000/1000, {a.hidden} LIF hidden, delays={a.delays} (K={a.max_delay}), "
          f"T={a.steps}, {bundle.description}, readout {a.readout}, seed {a.seed}, "
          f"epochs {a.epochs}+{a.fine_tune_epochs}+{a.qat_epochs}, selected (validation) "
          + ", ".join(f"{k[15:]} {v}" for k, v in s.items() if k.startswith("selected_epoch_"))
          + (f"; states {states}" if states else ""))
    print(f"{'figure':44s} {'value':>8s} {'reference':>10s} {'ratio':>7s}  reference is")
    for name, v, ref, what in rows:
        print(f"{name:44s} {100 * v:7.2f}% {100 * ref:9.2f}% {v / ref:7.3f}  {what}")
    print(f"{'seconds per epoch (main phase, 5000 samples)':44s} {np.mean(main_epochs):8.2f}s "
          f"{'-':>10s} {'-':>7s}  (no published figure; see train_speed.py)")
    print(f"total wall time {wall:.0f} s, torch threads {a.threads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
