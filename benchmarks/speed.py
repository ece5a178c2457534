"""Speed benchmark: the original data pipeline and training vs this package's, same data, one process.

Offline there is no 60k MNIST here, so both pipelines train on the 10,000 real test
digits of MNIST (t10k), split 8,000 train / 2,000 validation, with the training part
tiled 7.5x to a 60,000-image epoch (fine for timing; say so when quoting).

    python benchmarks/speed.py [--mnist-dir ../shared/data/mnist-t10k] [--quick]

Prints (1) seconds per 60k-image epoch at batch 64 for both pipelines, and (2) the
wall time each needs to reach the validation MSE the original reaches in 5 epochs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from mae_helpers import CONFIG, MAE, train_and_validate
from mae_helpers.data import DigitTensors, _read_idx, _to_unit_range, make_loader
from mae_helpers.train import reconstruction_mse

TILE = 7.5  # 8,000 training digits -> a 60,000-image epoch


# ----------------------------------------------------------------- the original pipeline (reference)


class OriginalMNIST(Dataset):
    """What torchvision's MNIST does per sample: uint8 -> PIL image -> ToTensor -> Normalize."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels).long()
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].numpy(), mode="L")
        return self.transform(img), int(self.labels[i])


def original_epoch(model, loader, optimizer) -> float:
    """One epoch of the original loop: Adam on MSE, batch by batch. Returns seconds."""
    start = time.perf_counter()
    model.train()
    for images, _ in loader:
        loss = F.mse_loss(model(images), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


# ----------------------------------------------------------------- benchmark


def load(mnist_dir: Path):
    """t10k images/labels split 8,000 train (tiled) / 2,000 validation, seeded."""
    images = _read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = _read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    order = np.random.default_rng(0).permutation(len(labels))
    val, train = order[:2000], order[2000:]
    tiled = np.resize(np.random.default_rng(1).permutation(train), int(len(train) * TILE))
    return images[tiled], labels[tiled], images[val], labels[val]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist-t10k", help="folder with t10k-*.gz")
    parser.add_argument("--quick", action="store_true", help="1 tile instead of 7.5, for a smoke run")
    parser.add_argument("--ref-epochs", type=int, default=5, help="epochs of the original to set the target")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the package's default schedule")
    parser.add_argument("--out", default="benchmarks/results/speed.json", help="where the numbers go (JSON)")
    args = parser.parse_args()
    global TILE
    if args.quick:
        TILE = 1.0
    train_x, train_y, val_x, val_y = load(Path(args.mnist_dir))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}; data: real MNIST t10k, {len(train_y)} training images "
          f"(8,000 tiled x{TILE}), {len(val_y)} validation")

    ref_train = DataLoader(OriginalMNIST(train_x, train_y), batch_size=64, shuffle=True)
    ref_val = DataLoader(OriginalMNIST(val_x, val_y), batch_size=64)
    cpu = torch.device("cpu")
    ours_val = make_loader(DigitTensors(_to_unit_range(torch.from_numpy(val_x), cpu), torch.from_numpy(val_y).long()),
                           1000, shuffle=False)

    def ours_train(batch_size):
        data = DigitTensors(_to_unit_range(torch.from_numpy(train_x), cpu), torch.from_numpy(train_y).long())
        return make_loader(data, batch_size, shuffle=True, seed=0)

    # (1) the original: 5 epochs, batch 64, Adam 2e-3 constant; its epochs also time the per-epoch cost
    torch.manual_seed(0)
    ref_model = MAE(decoder_norm=False)
    opt = torch.optim.Adam(ref_model.parameters(), lr=2e-3)
    ref_times, ref_mse = [], []
    for epoch in range(args.ref_epochs):
        ref_times.append(original_epoch(ref_model, ref_train, opt))
        ref_mse.append(reconstruction_mse(ref_model, ref_val, cpu))
        print(f"  original  epoch {epoch + 1}: {ref_times[-1]:6.1f} s  val MSE {ref_mse[-1]:.4f}", flush=True)
    target = ref_mse[-1]

    # (2) per-epoch speed at batch 64, same model (the package's MAE) and loop in both: only the
    # data pipeline differs. (The original model itself collapses to a blank output at its
    # learning rate, and a collapsed network also trains at a different speed.)
    per_epoch = {}
    for name, loader in (("original pipeline", ref_train), ("package pipeline", ours_train(64))):
        torch.manual_seed(0)
        model = MAE()
        opt = torch.optim.Adam(model.autoencoder_parameters(), lr=1e-3)
        per_epoch[name] = original_epoch(model, loader, opt)
        print(f"  {name}, package MAE, batch 64, one epoch: {per_epoch[name]:6.1f} s", flush=True)

    # (3) package defaults: time until validation MSE <= the original's 5-epoch value
    torch.manual_seed(0)
    model = MAE()
    hist = train_and_validate(model, ours_train(CONFIG.batch_size), ours_val, epochs=args.epochs, device=cpu,
                              progress=False)
    elapsed, reached = 0.0, None
    for sec, mse in zip(hist.seconds, hist.val_loss):
        elapsed += sec
        print(f"  package defaults (batch {CONFIG.batch_size}, one-cycle lr {CONFIG.lr}): "
              f"{elapsed:6.1f} s  val MSE {mse:.4f}")
        if reached is None and mse <= target:
            reached = elapsed

    ref_epoch, ours64 = per_epoch["original pipeline"], per_epoch["package pipeline"]
    print("\nresults")
    print(f"  per 60k-image epoch, batch 64, same model: original pipeline {ref_epoch:.1f} s, package {ours64:.1f} s "
          f"-> {ref_epoch / ours64:.2f}x (the original model's own epochs: median {np.median(ref_times):.1f} s)")
    if reached is None:
        print(f"  package defaults did not reach the original's val MSE {target:.4f} in {args.epochs} epochs")
    else:
        print(f"  time to val MSE {target:.4f} (original's after {args.ref_epochs} epochs): "
              f"original {sum(ref_times):.1f} s, package {reached:.1f} s "
              f"-> {sum(ref_times) / reached:.2f}x less wall time")
        print(f"  package's final val MSE after {args.epochs} epochs: {hist.val_loss[-1]:.4f}")
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, " \
              f"torch {torch.__version__}"
    Path(args.out).write_text(json.dumps({
        "args": vars(args), "machine": machine, "epoch_seconds": {"original": ref_epoch, "package": ours64},
        "target_val_mse": target, "original_seconds_to_target": sum(ref_times),
        "package_seconds_to_target": reached, "package_val_mse": hist.val_loss[-1],
        "package_seconds": sum(hist.seconds)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
