"""Training loop: surrogate-gradient BPTT, delay annealing, hard-delay fine-tune,
quantisation-aware fine-tune; checkpoints, JSON metrics, PNG plots, and
torch.distributed (DDP) when launched by torchrun.

Phases (epochs counted in one sequence):
1. ``epochs``: soft delays; the Gaussian width is annealed linearly from
   ``sigma0`` to ``sigma_end``.
2. ``fine_tune_epochs``: delays rounded to integers and frozen; weights trained.
3. ``qat_epochs`` (when ``qat_format`` is set): weights fake-quantised by
   ``fixedpoint.quantize`` in the forward pass, straight-through backward.
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fenn_dma.errors import FennError
from fenn_dma.host.datasets import DatasetBundle, load_dataset
from fenn_dma.host.errors import ConfigError
from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig


@dataclass
class TrainConfig:
    dataset: str = "yinyang"
    data: dict = field(default_factory=dict)      # loader options (n_steps, path, dt, ...)
    net: dict = field(default_factory=dict)       # NetConfig fields (hidden: list of HiddenConfig dicts)
    epochs: int = 20
    fine_tune_epochs: int | None = None          # None: 2 when delays are learned, else 0
    qat_epochs: int = 0
    qat_format: str | None = None                 # "s7.8", "auto8", ...
    qat_states: bool = False                      # QAT also of the neuron states, as the compiler deploys them
    qat_samples: int = 512                        # training samples whose value ranges choose the V formats
    rounding: str = "nearest"
    batch_size: int = 64
    lr: float = 2e-3
    lr_delay: float = 0.05
    lr_schedule: str = "cosine"                   # cosine | constant
    sigma_end: float = 0.5
    rate_reg: float = 0.0                         # weight of the mean-rate penalty
    seed: int = 0
    out_dir: str | None = None
    checkpoint_every: int = 1
    plots: bool = True
    progress: bool = True                         # a progress bar per epoch (on a terminal)
    verbose: bool = True                          # one line per epoch (loss, accuracy, seconds)
    max_batches: int | None = None                # per epoch (for quick runs)
    threads: int = 1                              # torch CPU threads; 0: torch's default (every core)
    select_best: bool = True                      # per phase, keep the epoch with the best validation accuracy
    adam_betas: tuple = (0.9, 0.999)
    deepr_connectivity: float | str | dict | None = None   # DEEP R rewiring (host/deepr.py); None: dense
    deepr_temperature: float = 1e-6
    deepr_l1: float = 1e-5
    method: str = "bptt"                          # bptt | eventprop (host/eventprop_train.py)
    max_spikes: int = 64                          # EventProp: spike buffer per neuron and sample
    spike_target: float = 0.0                     # EventProp: rate_reg * (count - spike_target)^2 / 2

    def validate(self) -> None:
        if self.fine_tune_epochs is None:
            # the phase trains with the delays rounded and frozen: nothing to do without learned delays
            learned = str(dict(self.net).get("delay_mode", "none")) != "none"
            self.fine_tune_epochs = 2 if learned else 0
        for name in ("epochs", "fine_tune_epochs", "qat_epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs + self.fine_tune_epochs + self.qat_epochs < 1:
            raise ConfigError("nothing to train: epochs + fine_tune_epochs + qat_epochs must be >= 1")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.lr_schedule not in ("cosine", "constant", "step"):
            raise ConfigError(f"lr_schedule {self.lr_schedule!r}; allowed: cosine, constant, step")
        if self.qat_epochs and not (self.qat_format or self.qat_states):
            raise ConfigError("qat_epochs > 0 needs qat_format (e.g. 's7.8' or 'auto8') or qat_states")
        if self.deepr_connectivity is not None:
            self.deepr_config().validate()
        if self.method not in ("bptt", "eventprop"):
            raise ConfigError(f"method {self.method!r}; allowed: bptt, eventprop")

    def deepr_config(self):
        from fenn_dma.host.deepr import DeepRConfig, parse_connectivity
        return DeepRConfig(parse_connectivity(self.deepr_connectivity), self.deepr_temperature,
                           self.deepr_l1, seed=self.seed)


def build_net_config(cfg: TrainConfig, bundle: DatasetBundle) -> NetConfig:
    opts = dict(cfg.net)
    hidden = [h if isinstance(h, HiddenConfig) else HiddenConfig(**h)
              for h in opts.pop("hidden", [{}])]
    known = set(NetConfig.__dataclass_fields__) - {"n_inputs", "n_outputs", "hidden", "dt"}
    bad = set(opts) - known
    if bad:
        raise ConfigError(f"unknown network option(s) {sorted(bad)}; allowed: {sorted(known)}")
    return NetConfig(bundle.n_inputs, bundle.n_classes, hidden, dt=bundle.dt, seed=cfg.seed, **opts)


def _dist():
    """(rank, world) and whether torch.distributed was set up by torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def evaluate(model: SNN, data, batch_size: int = 256, device="cpu") -> tuple[float, float]:
    """(accuracy, mean loss) of ``model`` on a dataset of (spikes, label)."""
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    correct = total = 0
    loss = 0.0
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            s = model(x)
            loss += F.cross_entropy(s, y, reduction="sum").item()
            correct += (s.argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / max(total, 1), loss / max(total, 1)


def _dataset(split):
    return split.dataset() if hasattr(split, "dataset") and callable(split.dataset) else split


@dataclass
class TrainResult:
    model: SNN
    history: list
    summary: dict
    bundle: DatasetBundle
    network: object = None        # host.network.TrainedNetwork as saved (formats recorded); None: not made


def train(cfg: TrainConfig, bundle: DatasetBundle | None = None) -> TrainResult:
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.method == "eventprop":
        from fenn_dma.host.eventprop_train import train_eventprop
        return train_eventprop(cfg, bundle)
    torch.manual_seed(cfg.seed)
    rank, world, distributed = _dist()
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    bundle = bundle or load_dataset(cfg.dataset, **cfg.data)
    model = SNN(build_net_config(cfg, bundle)).to(device)
    deepr = None
    if cfg.deepr_connectivity is not None:        # sparse training, exactly K active connections
        from fenn_dma.host.deepr import DeepR
        deepr = DeepR(model, cfg.deepr_config())
    train_set = _dataset(bundle.splits["train"])
    val_set = _dataset(bundle.splits["val"]) if "val" in bundle.splits else None
    test_set = _dataset(bundle.splits["test"])
    sampler = (torch.utils.data.distributed.DistributedSampler(train_set, world, rank, seed=cfg.seed)
               if distributed else None)
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=sampler is None,
                                         sampler=sampler, generator=torch.Generator().manual_seed(cfg.seed))
    net_for_grad = model
    if distributed:
        net_for_grad = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    delay_params = list(model.d) + list(model.pos)
    weight_params = [p for p in list(model.w) + list(model.w_rec) if p.requires_grad]
    groups = [{"params": weight_params, "lr": cfg.lr}]
    if delay_params:
        groups.append({"params": delay_params, "lr": cfg.lr_delay})
    opt = torch.optim.Adam(groups, betas=tuple(cfg.adam_betas))
    total_epochs = cfg.epochs + cfg.fine_tune_epochs + cfg.qat_epochs
    sched = None
    if cfg.lr_schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_epochs, eta_min=cfg.lr * 0.05)
    elif cfg.lr_schedule == "step":     # x0.3 at 50 % and 75 % of the epochs
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [total_epochs // 2, (3 * total_epochs) // 4], 0.3)
    out = Path(cfg.out_dir) if cfg.out_dir else None
    main_rank = rank == 0
    if out and main_rank:
        out.mkdir(parents=True, exist_ok=True)
    sigma0 = model.sigma
    history: list = []
    stage: dict = {}
    # checkpoint selection by validation accuracy (never test): per phase, over the
    # epochs whose network is deployable (hard delays); single-process runs only
    select = cfg.select_best and val_set is not None and not distributed
    best = None
    qat_on = False
    tqdm = _tqdm(cfg.progress and main_rank)
    for epoch in range(total_epochs):
        phase = _phase(cfg, epoch)
        if phase == "main" and model.cfg.delay_mode != "none":
            frac = epoch / max(cfg.epochs - 1, 1)
            model.sigma = sigma0 + (cfg.sigma_end - sigma0) * frac
            model.hard_delays = False
        else:
            model.hard_delays = True
            for p in delay_params:
                p.requires_grad_(False)
        if phase == "qat" and not qat_on:
            qat_on = True
            model.hard_delays = True
            if main_rank:
                stage["test_acc_float"] = evaluate(model, test_set, device=device)[0]
            if cfg.qat_format:
                model.set_qat(cfg.qat_format, cfg.rounding)
            if cfg.qat_states:
                model.set_state_qat(_state_plan(model, cfg, bundle, train_set))
            if main_rank:   # post-training quantisation, before any QAT step
                stage["test_acc_ptq"] = evaluate(model, test_set, device=device)[0]
        if sampler is not None:
            sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        tot_loss = correct = seen = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{total_epochs} [{phase}]", leave=False)
        for bi, (x, y) in enumerate(bar):
            if cfg.max_batches is not None and bi >= cfg.max_batches:
                break
            x, y = x.to(device), y.to(device)
            if cfg.rate_reg:
                s, traces = net_for_grad(x, record=True)
                loss = F.cross_entropy(s, y) + cfg.rate_reg * sum(t.mean() for t in traces[:-1])
            else:
                s = net_for_grad(x)
                loss = F.cross_entropy(s, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if deepr is not None:
                deepr.step(opt)
            model.clamp_delays()
            tot_loss += loss.item() * len(y)
            correct += (s.argmax(1) == y).sum().item()
            seen += len(y)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        if sched is not None:
            sched.step()
        rec = {"epoch": epoch + 1, "phase": phase, "train_loss": tot_loss / max(seen, 1),
               "train_acc": correct / max(seen, 1), "seconds": time.perf_counter() - t0,
               "sigma": float(model.sigma) if not model.hard_delays else 0.0}
        if deepr is not None:
            rec["deepr_rewired"] = sum(deepr.take_rewired().values())
        if val_set is not None and main_rank:
            rec["val_acc"], rec["val_loss"] = evaluate(model, val_set, device=device)
        history.append(rec)
        if select and model.hard_delays and (best is None or rec["val_acc"] >= best[0]):
            best = (rec["val_acc"], epoch + 1, copy.deepcopy(model.state_dict()))
        if select and best is not None and (epoch + 1 == total_epochs or _phase(cfg, epoch + 1) != phase):
            model.load_state_dict(best[2])
            stage[f"selected_epoch_{phase}"] = best[1]
            stage[f"val_acc_{phase}"] = best[0]
            best = None
        if main_rank and cfg.verbose:
            msg = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items())
            print(msg, flush=True)
        if out and main_rank:
            (out / "metrics.json").write_text(json.dumps({"config": _jsonable(cfg), "history": history}, indent=1))
            if cfg.checkpoint_every and ((epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == total_epochs):
                torch.save({"epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                            "net_config": asdict(model.cfg), "train_config": _jsonable(cfg),
                            "sigma": model.sigma, "hard_delays": model.hard_delays,
                            "weight_format": str(model.weight_fmt) if model.weight_fmt else None},
                           out / "checkpoint.pt")
    model.hard_delays = True
    summary = {"test_acc": evaluate(model, test_set, device=device)[0],
               "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])),
               "weight_format": str(model.weight_fmt) if model.weight_fmt else None}
    summary.setdefault("test_acc_float", stage.get("test_acc_float", summary["test_acc"]))
    summary.update(stage)
    if deepr is not None:
        summary["deepr_active"] = deepr.active()
        summary["deepr_budget"] = deepr.budgets()
    network = None
    if main_rank:    # the deployed network: its fixed-point formats recorded, its accuracy on the compiler's reference
        network = record_deployment(model, cfg, bundle, train_set, test_set, summary)
    if out and main_rank:
        net = network
        net.save(out / "network.npz")         # with the formats, rounding and calibration recorded
        (out / "metrics.json").write_text(json.dumps({"config": _jsonable(cfg), "history": history,
                                                      "summary": summary}, indent=1))
        if cfg.plots:
            from fenn_dma.host import plots
            plots.plot_curves(history, out / "curves.png")
            x0 = test_set[0][0].unsqueeze(0).to(device)
            with torch.no_grad():
                _, traces = model(x0, record=True)
            plots.plot_raster([t.cpu().numpy() for t in traces], out / "raster.png")
            plots.plot_delays([l.delays for l in net.layers], out / "delays.png")
    return TrainResult(model, history, summary, bundle, network)


def calibration_samples(cfg: TrainConfig, train_set) -> np.ndarray:
    """The first ``qat_samples`` training samples (B, T, n_in): the inputs whose value
    ranges choose the deployed V (and A) formats."""
    n = min(cfg.qat_samples, len(train_set))
    return torch.stack([train_set[i][0] for i in range(n)]).cpu().numpy()


def _state_plan(model: SNN, cfg: TrainConfig, bundle: DatasetBundle, train_set):
    """The compiler's fixed-point plan of the current network, V formats from the
    value ranges on the calibration samples."""
    from fenn_dma.host import deploy
    return deploy.plan(model.to_trained(bundle.n_steps), calibration_samples(cfg, train_set), rounding=cfg.rounding)


def record_deployment(model, cfg: TrainConfig, bundle: DatasetBundle, train_set, test_set, summary: dict):
    """The trained network to save, with its deployment recorded (:func:`deployed_network`);
    adds ``formats`` and ``test_acc_deployed`` (the compiler's reference on the test
    set) to ``summary``. A network the compiler cannot plan is returned without
    formats (``summary["deploy_error"]`` says why), unless state QAT needed the plan."""
    meta = {"dataset": bundle.name, "test_acc": summary["test_acc"]}
    try:
        network, qnet = deployed_network(model, cfg, bundle, train_set, meta)
    except FennError as exc:
        if getattr(model, "fixed", None) is not None:
            raise
        summary["deploy_error"] = str(exc)
        print(f"warning: the trained network has no fixed-point plan: {exc}", flush=True)
        return model.to_trained(bundle.n_steps, meta)
    summary["formats"] = dict(network.metadata["formats"])
    if hasattr(test_set, "tensors"):
        from fenn_dma.host import deploy
        xs, ys = test_set.tensors
        summary["test_acc_deployed"] = deploy.accuracy(qnet, xs.numpy(), ys.numpy())
    return network


def deployed_network(model, cfg: TrainConfig, bundle: DatasetBundle, train_set, metadata: dict):
    """(the trained network with its deployment recorded, its fixed-point plan): the
    formats state QAT trained in, else those measured on the calibration samples, in
    ``metadata["formats"]``, with ``rounding`` and ``calibration`` (the data set
    spec ``NAME:train:N`` of the samples, what ``fenn-dma compile --calibrate`` takes)."""
    from fenn_dma.host import deploy
    net = model.to_trained(bundle.n_steps, metadata)
    if "formats" in net.metadata:              # state QAT: the plan it trained in
        qnet = deploy.plan(net)
    else:
        qnet = deploy.plan(net, calibration_samples(cfg, train_set), rounding=cfg.rounding)
        net.metadata.update(formats=deploy.formats_of(qnet), rounding=qnet.rounding)
    net.metadata["calibration"] = f"{bundle.name}:train:{min(cfg.qat_samples, len(train_set))}"
    return net, qnet


def _phase(cfg: TrainConfig, epoch: int) -> str:
    if epoch < cfg.epochs:
        return "main"
    return "fine_tune" if epoch < cfg.epochs + cfg.fine_tune_epochs else "qat"


def _jsonable(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["net"] = {k: ([asdict(h) if isinstance(h, HiddenConfig) else h for h in v] if k == "hidden" else v)
                for k, v in cfg.net.items()}
    d["data"] = {k: str(v) if isinstance(v, Path) else v for k, v in cfg.data.items()}
    return d


def _tqdm(enabled: bool):
    """tqdm, drawn only on a terminal (``disable=None``): a log file gets the epoch lines."""
    if not enabled:
        return lambda it, **kw: it
    from functools import partial

    from tqdm.auto import tqdm
    return partial(tqdm, disable=None)
