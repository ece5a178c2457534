"""The three data scales every unlearning claim is checked at, built from files on disk.

    python benchmarks/layouts.py [--mnist-dir ../shared/data/mnist-t10k] [--out data/bench]

Writes torchvision-layout folders (NAME/MNIST/raw/*-ubyte.gz) that `source="disk"` reads:

* `t10k-8k`: the 10,000 real MNIST test digits, shuffled once (seed 0), 8,000 as the
  training split and 2,000 as the test split.
* `layout-60k`: MNIST's 60k/10k shape from the same digits: 6,000 of them tiled 10x as a
  60,000-image training file and the other 4,000 as the test split, never seen in training.
  The tiling is laid out around the package's own train/validation split for seed 0: 4,800
  digits fill the 48,000 training places and 1,200 others the 12,000 validation places. So
  validation digits are never copies of training digits, as in real MNIST (a model has
  memorised its training copies: with them in validation, its held-out error reads 1.6x
  where the test digits say 1.1x). Other seeds would mix them again; the benchmark uses seed 0.

The third scale, the offline 4,000/1,000 subset, needs no files (`source="offline"`).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

SCALES = ("offline", "t10k-8k", "layout-60k")
LAYOUT_60K_DIGITS = 6000  # distinct t10k digits tiled into layout-60k; the rest are its test split


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped) as a uint8 array."""
    raw = gzip.open(path, "rb").read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """`array` (uint8) as a gzipped IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_layout(root: Path, train: tuple, test: tuple) -> Path:
    """Write (images, labels) pairs as torchvision's MNIST/raw files under `root`."""
    raw = root / "MNIST" / "raw"
    for split, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


def split_aware_tiling(digits: np.ndarray, copies: int, val_fraction: float, seed: int) -> np.ndarray:
    """`digits` tiled `copies` times, placed so that get_mnist_loaders' validation split (for `seed`) holds
    copies of validation digits only."""
    import torch  # the package's split is a torch permutation: reproduce it exactly

    n = len(digits) * copies
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val = round(n * val_fraction)
    n_val_digits = n_val // copies
    tiled = np.empty(n, dtype=digits.dtype)
    tiled[order[:n_val]] = np.tile(digits[:n_val_digits], copies)
    tiled[order[n_val:]] = np.tile(digits[n_val_digits:], copies)
    return tiled


def read_t10k(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The t10k images and labels, and the one shuffle (seed 0) every layout cuts them from."""
    if not (mnist_dir / "t10k-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"no t10k-images-idx3-ubyte.gz in {mnist_dir}: pass --mnist-dir, the folder with "
                         "MNIST's t10k-*-ubyte.gz files")
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    return images, labels, np.random.default_rng(0).permutation(len(labels))


def build(mnist_dir: Path, out: Path) -> dict[str, Path]:
    """Build both disk layouts from the t10k files; returns {name: data_root}."""
    images, labels, order = read_t10k(mnist_dir)
    small_train, small_test = order[:8000], order[8000:]
    big_train, big_test = order[:LAYOUT_60K_DIGITS], order[LAYOUT_60K_DIGITS:]
    tiled = split_aware_tiling(big_train, copies=10, val_fraction=0.2, seed=0)
    return {
        "t10k-8k": write_layout(out / "t10k-8k", (images[small_train], labels[small_train]),
                                (images[small_test], labels[small_test])),
        "layout-60k": write_layout(out / "layout-60k", (images[tiled], labels[tiled]),
                                   (images[big_test], labels[big_test])),
    }


def scale_settings(scale: str, root: Path = Path("data/bench")) -> dict:
    """Config overrides (data_root, source) that select one of SCALES."""
    if scale == "offline":
        return {"source": "offline"}
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}; got {scale!r}")
    if not (root / scale / "MNIST" / "raw").is_dir():
        raise SystemExit(f"{root / scale} is missing: run `python benchmarks/layouts.py` first")
    return {"source": "disk", "data_root": str(root / scale)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist-t10k", help="folder with t10k-*-ubyte.gz")
    parser.add_argument("--out", default="data/bench", help="where the layouts are written")
    args = parser.parse_args()
    for name, root in build(Path(args.mnist_dir), Path(args.out)).items():
        print(f"{name}: {root}")


if __name__ == "__main__":
    main()
