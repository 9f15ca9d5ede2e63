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

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fenn_dma.boundary import output_folder, write_outputs
from fenn_dma.errors import FennError
from fenn_dma.host.datasets import DatasetBundle, load_dataset
from fenn_dma.host import epochs
from fenn_dma.host.epochs import METRICS, Method, RunState, read_checkpoint, resume_state, run_epochs
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
    model.eval()
    try:
        return epochs.evaluate(model, data, batch_size, device)
    finally:
        model.train()


def _dataset(split):
    return split.dataset() if hasattr(split, "dataset") and callable(split.dataset) else split


@dataclass
class TrainResult:
    model: SNN
    history: list
    summary: dict
    bundle: DatasetBundle
    network: object = None        # host.network.TrainedNetwork as saved (formats recorded); None: not made


class _BPTT(Method):
    """Surrogate-gradient BPTT of :class:`SNN`: delay annealing, hard-delay fine-tune, QAT."""
    name = "bptt"

    def __init__(self, cfg: TrainConfig, bundle: DatasetBundle, train_set, test_set, rank: int, world: int,
                 distributed: bool, device):
        self.cfg, self.bundle, self.train_set, self.test_set = cfg, bundle, train_set, test_set
        self.device, self.main_rank = device, rank == 0
        self.model = model = SNN(build_net_config(cfg, bundle)).to(device)
        self.deepr = None
        if cfg.deepr_connectivity is not None:        # sparse training, exactly K active connections
            from fenn_dma.host.deepr import DeepR
            self.deepr = DeepR(model, cfg.deepr_config())
        self.sampler = (torch.utils.data.distributed.DistributedSampler(train_set, world, rank, seed=cfg.seed)
                        if distributed else None)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size,
                                                  shuffle=self.sampler is None, sampler=self.sampler,
                                                  generator=self.generator)
        self.net_for_grad = model
        if distributed:
            self.net_for_grad = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        self.delay_params = list(model.d) + list(model.pos)
        weight_params = [p for p in list(model.w) + list(model.w_rec) if p.requires_grad]
        self.opt = adam(cfg, weight_params, self.delay_params)
        self.sigma0 = model.sigma
        self.qat_on = False

    def loss(self, x, y):
        if self.cfg.rate_reg:
            s, traces = self.net_for_grad(x, record=True)
            return F.cross_entropy(s, y) + self.cfg.rate_reg * sum(t.mean() for t in traces[:-1]), s
        s = self.net_for_grad(x)
        return F.cross_entropy(s, y), s

    def evaluate(self, data):
        return evaluate(self.model, data, device=self.device)

    def start_epoch(self, epoch, phase, stage):
        cfg, model = self.cfg, self.model
        if phase == "main" and model.cfg.delay_mode != "none":
            frac = epoch / max(cfg.epochs - 1, 1)
            model.sigma = self.sigma0 + (cfg.sigma_end - self.sigma0) * frac
            model.hard_delays = False
        else:
            model.hard_delays = True
            for p in self.delay_params:
                p.requires_grad_(False)
        if phase == "qat" and not self.qat_on:
            self.qat_on = True
            if self.main_rank:
                stage["test_acc_float"] = self.evaluate(self.test_set)[0]
            if cfg.qat_format:
                model.set_qat(cfg.qat_format, cfg.rounding)
            if cfg.qat_states:
                model.set_state_qat(_state_plan(model, cfg, self.bundle, self.train_set))
            if self.main_rank:   # post-training quantisation, before any QAT step
                stage["test_acc_ptq"] = self.evaluate(self.test_set)[0]

    def after_step(self):
        if self.deepr is not None:
            self.deepr.step(self.opt)
        self.model.clamp_delays()

    def record(self, rec):
        rec["sigma"] = float(self.model.sigma) if not self.model.hard_delays else 0.0
        if self.deepr is not None:
            rec["deepr_rewired"] = sum(self.deepr.take_rewired().values())

    def deployable(self):
        return self.model.hard_delays

    def state(self):
        m = self.model
        return {"net_config": asdict(m.cfg), "sigma": m.sigma, "sigma0": self.sigma0, "hard_delays": m.hard_delays,
                "weight_format": str(m.weight_fmt) if m.weight_fmt else None,
                # the QAT formats as chosen when the phase began (from the weights then)
                "qat": {"on": self.qat_on, "weight_fmt": m.weight_fmt, "rounding": getattr(m, "rounding", None),
                        "fixed": m.fixed},
                "deepr_rng": self.deepr.gen.get_state() if self.deepr is not None else None}

    def load_state(self, ck):
        m = self.model
        self.sigma0, m.sigma, m.hard_delays = ck["sigma0"], ck["sigma"], ck["hard_delays"]
        q = ck["qat"]
        self.qat_on, m.weight_fmt, m.fixed = q["on"], q["weight_fmt"], q["fixed"]
        if q["rounding"] is not None:
            m.rounding = q["rounding"]
        if self.deepr is not None:
            self.deepr.gen.set_state(ck["deepr_rng"])


def adam(cfg, weights: list, delays: list) -> torch.optim.Optimizer:
    """Adam over the weights (``lr``) and the learned delays (``lr_delay``)."""
    groups = [{"params": weights, "lr": cfg.lr}] + ([{"params": delays, "lr": cfg.lr_delay}] if delays else [])
    return torch.optim.Adam(groups, betas=tuple(cfg.adam_betas))


