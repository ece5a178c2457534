"""`mae-unlearn` (also `python -m mae_helpers`): the whole experiment from the command line.

Only argument parsing lives here; the pipeline is `experiment.py`. It trains (or reuses
from the cache) the original MAE on all digits, the auxiliary MAE on the forget digits,
the retrained gold standard on the rest, and the judge; unlearns; evaluates the three
models on the held-out test digits; writes checkpoints, metrics.json and figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import CONFIG, FAST, FAST_OVERRIDES, Config, get_config
from .data import split_digits
from .experiment import FIGURES, OUTPUT_FILES, run_experiment, write_outputs
from .unlearn import METHODS


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
