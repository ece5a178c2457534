"""The witness: the unlearning loop's own eyes, which tell it when the forget digits are gone.

A pair of small digit classifiers that take no part in the unlearning game and never see a
test digit (the referees in evaluate.py grade the result on those). `train_witness` trains it
once per original model and caches it; `Witness` is what the loop looks through at each
check: the held-out validation digits of both groups, the original's retained error, and one
look per check (`Witness.look`) that redraws each held-out digit once.
"""

from __future__ import annotations

import copy
import time
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from . import cache
from .common import (
    CHUNK,
    classifier_accuracy,
    collect,
    conv_block,
    distinct,
    in_chunks,
    inference,
    not_copies,
    one_cycle,
)
from .config import Config, get_config
from .data import loaders_for
from .model import MAE, weights_digest

WITNESS_CHANNELS = (16, 32)  # the LeNet-style member (5x5 convolutions)
WITNESS_NORMED_CHANNELS = (16, 32)  # the batch-norm member (3x3 convolutions)
WITNESS_ARCH = {"channels": list(WITNESS_CHANNELS), "normed": list(WITNESS_NORMED_CHANNELS)}
WITNESS_SEED_OFFSET = 7919  # the witness's own seed: cfg.seed + this (its mistakes must not be the judge's)
WITNESS_LR = 2e-3  # Adam with a one-cycle schedule
WITNESS_BATCH = 128
MIN_HELD_OUT = 16  # fewer held-out images than this per group, and a check is noise


class WitnessNet(nn.Module):
    """Two digit classifiers that fail differently: the unlearning loop's witness, not a referee.

    A LeNet-style CNN (5x5 convolutions) and a batch-norm CNN (four 3x3 blocks), each with its
    own seed and small random shifts. A drawing shows a digit when *either* sees it: the
    output is the log of the larger of their two probabilities for each digit. One small CNN
    alone is fooled: the unlearning loop plays against a small CNN reader, and learns to draw
    8s that small plain CNNs call 3 while a batch-norm CNN still reads 8 (benchmarks/results).
    """

    def __init__(self, channels: tuple[int, int] = WITNESS_CHANNELS, normed: tuple[int, int] = WITNESS_NORMED_CHANNELS):
        super().__init__()
        c1, c2 = (int(c) for c in channels)
        n1, n2 = (int(c) for c in normed)
        self.config = dict(channels=[c1, c2], normed=[n1, n2])
        self.test_accuracy: float | None = None  # on the real validation digits (it never sees test digits)
        self.lenet = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 10 -> 5
            nn.Flatten(), nn.Linear(c2 * 25, 64), nn.ReLU(), nn.Linear(64, 10),
        )
        self.normed = nn.Sequential(conv_block(1, n1), conv_block(n1, n1), nn.MaxPool2d(2),  # 28 -> 14
                                    conv_block(n1, n2), conv_block(n2, n2), nn.MaxPool2d(2),  # 14 -> 7
                                    nn.Flatten(), nn.Dropout(0.3), nn.Linear(n2 * 49, 10))

    def members(self) -> tuple[nn.Module, nn.Module]:
        """The two classifiers, each trained on its own."""
        return self.lenet, self.normed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log of the larger of the two members' probabilities, per digit: (N, 10)."""
        return torch.maximum(self.lenet(x).softmax(1), self.normed(x).softmax(1)).log()


