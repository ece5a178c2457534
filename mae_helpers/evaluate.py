"""Evaluation of unlearning, always on the held-out test split: the referees.

1. Reconstruction MSE per digit: does the model still draw the forgotten digits?
2. A judge: a separate CNN digit classifier, trained on real images only, looks at the
   model's reconstructions and says which digit it sees (as Selective Amnesia does on MNIST).
3. A fresh latent probe: a new linear classifier fitted on the bottleneck codes. The model's
   own Q-layers took part in unlearning, so they may be fooled; a probe trained afterwards
   measures how much evidence of the forgotten digits is really left in the code.

`measure_model` gives all three for one model. The privacy audit (membership inference,
relearning) is `audit.py`; `report.py` puts every model's numbers side by side. Every function
here runs the models it is given without changing them (`common.inference`): where their
weights are, with their modes restored. None of the referees takes part in unlearning, and
this wing imports nothing of the method's (train, witness, unlearn).
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import cache
from .common import classifier_accuracy, collect, device_of, inference, one_cycle
from .config import Config, get_config, resolve_device
from .data import loaders_for, split_digits

JUDGE_CHANNELS = (32, 64)
JUDGE_ARCH = {"channels": list(JUDGE_CHANNELS)}
JUDGE_LR = 2e-3  # Adam with a one-cycle schedule, as the MAE: 98% on the offline test digits in 10 epochs
PROBE_EPOCHS = 300  # full-batch Adam steps; the probe has only 11 x 10 weights, so this takes well under a second
UNIFORM_ENTROPY = math.log(10)  # nats: the judge's entropy when it has no idea (a uniform guess over ten digits)
# What `measure_model` returns, in this order (report.MODEL_KEYS adds the privacy audit's numbers).
METRIC_KEYS = ("mse_forget", "mse_retain", "judge_acc_forget", "judge_any_forget", "judge_acc_retain",
               "judge_p_forgotten", "judge_entropy_forgotten", "probe_acc_forget", "per_digit_mse")


def _mean_or_none(values: torch.Tensor) -> float | None:
    """Mean as a Python float; None for an empty group (e.g. a digit absent from the loader)."""
    return float(values.mean()) if len(values) else None


# ----------------------------------------------------------------------------- reconstruction


def per_image_mse(model: nn.Module, loader: DataLoader, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean per-pixel squared error of each image's reconstruction, its label) over a whole loader."""
    device = device_of(model, device)
    with inference(model):
        return collect(lambda x: (model(x).float() - x).pow(2).flatten(1).mean(1), loader, device)


def per_digit_mse(model: nn.Module, loader: DataLoader, device=None) -> list[float | None]:
    """Mean per-pixel reconstruction MSE for each digit 0..9 (None where the digit is absent)."""
    errors, labels = per_image_mse(model, loader, device)
    return [_mean_or_none(errors[labels == d]) for d in range(10)]


# ----------------------------------------------------------------------------- the judge


