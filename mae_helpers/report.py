"""The unlearning report: every model's numbers side by side, with two honest retrains as the yardstick.

`evaluate_model` gathers one model's numbers: the three referees of `evaluate.py` (MSE,
judge, fresh probe) and the privacy audit of `audit.py` (membership inference, relearning).
`UnlearningReport` sets them side by side for the original, the unlearned model and two
models retrained without the forget digits from their own seeds. How far apart those two
land is the *retrain spread*; a metric of the unlearned model is "within spread" only
inside it (`inside_spread`). An untrained MAE is the reference of a model that learned
nothing: the floor of the probe, and an MIA that shows only how the two splits differ
(offline it is above the retrains'). An unlearned value below the retrains is
over-forgetting, and a detector sees it.

metrics.json (`to_dict`) holds the blocks config (with forget_digits and method), original,
unlearned, retrained, retrained_2 (MODEL_KEYS, plus RELEARN_KEYS when the relearning check
ran), untrained (MODEL_KEYS: every metric but relearning; the table shows its probe and MIA),
verdicts (metric -> "within spread" / "above spread" / "below spread" / None) and seconds. Within the
spread of two retrains is far weaker than indistinguishable from retraining (notebook 01's definition):
two retrains are a small sample of where an honest retrain lands.
`experiment.write_outputs` adds the unlearning loop's history as `unlearning`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader

from .audit import MIA_KEYS, RELEARN_CHECKS, RELEARN_LEVEL, RELEARN_MAX_STEPS, forget_images, mia_scores, relearn_steps
from .config import Config, get_config
from .data import split_digits
from .evaluate import METRIC_KEYS, UNIFORM_ENTROPY, measure_model
from .model import MAE

MODEL_KEYS = (*METRIC_KEYS, *MIA_KEYS)  # every model's block; RELEARN_KEYS too when the relearning check ran


def evaluate_model(model: nn.Module, judge: nn.Module, train_loader: DataLoader, test_loader: DataLoader,
                   forget_digits, device=None, relearn: bool = False, cfg: Config | None = None) -> dict:
    """Every metric of one model (MODEL_KEYS, + RELEARN_KEYS with `relearn`), as plain (JSON-able) Python numbers.

    The referees (evaluate.measure_model), on the test split: MSE on forget / retained
    digits and per digit; judge_acc_forget (the judge names the true digit) and
    judge_any_forget (it names *any* forget digit: the suppression number without the
    loophole); judge_p_forgotten, judge_entropy_forgotten; probe_acc_forget (a fresh linear
    probe on the codes). The audit (audit.py), on the forget digits: mia_auc (ROC AUC of
    telling training from test images by reconstruction error) and mia_accuracy (the
    starting kit's logistic-regression attack); with `relearn`, relearn_steps (Adam steps on
    the forget digits until the judge recognises RELEARN_LEVEL of them again; None: not
    within RELEARN_MAX_STEPS) and relearn_seconds, with `cfg`'s (None = CONFIG) unlearn_lr,
    forget_batch and seed.

    Read the probe, the MIA and relearning against the retrained models, not against 0.5 or
    0: a value below theirs is over-forgetting, and detectable as such.
    """
    forget, _ = split_digits(forget_digits)
    metrics = measure_model(model, judge, train_loader, test_loader, forget, device)
    metrics.update(mia_scores(model, train_loader, test_loader, forget, device))
    if relearn:
        cfg = get_config() if cfg is None else cfg
        metrics.update(relearn_steps(model, judge, forget_images(train_loader.dataset, forget), test_loader, forget,
                                     cfg, device))
    return metrics


def untrained_mae(cfg: Config | None = None) -> MAE:
    """An MAE of `cfg`'s architecture (None = CONFIG) with initial weights seeded by cfg.seed, never trained."""
    cfg = get_config() if cfg is None else cfg
    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream as it was
        torch.manual_seed(cfg.seed)
        return MAE(channels=cfg.channels, hidden=cfg.hidden, code_dim=cfg.code_dim,
                   decoder_norm=cfg.decoder_norm).eval()


