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
# into a code of just 10 numbers, then redraws the digit from that code.
# It is trained only to make the drawing match the input.
#
# Why an autoencoder, for a course on forgetting? Because it *draws*, so suppression, the
# first level of forgetting from notebook 1, is there to see: a model that can no longer
# redraw a 3 shows it with every picture. The same question is asked of large generative
# models that should stop drawing a person, a style or a copyrighted character (Selective
# Amnesia in *Further reading* does it on MNIST too). A clean picture is not the whole
# story, though: information about the 3s can stay in the weights while the output hides
# it (Golatkar et al., *Further reading*). So we also look inside. The 10-number code in the
# middle is a place to look for *evidence* of a digit: notebook 3 makes the network remove
# it from there, and notebook 4 compares the result with a network retrained without the
# digits.

# %% [markdown]
# ## Objectives
#
# After this notebook you will be able to:
#
# 1. follow a batch through a convolutional autoencoder, and work out a convolution's
#    output size and number of parameters by hand;
# 2. train an autoencoder on the reconstruction error (MSE) and read its loss curves;
# 3. judge reconstructions by picture and by the test MSE of a group of digits;
# 4. say what the auxiliary network is, and why it redraws the forget digits better, and
#    the others worse, than the main network does.
#
# ## Prerequisites and time
#
# - **You need**: notebook 1; what a convolution, a loss and a training loop are (if
#   convolution arithmetic is new, Dumoulin & Visin in *Further reading* has the pictures).
# - **Time**: reading and exercises, about 45 minutes (our estimate, not measured); in a
#   3-hour workshop, 40 minutes, with Exercise 2 as homework. With `WARM_START` (the setup
#   cell) the two networks are copied, not trained, and the cells run in seconds; without
#   it, or with other settings or full MNIST, training them takes most of the run.
#   The last code cell prints how long this run took on your machine (the README's course
#   table collects those times).

# %% [markdown]
# ## Setup
#
# On Colab the next cell installs the course's helper package, `mae_helpers`, from GitHub,
# at the commit this notebook was saved from (`REPO_COMMIT`; on your own machine
# `make install` has installed the package already). It also says where the digits come from
# (`DATA_SOURCE`: the offline digits, as notebook 1 explains; `"auto"` for full MNIST),
# makes the config `cfg` every later cell reads, and picks the device: the GPU if there is
# one, else the CPU. `WARM_START = True` copies the two networks this notebook trains from
# the trained networks shipped with the package (made by this repository's
# `make checkpoints`, checked against their hash); a network that is missing or changed, or
# any other setting than the default, trains here, and `WARM_START = False` trains both.

# %%
import os
import subprocess
import sys
import time

notebook_start = time.perf_counter()
WARM_START = True  # False: train every network here (about 40 s more on a 2-core CPU)
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
# Every setting (data, sizes, epochs, learning rate) comes from one config, `cfg`, made in
# the setup cell. In fast mode (`MAE_FAST=1`, used by some automatic tests, and for slow
# laptops) it trains for fewer epochs on fewer images, so the pictures below look rougher.

# %%
print(f"fast mode: {mae_helpers.FAST}; data source: {cfg.source}; epochs: {cfg.epochs}; "
      f"training pool capped at: {cfg.max_train_images}")

# %% [markdown]
# The data of notebook 1: all ten digits. We only need the test split here, for a batch to
# look at and for the pictures; training loads its own data.

# %%
from mae_helpers import get_mnist_loaders

test = get_mnist_loaders(source=DATA_SOURCE, device=device).test

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
# ![The MAE: encoder, dense, un-dense and decoder, with a Q-layer on each of three codes](https://github.com/evidence-unlearning/mae-unlearning/raw/main/images/diagram_mae.png)
#
# *The diagram loads from GitHub; offline, open [images/diagram_mae.png](../images/diagram_mae.png).
# The orange Q-layers on three of the codes come later in this notebook.*
#
# We push 8 real test digits through, one layer at a time, and print the shape after each
# layer (the first number is the batch size). ReLUs and the like do not change the shape,
# so we skip them in the printout.

# %%
from mae_helpers import MAE, count_parameters