def schedule(cfg, opt, total_epochs: int):
    """The learning-rate schedule of ``cfg.lr_schedule`` (None: constant)."""
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_epochs, eta_min=cfg.lr * 0.05)
    if cfg.lr_schedule == "step":     # x0.3 at 50 % and 75 % of the epochs
        return torch.optim.lr_scheduler.MultiStepLR(opt, [total_epochs // 2, (3 * total_epochs) // 4], 0.3)
    return None


def train(cfg: TrainConfig, bundle: DatasetBundle | None = None, resume: str | Path | None = None,
          on_epoch=None) -> TrainResult:
    """Train as ``cfg`` says. ``resume``: a run folder whose ``checkpoint.pt`` (written
    with the same options) the run continues from; the result equals that of a run never
    interrupted. ``on_epoch(record)``: called after each epoch's checkpoint."""
    cfg.validate()
    if resume is not None:
        read_checkpoint(resume)          # a missing or damaged folder named before any work
        if cfg.out_dir is None:
            cfg.out_dir = str(resume)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.method == "eventprop":
        from fenn_dma.host.eventprop_train import train_eventprop
        return train_eventprop(cfg, bundle, resume=resume, on_epoch=on_epoch)
    torch.manual_seed(cfg.seed)
    rank, world, distributed = _dist()
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    bundle = bundle or load_dataset(cfg.dataset, **cfg.data)
    train_set, val_set, test_set = splits(bundle)
    method = _BPTT(cfg, bundle, train_set, test_set, rank, world, distributed, device)
    model = method.model
    total_epochs = cfg.epochs + cfg.fine_tune_epochs + cfg.qat_epochs
    method.sched = schedule(cfg, method.opt, total_epochs)
    main_rank = rank == 0
    out = run_folder(cfg, main_rank)
    config_json = _jsonable(cfg)
    state = resume_state(resume, method, config_json, total_epochs) if resume is not None else RunState()
    # checkpoint selection by validation accuracy (never test): per phase, over the
    # epochs whose network is deployable (hard delays); single-process runs only
    select = cfg.select_best and val_set is not None and not distributed
    run_epochs(cfg, method, state, total_epochs, val_set, out, config_json, main_rank, select, on_epoch)
    history, stage, deepr = state.history, state.stage, method.deepr
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
        x0, y0 = test_set[0]
        with torch.no_grad():
            scores, traces = model(x0.unsqueeze(0).to(device), record=True)
        finish_run(cfg, out, network, history, summary, x0.unsqueeze(0), [t.cpu().numpy() for t in traces],
                   int(scores.argmax(1)[0]), int(y0))
    return TrainResult(model, history, summary, bundle, network)


def resume_config(run_dir: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` a run folder's checkpoint was trained with, writing to
    ``run_dir``: ``train(resume_config(d), resume=d)`` continues the run."""
    saved = dict(read_checkpoint(run_dir)["train_config"])
    unknown = set(saved) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"--resume {run_dir}: the checkpoint's options {sorted(unknown)} are not this "
                          "fenn-dma's; start a new run")
    saved["adam_betas"] = tuple(saved.get("adam_betas", (0.9, 0.999)))
    saved["out_dir"] = str(run_dir)
    return TrainConfig(**saved)


def splits(bundle: DatasetBundle):
    """(train, validation or None, test) data sets of a bundle."""
    return (_dataset(bundle.splits["train"]), _dataset(bundle.splits["val"]) if "val" in bundle.splits else None,
            _dataset(bundle.splits["test"]))


def run_folder(cfg: TrainConfig, main_rank: bool = True) -> Path | None:
    """The output folder (created), or None without ``out_dir``."""
    if not cfg.out_dir:
        return None
    out = Path(cfg.out_dir)
    if main_rank:
        output_folder(out, "--out")
    return out


def finish_run(cfg: TrainConfig, out: Path, network, history: list, summary: dict, x0, traces: list,
               prediction: int, label: int) -> None:
    """The run's final files: ``network.npz`` and ``metrics.json`` with the summary (both or
    neither), and the plots of :func:`fenn_dma.host.plots.plot_run` (one test sample, batch
    axis first: its inputs ``x0``, the layers' ``traces``, the prediction and the label)."""
    def save_network(path: Path) -> None:       # a file object: np.savez would add ".npz" to the temporary name
        with open(path, "wb") as f:
            network.save(f)                      # with the formats, rounding and calibration recorded

    write_outputs({out / "network.npz": save_network,
                   out / METRICS: json.dumps({"config": _jsonable(cfg), "history": history, "summary": summary},
                                             indent=1)})
    if cfg.plots:
        from fenn_dma.host import plots
        plots.plot_run(out, history, np.asarray(x0.cpu()), traces, prediction, label,
                       [l.delays for l in network.layers])


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


def _jsonable(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["net"] = {k: ([asdict(h) if isinstance(h, HiddenConfig) else h for h in v] if k == "hidden" else v)
                for k, v in cfg.net.items()}
    d["data"] = {k: str(v) if isinstance(v, Path) else v for k, v in cfg.data.items()}
    return d
