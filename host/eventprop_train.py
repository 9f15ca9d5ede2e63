"""``fenn-dma train --method eventprop``: :class:`~fenn_dma.host.eventprop.EventPropSNN`
and its exact gradients, trained by the epoch runner of ``host/epochs.py`` (as BPTT is).

Same outputs as BPTT: ``checkpoint.pt``, ``metrics.json`` (config, history, summary),
``network.npz`` (a :class:`~fenn_dma.host.network.TrainedNetwork`, so NIR export and
deployment apply unchanged), ``curves.png``, ``raster.png``, ``delays.png``.
Phases: ``epochs`` with learned delays (rounded in every forward pass, so every epoch's
network is the deployable one), then ``fine_tune_epochs`` with the delays frozen.
Not supported with EventProp (a :class:`ConfigError`): QAT, DEEP R, position delays,
models other than LIF / ALIF, refractory periods, different neuron parameters per hidden layer.
"""
from __future__ import annotations

import os
from dataclasses import asdict

import numpy as np
import torch

from fenn_dma.host.datasets import DatasetBundle, load_dataset
from fenn_dma.host import epochs
from fenn_dma.host.epochs import Method, RunState, resume_state, run_epochs
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
        if h.get("model", "LIF") not in ("LIF", "ALIF") or h.get("refractory", 0):
            bad.append(f"--neuron {h.get('model', 'LIF')} / --refractory {h.get('refractory', 0)} "
                       "(LIF or ALIF, 0 only)")
            break
    keys = ("model", "tau_mem", "tau_syn", "threshold", "recurrent", "tau_adapt", "beta_adapt")
    if any(tuple(h.get(k) for k in keys) != tuple(hidden[0].get(k) for k in keys) for h in hidden):
        bad.append("different neuron parameters per hidden layer")
    if bad:
        raise ConfigError("--method eventprop does not support " + "; ".join(bad))
    h0 = hidden[0]
    alif = h0.get("model", "LIF") == "ALIF"
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
                     tau_syn_out=float(net.get("readout_tau_syn", 5.0)), seed=cfg.seed,
                     tau_adapt=float(h0.get("tau_adapt", 2000.0)) if alif else 0.0,
                     beta_adapt=float(h0.get("beta_adapt", 0.0174)) if alif else 0.0)
    scale = float(net.get("weight_scale", 1.0))
    if scale != 1.0:
        with torch.no_grad():
            for w in list(m.weights) + list(m.rec_weights):
                w.mul_(scale)
    return m


def evaluate(model: EventPropSNN, data, batch_size: int = 256, device="cpu") -> tuple[float, float]:
    """(accuracy, mean loss) of ``model`` on a dataset of (spikes, label)."""
    return epochs.evaluate(lambda x: model(x)[0], data, batch_size, device)


class _EventProp(Method):
    """EventProp's exact gradients of :class:`EventPropSNN`; delays frozen after the main phase."""
    name = "eventprop"

    def __init__(self, cfg, bundle: DatasetBundle, train_set, device):
        from fenn_dma.host.train import adam
        self.cfg, self.device = cfg, device
        self.model = model = build_model(cfg, bundle).to(device)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                                                  generator=self.generator)
        self.delays = [d for d in list(model.delays) + list(model.rec_delays) if d.requires_grad]
        self.opt = adam(cfg, list(model.weights) + list(model.rec_weights), self.delays)

    def loss(self, x, y):
        s, counts = self.model(x)
        return cross_entropy(s, y) + spike_count_penalty(counts, self.cfg.rate_reg, self.cfg.spike_target), s

    def evaluate(self, data):
        return evaluate(self.model, data, device=self.device)

    def start_epoch(self, epoch, phase, stage):
        if phase != "main":
            for d in self.delays:
                d.requires_grad_(False)

    def after_step(self):
        self.model.clamp_delays()

    def record(self, rec):
        rec["sigma"] = 0.0          # delays are rounded in every forward pass: no annealing


def train_eventprop(cfg, bundle: DatasetBundle | None = None, resume=None, on_epoch=None):
    """Train by EventProp; returns :class:`~fenn_dma.host.train.TrainResult`. ``resume``
    and ``on_epoch`` as in :func:`~fenn_dma.host.train.train`."""
    from fenn_dma.host.train import (TrainResult, _jsonable, finish_run, record_deployment, run_folder, schedule,
                                     splits)

    cfg.validate()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--method eventprop runs in one process; torchrun (DDP) is not supported")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bundle = bundle or load_dataset(cfg.dataset, **cfg.data)
    train_set, val_set, test_set = splits(bundle)
    method = _EventProp(cfg, bundle, train_set, device)
    model = method.model
    total_epochs = cfg.epochs + cfg.fine_tune_epochs
    method.sched = schedule(cfg, method.opt, total_epochs)
    out = run_folder(cfg)
    config_json = _jsonable(cfg)
    state = resume_state(resume, method, config_json, total_epochs) if resume is not None else RunState()
    run_epochs(cfg, method, state, total_epochs, val_set, out, config_json,
               select=cfg.select_best and val_set is not None, on_epoch=on_epoch)
    history = state.history
    summary = {"test_acc": evaluate(model, test_set, device=device)[0],
               "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])), "weight_format": None,
               "method": "eventprop"}
    summary["test_acc_float"] = summary["test_acc"]
    summary.update(state.stage)
    net = record_deployment(model, cfg, bundle, train_set, test_set, summary)     # formats recorded
    if out:
        x0, y0 = test_set[0]
        x0 = x0.unsqueeze(0).to(device, model.weights[0].dtype)
        with torch.no_grad():
            scores, _, saved = forward_events(model.spec, x0, [p.detach() for p in model.params()], record=True)
        traces = [t.cpu().numpy() for t in saved["spikes"]] + [saved["v_out"].cpu().numpy()]
        finish_run(cfg, out, net, history, summary, x0, traces, int(scores.argmax(1)[0]), int(y0))
    return TrainResult(model, history, summary, bundle, net)