class Judge(nn.Module):
    """A small CNN digit classifier for 28x28 images in [-1, 1]; returns 10 logits."""

    def __init__(self, channels: tuple[int, int] = JUDGE_CHANNELS):
        super().__init__()
        c1, c2 = (int(c) for c in channels)
        self.config = dict(channels=[c1, c2])  # saved in the checkpoint to rebuild the same network
        self.test_accuracy: float | None = None  # set by train_judge: accuracy on the real test digits
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(), nn.Linear(c2 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for a batch of (N, 1, 28, 28) images."""
        return self.net(x)


def fit_judge(judge: nn.Module, loader: DataLoader, epochs: int, lr: float = JUDGE_LR, device=None,
              progress: bool = True) -> nn.Module:
    """Train `judge` to classify the loader's digits: Adam on cross-entropy, one-cycle schedule (train.one_cycle)."""
    device = resolve_device(device)
    judge.to(device).train()  # it is being trained: here moving it is the point
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    scheduler = one_cycle(optimizer, lr, epochs * len(loader))
    for _ in tqdm(range(epochs), desc="judge", unit="epoch", disable=not progress, dynamic_ncols=True):
        for images, labels in loader:
            loss = F.cross_entropy(judge(images.to(device)), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return judge.eval()


def train_judge(cfg: Config | None = None, device=None, progress: bool = True, train: bool = True) -> Judge:
    """Train the judge on real training images of all digits, or load the one cached for this config.

    Independent of the MAE and its Q-layers. The cache key (cache.judge_key) is the fields of
    `cfg` (None = `CONFIG`) that shape the judge, the data actually used, training and test
    split both (its accuracy is measured on the test split), and the judge's own settings.
    Returns the judge in eval mode with `.test_accuracy` (on the real test digits) set.
    `train=False` raises `NotCached` instead of training.
    """
    cfg = get_config() if cfg is None else cfg
    loaders = loaders_for(cfg, None, device)
    key = cache.judge_key(cfg, loaders, {"channels": list(JUDGE_CHANNELS), "lr": JUDGE_LR})
    path = cache.cached_path("judge", key)
    device = resolve_device(device)
    judge = cache.load_cached(path, key, lambda f: cache.load_classifier(f, Judge, JUDGE_ARCH, "test_accuracy"), train)
    if judge is not None:
        return judge.to(device).eval()
    if not train:
        raise cache.not_cached("judge", f"data {key['data']}")

    torch.manual_seed(cfg.seed)  # the judge's initial weights
    start = time.perf_counter()
    judge = fit_judge(Judge(JUDGE_CHANNELS), loaders.train, cfg.epochs, device=device, progress=progress)
    judge.test_accuracy = classifier_accuracy(judge, loaders.test)
    # save_model only needs `.config` and a state dict, so the judge gets the same atomic, hashed cache write.
    judge.metadata = {"key": key, "test_accuracy": judge.test_accuracy, "seconds": time.perf_counter() - start}
    cache.save_cached(judge, path, **judge.metadata)
    return judge.eval()


def judge_scores(judge: nn.Module, model: nn.Module | None, loader: DataLoader, forget_digits, device=None) -> dict:
    """What the judge sees in `model`'s reconstructions of the loader's images (model=None: the images themselves).

    judge_acc_forget / judge_acc_retain: fraction of forget / retain digits classified as
    their true digit. judge_any_forget: fraction of forget digits classified as *any* forget
    digit; a 0 redrawn as a 9, when 9 is forgotten too, is not forgotten (so it is always
    >= judge_acc_forget, and the honest suppression number). judge_p_forgotten: mean softmax
    probability of the true digit over the forget digits. judge_entropy_forgotten: mean
    entropy (nats) of the judge's softmax over the forget digits (UNIFORM_ENTROPY = ln 10 =
    2.30 means "no idea"). A group the loader lacks scores None.
    """
    forget, _ = split_digits(forget_digits)
    device = device_of(judge if model is None else model, device)
    if device_of(judge, device) != device:  # the judge comes to the model (a copy): the caller's stays where it is
        judge = copy.deepcopy(judge).to(device)

    def look(x):
        # The judge sees the picture as displayed: pixels outside [-1, 1] are clipped.
        return judge(x if model is None else model(x).float().clamp(-1, 1))

    with inference(judge, model):
        logits, labels = collect(look, loader, device)
    log_p = logits.log_softmax(1)
    named = log_p.argmax(1)
    correct = (named == labels).float()
    named_forget = torch.isin(named, torch.tensor(forget)).float()
    p_true = log_p.gather(1, labels[:, None]).squeeze(1).exp()
    entropy = -(log_p.exp() * log_p).sum(1)
    is_forget = torch.isin(labels, torch.tensor(forget))
    return {
        "judge_acc_forget": _mean_or_none(correct[is_forget]),
        "judge_any_forget": _mean_or_none(named_forget[is_forget]),
        "judge_acc_retain": _mean_or_none(correct[~is_forget]),
        "judge_p_forgotten": _mean_or_none(p_true[is_forget]),
        "judge_entropy_forgotten": _mean_or_none(entropy[is_forget]),
    }


# ----------------------------------------------------------------------------- the latent probe


def probe_scores(model: nn.Module, train_loader: DataLoader, test_loader: DataLoader, forget_digits,
                 device=None, epochs: int = PROBE_EPOCHS) -> dict:
    """Fit a fresh logistic-regression probe on `model.encode` codes of the training split; test accuracy per group.

    Returns {"probe_acc_forget": ..., "probe_acc_retain": ...}. The probe never sees the
    model's Q-layers. Zero-initialised full-batch training of a convex loss: the result
    does not depend on any random seed. Read it against a reference, not against chance:
    on the offline digits even an untrained MAE's code gives ~48% on 0/3/6/9, and one
    retrained without those digits ~78% (its code still tells them apart).
    """
    forget, _ = split_digits(forget_digits)
    device = device_of(model, device)
    with inference(model):
        train_codes, train_labels = collect(model.encode, train_loader, device)
        test_codes, test_labels = collect(model.encode, test_loader, device)
    missing = sorted(set(forget) - set(train_labels.tolist()))
    if missing:
        # A probe that never saw a digit scores 0 on it: that would look like perfect forgetting.
        raise ValueError(f"train_loader holds no images of forget digit(s) {missing}; pass the all-digit train loader")
    # Standardise with the training statistics so one learning rate fits every model's code scale.
    mean, std = train_codes.mean(0), train_codes.std(0).clamp_min(1e-6)
    train_codes, test_codes = (train_codes - mean) / std, (test_codes - mean) / std

    with torch.enable_grad():  # callers may be inside no_grad; the probe itself must learn
        probe = nn.Linear(train_codes.shape[1], 10)
        nn.init.zeros_(probe.weight)
        nn.init.zeros_(probe.bias)
        optimizer = torch.optim.Adam(probe.parameters(), lr=0.1)
        for _ in range(epochs):
            loss = F.cross_entropy(probe(train_codes), train_labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        correct = (probe(test_codes).argmax(1) == test_labels).float()
    is_forget = torch.isin(test_labels, torch.tensor(forget))
    return {"probe_acc_forget": _mean_or_none(correct[is_forget]),
            "probe_acc_retain": _mean_or_none(correct[~is_forget])}


def probe_accuracy(model: nn.Module, train_loader: DataLoader, test_loader: DataLoader, forget_digits,
                   device=None, epochs: int = PROBE_EPOCHS) -> float | None:
    """Test accuracy on the forget digits of a fresh probe on the codes: evidence left in the bottleneck."""
    return probe_scores(model, train_loader, test_loader, forget_digits, device, epochs)["probe_acc_forget"]


# ----------------------------------------------------------------------------- everything at once


def measure_model(model: nn.Module, judge: nn.Module, train_loader: DataLoader, test_loader: DataLoader,
                  forget_digits, device=None) -> dict:
    """The three referees' numbers for one model on the test split (METRIC_KEYS), as plain Python numbers."""
    forget, _ = split_digits(forget_digits)
    errors, labels = per_image_mse(model, test_loader, device)
    is_forget = torch.isin(labels, torch.tensor(forget))
    return {
        "mse_forget": _mean_or_none(errors[is_forget]),
        "mse_retain": _mean_or_none(errors[~is_forget]),
        **judge_scores(judge, model, test_loader, forget, device),
        "probe_acc_forget": probe_accuracy(model, train_loader, test_loader, forget, device),
        "per_digit_mse": [_mean_or_none(errors[labels == d]) for d in range(10)],
    }
