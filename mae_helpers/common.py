"""Small helpers both wings use: the method (train, witness, unlearn) and the referees (evaluate, audit, report).

* `inference(model)`: the one way to run a model without changing it;
* `collect`: a function over every batch of a loader, gathered on the CPU;
* `one_cycle`: the learning-rate schedule of every network the package trains;
* `conv_block`: the building block of the batch-norm classifiers;
* `image_hashes` / `not_copies` / `distinct`: exact-pixel copies of images (tiled data sets hold many).

Nothing here imports another module of the package but `config` (for a model without weights).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

CHUNK = 1024  # images per forward pass: a whole split at once would not fit in memory on full MNIST


@contextmanager
def inference(*models: nn.Module | None) -> Iterator[None]:
    """Run `models` without changing them: eval mode and no gradients in the block, their modes restored after.

    It never moves a model: put the images where the model's weights are (`device_of`).
    """
    models = [m for m in models if m is not None]
    modes = [m.training for m in models]
    try:
        for m in models:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


def device_of(model: nn.Module, device=None) -> torch.device:
    """Where `model`'s weights are: a model runs there. One without weights (a function) runs on `device`
    (None: the GPU when there is one, else the CPU)."""
    weights = next(model.parameters(), None)
    if weights is not None:
        return weights.device
    from .config import resolve_device

    return resolve_device(device)


def collect(fn: Callable[[torch.Tensor], torch.Tensor], batches, device) -> tuple[torch.Tensor, torch.Tensor]:
    """`fn` applied to every (images, labels) batch, moved to `device`: (outputs, labels), each on the CPU.

    Plain float32: evaluation numbers should not depend on autocast or the device.
    """
    outputs, labels = [], []
    for images, targets in batches:
        outputs.append(fn(images.to(device)).float().cpu())
        labels.append(targets.cpu())
    return torch.cat(outputs), torch.cat(labels)


def in_chunks(images: torch.Tensor, labels: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`images` (and `labels`, else zeros) as batches of CHUNK: a loader for `collect`."""
    labels = torch.zeros(len(images), dtype=torch.long) if labels is None else labels
    return list(zip(images.split(CHUNK), labels.split(CHUNK)))


def classifier_accuracy(classifier: nn.Module, batches, device=None) -> float:
    """Fraction of the (images, labels) `batches` that `classifier` labels right (run without changing it)."""
    with inference(classifier):
        logits, labels = collect(classifier, batches, device or device_of(classifier))
    return float((logits.argmax(1) == labels).float().mean())


def one_cycle(optimizer: torch.optim.Optimizer, lr: float, steps: int):
    """A one-cycle schedule (warm up to `lr`, then anneal) over `steps`, or None for a run too short to have one.

    torch's OneCycleLR divides by zero at exactly 5 steps; a run shorter than 10 steps keeps a
    constant rate instead. Every network the package trains takes its schedule from here.
    """
    if steps < 10:
        return None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the building block of the batch-norm classifiers."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


def image_hashes(images: torch.Tensor) -> list[bytes]:
    """One short hash of each image's exact pixels (copies of an image share it)."""
    flat = images.detach().cpu().float().flatten(1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in flat]


def not_copies(images: torch.Tensor, training_images: torch.Tensor) -> torch.Tensor:
    """Mask of the `images` whose exact pixels are not those of any training image."""
    seen = set(image_hashes(training_images))
    return torch.tensor([h not in seen for h in image_hashes(images)], dtype=torch.bool, device=images.device)


def distinct(images: torch.Tensor) -> torch.Tensor:
    """Mask keeping the first copy of each image (a tiled data set holds the same digit many times)."""
    seen, keep = set(), []
    for h in image_hashes(images):
        keep.append(h not in seen)
        seen.add(h)
    return torch.tensor(keep, dtype=torch.bool, device=images.device)

