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
# # 2 · The Modified Autoencoder
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/evidence-unlearning/mae-unlearning/blob/main/notebooks/02_autoencoder.ipynb)
#
# *Evidence unlearning*, notebook 2 of 4. An **autoencoder** squeezes each 28×28 digit
# (784 numbers) into a code of just 10 numbers, then redraws the digit from that code.
# It is trained only to make the drawing match the input. In this notebook:
#
# 1. the Modified Autoencoder (MAE), block by block, on a real batch,
# 2. its three *Q-layers*, which will show where the evidence of a digit lives,
# 3. training it on all ten digits, and how well it redraws them,
# 4. the *auxiliary* network, trained on the forget digits only, that unlearning will need.

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
# it loads in a blink; change a setting in `cfg` and it trains a new one.
# On a CPU, expect a few minutes; on a GPU, seconds.

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
# ## The auxiliary network: an expert on the forget digits
#
# Unlearning (notebook 3) needs a picture of what "still remembers a forget digit" looks
# like. For that we train a second MAE, the **auxiliary** network, on the forget digits
# 0, 3, 6 and 9 only. It draws those well and the others poorly: it has never seen a 2 or
# a 7, so it tends to redraw them as the forget digit they resemble most.

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
# group. The main MAE is good at both; the auxiliary network only at the forget digits.

# %% tags=["nbval-ignore-output"]
from mae_helpers.train import reconstruction_mse

test_by_group = {
    "forget": get_mnist_loaders(digits=forget_digits, device=device).test,
    "retain": get_mnist_loaders(digits=retain_digits, device=device).test,
}
print(f"{'test MSE':<10} {'forget':>8} {'retain':>8}")
for model_name, model in {"main": main_model, "auxiliary": auxiliary_model}.items():
    errors = [reconstruction_mse(model, loader, device) for loader in test_by_group.values()]
    print(f"{model_name:<10} " + " ".join(f"{e:>8.4f}" for e in errors))

# %% [markdown]
# ## What's next
#
# Both trained models are now cached. Notebook 3, `03_q_layers_and_unlearning`, loads them
# in a blink, trains the Q-layers to find where the evidence of the forget digits lives,
# and then makes the main MAE forget 0, 3, 6 and 9 while it keeps redrawing the rest.
