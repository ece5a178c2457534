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
# # 2 · The Modified Autoencoder
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/evidence-unlearning/mae-unlearning/blob/main/notebooks/02_autoencoder.ipynb)
#
# *Evidence unlearning*, notebook 2 of 4. An **autoencoder** squeezes each 28×28 digit
# (784 numbers) into a code of just 10 numbers, then redraws the digit from that code.
# It is trained only to make the drawing match the input.
#
# Why an autoencoder, for a course on forgetting? Because it *draws*. A classifier that
# has "forgotten" the 3s may still hold everything about them and merely never say "3"; a
# model that can no longer redraw a 3 shows it with every picture. The same question is
# asked of large generative models that should stop drawing a person, a style or a
# copyrighted character (Selective Amnesia in *Further reading* does it on MNIST too). And
# the 10-number code in the middle is a place to look for *evidence* of a digit: notebook 3
# makes the network remove it from there.

# %% [markdown]
# ## Objectives
#
# After this notebook you will be able to:
#
# 1. follow a batch through a convolutional autoencoder, and work out a convolution's
#    output size and number of parameters by hand;
# 2. train an autoencoder on the reconstruction error (MSE) and read its loss curves;
# 3. judge reconstructions by picture and by the test MSE of a group of digits;
# 4. say what the auxiliary network is, and why it redraws the forget digits *worse* than
#    the main network does.
#
# ## Prerequisites and time
#
# - **You need**: notebook 1; what a convolution, a loss and a training loop are (if
#   convolution arithmetic is new, Dumoulin & Visin in *Further reading* has the pictures).
# - **Time**: running the notebook top to bottom took 18 s on a quiet 2-core CPU with an
#   empty model cache, as on Colab (normal mode, offline digits: the saved run; it trains
#   both networks). While other jobs shared the machine, earlier runs took 137 s to 363 s.
#   Run again, the models load from the cache and the whole notebook took 14 s.
#   GPU: not measured for this version; an earlier run on an H200 GPU with the full
#   60,000-image MNIST took 76 s. Reading and exercises: about 45 minutes (our estimate,
#   not measured).

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
# Every setting (sizes, epochs, learning rate) comes from one config, `mae_helpers.CONFIG`.
# In fast mode (`MAE_FAST=1`, used by the automatic tests) it trains for fewer epochs on
# fewer images, so the pictures below look rougher.

# %% tags=["nbval-ignore-output"]
import mae_helpers

cfg = mae_helpers.CONFIG
print(f"fast mode: {mae_helpers.FAST}; epochs: {cfg.epochs}; training pool capped at: {cfg.max_train_images}")

# %% [markdown]
# The data of notebook 1: all ten digits. We only need the test split here, for a batch to
# look at and for the pictures; training loads its own data.

# %%
from mae_helpers import get_mnist_loaders

test = get_mnist_loaders(device=device).test

# %% [markdown]
# ## The MAE, block by block
#
# Four blocks, each a `torch.nn.Sequential`:
#
# - **encoder**: three convolutions with stride 2 shrink the 28×28 picture to 112 numbers,
# - **dense**: two linear layers bring those 112 down to the 10-number *bottleneck* code,
# - **undense**: the mirror image, from 10 back up to 112,
# - **decoder**: three transposed convolutions grow the 112 numbers back into a 28×28 picture.
#
# We push 8 real test digits through, one layer at a time, and print the shape after each
# layer (the first number is the batch size). ReLUs and the like do not change the shape,
# so we skip them in the printout.

# %%
from mae_helpers import MAE, count_parameters

untrained_model = MAE(channels=cfg.channels, hidden=cfg.hidden, code_dim=cfg.code_dim,
                      decoder_norm=cfg.decoder_norm).to(device)
images, labels = next(iter(test))
x = images[:8]
print(f"{'input':<10} {'':<18} {tuple(x.shape)}")
with torch.no_grad():
    for block_name in ["encoder", "dense", "undense", "decoder"]:
        for layer in getattr(untrained_model, block_name):
            x = layer(x)
            if isinstance(layer, (torch.nn.ReLU, torch.nn.Tanh, torch.nn.Identity)):
                continue
            print(f"{block_name:<10} {type(layer).__name__:<18} {tuple(x.shape)}")

