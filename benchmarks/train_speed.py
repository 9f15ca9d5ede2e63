"""Training time per epoch of one network here and in snnTorch (same machine, same run).

    .venv/bin/python benchmarks/train_speed.py [--hidden 100 --steps 40 --samples 5000]

Network: Yin-Yang latency input (5) -> N LIF with exponential-current synapses
-> 3 leaky readouts, BPTT with surrogate gradients, Adam, batch 64, no delays
(snnTorch has no learnable delays). snnTorch's side: nn.Linear + snn.Synaptic
stepped in a Python loop (its standard usage). Goal: ours faster (ratio > 1).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from fenn_dma.host.datasets import load_yinyang
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig


def _epoch(model_fn, params, loader):
    opt = torch.optim.Adam(params, lr=1e-3)
    t0 = time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model_fn(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    b = load_yinyang(a.steps, sizes={"train": a.samples, "val": 10, "test": 10})
    loader = torch.utils.data.DataLoader(b.splits["train"].dataset(), batch_size=a.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    ours = SNN(NetConfig(5, 3, [HiddenConfig(a.hidden)], delay_mode="none"))
    t_ours = min(_epoch(ours, ours.parameters(), loader) for _ in range(a.repeats))
    print(f"this project (fenn_dma.host.snn): {t_ours:.2f} s/epoch ({a.samples} samples, "
          f"T={a.steps}, {a.hidden} hidden, {a.threads} threads)")
    try:
        import snntorch as snn
        from snntorch import surrogate
    except ImportError:
        print("snnTorch is not installed: skipping the comparison (pip install snntorch)")
        return 0
    p = ours.neurons[0]
    spike_grad = surrogate.fast_sigmoid(slope=10)
    fc1, fc2 = torch.nn.Linear(5, a.hidden, bias=False), torch.nn.Linear(a.hidden, 3, bias=False)
    lif = snn.Synaptic(alpha=p.alpha, beta=p.beta, spike_grad=spike_grad, reset_mechanism="zero")
    ro = snn.Synaptic(alpha=p.alpha, beta=p.beta, threshold=1e9, reset_mechanism="none")

    def snntorch_forward(x):
        syn1, mem1 = lif.reset_mem()
        syn2, mem2 = ro.reset_mem()
        acc = 0
        for t in range(x.shape[1]):
            spk1, syn1, mem1 = lif(fc1(x[:, t]), syn1, mem1)
            _, syn2, mem2 = ro(fc2(spk1), syn2, mem2)
            acc = acc + mem2
        return acc / x.shape[1]

    params = list(fc1.parameters()) + list(fc2.parameters())
    t_snn = min(_epoch(snntorch_forward, params, loader) for _ in range(a.repeats))
    print(f"snnTorch {snn.__version__} (Synaptic, python step loop): {t_snn:.2f} s/epoch")
    print(f"speed-up (snnTorch time / ours): {t_snn / t_ours:.2f}x  (goal > 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