torch.manual_seed(cfg.seed)  # the same random starting weights on every run
untrained_model = MAE(channels=cfg.channels, hidden=cfg.hidden, code_dim=cfg.code_dim,
                      decoder_norm=cfg.decoder_norm).to(device)
images, labels = next(iter(test))
x = images[:8]
print(f"{'input':<10} {'':<18} {tuple(x.shape)}: {x[0].numel()} numbers per digit")
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
# `decoder: 1 -> 4 -> 12 -> 28`, the sides in the shapes printed above, then
# `Exercise 1: check passed.` The check also compares both functions with what PyTorch's
# own convolutions produce for other sizes, kernels and strides. The hidden solution cell
# keeps right answers of yours; run it when you are stuck, and the cells below use the
# solution (yours stay as `conv_output_size.learner` and `conv_transpose_output_size.learner`).

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
    raise NotImplementedError("complete conv_output_size")


def conv_transpose_output_size(size, kernel, stride):
    """Side length after a transposed convolution without padding."""
    # Exercise: the last of `size` input pixels starts (size - 1) * stride pixels in, and its patch is kernel wide.
    raise NotImplementedError("complete conv_transpose_output_size")


def check_output_sizes():
    """Exercise 1's check: the model's sides, then other cases against PyTorch's own (transposed) convolution."""
    sides = follow_side(28, convolutions, conv_output_size), follow_side(1, transposed, conv_transpose_output_size)
    print("encoder:", sides[0])
    print("decoder:", sides[1])
    assert sides == ("28 -> 12 -> 4 -> 1", "1 -> 4 -> 12 -> 28"), "compare with the shapes printed above"
    for size, kernel, stride in [(9, 3, 1), (10, 4, 3), (7, 2, 2)]:
        image, window = torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel)
        conv = torch.nn.functional.conv2d(image, window, stride=stride).shape[-1]
        back = torch.nn.functional.conv_transpose2d(image, window, stride=stride).shape[-1]
        assert conv_output_size(size, kernel, stride) == conv, f"size {size}, kernel {kernel}, stride {stride}"
        assert conv_transpose_output_size(size, kernel, stride) == back, f"transposed, size {size} kernel {kernel}"


exercises.check("Exercise 1", check_output_sizes)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 1: output sizes
@exercises.solution  # keeps a right answer of yours; stands in for one not done, or one that fails the check
def conv_output_size(size, kernel, stride):
    """Side length after a convolution without padding."""
    return (size - kernel) // stride + 1


@exercises.solution
def conv_transpose_output_size(size, kernel, stride):
    """Side length after a transposed convolution without padding."""
    return (size - 1) * stride + kernel


exercises.check("Exercise 1", check_output_sizes)

# %% [markdown]
# Two changes to the original project let the MAE train at the original's peak learning
# rate. The last layer squashes pixels into −1…1 with `tanh`, like the input, and that
# bounded output is fragile: without help it collapses early in training to a blank,
# all-background picture, and the loss stays stuck. So the course adds a **GroupNorm** after
# each hidden decoder layer, and a **one-cycle schedule**: the learning rate warms up from a
# small value to the original rate, then anneals (`train_and_validate`'s default
# `schedule="onecycle"`). The two together train where the original collapsed.
# `MAE(decoder_norm=False)` builds the original architecture exactly, and
# `schedule="constant"` trains at the original's constant rate, if you want to try either
# change on its own.
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
# `count_parameters`, the two agree (the encoder row of the table above), and the cell ends
# with `Exercise 2: check passed.` The check compares your count with `count_parameters`
# for every convolution of the encoder and every transposed one of the decoder (the same
# count: one weight per input channel, output channel and window pixel, one bias per output).

# %%
def conv_parameters(in_channels, out_channels, kernel):
    """Weights and biases of a kernel x kernel convolution from in_channels to out_channels."""
    # Exercise: weights plus biases.
    raise NotImplementedError("complete conv_parameters")


