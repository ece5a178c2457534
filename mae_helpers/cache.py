"""The model cache: where trained networks are kept, the key each is filed under, and the checks before use.

An entry is a checkpoint (`model.save_model`) at cache_dir()/NAME-HASH.pt, HASH a hash of its
key. The key holds everything that shapes the network: its name, the settings, the data it
learnt from (a hash of the pixels and labels) and `CACHE_FORMAT`. An entry is used only when it
fits what it is loaded for: the key recorded inside it, its architecture and the fields its
users read. Anything else (another network copied over it, a damaged or hand-made file) is
retrained, with one notice naming the file. A folder that cannot take files warns once, and
the run goes on without caching.

The warm start: the package ships the networks of the lessons' default path (offline digits,
the default config, forget 0 3 6 9), trained by this repository's own code (`make checkpoints`)
and listed with their SHA-256 in checkpoints/manifest.json. An entry missing from the cache is
copied from there when a shipped file of the same name matches its hash; the checks above still
run on it. MAE_WARM_START=0 trains everything instead.

Only the standard library is imported here at first; torch comes with the loaders that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .config import env_flag
from .files import MAX_MANIFEST_BYTES, explain, probe_folder, read_bounded, sha256, write_atomic

# Bump when training changes what a network learns (a loss, a schedule, the data pipeline): entries
# written under another format are then never reused, and an upgrade retrains instead of mixing.
CACHE_FORMAT = 2
# The config fields the judge depends on: its data and training length, not the MAE's architecture, learning
# rate or unlearning settings (a notebook slider must not retrain the judge). Not where the data were asked for
# (data_root, source): every key holds the source used and the pixels' fingerprint (config.TRAINING_FIELDS).
JUDGE_KEY_FIELDS = ("val_fraction", "seed", "max_train_images", "batch_size", "epochs")
HISTORY_FIELDS = ("epoch", "train_loss", "val_loss", "seconds")  # what prepare() and the plots read


def cache_dir() -> Path:
    """Where trained models are cached: $MAE_CACHE_DIR, else ~/.cache/mae_helpers (shared by notebooks and CLI)."""
    try:
        return Path(os.environ.get("MAE_CACHE_DIR") or Path.home() / ".cache" / "mae_helpers").expanduser()
    except (RuntimeError, KeyError):  # no HOME, and a user id without an entry in the passwd file
        raise ValueError("the model cache has no folder: HOME is not set and this user has no home folder in the "
                         "passwd file; set MAE_CACHE_DIR (or HOME) to a folder") from None


def _canonical(key) -> str:
    """A key as the JSON text it is saved as (tuples become lists), for hashing and comparing."""
    return json.dumps(key, sort_keys=True, default=str)


def cached_path(name: str, key: dict) -> Path:
    """The cache file for `name` trained under `key` (any JSON-able dict): cache_dir()/NAME-HASH.pt."""
    return cache_dir() / f"{name}-{hashlib.sha1(_canonical(key).encode()).hexdigest()[:12]}.pt"


def mae_key(name: str, digits, cfg, data) -> dict:
    """The key of an MAE: its name, digits, training settings and the data (`DigitTensors`) it learns from."""
    return {"name": name, "format": CACHE_FORMAT, "digits": list(digits), **data.provenance(),
            **cfg.training_dict()}


def judge_key(cfg, loaders, settings: dict) -> dict:
    """The judge's key: its data, including the test split its reported accuracy is measured on."""
    return {"name": "judge", "format": CACHE_FORMAT, **loaders.train.dataset.provenance(),
            "test_pixels": loaders.test.dataset.fingerprint, **{k: getattr(cfg, k) for k in JUDGE_KEY_FIELDS},
            "judge": settings}


def network_key(name: str, cfg, loaders, settings: dict) -> dict:
    """The key of a network the loop trains on the training split (the witness, the readers): never the test split."""
    return {"name": name, "format": CACHE_FORMAT, **loaders.train.dataset.provenance(),
            **{k: getattr(cfg, k) for k in JUDGE_KEY_FIELDS if k not in ("batch_size", "epochs")}, name: settings}


def witness_key(cfg, loaders, settings: dict) -> dict:
    """The unlearning witness's key: the training data it learns from (it never sees the test split)."""
    return network_key("witness", cfg, loaders, settings)


SHIPPED = Path(__file__).resolve().parent / "checkpoints"  # the warm start's networks (`make checkpoints`)


def shipped_entry(name: str) -> Path | None:
    """The shipped checkpoint named `name` (a cache file name), checked against its SHA-256 in the manifest.

    None when MAE_WARM_START is off, when none is shipped, or (after one notice) when the file does not
    match its hash: a changed file is never used, the network is trained instead.
    """
    if not env_flag("MAE_WARM_START", default=True):
        return None
    try:
        files = json.loads(read_bounded(SHIPPED / "manifest.json", MAX_MANIFEST_BYTES, "manifest"))["files"]
        expected = files.get(name)
        if expected is None:
            return None
        if sha256(SHIPPED / name) != expected:
            raise ValueError("it does not match the SHA-256 in checkpoints/manifest.json")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"shipped {name} is not used ({explain(err) if isinstance(err, OSError) else err}); training it "
              "instead", file=sys.stderr)
        return None
    return SHIPPED / name


