"""The epoch loop both training methods share (``host/train.py``: surrogate BPTT,
``host/eventprop_train.py``: EventProp), its checkpoints, and resuming a run.

A method subclasses :class:`Method` (the model, optimiser, scheduler, loader, and the
hooks where the methods differ: one batch's loss, phase set-up, what follows an
optimiser step); :func:`run_epochs` does the rest: phases, validation, per-phase
selection of the best deployable epoch, one line per epoch, ``metrics.json`` and
``checkpoint.pt`` (written together, all or none).

A checkpoint holds everything the next epoch depends on: model, optimiser,
scheduler, the torch, numpy and loader-shuffling RNG states, the history, the phase
selection in progress and the method's own state (e.g. the QAT formats), so a run
resumed from it ends with the same weights as one never interrupted.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from fenn_dma.boundary import write_outputs
from fenn_dma.host.errors import ConfigError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
CHECKPOINT_VERSION = 2
# TrainConfig fields a resumed run may change: how it reports, not what it trains
RUN_ONLY = ("out_dir", "progress", "verbose", "plots", "threads")


class ResumeError(ConfigError):
    """A run folder that cannot be resumed (missing, finished, or another run's options)."""


class Method:
    """What a training method gives :func:`run_epochs`. Subclasses set the attributes in
    ``__init__`` and override the hooks they need."""
    name: str
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object = None
    loader: torch.utils.data.DataLoader
    generator: torch.Generator          # the loader's shuffling RNG (checkpointed)
    sampler: object = None              # DistributedSampler under torchrun
    device: torch.device

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, class scores) of one batch, through the module the gradients flow in."""
        raise NotImplementedError

    def evaluate(self, data) -> tuple[float, float]:
        """(accuracy, mean loss) on a data set."""
        raise NotImplementedError

    def start_epoch(self, epoch: int, phase: str, stage: dict) -> None:
        """Phase set-up before an epoch (delay annealing, QAT); may add to ``stage``."""

    def after_step(self) -> None:
        """After every optimiser step (clamping delays, DEEP R)."""

    def record(self, rec: dict) -> None:
        """Adds the method's own fields to an epoch's record."""

    def deployable(self) -> bool:
        """Whether the network of this epoch is the deployable one (selection candidates)."""
        return True

    def state(self) -> dict:
        """The method's own checkpointed state (beside model, optimiser and scheduler)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restores :meth:`state` on resume."""


@dataclass
class RunState:
    """Where a run stands: epochs done, their records, the stage figures, and the
    best epoch of the phase in progress (val_acc, epoch, state dict) or None."""
    epoch: int = 0
    history: list = field(default_factory=list)
    stage: dict = field(default_factory=dict)
    best: tuple | None = None


def evaluate(scores: Callable[[torch.Tensor], torch.Tensor], data, batch_size: int = 256,
             device="cpu") -> tuple[float, float]:
    """(accuracy, mean cross-entropy loss) on a data set of (spikes, label) of a
    network whose class scores of a batch are ``scores(x)`` (run without gradients)."""
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    correct = total = 0
    loss = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            s = scores(x)
            loss += torch.nn.functional.cross_entropy(s, y, reduction="sum").item()
            correct += (s.argmax(1) == y).sum().item()
            total += len(y)
    return correct / max(total, 1), loss / max(total, 1)


def phase_of(cfg, epoch: int) -> str:
    """The phase of 0-based ``epoch``: main, fine_tune, qat."""
    if epoch < cfg.epochs:
        return "main"
    return "fine_tune" if epoch < cfg.epochs + cfg.fine_tune_epochs else "qat"


def run_epochs(cfg, method: Method, state: RunState, total_epochs: int, val_set, out: Path | None,
               config_json: dict, main_rank: bool = True, select: bool = True,
               on_epoch: Callable[[dict], None] | None = None) -> RunState:
    """Trains from ``state.epoch`` to ``total_epochs``; ``on_epoch(record)`` is called
    after each epoch's checkpoint (an exception there stops the run, the checkpoint kept)."""
    tqdm = _tqdm(cfg.progress and main_rank)
    model = method.model
    for epoch in range(state.epoch, total_epochs):
        phase = phase_of(cfg, epoch)
        method.start_epoch(epoch, phase, state.stage)
        if method.sampler is not None:
            method.sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        tot_loss = correct = seen = 0.0
        bar = tqdm(method.loader, desc=f"epoch {epoch + 1}/{total_epochs} [{phase}, {method.name}]", leave=False)
        for bi, (x, y) in enumerate(bar):
            if cfg.max_batches is not None and bi >= cfg.max_batches:
                break
            x, y = x.to(method.device), y.to(method.device)
            loss, s = method.loss(x, y)
            method.opt.zero_grad(set_to_none=True)
            loss.backward()
            method.opt.step()
            method.after_step()
            tot_loss += loss.item() * len(y)
            correct += (s.argmax(1) == y).sum().item()
            seen += len(y)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        if method.sched is not None:
            method.sched.step()
        rec = {"epoch": epoch + 1, "phase": phase, "train_loss": tot_loss / max(seen, 1),
               "train_acc": correct / max(seen, 1), "seconds": time.perf_counter() - t0}
        method.record(rec)
        if val_set is not None and main_rank:
            rec["val_acc"], rec["val_loss"] = method.evaluate(val_set)
        state.history.append(rec)
        state.epoch = epoch + 1
        if select and method.deployable() and (state.best is None or rec["val_acc"] >= state.best[0]):
            state.best = (rec["val_acc"], epoch + 1, copy.deepcopy(model.state_dict()))
        if select and state.best is not None and (epoch + 1 == total_epochs or phase_of(cfg, epoch + 1) != phase):
            model.load_state_dict(state.best[2])
            state.stage[f"selected_epoch_{phase}"] = state.best[1]
            state.stage[f"val_acc_{phase}"] = state.best[0]
            state.best = None
        if out and main_rank:
            files = {out / METRICS: json.dumps({"config": config_json, "history": state.history}, indent=1)}
            if cfg.checkpoint_every and ((epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == total_epochs):
                ck = checkpoint(method, state, total_epochs, config_json)
                files[out / CHECKPOINT] = lambda p, ck=ck: torch.save(ck, p)
            write_outputs(files)
        if main_rank and cfg.verbose:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()),
                  flush=True)
        if on_epoch is not None:
            on_epoch(rec)
    return state


