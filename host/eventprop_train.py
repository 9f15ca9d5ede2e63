"""``fenn-dma train --method eventprop``: the training loop of ``host/train.py`` with
:class:`~fenn_dma.host.eventprop.EventPropSNN` and its exact gradients.

Same outputs as BPTT: ``checkpoint.pt``, ``metrics.json`` (config, history, summary),
``network.npz`` (a :class:`~fenn_dma.host.network.TrainedNetwork`, so NIR export and
deployment apply unchanged), ``curves.png``, ``raster.png``, ``delays.png``.
Phases: ``epochs`` with learned delays (rounded in every forward pass, so every epoch's
network is the deployable one), then ``fine_tune_epochs`` with the delays frozen.
Not supported with EventProp (a :class:`ConfigError`): QAT, DEEP R, position delays,
models other than LIF, refractory periods, different neuron parameters per hidden layer.
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from fenn_dma.host.datasets import DatasetBundle, load_dataset
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.eventprop import EventPropSNN, cross_entropy, forward_events, spike_count_penalty


def build_model(cfg, bundle: DatasetBundle) -> EventPropSNN:
    """The EventProp network of a :class:`~fenn_dma.host.train.TrainConfig` (its ``net`` dict)."""
    net = dict(cfg.net)
    hidden = [h if isinstance(h, dict) else asdict(h) for h in net.get("hidden", [{}])]
    bad = []
    if cfg.qat_epochs or cfg.qat_format or cfg.qat_states:
        bad.append("QAT (--qat-epochs / --qat-format / --qat-states)")
    if cfg.deepr_connectivity is not None:
        bad.append("DEEP R (--deepr-connectivity)")
    if net.get("delay_mode", "none") not in ("none", "synapse"):
        bad.append(f"--delays {net['delay_mode']} (use none or synapse)")
    for h in hidden:
        if h.get("model", "LIF") != "LIF" or h.get("refractory", 0):
            bad.append(f"--neuron {h.get('model', 'LIF')} / --refractory {h.get('refractory', 0)} (LIF, 0 only)")
            break
    keys = ("tau_mem", "tau_syn", "threshold", "recurrent")
    if any(tuple(h.get(k) for k in keys) != tuple(hidden[0].get(k) for k in keys) for h in hidden):
        bad.append("different neuron parameters per hidden layer")
    if bad:
        raise ConfigError("--method eventprop does not support " + "; ".join(bad))
    h0 = hidden[0]
    learn = net.get("delay_mode", "none") == "synapse"
    K = int(net.get("max_delay", 16))
    reduce = net.get("readout_reduce", "mean")
    if reduce not in ("mean", "max"):
        raise ConfigError(f"readout_reduce {reduce!r}; allowed: mean, max")
    m = EventPropSNN(bundle.n_inputs, [int(h.get("size", 64)) for h in hidden], bundle.n_classes,
                     tau_mem=float(h0.get("tau_mem", 20.0)), tau_syn=float(h0.get("tau_syn", 5.0)),
                     threshold=float(h0.get("threshold", 1.0)), dt=bundle.dt, recurrent=bool(h0.get("recurrent")),
                     readout="sum" if reduce == "mean" else "max", delays=learn, max_delay=K - 1 if learn else 0,
                     max_spikes=int(cfg.max_spikes), tau_mem_out=float(net.get("readout_tau_mem", 20.0)),
                     tau_syn_out=float(net.get("readout_tau_syn", 5.0)), seed=cfg.seed)
    scale = float(net.get("weight_scale", 1.0))
    if scale != 1.0:
        with torch.no_grad():
            for w in list(m.weights) + list(m.rec_weights):
                w.mul_(scale)
    return m


def evaluate(model: EventPropSNN, data, batch_size: int = 256, device="cpu") -> tuple[float, float]:
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    correct = total = 0
    loss = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            s, _ = model(x)
            loss += torch.nn.functional.cross_entropy(s, y, reduction="sum").item()
            correct += (s.argmax(1) == y).sum().item()
            total += len(y)
    return correct / max(total, 1), loss / max(total, 1)


def train_eventprop(cfg, bundle: DatasetBundle | None = None):
    """Train by EventProp; returns :class:`~fenn_dma.host.train.TrainResult`."""
    from fenn_dma.host.train import TrainResult, _dataset, _jsonable, _phase, _tqdm, record_deployment

    cfg.validate()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--method eventprop runs in one process; torchrun (DDP) is not supported")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bundle = bundle or load_dataset(cfg.dataset, **cfg.data)
    model = build_model(cfg, bundle).to(device)
    train_set = _dataset(bundle.splits["train"])
    val_set = _dataset(bundle.splits["val"]) if "val" in bundle.splits else None
    test_set = _dataset(bundle.splits["test"])
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    weights = list(model.weights) + list(model.rec_weights)
    delays = [d for d in list(model.delays) + list(model.rec_delays) if d.requires_grad]
    groups = [{"params": weights, "lr": cfg.lr}] + ([{"params": delays, "lr": cfg.lr_delay}] if delays else [])
    opt = torch.optim.Adam(groups, betas=tuple(cfg.adam_betas))
    total_epochs = cfg.epochs + cfg.fine_tune_epochs
    sched = None
    if cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_epochs, eta_min=cfg.lr * 0.05)
    elif cfg.lr_schedule == "step":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [total_epochs // 2, (3 * total_epochs) // 4], 0.3)
    out = Path(cfg.out_dir) if cfg.out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    history, stage, best = [], {}, None
    select = cfg.select_best and val_set is not None
    tqdm = _tqdm(cfg.progress)
    for epoch in range(total_epochs):
        phase = _phase(cfg, epoch)
        if phase != "main":
            for d in delays:
                d.requires_grad_(False)
        t0 = time.perf_counter()
        tot_loss = correct = seen = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{total_epochs} [{phase}, eventprop]", leave=False)
        for bi, (x, y) in enumerate(bar):
            if cfg.max_batches is not None and bi >= cfg.max_batches:
                break
            x, y = x.to(device), y.to(device)
            s, counts = model(x)
            loss = cross_entropy(s, y) + spike_count_penalty(counts, cfg.rate_reg, cfg.spike_target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clamp_delays()
            tot_loss += loss.item() * len(y)
            correct += (s.argmax(1) == y).sum().item()
            seen += len(y)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        if sched is not None:
            sched.step()
        rec = {"epoch": epoch + 1, "phase": phase, "train_loss": tot_loss / max(seen, 1),
               "train_acc": correct / max(seen, 1), "seconds": time.perf_counter() - t0, "sigma": 0.0}
        if val_set is not None:
            rec["val_acc"], rec["val_loss"] = evaluate(model, val_set, device=device)
        history.append(rec)
        if select and (best is None or rec["val_acc"] >= best[0]):
            best = (rec["val_acc"], epoch + 1, copy.deepcopy(model.state_dict()))
        if select and best is not None and (epoch + 1 == total_epochs or _phase(cfg, epoch + 1) != phase):
            model.load_state_dict(best[2])
            stage[f"selected_epoch_{phase}"], stage[f"val_acc_{phase}"] = best[1], best[0]
            best = None
        if cfg.verbose:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()),
                  flush=True)
        if out:
            (out / "metrics.json").write_text(json.dumps({"config": _jsonable(cfg), "history": history}, indent=1))
            if cfg.checkpoint_every and ((epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == total_epochs):
                torch.save({"epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                            "method": "eventprop", "train_config": _jsonable(cfg)}, out / "checkpoint.pt")
    summary = {"test_acc": evaluate(model, test_set, device=device)[0],
               "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])), "weight_format": None,
               "method": "eventprop"}
    summary["test_acc_float"] = summary["test_acc"]
    summary.update(stage)
    net = record_deployment(model, cfg, bundle, train_set, test_set, summary)     # formats recorded
    if out:
        net.save(out / "network.npz")
        (out / "metrics.json").write_text(json.dumps({"config": _jsonable(cfg), "history": history,
                                                      "summary": summary}, indent=1))
        if cfg.plots:
            from fenn_dma.host import plots
            plots.plot_curves(history, out / "curves.png")
            x0 = test_set[0][0].unsqueeze(0).to(device, model.weights[0].dtype)
            with torch.no_grad():
                _, _, saved = forward_events(model.spec, x0, [p.detach() for p in model.params()], record=True)
            traces = [t.cpu().numpy() for t in saved["spikes"]] + [saved["v_out"].cpu().numpy()]
            plots.plot_raster(traces, out / "raster.png")
            plots.plot_delays([l.delays for l in net.layers], out / "delays.png")
    return TrainResult(model, history, summary, bundle, net)