class NotCached(LookupError):
    """A network asked for with train=False (`mae-unlearn --check-cache`) is not in the model cache."""


def not_cached(name: str, detail: str) -> NotCached:
    """The error for a missing cache entry, naming the network and the command that fills the cache."""
    return NotCached(f"no cached {name} network ({detail}) in {cache_dir()}; fill the cache with "
                     "`mae-unlearn --prepare-only` and the same settings and data first")


# ----------------------------------------------------------------------------- writing

_UNWRITABLE: set[Path] = set()  # cache folders a write failed in: warned about once, then skipped


def _cache_failed(folder: Path, err: OSError) -> None:
    """Say once that `folder` cannot hold the cache; later saves there are skipped."""
    if folder not in _UNWRITABLE:
        _UNWRITABLE.add(folder)
        print(f"warning: cannot write the model cache ({explain(err, folder)}); going on without caching "
              "(set MAE_CACHE_DIR to a writable folder to keep trained networks)", file=sys.stderr)


def probe_cache(folder: Path) -> bool:
    """Probe-write the cache folder before any training: False (with one warning) when it cannot take files."""
    try:
        probe_folder(folder)
        return True
    except OSError as err:
        _cache_failed(folder, err)
        return False


def unwritable(folder: Path) -> bool:
    """True once a write into `folder` failed in this process (the networks were then not saved)."""
    return folder in _UNWRITABLE


def save_cached(model, path: Path, **metadata) -> None:
    """`save_model` into the cache; a failing write (read-only, full) warns once and the run goes on uncached."""
    from .model import save_model

    if path.parent in _UNWRITABLE:
        return
    try:
        save_model(model, path, **metadata)
    except OSError as err:
        _cache_failed(path.parent, err)


# ----------------------------------------------------------------------------- reading


def load_cached(path: Path, key: dict, load: Callable[[Path], object], train: bool = True):
    """`load(path)` for the entry filed under `key`, if it is there and fits; else None, after one notice naming it.

    `load` raises ValueError for a file that does not fit (see `load_mae`); the key recorded in
    the file must equal `key`. `train` only words the notice: False means nothing will retrain it.
    """
    try:
        if not path.is_file():  # itself an OSError when the folder may not be looked into
            shipped = shipped_entry(path.name)
            if shipped is None:
                return None
            try:  # into the cache, so that the next run finds it there; a cache that takes no files reads it in place
                write_atomic(path, shipped.read_bytes())
            except OSError:
                path = shipped
        entry = load(path)
        recorded = entry.metadata.get("key")
        if _canonical(recorded) != _canonical(key):
            role = recorded.get("name") if isinstance(recorded, dict) else None
            raise ValueError("it records no cache key" if role is None
                             else f"it holds the {role!r} network, not the {key['name']!r} one" if role != key["name"]
                             else "it was saved under other settings than its name says")
        return entry
    except (OSError, ValueError) as err:
        reason = explain(err) if isinstance(err, OSError) else str(err)
        then = "training it again" if train else "counted as missing, since --check-cache trains nothing"
        print(f"cached {path.name} is unusable ({reason}); {then}", file=sys.stderr)
        return None


def load_mae(path: Path, cfg, device=None):
    """The MAE cached at `path`; a ValueError unless it has `cfg`'s architecture and a whole training history."""
    import torch

    from .model import MAE, load_model

    model = load_model(path, device=device)
    with torch.device("meta"):  # the architecture `cfg` asks for, without allocating it
        wanted = MAE(channels=cfg.channels, hidden=cfg.hidden, code_dim=cfg.code_dim,
                     decoder_norm=cfg.decoder_norm).config
    if model.config != wanted:
        raise ValueError(f"its architecture {model.config} is not the configured {wanted}")
    history = model.metadata.get("history")
    columns = [history.get(k) if isinstance(history, dict) else None for k in HISTORY_FIELDS]
    if not all(isinstance(c, list) and c and len(c) == len(columns[0]) and all(_is_number(v) for v in c)
               for c in columns):
        raise ValueError(f"its training history is missing or incomplete (it needs lists {', '.join(HISTORY_FIELDS)})")
    return model


def load_classifier(path: Path, cls: type, arch: dict, accuracy_key: str | None = None):
    """The `cls` network cached at `path` (a judge, the witness, the readers), with `.test_accuracy` from its metadata
    when `accuracy_key` names it; a ValueError naming the file when it holds anything else (another architecture,
    an accuracy outside [0, 1], a broken payload)."""
    from .model import read_checkpoint, rebuild

    payload = read_checkpoint(path)
    try:
        net = rebuild(cls, payload)
        net.metadata = payload["metadata"]
        if accuracy_key is not None:
            net.test_accuracy = float(payload["metadata"][accuracy_key])
            if not 0 <= net.test_accuracy <= 1:
                raise ValueError(f"its accuracy {net.test_accuracy} is not a fraction")
        if net.config != arch:
            raise ValueError(f"its architecture {net.config} is not a {cls.__name__}'s {arch}")
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} does not hold a {cls.__name__} ({type(err).__name__}: {err})") from err
    return net


def _is_number(value) -> bool:
    """A plain int or float (a JSON number; a run stopped by a blow-up records NaN), not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
