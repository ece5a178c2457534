"""Is the 60k layout's retrain worse on the retained digits because it has fewer distinct digits?

    python benchmarks/distinct_digits.py      # after benchmarks/layouts.py; about 3 minutes per model

A retrain without 0 3 6 9 keeps 3,600 of the layout's 6,000 distinct digits, and its retained
test MSE is 1.07x the original's (methods-layout-60k). This trains the original's MAE, same
seed and epochs, on 3,600 distinct digits of *every* class (60% of the layout's training and
validation digits each, tiled 16x around the package's seed-0 split, so validation is still
never a copy of training) and compares its test MSE on the retained digits 1 2 4 5 7 8. If a
model with as few distinct digits is as bad or worse, the retrain is not handicapped: the data
are fewer.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from layouts import LAYOUT_60K_DIGITS, read_t10k, split_aware_tiling, write_layout
from unlearning import retained_mse

FORGET = (0, 3, 6, 9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist-t10k", help="folder with t10k-*-ubyte.gz")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    args = parser.parse_args()
    from mae_helpers import get_config, train_cached
    from mae_helpers.data import loaders_for

    mnist, data = Path(args.mnist_dir), Path(args.data)
    images, labels, order = read_t10k(mnist)
    big_train, big_test = order[:LAYOUT_60K_DIGITS], order[LAYOUT_60K_DIGITS:]
    n_val = round(len(big_train) * 0.2)  # split_aware_tiling puts the first 20% in validation
    val_digits, train_digits = big_train[:n_val], big_train[n_val:]
    keep = np.concatenate([val_digits[:round(0.6 * n_val)], train_digits[:round(0.6 * len(train_digits))]])
    tiled = split_aware_tiling(keep, copies=16, val_fraction=0.2, seed=0)
    root = write_layout(data / "layout-60k-distinct3600", (images[tiled], labels[tiled]),
                        (images[big_test], labels[big_test]))
    base = get_config(fast=False, seed=0, source="disk", data_root=str(data / "layout-60k"))
    fewer = base.replace(data_root=str(root))
    original, _ = train_cached("main", None, base, progress=False)
    start = time.perf_counter()
    model, meta = train_cached("main", None, fewer, progress=False)
    h = meta["history"]
    print(f"3,600-distinct model: {len(tiled)} places, {time.perf_counter() - start:.0f} s (0 if cached); best "
          f"epoch {h['best_epoch']} of {len(h['epoch'])}; last train loss {h['train_loss'][-1]:.4f}, best val "
          f"{min(h['val_loss']):.4f}")
    test = loaders_for(base, None, "cpu").test
    a, b = retained_mse(original, test, FORGET), retained_mse(model, test, FORGET)
    print(f"retained digits' test MSE: original (6,000 distinct) {a:.5f}; 3,600 distinct of every class {b:.5f} "
          f"= {b / a:.3f}x the original's")


if __name__ == "__main__":
    main()