def random_shift(x: torch.Tensor, generator: torch.Generator, most: int = 2) -> torch.Tensor:
    """The batch moved by up to `most` pixels in each direction (one shift for the whole batch)."""
    dy, dx = (torch.randint(-most, most + 1, (2,), generator=generator)).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def fit_witness(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int, seed: int,
                batch_size: int = WITNESS_BATCH, lr: float = WITNESS_LR) -> nn.Module:
    """Train `net` for a fixed number of random, shifted batches: the same cost at every data scale."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = one_cycle(optimizer, lr, steps)
    net.train()
    for _ in range(steps):
        pick = torch.randint(len(labels), (batch_size,), generator=generator).to(labels.device)
        loss = F.cross_entropy(net(random_shift(images[pick], generator)), labels[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return net.eval()


def train_witness(model: MAE, cfg: Config | None = None, device=None, progress: bool = True,
                  train: bool = True) -> WitnessNet:
    """The unlearning loop's witness for `model` and `cfg`'s data (None = CONFIG), trained once, then cached.

    It learns from the real training digits *and* `model`'s reconstructions of them, since
    reconstructions are what it will read: a blurred 8 is still an 8 to it. It depends on the
    model and the data, not on the digits to forget, so every forget set shares it.
    `.test_accuracy` holds its accuracy on the real validation digits: it never sees a
    test digit. `train=False` raises `NotCached` instead of training. `progress` is accepted for
    symmetry with the other trainers (the witness trains in seconds).
    """
    cfg = get_config() if cfg is None else cfg
    loaders = loaders_for(cfg, None, device)
    images, labels = loaders.train.dataset.images, loaders.train.dataset.targets
    key = cache.witness_key(cfg, loaders, {**WITNESS_ARCH, "lr": WITNESS_LR, "seed_offset": WITNESS_SEED_OFFSET,
                                           "steps": cfg.witness_steps, "reads": weights_digest(model.state_dict())})
    path = cache.cached_path("witness", key)
    net = cache.load_cached(path, key, lambda f: cache.load_classifier(f, WitnessNet, WITNESS_ARCH, "val_accuracy"),
                            train)
    if net is not None:
        return net.to(images.device).eval()
    if not train:
        raise cache.not_cached("witness", f"data {key['data']}")
    start = time.perf_counter()
    with inference(model):
        drawn = collect(lambda x: model(x).clamp(-1, 1), in_chunks(images, labels), images.device)[0]
    drawn = drawn.to(images.device)
    with torch.random.fork_rng(devices=[]):  # its first weights from its own seed; the caller's stream untouched
        torch.manual_seed(cfg.seed + WITNESS_SEED_OFFSET)
        net = WitnessNet().to(images.device)
    pictures, digits = torch.cat([images, drawn]), torch.cat([labels, labels])
    for i, member in enumerate(net.members()):  # each member its own batches and shifts
        fit_witness(member, pictures, digits, cfg.witness_steps, cfg.seed + WITNESS_SEED_OFFSET + i)
    net.eval()
    val = loaders.val.dataset
    net.test_accuracy = classifier_accuracy(net, in_chunks(val.images, val.targets))
    net.metadata = {"key": key, "val_accuracy": net.test_accuracy, "seconds": time.perf_counter() - start}
    cache.save_cached(net, path, **net.metadata)
    return net


class Look(NamedTuple):
    """What one check sees on the held-out digits."""

    evidence: float  # the witness's mean belief that a forget digit's redrawing shows some forget digit
    retain_ratio: float  # the retained digits' reconstruction MSE over the original's
    forget_mse: float  # the forget digits' reconstruction MSE


def channels_last(net: nn.Module) -> nn.Module:
    """`net` with its 4-d weights in channels-last order: the same numbers, 1.5-3x faster convolutions on a CPU."""
    return net.to(memory_format=torch.channels_last)


class Witness:
    """The loop's eyes on held-out digits: how many forget digits it still names, and what the retained ones cost.

    `false_alarms` is the witness's belief in a forget digit in the original's drawings of the held-out
    retained digits: the level below which evidence cannot be told from none (the stop is relative to it).

    Validation images that are exact copies of training images are dropped first, and so are
    repeats of a held-out image (`dropped` counts both): a model redraws what it memorised too
    well to tell anything, and a repeat only costs a second look. At most
    `max_images` of each group are kept. The witness network is copied (the caller's is not
    changed) and run in channels-last order.
    """

    def __init__(self, net: nn.Module, original: MAE, val, training_images: torch.Tensor, forget_digits,
                 max_images: int):
        self.net = channels_last(copy.deepcopy(net)).eval()  # the caller's network stays as it is
        images, labels = val.images, val.targets  # the validation split (a DigitTensors) of all ten digits
        self.forget = torch.tensor(forget_digits, device=labels.device)
        is_forget = torch.isin(labels, self.forget)
        # Each held-out digit once: a copy of a training image tells nothing new, and a second copy of a held-out
        # one only costs a second look (a tiled data set holds ten of each).
        keep = not_copies(images, training_images) & distinct(images)
        self.dropped = int((~keep).sum())
        self.x_f = images[keep & is_forget][:max_images]
        self.x_r = images[keep & ~is_forget][:max_images]
        if min(len(self.x_f), len(self.x_r)) < MIN_HELD_OUT:
            raise ValueError(
                f"only {len(self.x_f)} forget and {len(self.x_r)} retained validation digits are not copies of "
                f"training digits ({self.dropped} copies dropped); the loop needs at least {MIN_HELD_OUT} of each "
                "to watch. Split the data so that copies of one image stay on one side (benchmarks/layouts.py "
                "shows how), or raise cfg.val_fraction")
        drawn_r = self._draw(original, self.x_r)
        self.base_retain = F.mse_loss(drawn_r, self.x_r).item()
        # The witness's false alarms: its belief in a forget digit where there is none, in the original's drawings of
        # the held-out retained digits. Evidence at or near this level is indistinguishable from no evidence.
        self.false_alarms = self._belief(drawn_r)

    @staticmethod
    def _draw(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """`model`'s drawings of `images`, in chunks (the model is not changed)."""
        with inference(model):
            return torch.cat([model(x).float() for x in images.split(CHUNK)])

    def _belief(self, drawings: torch.Tensor) -> float:
        """The witness's mean belief that `drawings` show some forget digit."""
        with inference(self.net):
            belief = torch.cat([self.net(x.clamp(-1, 1)).float().softmax(1) for x in drawings.split(CHUNK)])
        return belief[:, self.forget].sum(1).mean().item()

    def look(self, model: nn.Module) -> Look:
        """One check: each held-out digit redrawn once by `model`, read by the witness, compared with the original."""
        out_f, out_r = self._draw(model, self.x_f), self._draw(model, self.x_r)
        return Look(self._belief(out_f), F.mse_loss(out_r, self.x_r).item() / self.base_retain,
                    F.mse_loss(out_f, self.x_f).item())

    def evidence(self, model: nn.Module) -> float:
        """The witness's mean belief that a held-out forget digit's reconstruction shows some forget digit."""
        return self.look(model).evidence

    def retain_ratio(self, model: nn.Module) -> float:
        """The held-out retained digits' MSE relative to the original model's."""
        return self.look(model).retain_ratio