def inside_spread(value, retrained, retrained_2, least: float = 0.0) -> bool | None:
    """|value - mean(retrained, retrained_2)| <= max(|retrained - retrained_2|, least); None when one is missing.

    The band is twice as wide as the two retrains are apart, centred on their mean: a third
    honest retrain would usually land in it. `least` is the metric's resolution: two retrains
    that agree exactly on a count (relearning steps) would otherwise leave no room at all.
    """
    if value is None or retrained is None or retrained_2 is None:
        return None
    return abs(value - (retrained + retrained_2) / 2) <= max(abs(retrained - retrained_2), least)


def relearn_resolution(steps: float) -> float:
    """The gap between the two relearning checks (audit.RELEARN_CHECKS) around `steps`: the count's resolution."""
    below = max((c for c in RELEARN_CHECKS if c <= steps), default=0)
    above = min((c for c in RELEARN_CHECKS if c > steps), default=RELEARN_MAX_STEPS)
    return max(above - below, 1)


def verdict(value, retrained, retrained_2, least: float = 0.0) -> str | None:
    """"within spread" inside the retrain spread, else "above spread" or "below spread"; None if unknown."""
    inside = inside_spread(value, retrained, retrained_2, least)
    if inside is None:
        return None
    return "within spread" if inside else "above spread" if value > retrained else "below spread"


# One table row per metric: (key, label, format). Two notions of forgetting (README, notebooks 03 and 04):
# suppression, the model can no longer draw the digit (judge rows: lower is better), and
# indistinguishability from retraining, the gold standard of privacy (every row: compare with "retrained").
ROWS = (
    ("mse_forget", "MSE on forgotten digits (higher = drawn worse)", "{:.4f}"),
    ("mse_retain", "MSE on retained digits (lower is better)", "{:.4f}"),
    ("judge_acc_forget", "judge: true digit on forgotten (suppression: lower)", "{:.1%}"),
    ("judge_any_forget", "judge: any forget digit on forgotten (lower)", "{:.1%}"),
    ("judge_acc_retain", "judge acc on retained digits (higher is better)", "{:.1%}"),
    ("judge_p_forgotten", "judge p(true digit) on forgotten (lower) [1]", "{:.3f}"),
    ("judge_entropy_forgotten", "judge entropy on forgotten, nats (higher) [1]", "{:.3f}"),
    # Not "lower is better": a code that never saw the forget digits still separates them.
    ("probe_acc_forget", "fresh probe acc on forgotten (compare: retrained)", "{:.1%}"),
    ("mia_auc", "MIA ROC AUC on forgotten (compare: retrained) [2]", "{:.3f}"),
    ("mia_accuracy", "MIA attack accuracy (compare: retrained) [2]", "{:.1%}"),
    ("relearn_steps", f"steps to relearn {RELEARN_LEVEL:.0%} judged (compare) [3]", "{:d}"),
    ("relearn_seconds", "relearning check, seconds", "{:.1f}"),
)
COLUMNS = ("original", "unlearned", "retrained", "retrained_2")
JUDGED = ("unlearned", "retrained", "retrained_2")  # the verdict's three numbers, in `verdict`'s order
HEADERS = {"retrained_2": "retrained 2"}  # the second retrain, from another seed
VERDICT_HEADER = "vs retrains"
REFERENCE_KEYS = ("probe_acc_forget", "mia_auc", "mia_accuracy")  # the untrained MAE's numbers the table shows
NO_VERDICT = {"relearn_seconds"}  # wall time depends on the machine, not on what the model remembers
SECONDS_KEY = {"original": "train", "unlearned": "unlearn", "retrained": "retrain", "retrained_2": "retrain_2"}
NOTES = (  # printed under the tables; the relearning note only where its row is
    "within spread: |unlearned - mean of the two retrains| <= |retrained - retrained 2| (the retrain spread; "
    "for relearning steps at least one check of the relearning schedule). "
    "Below the spread on the probe, the MIA or relearning is over-forgetting: a detector sees it as well.",
    f"[1] p(true digit): the judge's mean probability of the right digit; entropy: how unsure it is "
    f"({UNIFORM_ENTROPY:.2f} nats = a uniform guess). Not comparable with Selective Amnesia's 0.058 / 2.19 "
    "(Heng & Soh 2023, MNIST): those score generated samples of a label the model maps to noise, these "
    "reconstructions of held-out real digits.",
    "[2] membership inference: can reconstruction error tell the forget digits trained on from unseen ones? "
    "0.5 = no hint, but the two splits differ in difficulty: read it against the retrains. untrained: an MAE "
    "never trained (seeded initial weights): the probe's floor, and an MIA that sees only the splits' difference.",
    f"[3] Adam steps on the forget digits until the judge recognises {RELEARN_LEVEL:.0%} of them again "
    f"(0: it still draws them; >{RELEARN_MAX_STEPS}: not within the check's budget). Hidden digits come back fast.",
)