# %% [markdown]
# The output has the shape of the input: that is what lets us compare them pixel by pixel.
#
# ### Exercise 1 (coding): the output size of a convolution
#
# Where do 12, 4 and 1 come from? A convolution without padding slides a `kernel`×`kernel`
# window over the picture in steps of `stride` pixels, so a side of `size` pixels gives
# `(size - kernel) // stride + 1` positions. A transposed convolution runs the other way:
# it spreads each input pixel over a `kernel`-wide patch, `stride` pixels apart.
#
# Complete both functions. The cell then follows a 28-pixel side through the kernels and
# strides of the model's own layers (printed first).
#
# **How to tell it worked**: the cell prints `encoder: 28 -> 12 -> 4 -> 1` and
# `decoder: 1 -> 4 -> 12 -> 28`, the sides in the shapes printed above.

# %%
convolutions = [layer for layer in untrained_model.encoder if isinstance(layer, torch.nn.Conv2d)]
transposed = [layer for layer in untrained_model.decoder if isinstance(layer, torch.nn.ConvTranspose2d)]
print("encoder (kernel, stride):", [(c.kernel_size[0], c.stride[0]) for c in convolutions])
print("decoder (kernel, stride):", [(c.kernel_size[0], c.stride[0]) for c in transposed])


def follow_side(side, layers, output_size):
    """The side length after each layer, as 'a -> b -> c', given a function output_size(size, kernel, stride)."""
    sides = [side]
    for layer in layers:
        sides.append(output_size(sides[-1], layer.kernel_size[0], layer.stride[0]))
    return " -> ".join(str(s) for s in sides)


# %%
def conv_output_size(size, kernel, stride):
    """Side length after a convolution without padding."""
    # Exercise: the formula above.
    raise NotImplementedError("Exercise 1: complete conv_output_size")


def conv_transpose_output_size(size, kernel, stride):
    """Side length after a transposed convolution without padding."""
    # Exercise: the last of `size` input pixels starts (size - 1) * stride pixels in, and its patch is kernel wide.
    raise NotImplementedError("Exercise 1: complete conv_transpose_output_size")


try:
    print("encoder:", follow_side(28, convolutions, conv_output_size))
    print("decoder:", follow_side(1, transposed, conv_transpose_output_size))
except NotImplementedError as err:
    print(f"{err} (or run the solution below)")

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 1: output sizes
def conv_output_size(size, kernel, stride):
    """Side length after a convolution without padding."""
    return (size - kernel) // stride + 1


def conv_transpose_output_size(size, kernel, stride):
    """Side length after a transposed convolution without padding."""
    return (size - 1) * stride + kernel


print("encoder:", follow_side(28, convolutions, conv_output_size))
print("decoder:", follow_side(1, transposed, conv_transpose_output_size))

# %% [markdown]
# One change to the original project: a **GroupNorm** after each hidden decoder layer.
# The last layer squashes pixels into −1…1 with `tanh`, like the input. Without the
# normalisation that bounded output collapses early in training to a blank, all-background
# picture (the loss then stays stuck); with it, training takes off at the original learning
# rate. `MAE(decoder_norm=False)` builds the original exactly, if you want to see it happen.
#
# How many numbers the network learns, per block:

# %%
for block_name in ["encoder", "dense", "undense", "decoder", "q_layers"]:
    print(f"{block_name:<10} {count_parameters(getattr(untrained_model, block_name)):>8,} parameters")
print(f"{'total':<10} {count_parameters(untrained_model):>8,} parameters")

# %% [markdown]
# ### Exercise 2 (coding): count a convolution's parameters by hand
#
# A convolution from `in_channels` to `out_channels` with a `kernel`×`kernel` window has
# one weight per input channel, output channel and window pixel, plus one bias per output
# channel. Complete `conv_parameters`.
#
# **How to tell it worked**: the cell prints the encoder's count by hand next to
# `count_parameters`, and the two agree (the encoder row of the table above).

# %%
def conv_parameters(in_channels, out_channels, kernel):
    """Weights and biases of a kernel x kernel convolution from in_channels to out_channels."""
    # Exercise: weights plus biases.
    raise NotImplementedError("Exercise 2: complete conv_parameters")


