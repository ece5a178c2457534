"""`mae-unlearn` (also `python -m mae_helpers`): the whole experiment from the command line.

Only argument parsing and the checks around the run live here; the pipeline is
`experiment.py`. It trains (or reuses from the cache) the original MAE on all digits,
the auxiliary MAE on the forget digits, the retrained gold standard on the rest, and the
judge; unlearns; evaluates the three models on the held-out test digits; writes
checkpoints, metrics.json and figures.

Everything that can be checked is checked before any training: the numbers, the output
folder (claimed, so a second run into it is refused), the --images folder and the model
cache. The run is written aside and swapped into --out whole at the end, so an error,
Ctrl-C or a killed process leaves the previous run as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import CONFIG, FAST, FAST_OVERRIDES, Config, NotCached, cache_dir, get_config
from .data import split_digits
from .experiment import FIGURES, OUTPUT_FILES, copy_figures, prepare, run_experiment, write_outputs
from .files import RunFolder, explain, probe_folder
from .model import probe_cache
from .unlearn import METHODS

# Flags that set a config field, and the field; given on the command line they beat fast mode.
CONFIG_FLAGS = {"strength": "strength", "epochs": "epochs", "unlearn_steps": "unlearn_max_steps",
                "retain_tolerance": "retain_tolerance", "seed": "seed", "data_root": "data_root", "source": "source"}


def _default(field: str) -> str:
    """The help text's default of a config field, with fast mode's value where that differs."""
    full, fast = getattr(Config(), field), FAST_OVERRIDES.get(field)
    return f"default: {full}" + (f"; with --fast: {fast}" if fast is not None else "")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its default in --help."""
    p = argparse.ArgumentParser(
        prog="mae-unlearn", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an MAE on MNIST, make it forget some digits, and compare it with a model "
                    "retrained without them. Trained networks are cached (MAE_CACHE_DIR).")
    # Config flags default to SUPPRESS: absent from the namespace unless given, so an explicit value
    # is told apart from a default (and beats fast mode); their help states the defaults.
    unset = argparse.SUPPRESS
    p.add_argument("--forget", type=int, nargs="+", default=list(CONFIG.forget_digits), metavar="DIGIT",
                   help="digits to forget (a non-empty proper subset of 0-9)")
    p.add_argument("--out", default="runs/demo", help="folder for checkpoints, metrics.json and figures")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    p.add_argument("--images", default=None, help="also copy the figures into this folder (make demo: images/)")
    p.add_argument("--method", default="evidence", choices=METHODS, help="unlearning method")
    p.add_argument("--strength", type=float, default=unset,
                   help=f"unlearning strength, >= 0 (0 = none) ({_default('strength')})")
    p.add_argument("--epochs", type=int, default=unset, help=f"training epochs of each MAE ({_default('epochs')})")
    p.add_argument("--unlearn-steps", type=int, default=unset,
                   help=f"most unlearning steps; the loop stops earlier once the forgotten digits' evidence is "
                        f"gone ({_default('unlearn_max_steps')})")
    p.add_argument("--retain-tolerance", type=float, default=unset,
                   help=f"largest tolerated rise of the retained digits' held-out MSE, as a fraction "
                        f"({_default('retain_tolerance')})")
    p.add_argument("--seed", type=int, default=unset,
                   help=f"random seed: split, shuffling, weights ({_default('seed')})")
    p.add_argument("--data-root", default=unset,
                   help="MNIST in torchvision's layout: DATA_ROOT/MNIST/raw; relative to the current folder "
                        "(default: $MAE_DATA_ROOT, else data/ in the repository)")
    p.add_argument("--source", default=unset, choices=["auto", "disk", "download", "offline"],
                   help=f"where MNIST comes from; auto = disk, then download, then the offline subset "
                        f"({_default('source')}; $MAE_DATA_SOURCE overrides auto)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the GPU when there is one)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=FAST,
                   help=f"smoke-sized run {FAST_OVERRIDES}; explicit flags beat it (default from MAE_FAST)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    room = p.add_argument_group("preparing a workshop room (no --out is written)")
    room.add_argument("--prepare-only", action="store_true",
                      help="train (or find) every network the notebooks and this job use for these settings, "
                           "cache them, list them, and stop")
    room.add_argument("--check-cache", action="store_true",
                      help="train nothing: exit 0 if every one of those networks is in the cache, else 1 naming "
                           "the first one missing")
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    """The run's config: full or fast defaults (--fast/--no-fast), then every config flag given explicitly."""
    explicit = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items() if hasattr(args, flag)}
    if "data_root" in explicit:  # a path typed on the command line is relative to where it was typed
        explicit["data_root"] = os.path.abspath(os.path.expanduser(explicit["data_root"]))
    return get_config(fast=args.fast, forget_digits=tuple(sorted(args.forget)), **explicit)