def checkpoint(method: Method, state: RunState, total_epochs: int, config_json: dict) -> dict:
    """Everything the next epoch depends on (see the module's doc)."""
    return {"version": CHECKPOINT_VERSION, "method": method.name, "epoch": state.epoch,
            "total_epochs": total_epochs, "train_config": config_json,
            "model": method.model.state_dict(), "optimizer": method.opt.state_dict(),
            "scheduler": method.sched.state_dict() if method.sched is not None else None,
            "history": state.history, "stage": state.stage, "best": state.best,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "loader": method.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
            **method.state()}


def read_checkpoint(run_dir) -> dict:
    """The checkpoint of the run folder ``run_dir``; a :class:`ResumeError` saying what
    is wrong (no folder, no checkpoint, unreadable, from an older version)."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ResumeError(f"--resume {d}: no such folder (give the --out folder of the run to continue)")
    path = d / CHECKPOINT
    if not path.is_file():
        raise ResumeError(f"--resume {d}: no {CHECKPOINT} in it (the run saved no epoch yet, "
                          "or it is not a training run's folder)")
    try:
        # our own run's file; it holds numpy RNG states and formats, so not weights_only
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:        # torch raises RuntimeError, pickle errors, EOFError, ...
        raise ResumeError(f"--resume {path}: cannot read the checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ck, dict) or ck.get("version") != CHECKPOINT_VERSION:
        raise ResumeError(f"--resume {path}: not a resumable checkpoint (version "
                          f"{ck.get('version') if isinstance(ck, dict) else None!r}, this fenn-dma writes "
                          f"{CHECKPOINT_VERSION}); start a new run")
    return ck


def resume_state(run_dir, method: Method, config_json: dict, total_epochs: int) -> RunState:
    """Loads ``run_dir``'s checkpoint into ``method`` (model, optimiser, scheduler,
    RNGs, its own state) and returns the run's state; a :class:`ResumeError` when the
    checkpoint is another method's or options', or the run has finished."""
    d = Path(run_dir)
    ck = read_checkpoint(d)
    if ck["method"] != method.name:
        raise ResumeError(f"--resume {d}: the checkpoint was trained with --method {ck['method']}, "
                          f"not {method.name}")
    differ = config_differences(ck["train_config"], config_json)
    if differ:
        raise ResumeError(f"--resume {d}: the run was trained with other options: " + "; ".join(differ)
                          + " (resume with the run's own options, or start a new --out)")
    if ck["epoch"] >= total_epochs and _finished(d):
        raise ResumeError(f"--resume {d}: the run has finished (epoch {ck['epoch']} of {total_epochs}, "
                          f"{METRICS} has its summary); nothing to resume")
    try:
        method.model.load_state_dict(ck["model"])
        method.opt.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ResumeError(f"--resume {d}: the checkpoint does not fit this network ({exc})") from None
    if method.sched is not None:
        method.sched.load_state_dict(ck["scheduler"])
    method.load_state(ck)
    rng = ck["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    method.generator.set_state(rng["loader"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return RunState(ck["epoch"], list(ck["history"]), dict(ck["stage"]), ck["best"])


def config_differences(saved: dict, now: dict) -> list[str]:
    """``field: saved -> now`` for every training option that differs (not the run-only ones)."""
    keys = sorted((set(saved) | set(now)) - set(RUN_ONLY))
    return [f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in keys if _norm(saved.get(k)) != _norm(now.get(k))]


def _norm(value):
    """JSON's view of a value (tuples as lists), so a config read back compares equal."""
    return json.loads(json.dumps(value))


def _finished(run_dir: Path) -> bool:
    try:
        return "summary" in json.loads((run_dir / METRICS).read_text())
    except (OSError, json.JSONDecodeError):
        return False


def _tqdm(enabled: bool):
    """tqdm, drawn only on a terminal (``disable=None``): a log file gets the epoch lines."""
    if not enabled:
        return lambda it, **kw: it
    from functools import partial

    from tqdm.auto import tqdm
    return partial(tqdm, disable=None)