try:
    by_hand = sum(conv_parameters(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convolutions)
    print(f"encoder by hand: {by_hand:,}; count_parameters: {count_parameters(untrained_model.encoder):,}")
except NotImplementedError as err:
    print(f"{err} (or run the solution below)")

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 2: `conv_parameters`
def conv_parameters(in_channels, out_channels, kernel):
    """Weights and biases of a kernel x kernel convolution from in_channels to out_channels."""
    return in_channels * out_channels * kernel * kernel + out_channels


by_hand = sum(conv_parameters(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convolutions)
print(f"encoder by hand: {by_hand:,}; count_parameters: {count_parameters(untrained_model.encoder):,}")

# %% [markdown]
# ### Exercise 3 (Think!): GroupNorm, not BatchNorm
#
# The decoder normalises with **GroupNorm**, which normalises each image on its own.
# The more common **BatchNorm** normalises with the mean and variance of the whole batch
# while training, and keeps running averages of them for later. Unlearning (notebook 3)
# will feed the network batches that hold *only* forget digits. What would go wrong with
# BatchNorm there?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# With BatchNorm, what the network draws for one image depends on the other images in its
# batch. A batch of only 0s, 3s, 6s and 9s has other statistics than the mixed batches the
# network was trained and is tested on, so during unlearning it would behave differently
# from how it behaves at test time: it could "forget" a digit only in forget-only batches.
# And its running averages would drift towards the forget digits' statistics, changing how
# it draws the *retained* digits with no weight having learned anything. GroupNorm computes
# its statistics inside each image, the same way in training and at test time, so an
# image's reconstruction depends only on that image (Wu & He in *Further reading*).
# </details>

# %% [markdown]
# ## Three Q-layers: where is the evidence of a digit?
#
# The autoencoder is never told which digit it sees. Still, its codes carry that
# information, or it could not redraw the digit. A **Q-layer** is a small linear classifier
# that reads one code and guesses the digit; how sure it is (its softmax) measures how much
# *evidence* of each digit the code holds. There is one Q-layer on each of three codes:
#
# - `encoded`: the 112 numbers the convolutions produce,
# - `bottleneck`: the 10-number code,
# - `decoder_input`: the 112 numbers the decoder starts from.
#
# `forward_all` returns the picture, the three codes and the three Q-layers' guesses in one
# pass. The Q-layers are not trained with the autoencoder (its optimizer leaves them out);
# training them, and using them to unlearn, is notebook 3. Here, just what they read:

# %%
from mae_helpers.model import Q_LAYER_NAMES

with torch.no_grad():
    outputs = untrained_model.forward_all(images[:8])
for code_name, q_layer, logits in zip(Q_LAYER_NAMES, untrained_model.q_layers, outputs.q_logits):
    code = getattr(outputs, code_name)
    print(f"{code_name:<14} code {tuple(code.shape)} -> {q_layer} -> one score per digit {tuple(logits.shape)}")

# %% [markdown]
# ## Training
#
# Training shows the model batches of digits and nudges its weights (Adam optimizer) to
# lower the **mean squared error** (MSE) between each picture and its redrawing. After each
# epoch we measure the MSE on the validation digits and keep the weights of the best epoch.
#
# `train_cached` trains once and saves the model, with the config it was trained with,
# in a cache folder (`~/.cache/mae_helpers`). Run the cell again, or open notebook 3, and
# it loads in a blink; change a setting in `cfg` and it trains a new one. This cell and the
# auxiliary network's below take most of the run time given under *Prerequisites and time*.
# The bar counts optimizer steps (batches): its total is the number of batches in an epoch
# times the epochs.

# %% tags=["nbval-ignore-output"]
from mae_helpers import train_cached

main_model, main_info = train_cached("main", None, cfg, device=device)  # None = all ten digits

# %% [markdown]
# The loss curves, from the training history saved with the model. Both curves fall: the
# model redraws digits it has not trained on (validation) about as well as the ones it has.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from mae_helpers import History, plot_history

history = History(**main_info["history"])
print(f"best validation MSE {history.best_val_loss:.4f} at epoch {history.best_epoch} of {len(history.epoch)}")
plot_history(history, title="main MAE, all ten digits")
plt.show()

# %% [markdown]
# ## Reconstructions
#
# One test digit of each kind (top) and the trained model's redrawing of it (bottom).
# These are test digits: the model has never seen them.

# %% tags=["nbval-ignore-output"]
from mae_helpers import visualize_reconstructions

visualize_reconstructions(main_model, test, device=device, title="test digits and the main MAE's reconstructions")
plt.show()

# %% [markdown]
# ## The auxiliary network: trained on the forget digits only
#
# Unlearning (notebook 3) needs a picture of what "still remembers a forget digit" looks
# like. For that we train a second MAE, the **auxiliary** network, on the forget digits
# 0, 3, 6 and 9 only, with the same settings as the main one: the same epochs, so fewer
# steps, since there are fewer images. It has never seen a 2 or a 7, so it tends to redraw
# them as the forget digit they resemble most.

# %% tags=["nbval-ignore-output"]
from mae_helpers.config import FORGET_DIGITS_ORIGINAL

forget_digits = list(FORGET_DIGITS_ORIGINAL)
retain_digits = [d for d in range(10) if d not in forget_digits]
auxiliary_model, auxiliary_info = train_cached("auxiliary", forget_digits, cfg, device=device)

# %% tags=["nbval-ignore-output"]
from mae_helpers.viz import image_grid, one_per_digit

originals, digit_labels = one_per_digit(test)
with torch.no_grad():
    rows = {"original": originals, "main MAE": main_model(originals), "auxiliary": auxiliary_model(originals)}
image_grid(rows, digit_labels, title=f"the auxiliary network was trained on {forget_digits} only")
plt.show()

# %% [markdown]
# The same in numbers: the reconstruction MSE (lower is better) on the test digits of each
# group, and how many optimizer steps each network trained for.

# %% tags=["nbval-ignore-output"]
from mae_helpers.data import loaders_for
from mae_helpers.train import reconstruction_mse

test_by_group = {
    "forget": get_mnist_loaders(digits=forget_digits, device=device).test,
    "retain": get_mnist_loaders(digits=retain_digits, device=device).test,
}
training_loaders = {"main": loaders_for(cfg, None, device).train,
                    "auxiliary": loaders_for(cfg, forget_digits, device).train}
test_mse = {}  # model name -> {group: MSE}
print(f"{'test MSE':<10} {'forget':>8} {'retain':>8}   trained on")
for model_name, model in {"main": main_model, "auxiliary": auxiliary_model}.items():
    test_mse[model_name] = {group: reconstruction_mse(model, loader, device) for group, loader in test_by_group.items()}
    loader = training_loaders[model_name]
    print(f"{model_name:<10} " + " ".join(f"{e:>8.4f}" for e in test_mse[model_name].values())
          + f"   {len(loader.dataset):,} images, {len(loader) * cfg.epochs} steps")

# %% [markdown]
# Read the forget column. In the saved run the auxiliary network redraws the forget digits
# **worse** than the main MAE does, although they are the only digits it has seen: it is not
# an expert on them. It is a network that has learned those digits and nothing else, which is all
# notebook 3 needs from it: a reference for "still draws a forget digit" to push away from.
# The next two exercises ask why it is worse.
#
# ### Exercise 4 (coding): how many steps does an epoch take?
#
# Complete `training_steps(n_images, batch_size, epochs)`: the number of optimizer steps of
# a training run. Each epoch goes once through the images in batches of `batch_size`, and a
# last, smaller batch counts as a step too.
#
# **How to tell it worked**: the cell prints, for each network, your count next to the
# loader's (`len(loader) * epochs`, the "steps" column above), and they agree.

# %%
def training_steps(n_images, batch_size, epochs):
    """Optimizer steps of `epochs` passes over `n_images` in batches of `batch_size` (the last may be smaller)."""
    # Exercise: batches per epoch (round up), times epochs.
    raise NotImplementedError("Exercise 4: complete training_steps")


try:
    for model_name, loader in training_loaders.items():
        mine = training_steps(len(loader.dataset), cfg.batch_size, cfg.epochs)
        print(f"{model_name:<10} yours: {mine} steps; the loader's: {len(loader) * cfg.epochs}")
except NotImplementedError as err:
    print(f"{err} (or run the solution below)")

# %% cellView="form" jupyter={"source_hidden": true} tags=["nbval-ignore-output", "solution"]
#@title Solution to Exercise 4: `training_steps`
import math


def training_steps(n_images, batch_size, epochs):
    """Optimizer steps of `epochs` passes over `n_images` in batches of `batch_size` (the last may be smaller)."""
    return math.ceil(n_images / batch_size) * epochs


for model_name, loader in training_loaders.items():
    mine = training_steps(len(loader.dataset), cfg.batch_size, cfg.epochs)
    print(f"{model_name:<10} yours: {mine} steps; the loader's: {len(loader) * cfg.epochs}")
    assert mine == len(loader) * cfg.epochs  # the counts differ in fast mode, so nbval cannot compare them

# %% [markdown]
# ### Exercise 5 (Think!): why is the auxiliary network worse at its own digits?
#
# Using the table and your step counts: give two reasons why a network trained only on
# 0, 3, 6 and 9 redraws them less well than one trained on all ten digits. What would you
# change to make the comparison fair? Does notebook 3 need the auxiliary network to be
# better than the main one?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# 1. **Fewer steps.** Both trained for the same number of epochs, and an epoch of the
#    auxiliary network's smaller training set is fewer batches, so it took fewer optimizer
#    steps (the "steps" column) and its one-cycle learning-rate schedule ran through in that
#    shorter time.
# 2. **Fewer examples.** It saw fewer images in all, so less variety in how people write a
#    0, 3, 6 or 9; and the main network also learned from the other digits, whose strokes
#    (loops, curves, bars) the forget digits share.
#
# A fair comparison would give both networks the same number of steps, for example more
# epochs for the auxiliary network (`cfg` is a frozen dataclass: `dataclasses.replace(cfg,
# epochs=...)` makes a changed copy, and `train_cached` then trains and caches a new model).
# Notebook 3 does not need it to be better: it only needs a network that still draws the
# forget digits, to tell the main network what *not* to draw.
# </details>

# %% [markdown]
# ## Summary
#
# - The MAE squeezes a 28×28 digit through three stride-2 convolutions to 112 numbers, then
#   to a 10-number code, and mirrors that back to a picture; a convolution's output size and
#   parameter count follow from its kernel, stride and channels (Exercises 1 and 2).
# - Trained on the reconstruction MSE, it redraws test digits it has never seen about as
#   well as its validation digits.
# - The auxiliary network, trained on the forget digits only, redraws the retained digits
#   much worse than the main MAE, and in the saved run the forget digits worse too: it
#   trained for fewer steps on fewer images. It serves as a reference for "still draws a
#   forget digit", not as an expert.
# - Both models are now in the model cache, so the next notebook loads them instead of
#   training them again.
#
# The numbers that matter, from this run (they differ from run to run, and with full MNIST):

# %% tags=["nbval-ignore-output"]
for model_name, mse in test_mse.items():
    steps = len(training_loaders[model_name]) * cfg.epochs
    print(f"{model_name:<10} test MSE: forget digits {mse['forget']:.4f}, retained digits {mse['retain']:.4f}"
          f" ({steps} training steps)")
print(f"main MAE best validation MSE: {history.best_val_loss:.4f}")

# %% [markdown]
# **Next**: notebook 3, `03_q_layers_and_unlearning`, trains the Q-layers to find where the
# evidence of the forget digits lives, then makes the main MAE forget 0, 3, 6 and 9 while it
# keeps redrawing the rest.
#
# ## Further reading
#
# - V. Dumoulin, F. Visin. [A guide to convolution arithmetic for deep
#   learning](https://arxiv.org/abs/1603.07285). arXiv, 2016. Output sizes of convolutions
#   and transposed convolutions, with pictures (Exercise 1).
# - Y. Wu, K. He. [Group Normalization](https://arxiv.org/abs/1803.08494). ECCV 2018. Why
#   normalising within each image behaves the same for any batch (Exercise 3).
# - L. Bourtoule et al. [Machine Unlearning](https://arxiv.org/abs/1912.03817). IEEE
#   Symposium on Security and Privacy, 2021. SISA: retrain only the shard that held the
#   erased data; retraining is the gold standard this course compares with.
# - A. Golatkar, A. Achille, S. Soatto. [Eternal Sunshine of the Spotless Net: Selective
#   Forgetting in Deep Networks](https://arxiv.org/abs/1911.04933). CVPR 2020. Information
#   about forgotten data can hide inside the weights even when the outputs look clean:
#   why notebook 3 probes the codes, not only the pictures.
# - A. Heng, H. Soh. [Selective Amnesia: A Continual Learning Approach to Forgetting in
#   Deep Generative Models](https://arxiv.org/abs/2305.10120). NeurIPS 2023. Makes
#   generative models (a VAE on MNIST among them) stop drawing a class; on MNIST, a
#   classifier looking at what the model generates for the forgotten digit gives it
#   probability 0.058, with entropy 2.19 (as reported in the paper).
# - C. Fan, J. Liu, Y. Zhang, E. Wong, D. Wei, S. Liu. [SalUn: Empowering Machine
#   Unlearning via Gradient-based Weight Saliency in Both Image Classification and
#   Generation](https://arxiv.org/abs/2310.12508). ICLR 2024. Unlearning that changes only
#   the weights most responsible for the data to forget.
# - The project this course grows from: *Evidence Unlearning with a Modified Autoencoder
#   (MAE) for MNIST*, research scripts with the same MAE (without GroupNorm), an auxiliary
#   MAE trained on the digits divisible by 3, and Q-layers they defined but did not use.
#   The README's section on what "forgetting" means here says what this course keeps and
#   changes.