def _fmt(value, fmt: str) -> str:
    """A number in `fmt`, or "-" for a missing one."""
    return "-" if value is None else fmt.format(value)


def _value(block: dict | None, key: str):
    """One metric of a model's block; "per_digit_mse.3" reaches into the per-digit list."""
    name, _, digit = key.partition(".")
    if block is None or name not in block:
        return None
    return block[name][int(digit)] if digit else block[name]


def _cell(block: dict | None, key: str, fmt: str) -> str:
    """One model's cell: "-" when missing; a relearning check that ran out of steps shows ">max"."""
    if key == "relearn_steps" and block is not None and key in block and block[key] is None:
        return f">{RELEARN_MAX_STEPS}"
    return _fmt(_value(block, key), fmt)


@dataclass
class UnlearningReport:
    """Metrics of the original, unlearned and two retrained models side by side, an untrained MAE for reference."""

    original: dict | None
    unlearned: dict | None
    retrained: dict | None
    forget_digits: tuple[int, ...]
    seconds: dict = field(default_factory=dict)  # e.g. {"train": s, "unlearn": s, "retrain": s, "retrain_2": s}
    config: dict = field(default_factory=dict)
    retrained_2: dict | None = None
    untrained: dict | None = None

    @classmethod
    def from_models(cls, original: nn.Module | None, unlearned: nn.Module | None, retrained: nn.Module | None,
                    judge: nn.Module, train_loader: DataLoader, test_loader: DataLoader, forget_digits,
                    seconds: dict | None = None, config: Config | dict | None = None, device=None, *,
                    retrained_2: nn.Module | None = None, untrained: nn.Module | None = None, relearn: bool = False,
                    method: str | None = None) -> UnlearningReport:
        """Evaluate each given model (None = leave its column out) and build the report.

        `relearn`: run the relearning check on the four columns (not on `untrained`), with
        `config`'s settings when it is a Config, else CONFIG's. `method` is stored in config.
        """
        forget, _ = split_digits(forget_digits)
        cfg = config if isinstance(config, Config) else get_config()
        models = dict(zip(COLUMNS, (original, unlearned, retrained, retrained_2)))
        metrics = {name: None if model is None else
                   evaluate_model(model, judge, train_loader, test_loader, forget, device, relearn, cfg)
                   for name, model in models.items()}
        metrics["untrained"] = None if untrained is None else \
            evaluate_model(untrained, judge, train_loader, test_loader, forget, device)
        config = config.to_dict() if isinstance(config, Config) else dict(config or {})
        if method is not None:
            config["method"] = method
        return cls(**metrics, forget_digits=forget, seconds=dict(seconds or {}), config=config)

    def verdict_of(self, key: str) -> str | None:
        """The verdict (`verdict`) on the unlearned model's `key` (e.g. "mia_auc", "per_digit_mse.3")."""
        values = [_value(getattr(self, name), key) for name in JUDGED]
        if key == "relearn_steps" and values[0] is None and key in (self.unlearned or {}):
            values[0] = math.inf  # not relearned within the check's budget: more steps than any number
        least = 0.0
        if key == "relearn_steps" and None not in values[1:]:
            least = relearn_resolution((values[1] + values[2]) / 2)
        return verdict(*values, least=least)

    def verdicts(self) -> dict[str, str | None]:
        """Each metric's verdict on the unlearned model against the retrain spread (per-digit MSE left out)."""
        return {key: self.verdict_of(key) for key, _, _ in ROWS
                if key not in NO_VERDICT and any(key in (getattr(self, name) or {}) for name in JUDGED)}

    def to_dict(self) -> dict:
        """The metrics.json schema (module docstring): config, one block per model, verdicts, seconds."""
        return {"config": {**self.config, "forget_digits": list(self.forget_digits)},
                **{name: getattr(self, name) for name in (*COLUMNS, "untrained")},
                "verdicts": self.verdicts(), "seconds": dict(self.seconds)}

    def _table(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """(column headers, [(row label, cells)]) for what is present: shared by the text and HTML tables."""
        names = [c for c in COLUMNS if getattr(self, c) is not None]
        blocks = [getattr(self, c) for c in names]
        reference, judged = self.untrained is not None, all(getattr(self, c) is not None for c in JUDGED)
        per_digit = [(f"per_digit_mse.{d}", f"MSE digit {d} ({'forgotten' if d in self.forget_digits else 'retained'})",
                      "{:.4f}") for d in range(10)]
        rows = []
        for key, label, fmt in (*ROWS, *per_digit):
            if not any(key.partition(".")[0] in b for b in blocks):
                continue  # e.g. the relearning rows of a report made without the check
            cells = [_cell(b, key, fmt) for b in blocks]
            cells += [_cell(self.untrained, key, fmt) if key in REFERENCE_KEYS else ""] * reference
            cells += ["" if key in NO_VERDICT else self.verdict_of(key) or "-"] * judged
            rows.append((label, cells))
        if any(SECONDS_KEY[c] in self.seconds for c in names):
            times = [_fmt(self.seconds.get(SECONDS_KEY[c]), "{:.1f}") for c in names]
            rows.append(("time, seconds", times + [""] * (reference + judged)))
        headers = [HEADERS.get(c, c) for c in names] + ["untrained"] * reference + [VERDICT_HEADER] * judged
        return headers, rows

    def _notes(self) -> tuple[str, ...]:
        """The footnotes that apply: the relearning one only when the check ran."""
        relearned = any("relearn_steps" in (getattr(self, c) or {}) for c in COLUMNS)
        return NOTES if relearned else NOTES[:-1]

    def _title(self) -> str:
        """One line: what was forgotten, and what a good result looks like."""
        return (f"Forgetting digits {', '.join(map(str, self.forget_digits))}. Suppression: the judge no longer "
                "recognises them, not even as another forget digit. Indistinguishability: the unlearned column "
                "lies inside the spread of the two retrained ones.")

    def __str__(self) -> str:
        """A fixed-width table: one row per metric, one column per model, the verdict last; then the notes."""
        headers, rows = self._table()
        width = max(len(label) for label, _ in rows)
        widths = [18 if h == VERDICT_HEADER else 12 for h in headers]
        lines = [self._title(), f"{'':<{width}}" + "".join(f"{h:>{w}}" for h, w in zip(headers, widths))]
        lines.append("-" * len(lines[-1]))
        lines += [f"{label:<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)) for label, cells in rows]
        return "\n".join([*lines, "", *self._notes()])

    def _repr_html_(self) -> str:
        """The same table as HTML, for notebooks."""
        headers, rows = self._table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(label)}</td>"
            + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
            for label, cells in rows
        )
        notes = "".join(f"<p><small>{html.escape(note)}</small></p>" for note in self._notes())
        return (f"<p>{html.escape(self._title())}</p><table><thead><tr><th></th>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{notes}")
