"""`mae-unlearn` (also `python -m mae_helpers`): the course's main job from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .config import CONFIG, FAST, get_config
from .data import get_mnist_loaders
from .model import MAE, save_model
from .train import train_and_validate
from .viz import plot_history, visualize_reconstructions


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its default in --help."""
    p = argparse.ArgumentParser(prog="mae-unlearn", description="Train the MAE on MNIST and plot its reconstructions.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="folder for checkpoints, metrics and figures")
    p.add_argument("--images", default=None, help="also copy the figures into this folder (make demo: images/)")
    p.add_argument("--epochs", type=int, default=CONFIG.epochs, help="training epochs")
    p.add_argument("--seed", type=int, default=CONFIG.seed, help="random seed (data split, shuffling, weights)")
    p.add_argument("--data-root", default=CONFIG.data_root, help="where MNIST lives (torchvision layout MNIST/raw)")
    p.add_argument("--source", default=CONFIG.source, choices=["auto", "disk", "download", "offline"],
                   help="where to get MNIST; auto = disk, then download, then the offline subset")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the GPU if there is one)")
    p.add_argument("--fast", action="store_true", default=FAST, help="smoke-sized run (also set by MAE_FAST=1)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the main job; returns the process exit code."""
    args = build_parser().parse_args(argv)
    cfg = get_config(epochs=2, max_train_images=2000) if args.fast else get_config(epochs=args.epochs)
    out = Path(args.out)
    try:
        torch.manual_seed(args.seed)
        train, val, test = get_mnist_loaders(args.data_root, seed=args.seed, source=args.source, device=args.device,
                                             max_train_images=cfg.max_train_images)
        model = MAE()
        history = train_and_validate(model, train, val, epochs=cfg.epochs, device=args.device)
    except ValueError as err:
        print(f"mae-unlearn: error: {err}", file=sys.stderr)
        return 2
    save_model(model, out / "original.pt", source=train.dataset.source, seed=args.seed, epochs=cfg.epochs,
               val_loss=history.best_val_loss)
    folders = [out] + ([Path(args.images)] if args.images else [])
    for folder in folders:
        visualize_reconstructions(model, test, path=folder / "reconstructions.png", device=args.device,
                                  title="MNIST test digits (top) and the MAE's reconstructions")
        plot_history(history, title="MAE training", path=folder / "training_curve.png")
    print(f"best validation MSE {history.best_val_loss:.4f} (epoch {history.best_epoch}); wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
