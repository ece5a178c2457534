"""Plots: reconstructions, loss curves, and (with unlearning) per-digit comparisons."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from .common import device_of, inference


def one_per_digit(loader: DataLoader, n_images: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The first example of each digit in the loader's dataset, at most `n_images` of them."""
    targets = loader.dataset.targets.cpu()
    digits = sorted(set(targets.tolist()))[:n_images]
    picks = [int((targets == d).nonzero()[0]) for d in digits]
    return loader.dataset[picks]


def _to_picture(image: torch.Tensor):
    """A [-1, 1] image tensor as a 28x28 numpy array in [0, 1] for imshow."""
    return (image.detach().float().cpu().squeeze() * 0.5 + 0.5).clamp(0, 1).numpy()


def save_figure(fig, path: str | Path | None) -> None:
    """Save `fig` to `path` (creating folders) when a path is given."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")


def image_grid(rows: dict[str, torch.Tensor], labels: torch.Tensor, title: str | None = None):
    """A figure with one row per named image batch and one column per example, titled by digit."""
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.25 * len(rows) + 0.4), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(_to_picture(images[c]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(int(labels[c])), fontsize=10)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def visualize_reconstructions(
    model: nn.Module,
    loader: DataLoader,
    n_images: int = 10,
    path: str | Path | None = None,
    device: str | torch.device | None = None,
    title: str | None = None,
):
    """Originals above their reconstructions, one image per digit present; returns the figure."""
    return compare_reconstructions({"reconstruction": model}, loader, n_images, path, device, title, top_row="original")


def plot_history(history, title: str = "training", path: str | Path | None = None):
    """Train and validation loss per epoch."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(history.epoch, history.train_loss, "o-", label="train")
    ax.plot(history.epoch, history.val_loss, "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction MSE")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    return fig


@torch.no_grad()
def compare_reconstructions(
    models: dict[str, nn.Module],
    loader: DataLoader,
    n_images: int = 10,
    path: str | Path | None = None,
    device: str | torch.device | None = None,
    title: str | None = None,
    top_row: str = "digit",
):
    """The test digits (top row) and each named model's reconstructions below, one column per digit.

    Each model runs where its weights are, in eval mode for the picture, and is left as it was
    (`common.inference`; `device` only places a model without weights).
    """
    images, labels = one_per_digit(loader, n_images)
    rows = {top_row: images}
    for name, model in models.items():
        with inference(model):
            rows[name] = model(images.to(device_of(model, device)))
    fig = image_grid(rows, labels, title=title)
    save_figure(fig, path)
    return fig


def plot_per_digit_mse(metrics: dict, forget_digits, path: str | Path | None = None):
    """Grouped bars of per-digit reconstruction MSE, one colour per model; forgotten digits shaded."""
    import matplotlib.pyplot as plt

    models = {name: m["per_digit_mse"] for name, m in metrics.items() if m is not None}
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    width = 0.8 / len(models)
    for d in forget_digits:
        ax.axvspan(d - 0.45, d + 0.45, color="0.92", zorder=0)
    for i, (name, values) in enumerate(models.items()):
        xs = [d + (i - (len(models) - 1) / 2) * width for d in range(10) if values[d] is not None]
        ax.bar(xs, [v for v in values if v is not None], width=width, label=name, zorder=2)
    ax.set_xticks(range(10))
    ax.set_xticklabels([f"{d}{'*' if d in forget_digits else ''}" for d in range(10)])
    ax.set_xlabel("digit (* = forgotten, shaded)")
    ax.set_ylabel("reconstruction MSE (test)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_curves(training: dict[str, dict], unlearning=None, path: str | Path | None = None):
    """Left: validation loss per epoch of each trained model. Right: what the unlearning loop measured."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if unlearning is not None else 1, figsize=(10, 3.9), squeeze=False)
    ax = axes[0][0]
    for name, history in training.items():
        ax.plot(history["epoch"], history["val_loss"], "o-", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MSE")
    ax.set_title("training")
    ax.legend(fontsize=8)
    if unlearning is not None:
        plot_unlearning(unlearning, axes[0][1])
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_unlearning(history, ax=None, controls: bool = True):
    """What the loop saw at each check, and (controls, on a figure of its own) how the controller set its two dials.

    Top: the witness's belief in a forget digit (left axis, target dotted) and the retained
    MSE ratio (right axis, guard dotted), the kept check (a grey line) and every revert (x).
    Bottom: the learning rate (its ramp at the start and after each revert) and the weight w.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        rows = 2 if controls else 1
        fig, axes = plt.subplots(rows, 1, figsize=(5.8, 3.6 + 1.9 * (rows - 1)), sharex=True, squeeze=False,
                                 layout="constrained", height_ratios=[2, 1][:rows])
        ax, below = axes[0][0], (axes[1][0] if controls else None)
    else:
        below = None
    ax.plot(history.step, history.evidence, "o-", ms=3, color="C3", label="witness: belief in a forget digit")
    if history.target > 0:
        ax.axhline(history.target, color="C3", ls=":", lw=1, label=f"target {history.target:.1%}")
    ax.axvline(history.kept_step, color="0.5", lw=1, label=f"kept: step {history.kept_step}")
    ax.set_ylabel("witness (held out)", color="C3")
    ax.set_ylim(0, 1)
    right = ax.twinx()
    right.plot(history.step, history.retain_ratio, "s-", ms=3, color="C0", label="retained MSE / original's")
    reverts = [r for s, r in zip(history.step, history.retain_ratio) if s in history.reverts]
    if reverts:
        right.plot(history.reverts, reverts, "x", ms=8, color="k", label="revert (outside the guard)")
    if history.tolerance > 0:
        right.axhline(1 + history.tolerance, color="C0", ls=":", lw=1, label=f"guard {1 + history.tolerance:.2f}x")
    right.set_ylabel("retained MSE ratio (held out)", color="C0")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.set_title(f"unlearning ({history.method}, strength {history.strength:g}): {history.steps} steps")
    if below is None:
        ax.set_xlabel("unlearning step")
        ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper center", ncol=2,
                  bbox_to_anchor=(0.5, -0.2), frameon=False)
        return ax.figure
    ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper right", ncol=1)
    below.plot(history.step[1:], history.lr[1:], "o-", ms=3, color="C2", label="learning rate (ramp)")
    below.set_yscale("log")
    below.set_ylabel("learning rate", color="C2")
    weight = below.twinx()
    weight.plot(history.step, history.forget_weight, "s-", ms=3, color="C1", label="forgetting weight w")
    weight.set_yscale("log")
    weight.set_ylabel("w", color="C1")
    below.set_xlabel("unlearning step")
    return ax.figure
