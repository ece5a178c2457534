"""Training: Adam on the reconstruction MSE, as the original, with the bookkeeping done right.

`train_and_validate` keeps the weights of the best validation epoch, can checkpoint
and log each epoch, shows one progress bar, and stops cleanly if the loss blows up.
`train_cached` trains (or loads) the course's MAEs: the original on all digits, the two
retrains without the forget digits (`retrain`), and the auxiliary network of a forget set
(`train_auxiliary`: the original adapted to the forget digits for a few steps).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import cache
from .common import device_of, inference, one_cycle
from .config import PRECISIONS, Config, check_digits, get_config, resolve_device, split_digits
from .data import loaders_for, make_loader
from .model import MAE, save_model, weights_digest

SCHEDULES = ("onecycle", "constant")


@dataclass
class History:
    """Per-epoch losses and timings of one training run (plot them, or save `to_dict()`)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: str | None = None  # why training ended before `epochs`, if it did

    @property
    def best_val_loss(self) -> float:
        """Lowest validation loss seen."""
        finite = [v for v in self.val_loss if math.isfinite(v)]
        return min(finite) if finite else math.inf

    def to_dict(self) -> dict:
        """Plain dict, JSON-able."""
        return asdict(self)


BF16_MIN_CAPABILITY = (8, 0)  # Ampere and newer: native bf16 tensor cores. Colab's free T4 is 7.5.