def check_conv_parameters():
    """Exercise 2's check: your count against count_parameters, layer by layer."""
    by_hand = sum(conv_parameters(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convolutions)
    print(f"encoder by hand: {by_hand:,}; count_parameters: {count_parameters(untrained_model.encoder):,}")
    for layer in convolutions + transposed:
        mine = conv_parameters(layer.in_channels, layer.out_channels, layer.kernel_size[0])
        assert mine == count_parameters(layer), f"{layer}: yours {mine}, count_parameters {count_parameters(layer)}"


exercises.check("Exercise 2", check_conv_parameters)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 2: `conv_parameters`
@exercises.solution  # keeps a right answer of yours; stands in for one not done, or one that fails the check
def conv_parameters(in_channels, out_channels, kernel):
    """Weights and biases of a kernel x kernel convolution from in_channels to out_channels."""
    return in_channels * out_channels * kernel * kernel + out_channels


exercises.check("Exercise 2", check_conv_parameters)

# %% [markdown]
# ### Exercise 3 (Think!): GroupNorm, not BatchNorm
#
# The decoder normalises with **GroupNorm**, which normalises each image on its own. The
# more common **BatchNorm** normalises with the mean and variance of the whole batch in
# train mode, and keeps running averages of them for eval mode. Each unlearning step in
# notebook 3 puts forget digits and retained digits into one batch and runs it through the
# network in train mode; the checks and tests afterwards look at held-out digits of one
# group at a time, in eval mode. What would change if the decoder used BatchNorm?
#
# The next cell gives a hint. It swaps the untrained MAE's GroupNorms for BatchNorms in a
# copy, and compares one digit's drawing alone with its drawing in a batch of 8.

# %%
import copy

with_batchnorm = copy.deepcopy(untrained_model)
for index, layer in enumerate(with_batchnorm.decoder):
    if isinstance(layer, torch.nn.GroupNorm):
        with_batchnorm.decoder[index] = torch.nn.BatchNorm2d(layer.num_channels).to(device)
for norm_name, model in {"GroupNorm": untrained_model, "BatchNorm": with_batchnorm}.items():
    with torch.no_grad():
        alone, in_batch = model.train()(images[:1]), model.train()(images[:8])[:1]
    print(f"{norm_name}, train mode: the first digit drawn alone and in a batch of 8 differs by up to "
          f"{(alone - in_batch).abs().max():.3f}")

# %% [markdown]
# <details>
# <summary>Our answer (click to open)</summary>
#
# With BatchNorm, in train mode what the network draws for one image depends on the other
# images in its batch (the cell above: with GroupNorm the digit's drawing does not change
# when seven others join it). So during unlearning the loss would shape drawings that depend
# on the mix of forget and retained digits in each batch, while the tests, in eval mode,
# see the network normalise with its running averages instead: the model they measure is
# not quite the one the loss shaped. Those running averages would also move during
# unlearning, towards the statistics of the unlearning batches and of weights that keep
# changing, and that changes how the network draws every digit, the retained ones
# included, without any weight having learned it. GroupNorm computes its statistics inside
# each image, the same way in both modes: an image's drawing depends only on that image,
# so the loss shapes exactly what the tests measure (Wu & He in *Further reading*).
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
# it loads in a blink; change a setting in `cfg` and it trains a new one. With `WARM_START`
# the shipped network is copied into the cache first, so nothing trains and no bar shows.
# When it trains, the bar counts optimizer steps (batches): its total is the number of
# batches in an epoch times the epochs.

# %%
from mae_helpers import train_cached

main_model, main_info = train_cached("main", None, cfg, device=device)  # None = all ten digits

# %% [markdown]
# The loss curves, from the training history saved with the model. Both curves fall: the
# model redraws digits it has not trained on (validation) about as well as the ones it has.

# %%
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

# %%
from mae_helpers import visualize_reconstructions

visualize_reconstructions(main_model, test, device=device, title="test digits and the main MAE's reconstructions")
plt.show()

# %% [markdown]
# ## The auxiliary network: the original, adapted to the forget digits
#
# Unlearning (notebook 3) needs a picture of what "still remembers a forget digit" looks
# like, to push away from. The research code trained a second MAE from scratch on the forget
# digits 0, 3, 6 and 9 only. The course gets one more cheaply: `train_auxiliary` starts from
# a copy of the main MAE and takes a few Adam steps (`cfg.aux_steps`) on batches of forget
# digits only. A new forget set then costs seconds, not a training run.

# %%
from mae_helpers import train_auxiliary
from mae_helpers.config import FORGET_DIGITS_ORIGINAL

forget_digits = list(FORGET_DIGITS_ORIGINAL)
retain_digits = [d for d in range(10) if d not in forget_digits]
auxiliary_model, auxiliary_info = train_auxiliary(forget_digits, cfg, device=device, original=main_model)
print(f"auxiliary network: the main MAE after {cfg.aux_steps} steps of {cfg.batch_size} forget digits each")

# %%
from mae_helpers.viz import image_grid, one_per_digit

originals, digit_labels = one_per_digit(test)
with torch.no_grad():
    rows = {"original": originals, "main MAE": main_model(originals), "auxiliary": auxiliary_model(originals)}
image_grid(rows, digit_labels, title=f"the auxiliary network, adapted to {forget_digits}")
plt.show()

# %% [markdown]
# The same in numbers: the reconstruction MSE (lower is better) on the test digits of each
# group, and how many optimizer steps each network trained for.

# %%
from mae_helpers.data import loaders_for
from mae_helpers.train import reconstruction_mse

test_by_group = {
    "forget": get_mnist_loaders(digits=forget_digits, source=DATA_SOURCE, device=device).test,
    "retain": get_mnist_loaders(digits=retain_digits, source=DATA_SOURCE, device=device).test,
}
main_loader = loaders_for(cfg, None, device).train
steps = {"main": len(main_loader) * cfg.epochs, "auxiliary": cfg.aux_steps}
test_mse = {}  # model name -> {group: MSE}
print(f"{'test MSE':<10} {'forget':>8} {'retain':>8}   trained")
for model_name, model in {"main": main_model, "auxiliary": auxiliary_model}.items():
    test_mse[model_name] = {group: reconstruction_mse(model, loader, device) for group, loader in test_by_group.items()}
    how = f"{steps['main']} steps from scratch" if model_name == "main" else f"{steps['auxiliary']} more steps"
    print(f"{model_name:<10} " + " ".join(f"{e:>8.4f}" for e in test_mse[model_name].values()) + f"   {how}")

# %% [markdown]
# Compare the two columns. A few steps on the forget digits alone are enough to change the
# network: it redraws them a little better than the main MAE does, and the retained digits,
# which it no longer practises, worse. That second effect is a small-scale case of
# *catastrophic forgetting* (a network trained on new data only loses what it knew), and it
# is what notebook 3 needs: a network whose drawings lean towards the forget digits, a
# reference for "still draws a forget digit" to push away from.
#
# ### Exercise 4 (coding): how many steps does an epoch take?
#
# How much did the research code pay for its auxiliary network, trained from scratch for
# `cfg.epochs` epochs on the forget digits? Complete `training_steps(n_images, batch_size,
# epochs)`: the number of optimizer steps of a training run. Each epoch goes once through
# the images in batches of `batch_size`, and a last, smaller batch counts as a step too.
#
# **How to tell it worked**: the cell prints your count for the main network next to the
# loader's (`len(loader) * epochs`, the "steps" of the table above), then the steps a
# from-scratch auxiliary network would take, and ends with `Exercise 4: check passed.`

# %%
forget_loader = loaders_for(cfg, forget_digits, device).train


def training_steps(n_images, batch_size, epochs):
    """Optimizer steps of `epochs` passes over `n_images` in batches of `batch_size` (the last may be smaller)."""
    # Exercise: batches per epoch (round up), times epochs.
    raise NotImplementedError("complete training_steps")


def check_training_steps():
    """Exercise 4's check: your count against the loaders' own, and two edge cases."""
    for loader_name, loader in {"main": main_loader, "forget digits": forget_loader}.items():
        mine = training_steps(len(loader.dataset), cfg.batch_size, cfg.epochs)
        print(f"{loader_name:<14} {len(loader.dataset):,} images: yours {mine} steps; the loader's "
              f"{len(loader) * cfg.epochs}")
        assert mine == len(loader) * cfg.epochs, f"{loader_name}: compare with the loader's count"
    assert training_steps(64, 64, 1) == 1 and training_steps(65, 64, 2) == 4, "a last, smaller batch is a step too"
    scratch = training_steps(len(forget_loader.dataset), cfg.batch_size, cfg.epochs)
    print(f"a from-scratch auxiliary network: {scratch} steps; the adapted one: {cfg.aux_steps}")


exercises.check("Exercise 4", check_training_steps)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 4: `training_steps`
import math


@exercises.solution  # keeps a right answer of yours; stands in for one not done, or one that fails the check
def training_steps(n_images, batch_size, epochs):
    """Optimizer steps of `epochs` passes over `n_images` in batches of `batch_size` (the last may be smaller)."""
    return math.ceil(n_images / batch_size) * epochs


exercises.check("Exercise 4", check_training_steps)

# %% [markdown]
# ### Exercise 5 (Think!): better at its own digits, worse at the rest
#
# Using the table: why does a network that took only a few steps on 0, 3, 6 and 9 redraw
# them better than the main MAE, and the retained digits worse? What does the main MAE
# "spend" on the retained digits that the auxiliary network stops spending? And does
# notebook 3 need the auxiliary network to be good at anything in particular?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# 1. **Better at the forget digits.** The main MAE shares its few weights among ten digits;
#    a 10-number code and one decoder must serve all of them. Each step on forget digits
#    alone moves those weights towards what helps *them*, so their error drops.
# 2. **Worse at the retained digits.** Nothing in those steps asks the network to keep
#    redrawing a 2 or a 7, and the changes that help the forget digits are not free for
#    the others: their error rises. This is catastrophic forgetting in miniature, and with
#    more steps the auxiliary network would drift further (you can try: `cfg.replace(
#    aux_steps=...)`, then `train_auxiliary` trains and caches a new one).
#
# Notebook 3 needs no expert: only a network that still draws each forget digit, a
# reference the unlearning loss pushes the main MAE away from. Adapting the original gives
# that for a few seconds of training per forget set; the research code paid a whole
# training run (Exercise 4).
# </details>

# %% [markdown]
# ## Summary
#
# - The MAE squeezes a 28×28 digit through three stride-2 convolutions to 112 numbers, then
#   to a 10-number code, and mirrors that back to a picture; a convolution's output size and
#   parameter count follow from its kernel, stride and channels (Exercises 1 and 2).
# - Trained on the reconstruction MSE, it redraws test digits it has never seen about as
#   well as its validation digits.
# - The auxiliary network is the main MAE after a few steps on the forget digits only: it
#   redraws them a little better and the retained digits worse. It serves as a reference
#   for "still draws a forget digit", not as an expert.
# - Both models are now in the model cache, so the next notebook loads them instead of
#   training them again.
#
# The numbers that matter, from this run (they differ with the data and the machine), and the
# time the run took from the setup cell to here (this notebook has no Bonus part, so its core
# is all of it):

# %%
for model_name, mse in test_mse.items():
    print(f"{model_name:<10} test MSE: forget digits {mse['forget']:.4f}, retained digits {mse['retain']:.4f}"
          f" ({steps[model_name]} training steps)")
print(f"main MAE best validation MSE: {history.best_val_loss:.4f}")
print(f"the core ran in {time.perf_counter() - notebook_start:.0f} s")
print(f"this notebook ran in {time.perf_counter() - notebook_start:.0f} s on {device}")

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
#   generative models (a VAE on MNIST among them) stop drawing a class, judged by a
#   classifier looking at what the model generates for the forgotten digit.
# - C. Fan, J. Liu, Y. Zhang, E. Wong, D. Wei, S. Liu. [SalUn: Empowering Machine
#   Unlearning via Gradient-based Weight Saliency in Both Image Classification and
#   Generation](https://arxiv.org/abs/2310.12508). ICLR 2024. Unlearning that changes only
#   the weights most responsible for the data to forget.
# - *Evidence Unlearning with a Modified Autoencoder (MAE) for MNIST*. Research scripts
#   (`mainAE.py`, `AuxiliaryAE.py` and an unlearning script) with a project description,
#   not a published paper: the origin of this course. The scripts trained a main MAE on all
#   ten digits and an auxiliary MAE on the digits divisible by 3 (0, 3, 6, 9), then
#   fine-tuned the main one on batches of all digits with the loss
#   `MSE(out, x) + β / (MSE(out, aux_out) + 1e-8)`, where `aux_out` is the auxiliary MAE's
#   drawing, keeping the weights of the lowest validation loss. They defined three
#   Q-layers and never used them. The README's section on what "forgetting" means here says
#   what this course keeps and what it changes.
