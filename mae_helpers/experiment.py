"""The experiment pipeline: train or load every network, unlearn, evaluate, write the results.

One forget set needs seven trained networks (the original MAE on all digits, the auxiliary
MAE adapted to the forget digits, two retrained gold standards on the rest from their own
seeds, the judge, and the unlearning loop's witness and readers); all are cached by config.
This module and the command line are where the method (train, witness, unlearn) and the
referees (evaluate, audit, report) meet: neither wing imports the other. `prepare` gets them,
`run_experiment` unlearns and evaluates (report.py: the two retrains' spread, an untrained
MAE as the floor, the privacy audit), and `write_outputs` saves checkpoints, metrics.json
and figures (`copy_figures` copies them on). The `mae-unlearn` command,
the notebooks and the benchmarks all go through these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .config import ARCHITECTURE_FIELDS, SPLIT_FIELDS, Config, get_config
from .data import loaders_for, split_digits
from .evaluate import train_judge
from .files import write_atomic
from .model import MAE, save_model
from .report import UnlearningReport, untrained_mae
from .train import retrain, train_auxiliary, train_cached
from .unlearn import METHODS, Readers, UnlearnHistory, train_readers, unlearn
from .viz import compare_reconstructions, plot_curves, plot_per_digit_mse
from .witness import train_witness

MODELS_SAVED = ("original", "unlearned", "retrained", "retrained_2")  # the retrain spread is checkable from the run
OUTPUT_FILES = (*(f"{name}.pt" for name in MODELS_SAVED), "metrics.json")
FIGURES = ("reconstructions.png", "per_digit_mse.png", "curves.png")


@dataclass
class Experiment:
    """Everything one run produces: the models, their report and the curves behind it."""

    original: MAE
    unlearned: MAE
    retrained: MAE
    report: UnlearningReport
    training: dict  # name -> training history dict (original, auxiliary, retrained)
    unlearning: UnlearnHistory
    test_loader: torch.utils.data.DataLoader
    retrained_2: MAE | None = None  # the second retrain, from another seed
    untrained: MAE | None = None  # the floor of the probe and the MIA


@dataclass
class Prepared:
    """The trained networks and loaders one forget set needs, before any unlearning."""

    cfg: Config
    original: MAE
    aux: MAE
    retrained: MAE
    retrained_2: MAE  # a second retrain from another seed: how far apart two honest retrains land
    judge: torch.nn.Module
    witness: torch.nn.Module  # the unlearning loop's witness network (not the judge)
    readers: Readers  # the loop's learning player, fitted to the original
    training: dict  # name -> training history dict
    device: object = None

    def loaders(self, digits=None):
        """Fresh (train, val, test) loaders over `digits` (None = all): a new loader reshuffles from the seed."""
        return loaders_for(self.cfg, digits, self.device)

    @property
    def everything(self):
        """Loaders over all ten digits (evaluation uses the test split, the probe the train split)."""
        return self.loaders(None)

    def unlearn(self, method="evidence", progress: bool = True, **changes):
        """An unlearned copy of the original and its history, with `self.cfg` (plus `changes`, e.g. strength=2).

        Changes to what the prepared networks were trained on or as (the forget digits, the data
        split, the architecture) are refused: they need networks of their own, from `prepare`.
        """
        if "forget_digits" in changes and split_digits(changes["forget_digits"])[0] != self.cfg.forget_digits:
            raise ValueError(f"this Prepared holds the auxiliary network of digits {list(self.cfg.forget_digits)}; "
                             "to forget other digits, prepare(cfg.replace(forget_digits=...)) first")
        cfg = self.cfg.replace(**changes)
        changed = [f for f in (*SPLIT_FIELDS, *ARCHITECTURE_FIELDS) if getattr(cfg, f) != getattr(self.cfg, f)]
        if changed:
            was = ", ".join(f"{f}={getattr(self.cfg, f)!r}" for f in changed)
            raise ValueError(f"this Prepared's networks were trained with {was} (their data split and architecture); "
                             f"to unlearn with other values, prepare(cfg.replace({changed[0]}=...)) first")
        return unlearn(self.original, self.aux, cfg, method=method, device=self.device, progress=progress,
                       witness_net=self.witness, readers=self.readers)

    def seconds(self, history: UnlearnHistory) -> dict:
        """Wall times, as recorded when each network was trained: the original, the retrains, and unlearning.

        "unlearn" is everything paid for this forget set: the auxiliary network's training and the
        loop. "once_per_original" is what every forget set of this original shares: the readers' fit
        and the witness's training.
        """
        auxiliary = sum(self.training["auxiliary"]["seconds"])
        shared = sum(net.metadata.get("seconds", 0.0) for net in (self.readers, self.witness))
        return {"train": sum(self.training["original"]["seconds"]), "unlearn": auxiliary + history.seconds,
                "auxiliary": auxiliary, "unlearn_loop": history.seconds, "once_per_original": shared,
                "retrain": sum(self.training["retrained"]["seconds"]),
                "retrain_2": sum(self.training["retrained_2"]["seconds"])}


def prepare(cfg: Config | None = None, device=None, progress: bool = True, train: bool = True) -> Prepared:
    """Train or load every network one forget set needs (`cfg` None = CONFIG): the original, auxiliary and two
    retrained MAEs, the judge, the witness and the readers.

    These are every network the notebooks and `mae-unlearn` need for `cfg`. `train=False`
    only loads them, and raises `NotCached` naming the first one missing.
    """
    cfg = get_config() if cfg is None else cfg
    forget, _ = split_digits(cfg.forget_digits)
    original, meta = train_cached("main", None, cfg, device=device, progress=progress, train=train)
    aux, aux_meta = train_auxiliary(forget, cfg, device=device, progress=progress, original=original, train=train)
    retrained, re_meta = retrain(forget, cfg, device=device, progress=progress, train=train)
    retrained_2, re2_meta = retrain(forget, cfg, device=device, progress=progress, train=train, replica=1)
    judge = train_judge(cfg, device=device, progress=progress, train=train)
    witness = train_witness(original, cfg, device=device, progress=progress, train=train)
    readers = train_readers(original, cfg, device=device, train=train)
    training = {"original": meta["history"], "auxiliary": aux_meta["history"], "retrained": re_meta["history"],
                "retrained_2": re2_meta["history"]}
    return Prepared(cfg, original, aux, retrained, retrained_2, judge, witness, readers, training, device)


def run_experiment(cfg: Config | None = None, method: str = "evidence", device=None, progress: bool = True,
                   relearn: bool = True) -> Experiment:
    """Train or load every network for `cfg` (None = CONFIG), unlearn `cfg.forget_digits`, and evaluate them all.

    The report has the original, the unlearned model and both retrains, each with the
    membership inference and (`relearn`) the relearning check, and an untrained MAE as the
    reference floor of the probe and the MIA.
    """
    if not callable(method) and method not in METHODS:  # before seven networks are trained for nothing
        raise ValueError(f"method must be one of {METHODS} or a loss function f(s, x_f, x_r, cfg); got {method!r}")
    p = prepare(cfg, device, progress)
    cfg = p.cfg
    unlearned, history = p.unlearn(method, progress)
    everything, untrained = p.everything, untrained_mae(cfg)
    report = UnlearningReport.from_models(p.original, unlearned, p.retrained, p.judge, everything.train,
                                          everything.test, cfg.forget_digits, seconds=p.seconds(history), config=cfg,
                                          device=device, retrained_2=p.retrained_2, untrained=untrained,
                                          relearn=relearn, method=method)
    return Experiment(p.original, unlearned, p.retrained, report, p.training, history, everything.test,
                      p.retrained_2, untrained)


def write_outputs(exp: Experiment, out: Path) -> None:
    """Checkpoints, metrics.json (with the unlearning history) and the figures into the folder `out`.

    `mae-unlearn` passes the private work folder of a claimed `files.RunFolder`, whose `commit` then
    moves each file into the output folder: a crash never leaves half of one run beside half of another.
    """
    out.mkdir(parents=True, exist_ok=True)
    info = {"forget_digits": list(exp.report.forget_digits), "source": exp.test_loader.dataset.source}
    for name in MODELS_SAVED:
        if getattr(exp, name) is not None:
            save_model(getattr(exp, name), out / f"{name}.pt", role=name, metrics=getattr(exp.report, name), **info)
    # The history says whether unlearning stopped early (a non-finite loss), which the metrics alone hide.
    metrics = {**exp.report.to_dict(), "unlearning": exp.unlearning.to_dict()}
    write_atomic(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    # The second retrain stays out of the figures: it looks like the first, and a fourth row of digits or
    # bar per digit makes them harder to read. Its numbers are in metrics.json and the printed table.
    models = {"original": exp.original, "unlearned": exp.unlearned, "retrained": exp.retrained}
    digits = ", ".join(map(str, exp.report.forget_digits))
    open_before = set(plt.get_fignums())
    try:
        compare_reconstructions(models, exp.test_loader, path=out / "reconstructions.png",
                                title=f"Test digits and their reconstructions (forgetting {digits})")
        plot_per_digit_mse({n: getattr(exp.report, n) for n in models}, exp.report.forget_digits,
                           path=out / "per_digit_mse.png")
        plot_curves(exp.training, exp.unlearning, path=out / "curves.png")
    except OSError as err:
        err.filename = err.filename or str(out)  # matplotlib's failed write names no file
        raise
    finally:  # saved (or failed): pyplot would otherwise keep every run's figures open
        for number in set(plt.get_fignums()) - open_before:
            plt.close(number)


def copy_figures(out: Path, images: Path) -> None:
    """Copy a finished run's figures from `out` into `images` (each file replaced atomically)."""
    for name in FIGURES:
        write_atomic(images / name, (out / name).read_bytes())