def autocast_for(device: torch.device, precision: str = "fp32"):
    """The mixed-precision switch, in one place: float32 unless bf16 is asked for and native.

    fp32 is the default everywhere. On an H200 this model is launch-bound: bf16 autocast
    only adds cast kernels and was not faster (issue 11's measurement), so nothing is
    gained by it. `precision="bf16"` runs the convolutions in bfloat16 on a GPU of compute
    capability >= 8.0; on an older GPU (a T4) it would be emulated and slow, so it falls
    back to float32 with a warning, and a CPU always runs exact, reproducible float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "bf16" and device.type == "cuda":
        capability = torch.cuda.get_device_capability(device)
        if tuple(capability) >= BF16_MIN_CAPABILITY:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        warnings.warn(f"precision='bf16' needs a GPU of compute capability >= 8.0 (this one: "
                      f"{capability[0]}.{capability[1]}); training in float32 instead", stacklevel=2)
    return nullcontext()


@torch.no_grad()
def reconstruction_mse(model: nn.Module, loader: DataLoader, device: torch.device | None = None) -> float:
    """Mean squared reconstruction error per pixel over a whole loader, always in float32.

    The one MSE measure of the package: training history, reports and widgets all use it.
    The sum stays in float32 on the device (Apple's MPS has no float64) and is read once at the end.
    """
    device = device_of(model, device)  # it runs where its weights are; it is never moved
    total, count = torch.zeros((), device=device, dtype=torch.float32), 0
    with inference(model):
        for images, _ in loader:
            images = images.to(device)
            total += F.mse_loss(model(images).float(), images.float(), reduction="sum")
            count += images.numel()
    return total.item() / max(count, 1)


def _write_log(log: Path, row: dict) -> None:
    """Append one row to a CSV (by suffix) or JSON-lines log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.suffix == ".csv":
        new = not log.exists() or log.stat().st_size == 0
        with log.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
    else:
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")


def _stop(history: History, what: str) -> History:
    """Record and print why training stopped early; the caller's `finally` restores the best weights."""
    kept = f"epoch {history.best_epoch}" if history.best_epoch else "the starting weights"
    history.stopped_early = f"{what}; kept the weights of {kept}. Lower the learning rate and try again."
    print(history.stopped_early, file=sys.stderr)
    return history


def train_and_validate(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int | None = None,
    lr: float = Config.lr,
    device: str | torch.device | None = None,
    checkpoint: str | Path | None = None,
    log: str | Path | None = None,
    progress: bool = True,
    schedule: str = "onecycle",
    metadata: dict | None = None,
    precision: str = "fp32",
) -> History:
    """Train `model` to reconstruct its input; keep (and return to) the best validation weights.

    `schedule`: "onecycle" (warm up to `lr`, then anneal: the fast default) or "constant"
    (the original). `checkpoint`: save the best weights there (with `metadata`) each time
    validation improves. `log`: append a row per epoch (.csv, else JSON lines).
    `precision`: "fp32" (default) or "bf16" (see `autocast_for`). `epochs` None: `CONFIG.epochs`.
    """
    epochs = get_config().epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    autocast_for(torch.device("cpu"), precision)  # refuses an unknown precision before any work
    if len(train_loader) == 0 or len(val_loader) == 0:
        raise ValueError("train_loader and val_loader must each hold at least one batch")
    device = resolve_device(device)
    model.to(device)
    params = model.autoencoder_parameters() if hasattr(model, "autoencoder_parameters") else model.parameters()
    optimizer = torch.optim.Adam(params, lr=lr)
    steps = epochs * len(train_loader)
    scheduler = one_cycle(optimizer, lr, steps) if schedule == "onecycle" else None
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    bar = tqdm(total=steps, desc="train", unit="batch", disable=not progress, dynamic_ncols=True)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            running, seen = torch.zeros((), device=device), 0
            for step, (images, _) in enumerate(train_loader):
                images = images.to(device, non_blocking=True)
                with autocast_for(device, precision):
                    loss = F.mse_loss(model(images).float(), images)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                running += loss.detach() * len(images)
                seen += len(images)
                bar.update(1)
                if step % 20 == 0 or step == len(train_loader) - 1:
                    value = loss.item()  # syncs a GPU, so only every few steps
                    if not math.isfinite(value):
                        return _stop(history, f"non-finite loss in epoch {epoch}, batch {step}")
                    bar.set_postfix(epoch=epoch, loss=f"{value:.4f}")
            train_loss = running.item() / seen
            val_loss = reconstruction_mse(model, val_loader, device)
            history.epoch.append(epoch)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            history.seconds.append(time.perf_counter() - start)
            if not math.isfinite(val_loss):
                return _stop(history, f"non-finite validation loss in epoch {epoch}")
            if val_loss <= history.best_val_loss:
                history.best_epoch = epoch
                best_state = copy.deepcopy(model.state_dict())
                if checkpoint is not None:
                    save_model(model, checkpoint, epoch=epoch, val_loss=val_loss, **(metadata or {}))
            if log is not None:
                _write_log(Path(log), {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                                       "seconds": history.seconds[-1]})
    finally:
        bar.close()
        model.load_state_dict(best_state)  # the best weights, also after an error or Ctrl-C
    return history


def train_cached(
    name: str,
    digits=None,
    cfg: Config | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    train: bool = True,
    run_seed: int = 0,
    same_steps: bool = False,
) -> tuple[MAE, dict]:
    """Train an MAE on `digits` with `cfg` (None = `CONFIG`), or load the one cached for exactly that config.

    The cache key (cache.mae_key) is the name, the digits, every training field of `cfg`, the
    data source actually used, a hash of its training images and labels, and the cache format,
    so a changed setting retrains and an unchanged one loads in a blink. An entry that does not
    fit (cache.load_mae) is retrained, with one notice.
    Returns the model (on `device`, in eval mode) and its checkpoint metadata, whose
    "history" entry holds the training curves. `train=False` raises `NotCached` instead of training.
    `run_seed`: added to `cfg.seed` for the initial weights and the batch order (the data split
    stays `cfg.seed`'s). `same_steps`: as many optimizer steps as training on all ten digits takes,
    not as many epochs (a retrained model must not get fewer steps than the original).
    """
    cfg = get_config() if cfg is None else cfg
    digits = check_digits(range(10) if digits is None else digits)
    torch.manual_seed(cfg.seed + run_seed)
    loaders = loaders_for(cfg, digits, device)
    train_loader, epochs = loaders.train, cfg.epochs
    if run_seed:
        train_loader = make_loader(train_loader.dataset, cfg.batch_size, shuffle=True, seed=cfg.seed + run_seed)
    if same_steps:
        all_steps = cfg.epochs * len(loaders_for(cfg, None, device).train)
        epochs = max(1, round(all_steps / len(train_loader)))
    key = cache.mae_key(name, digits, cfg, loaders.train.dataset)
    if run_seed or same_steps:
        key.update(run_seed=run_seed, epochs=epochs)
    path = cache.cached_path(name, key)
    model = cache.load_cached(path, key, lambda p: cache.load_mae(p, cfg, resolve_device(device)), train)
    if model is not None:
        return model, model.metadata
    if not train:
        raise cache.not_cached(name, f"digits {' '.join(map(str, digits))}, data {key['data']}")
    model = MAE(channels=cfg.channels, hidden=cfg.hidden, code_dim=cfg.code_dim, decoder_norm=cfg.decoder_norm)
    history = train_and_validate(model, train_loader, loaders.val, epochs=epochs, lr=cfg.lr, device=device,
                                 progress=progress, precision=cfg.precision)
    metadata = {"key": key, "history": history.to_dict()}
    cache.save_cached(model, path, **metadata)
    model.metadata = metadata
    return model.eval(), metadata


def train_auxiliary(forget_digits, cfg: Config | None = None, device=None, progress: bool = True,
                    original: MAE | None = None, train: bool = True) -> tuple[MAE, dict]:
    """The auxiliary network of a forget set: the original adapted to the forget digits alone, then cached.

    The research code trained it from scratch for ten epochs on the forget digits; all the loop
    needs is a drawing of each forget digit to push away from, so the original (`original`, else
    the cached main MAE of `cfg`) takes `cfg.aux_steps` Adam steps on batches of forget digits only
    (0: the original itself). Returns the network and its metadata ("history": its training curve).
    `train=False` raises `NotCached` instead of training.
    """
    cfg = get_config() if cfg is None else cfg
    forget, _ = split_digits(forget_digits)
    if original is None:
        original, _ = train_cached("main", None, cfg, device=device, progress=progress, train=train)
    device = resolve_device(device)
    aux = copy.deepcopy(original).to(device)
    if cfg.aux_steps == 0:
        aux.metadata = {"history": History().to_dict()}
        return aux.eval(), aux.metadata
    loaders = loaders_for(cfg, forget, device)
    key = cache.mae_key("auxiliary", forget, cfg, loaders.train.dataset)
    key.update(start=weights_digest(original.state_dict()), steps=cfg.aux_steps)
    path = cache.cached_path("auxiliary", key)
    cached = cache.load_cached(path, key, lambda p: cache.load_mae(p, cfg, device), train)
    if cached is not None:
        return cached, cached.metadata
    if not train:
        raise cache.not_cached("auxiliary", f"digits {' '.join(map(str, forget))}, data {key['data']}")
    history = train_and_validate(aux, random_batches(loaders.train.dataset, cfg.batch_size, cfg.aux_steps, cfg.seed),
                                 loaders.val, epochs=1, lr=cfg.lr, device=device, progress=progress,
                                 precision=cfg.precision)
    metadata = {"key": key, "history": history.to_dict()}
    cache.save_cached(aux, path, **metadata)
    aux.metadata = metadata
    return aux.eval(), metadata


def random_batches(dataset, batch_size: int, steps: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`steps` batches of `batch_size` images drawn at random from `dataset` (a DigitTensors): one short "epoch"."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(dataset), (steps, batch_size), generator=generator).to(dataset.targets.device)
    return [dataset[pick] for pick in picks]


RETRAIN_SEEDS = (1, 2)  # offsets to cfg.seed for the weights and the batch order of the two retrains


def retrain(forget_digits, cfg: Config | None = None, device=None, progress: bool = True, replica: int = 0,
            train: bool = True) -> tuple[MAE, dict]:
    """The gold standard: a fresh MAE trained only on the retained digits, with the original's number of steps.

    `replica` 0 and 1 are two retrains from their own seeds (neither the original's): how far
    apart two honest retrains land is the yardstick ("within the retrain spread").
    """
    if isinstance(replica, bool) or not isinstance(replica, int) or not 0 <= replica < len(RETRAIN_SEEDS):
        raise ValueError(f"replica must be 0 or 1 (the two retrains from their own seeds); got {replica!r}")
    _, retain = split_digits(forget_digits)
    return train_cached("retrained" if replica == 0 else f"retrained-{replica + 1}", retain, cfg, device=device,
                        progress=progress, train=train, run_seed=RETRAIN_SEEDS[replica], same_steps=True)