def check_config(cfg: Config) -> None:
    """Refuse what the run would only trip over after training: bad digits, strength, step counts."""
    split_digits(cfg.forget_digits)
    if cfg.strength < 0:
        raise ValueError(f"--strength must be >= 0 (0 = no unlearning); got {cfg.strength}")
    if cfg.retain_tolerance < 0:
        raise ValueError(f"--retain-tolerance must be >= 0 (0.1 = 10%); got {cfg.retain_tolerance}")
    if cfg.epochs < 1 or cfg.unlearn_max_steps < 1:
        raise ValueError("--epochs and --unlearn-steps must be >= 1")


def prepare_room(cfg: Config, args) -> int:
    """--prepare-only / --check-cache: the four networks of `cfg` in the cache, listed with what they took."""
    if args.prepare_only:
        probe_cache(cache_dir())
    p = prepare(cfg, device=args.device, progress=not args.quiet, train=not args.check_cache)
    forget = " ".join(map(str, cfg.forget_digits))
    print(f"in the cache {cache_dir()} (data: {p.everything.train.dataset.source}, forget {forget}, "
          f"{'fast' if args.fast else 'full'}-size settings):")
    for name, history in p.training.items():
        print(f"  {name:<10} MAE, {len(history['epoch'])} epochs, trained in {sum(history['seconds']):.0f} s")
    print(f"  judge      CNN, {p.judge.test_accuracy:.1%} on the real test digits")
    return 0


def kept_line(out: Path, since: float, committed: bool = False) -> str:
    """What survives an interrupted run: --out as it was (or complete), and the networks this run cached."""
    if committed:
        return f"interrupted: the run in {out} is complete; only copying its figures into --images was cut short"
    try:
        cached = [p for p in cache_dir().glob("*.pt") if p.stat().st_mtime >= since]
    except OSError:
        cached = []
    nets = f"{len(cached)} network(s) trained by this run are kept in the cache {cache_dir()} (a rerun reuses them)"
    return f"interrupted: {out} is as it was; {nets if cached else 'no network finished training in this run'}"


def main(argv: list[str] | None = None) -> int:
    """Run the main job; returns the process exit code (2 for a bad argument, 1 for a file error, 130 for Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out, start, run = Path(args.out), time.time(), None
    try:
        cfg = config_from_args(args)
        check_config(cfg)
        if args.prepare_only or args.check_cache:
            return prepare_room(cfg, args)
        with RunFolder(out, overwrite=args.overwrite, known=OUTPUT_FILES + FIGURES) as run:
            if args.images is not None:
                probe_folder(args.images)
            probe_cache(cache_dir())  # warns, and the run goes on uncached, when the cache cannot take files
            exp = run_experiment(cfg, args.method, device=args.device, progress=not args.quiet)
            write_outputs(exp, run.work)
            run.commit()
            if args.images is not None:
                copy_figures(run.path, Path(args.images))
    except KeyboardInterrupt:
        parser.exit(130, f"mae-unlearn: {kept_line(out, start, run is not None and run.committed)}\n")
    except NotCached as err:
        parser.exit(1, f"mae-unlearn: {err}\n")
    except ValueError as err:  # before OSError: a missing MNIST file is both, and a bad argument first
        parser.exit(2, f"mae-unlearn: error: {err}\n")
    except OSError as err:
        parser.exit(1, f"mae-unlearn: error: {explain(err)}\n")
    except RuntimeError as err:
        parser.exit(2, f"mae-unlearn: error: {err}\n")
    print(exp.report)
    history = exp.unlearning
    warning = "warning: " if "non-finite" in history.stopped else ""
    print(f"{warning}unlearning: {history.steps} steps in {history.seconds:.1f} s; {history.stopped}", file=sys.stderr)
    print(f"\nwrote {', '.join(OUTPUT_FILES + FIGURES)} to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
