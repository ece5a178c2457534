"""`mae-unlearn` (also `python -m mae_helpers`): the whole experiment from the command line.

Trains (or reuses from the cache) the original MAE on all digits, the auxiliary MAE on the
forget digits, the retrained gold standard on the rest, and the judge; unlearns; evaluates
the three models on the held-out test digits; writes checkpoints, metrics.json and figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import CONFIG, FAST, FAST_OVERRIDES, Config, get_config
from .data import loaders_for
from .evaluate import UnlearningReport, train_judge
from .model import MAE, save_model
from .train import train_cached
from .unlearn import METHODS, UnlearnHistory, retrain, split_digits, train_auxiliary, unlearn
from .viz import compare_reconstructions, plot_curves, plot_per_digit_mse

OUTPUT_FILES = ("original.pt", "unlearned.pt", "retrained.pt", "metrics.json")
FIGURES = ("reconstructions.png", "per_digit_mse.png", "curves.png")


@dataclass
class Experiment:
    """Everything one run produces: the three models, their report and the curves behind it."""

    original: MAE
    unlearned: MAE
    retrained: MAE
    report: UnlearningReport
    training: dict  # name -> training history dict (original, auxiliary, retrained)
    unlearning: UnlearnHistory
    test_loader: torch.utils.data.DataLoader


@dataclass
class Prepared:
    """The trained networks and loaders one forget set needs, before any unlearning."""

    cfg: Config
    original: MAE
    aux: MAE
    retrained: MAE
    judge: torch.nn.Module
    training: dict  # name -> training history dict
    device: object = None

    def loaders(self, digits=None):
        """Fresh (train, val, test) loaders over `digits` (None = all): a new loader reshuffles from the seed."""
        return loaders_for(self.cfg, digits, self.device)

    @property
    def everything(self):
        """Loaders over all ten digits (evaluation uses the test split, the probe the train split)."""
        return self.loaders(None)

    def unlearn(self, method: str = "evidence", progress: bool = True):
        """An unlearned copy of the original and its history; the same config always gives the same result."""
        forget, retain = split_digits(self.cfg.forget_digits)
        torch.manual_seed(self.cfg.seed)
        return unlearn(self.original, self.aux, self.loaders(forget).train, self.loaders(retain).train,
                       method=method, strength=self.cfg.strength, epochs=self.cfg.unlearn_epochs,
                       lr=self.cfg.unlearn_lr, device=self.device, progress=progress, cfg=self.cfg)

    def seconds(self, history: UnlearnHistory) -> dict:
        """Wall times: training the original, unlearning, retraining (training times as recorded when trained)."""
        return {"train": sum(self.training["original"]["seconds"]), "unlearn": history.seconds,
                "retrain": sum(self.training["retrained"]["seconds"])}


def prepare(cfg: Config = CONFIG, device=None, progress: bool = True) -> Prepared:
    """Train or load the original, auxiliary and retrained MAEs and the judge for `cfg.forget_digits`."""
    forget, _ = split_digits(cfg.forget_digits)
    original, meta = train_cached("main", None, cfg, device=device, progress=progress)
    aux, aux_meta = train_auxiliary(forget, cfg, device=device, progress=progress)
    retrained, re_meta = retrain(forget, cfg, device=device, progress=progress)
    judge = train_judge(cfg, device=device, progress=progress)
    training = {"original": meta["history"], "auxiliary": aux_meta["history"], "retrained": re_meta["history"]}
    return Prepared(cfg, original, aux, retrained, judge, training, device)


def run_experiment(cfg: Config = CONFIG, method: str = "evidence", device=None, progress: bool = True) -> Experiment:
    """Train or load every network for `cfg`, unlearn `cfg.forget_digits`, and evaluate all three models."""
    p = prepare(cfg, device, progress)
    unlearned, history = p.unlearn(method, progress)
    everything = p.everything
    report = UnlearningReport.from_models(p.original, unlearned, p.retrained, p.judge, everything.train,
                                          everything.test, cfg.forget_digits, seconds=p.seconds(history),
                                          config={**cfg.to_dict(), "method": method}, device=device)
    return Experiment(p.original, unlearned, p.retrained, report, p.training, history, everything.test)


def write_outputs(exp: Experiment, out: Path, images: Path | None = None) -> None:
    """Checkpoints, metrics.json and the figures into `out` (figures also into `images`)."""
    out.mkdir(parents=True, exist_ok=True)
    info = {"forget_digits": list(exp.report.forget_digits), "source": exp.test_loader.dataset.source}
    for name in ("original", "unlearned", "retrained"):
        save_model(getattr(exp, name), out / f"{name}.pt", role=name, metrics=getattr(exp.report, name), **info)
    tmp = out / ".metrics.json.tmp"
    tmp.write_text(json.dumps(exp.report.to_dict(), indent=2) + "\n")
    os.replace(tmp, out / "metrics.json")
    models = {"original": exp.original, "unlearned": exp.unlearned, "retrained": exp.retrained}
    digits = ", ".join(map(str, exp.report.forget_digits))
    compare_reconstructions(models, exp.test_loader, path=out / "reconstructions.png",
                            title=f"Test digits and their reconstructions (forgetting {digits})")
    plot_per_digit_mse({n: getattr(exp.report, n) for n in models}, exp.report.forget_digits,
                       path=out / "per_digit_mse.png")
    plot_curves(exp.training, exp.unlearning, path=out / "curves.png")
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        for name in FIGURES:
            shutil.copyfile(out / name, images / name)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its default in --help."""
    p = argparse.ArgumentParser(
        prog="mae-unlearn", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an MAE on MNIST, make it forget some digits, and compare it with a model "
                    "retrained without them. Trained networks are cached (MAE_CACHE_DIR).")
    p.add_argument("--forget", type=int, nargs="+", default=list(CONFIG.forget_digits), metavar="DIGIT",
                   help="digits to forget (a non-empty proper subset of 0-9)")
    p.add_argument("--out", default="runs/demo", help="folder for checkpoints, metrics.json and figures")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    p.add_argument("--images", default=None, help="also copy the figures into this folder (make demo: images/)")
    p.add_argument("--method", default="evidence", choices=METHODS, help="unlearning method")
    p.add_argument("--strength", type=float, default=CONFIG.strength, help="unlearning strength (0 = none)")
    p.add_argument("--epochs", type=int, default=Config.epochs, help="training epochs of each MAE")
    p.add_argument("--unlearn-epochs", type=int, default=CONFIG.unlearn_epochs, help="passes over the forget digits")
    p.add_argument("--seed", type=int, default=CONFIG.seed, help="random seed (split, shuffling, weights)")
    p.add_argument("--data-root", default=CONFIG.data_root, help="MNIST in torchvision's layout: DATA_ROOT/MNIST/raw")
    p.add_argument("--source", default=CONFIG.source, choices=["auto", "disk", "download", "offline"],
                   help="where MNIST comes from; auto = disk, then download, then the offline subset")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the GPU when there is one)")
    p.add_argument("--fast", action="store_true", default=FAST,
                   help=f"smoke-sized run {FAST_OVERRIDES} (also set by MAE_FAST=1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the main job; returns the process exit code (2 for a bad argument)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        split_digits(args.forget)
        if args.strength < 0:
            raise ValueError(f"--strength must be >= 0 (0 = no unlearning); got {args.strength}")
        if args.epochs < 1 or args.unlearn_epochs < 1:
            raise ValueError("--epochs and --unlearn-epochs must be >= 1")
        previous = [name for name in OUTPUT_FILES if (out / name).exists()]
        if previous and not args.overwrite:
            raise ValueError(f"{out} holds a previous run ({', '.join(previous)}); pass --overwrite to replace it "
                             "or choose another --out")
        settings = dict(forget_digits=tuple(sorted(args.forget)), strength=args.strength, epochs=args.epochs,
                        unlearn_epochs=args.unlearn_epochs, seed=args.seed, data_root=args.data_root,
                        source=args.source)
        cfg = get_config(**{**settings, **(FAST_OVERRIDES if args.fast else {})})
        exp = run_experiment(cfg, args.method, device=args.device, progress=not args.quiet)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        parser.exit(2, f"mae-unlearn: error: {err}\n")
    write_outputs(exp, out, Path(args.images) if args.images else None)
    print(exp.report)
    print(f"\nwrote {', '.join(OUTPUT_FILES + FIGURES)} to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
