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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--fine-tune-epochs", type=int, default=2)
    ap.add_argument("--qat-epochs", type=int, default=3)
    ap.add_argument("--qat-format", default="auto8", help="weight format (auto8: 8-bit, range from the weights)")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--delays", default="synapse")
    ap.add_argument("--max-delay", type=int, default=8)
    ap.add_argument("--readout", default="mean")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = load_yinyang(n_steps=a.steps)
    cfg = TrainConfig("yinyang", net={"hidden": [{"size": a.hidden}], "delay_mode": a.delays,
                                      "max_delay": a.max_delay, "readout_reduce": a.readout, "init_delay": 0.5},
                      epochs=a.epochs, fine_tune_epochs=a.fine_tune_epochs, qat_epochs=a.qat_epochs,
                      qat_format=a.qat_format, batch_size=a.batch_size, seed=a.seed, progress=a.progress)
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
    rows = [
        ("test accuracy, float (hard delays)", s["test_acc_float"], ANN_REF, "ANN 4-30-3"),
        ("  vs goal", s["test_acc_float"], GOAL, "goal >= 97 %"),
        (f"test accuracy, PTQ {s.get('weight_format')}", s.get("test_acc_ptq", np.nan), s["test_acc_float"], "float"),
        (f"test accuracy, after QAT {s.get('weight_format')}", s["test_acc"], s["test_acc_float"], "float"),
        ("  numpy reference of deployed net", acc_np, s["test_acc"], "QAT torch"),
        ("test accuracy, Loihi CUBA int model", acc_loihi, s["test_acc_float"], "float"),
    ]
    print(f"Yin-Yang 5000/1000/1000, {a.hidden} LIF hidden, delays={a.delays} (K={a.max_delay}), "
          f"T={a.steps}, epochs {a.epochs}+{a.fine_tune_epochs}+{a.qat_epochs}")
    print(f"{'figure':44s} {'value':>8s} {'reference':>10s} {'ratio':>7s}  reference is")
    for name, v, ref, what in rows:
        print(f"{name:44s} {100 * v:7.2f}% {100 * ref:9.2f}% {v / ref:7.3f}  {what}")
    print(f"{'seconds per epoch (main phase, 5000 samples)':44s} {np.mean(main_epochs):8.2f}s "
          f"{'-':>10s} {'-':>7s}  (no published figure; see train_speed.py)")
    print(f"total wall time {wall:.0f} s, torch threads {a.threads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
