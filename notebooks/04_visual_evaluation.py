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
# # 4 · Did it really forget? Evaluating unlearning
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/evidence-unlearning/mae-unlearning/blob/main/notebooks/04_visual_evaluation.ipynb)
#
# *Evidence unlearning*, notebook 4 of 4. Notebook 3 made the MAE forget the digits 0, 3, 6
# and 9. Here we check how well, with referees that took no part in it, against two models
# retrained from scratch without those digits, and against the simple baselines anyone
# would try first.
#
# **On a fresh Colab runtime** (an empty model cache) this notebook first trains every
# network it needs on the offline digits: the original MAE, the auxiliary MAE, two retrained
# MAEs, the judge and the unlearning loop's witness. Then it runs six unlearning runs
# (the default, two baselines, your own baseline and two more strengths) and the privacy
# audit. On our 2-core CPU with nothing else running, that took about 9 minutes (563 s, the
# saved run), and `make test-notebooks` ran it, also from an empty cache, in about 8 minutes
# (486 s). With every network in the cache it skips their training and took 453 s: the
# unlearning runs and the audit take most of the time.

# %% [markdown]
# ## Two notions of forgetting, again
#
# Notebook 1 defined them, with the same words as the README:
#
# - **Suppression**: the model can no longer reproduce the forgotten data. Here: shown a 3,
#   it no longer draws a 3. This is what the course's unlearning aims at by default.
# - **Indistinguishability from retraining**: nobody can tell the unlearned model from one
#   retrained from scratch without the data, down to what its weights hold. This is the
#   privacy gold standard. The course measures how far its models are from it and reports
#   that, but does not claim to reach it.
#
# Both are measured here by **referees** that take no part in the unlearning: the
# **judge** (a digit classifier reading the reconstructions), the **fresh probe** (a linear
# classifier fitted afterwards on the codes) and the **privacy audit** (membership inference
# and relearning). The **witness** is something else: the unlearning loop's own stopping
# classifier from notebook 3. It never grades a result here.

# %% [markdown]
# ## Objectives
#
# After this notebook you will be able to:
#
# 1. evaluate unlearning with referees that took no part in it (the judge on the pictures,
#    a fresh probe on the codes) and say why MSE and the loop's own witness are not enough;
# 2. read an unlearning report against *two* retrained models, and call a number
#    "indistinguishable" only inside their spread;
# 3. run a privacy audit (membership inference and relearning) and recognise
#    over-forgetting, a model that forgot *more* than retraining would;
# 4. compare the default method with the simple baselines at the same budget, and add a
#    baseline of your own;
# 5. trade forgetting against keeping with the strength.
#
# ## Prerequisites and time
#
# - **You need**: notebooks 2 and 3 (their models are reused from the cache when they are
#   there), and what a classifier's accuracy and a ROC curve are.
# - **Time**: the last code cell prints this run's time. Top to bottom in normal mode with
#   the offline digits on a 2-core CPU with nothing else running: 563 s with an empty model
#   cache, as on a fresh Colab runtime (the saved run; it trains six networks first, and the
#   six unlearning runs of 300 steps each take most of the rest), 453 s run again with every
#   network cached. At full-MNIST scale (48,000 training images of a 60,000-image stand-in
#   built from MNIST's test digits, read from disk, empty cache) it took 1310 s, and its
#   numbers differ from the text's. `make test-notebooks` ran it cold in 486 s (the README's
#   *Times*). GPU: not measured for this version. Reading and the exercises: about 50 minutes (our estimate, not
#   measured); in a 3-hour workshop, 35 minutes, with Exercises 2 and 5 as homework.

# %% [markdown]
# ## Setup
#
# On Colab the next cell installs the course's helper package, `mae_helpers`, from GitHub,
# at the commit this notebook was saved from (`REPO_COMMIT`; on your own machine
# `make install` has installed the package already). It also says where the digits come from
# (`DATA_SOURCE`: the offline digits, as in every notebook; notebook 1 explains the switch),
# makes the config `cfg` every later cell reads, and picks the device.

# %%
import subprocess
import sys
import time

notebook_start = time.perf_counter()
REPO_URL = "https://github.com/evidence-unlearning/mae-unlearning"
REPO_COMMIT = "010d5c11c773d538a4390bbe8753244e6f3aca4d"  # the commit this notebook was saved from

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
# ## The networks, and the referees
#
# `prepare(cfg)` loads from the model cache, or trains and caches, the six networks one
# forget set needs: the original MAE (all digits), the auxiliary MAE (the forget digits
# only), two MAEs **retrained** from scratch on the retain digits from their own seeds
# (each with the original's number of optimizer steps), the judge, and the witness the
# unlearning loop stops by. The `mae-unlearn` command goes through the same function.
#
# Why referees at all, and not just the reconstruction error (MSE) of the forget digits?
# MSE can be fooled: a digit drawn a little thicker, blurred or shifted has a large pixel
# error and is still plainly a 3. And neither the loop's own readers (the Q-layers and the
# picture reader of notebook 3) nor its witness can grade the result: the MAE was trained to
# fool the readers, and the loop chose the weights it returns by what the witness saw. So:
#
# - **the judge** is a small CNN digit classifier trained on real digits only, never on
#   anything an MAE drew. It reads each reconstruction and names a digit.
# - **the fresh probe** is a brand-new linear classifier fitted *after* unlearning on the
#   bottleneck codes of the training digits: is the digit still written in the code, even
#   where the picture hides it?

# %%
from mae_helpers import split_digits
from mae_helpers.evaluate import judge_scores
from mae_helpers.experiment import prepare

forget_digits, retain_digits = split_digits(cfg.forget_digits)
prepared = prepare(cfg, device=device, progress=False)
original, retrained, retrained_2, judge = prepared.original, prepared.retrained, prepared.retrained_2, prepared.judge
everything = prepared.everything  # (train, val, test) loaders over all ten digits
forget_test, retain_test = prepared.loaders(forget_digits).test, prepared.loaders(retain_digits).test
print("forget digits:", list(forget_digits), " retain digits:", list(retain_digits))
print(f"test digits: {len(forget_test.dataset)} to forget, {len(retain_test.dataset)} to keep")
real = judge_scores(judge, None, everything.test, forget_digits, device=device)  # None: the real images
print(f"judge on the real test digits: {real['judge_acc_forget']:.1%} of the forget digits, "
      f"{real['judge_acc_retain']:.1%} of the retain digits")

# %% [markdown]
# The judge reads real digits almost perfectly, so when it fails on a reconstruction, the
# reconstruction is to blame, not the judge.

# %% [markdown]
# ## The report: original, unlearned, two retrains
#
# `prepared.unlearn()` runs notebook 3's loop with `cfg` (the default method, `evidence`).
# `UnlearningReport.from_models` then measures every model on the test digits: the
# original, the unlearned model, both retrains, and, as a floor, an **untrained** MAE
# (initial weights, never trained). `relearn=True` adds the relearning check of the privacy
# audit (below). The report's timing rows depend on the machine, so we print the times
# under the table instead, rounded.

# %%
from mae_helpers.report import COLUMNS, UnlearningReport, untrained_mae

unlearned, history = prepared.unlearn(progress=False)
untrained = untrained_mae(cfg)
report = UnlearningReport.from_models(original, unlearned, retrained, judge, everything.train, everything.test,
                                      forget_digits, config=cfg, device=device, retrained_2=retrained_2,
                                      untrained=untrained, relearn=True, method="evidence")
relearn_seconds = {name: getattr(report, name).pop("relearn_seconds") for name in COLUMNS}
print(f"unlearning: {history.steps} steps ({history.stopped})\n")
print(report)
times = prepared.seconds(history)
print(f"\nunlearning took {times['unlearn']:.0f} s; training the original {times['train']:.0f} s, the retrains "
      f"{times['retrain']:.0f} s and {times['retrain_2']:.0f} s (as recorded when each was trained)")

# %% [markdown]
# The loop used its whole budget of 300 steps: its witness still believed 7.2% of the
# held-out forget drawings showed a forget digit at the best check (step 270), above the 3%
# target, so it returned those weights. How to read the table, row by row:
#
# - **MSE**: the unlearned model redraws the retained digits at 0.0978 against the original's
#   0.0932, inside the loop's guard (at most 10% more on held-out digits). The two retrains,
#   with the original's number of steps, keep them about as well as the original (0.0953
#   and 0.0917). The forgotten digits' MSE rises, above the retrains'.
# - **judge: true digit** (suppression): the original's drawings of 0, 3, 6 and 9 are
#   recognised 87.5% of the time, the unlearned model's 1.3%. The retrains never saw a forget
#   digit, yet the judge still recognises 24.0% and 29.8% of their drawings: an autoencoder
#   learns to copy strokes, and copies a 0 it has never seen fairly well.
# - **judge: any forget digit**: the same, counting a forgotten digit as *not* forgotten when
#   the judge names any forget digit. A 0 redrawn as a 9 is not forgotten when 9 goes too.
#   This is the honest suppression number, and it is always at least the row above: 6.0%
#   here.
# - **p(true digit)** and **entropy** [1]: the judge's mean probability of the right digit
#   (0.863 for the original, 0.020 unlearned) and how unsure it is, in nats (2.30 would be a
#   uniform guess over ten digits). The unlearned model's entropy stays low: the judge is
#   *sure*, and what it is sure of is a retained digit. Selective Amnesia reports 0.058 and
#   2.19 on MNIST, and those are not comparable: they score samples a generative model draws
#   for a label it was taught to map to noise (so high entropy is the goal there), while these
#   score reconstructions of held-out real digits, where a clean retained digit is the goal.
# - **fresh probe** (compare: retrained): a linear probe finds 76.5% of the forgotten digits
#   in the unlearned model's codes, fewer than in the original's (85.3%) and between the two
#   retrains' (78.3% and 73.3%): within the retrain spread, since the two retrains differ
#   from each other by more than the unlearned model differs from their mean. The
#   default loss does not aim at the codes (notebook 3's `evidence_codes` hides the digits
#   from the Q-layers too); redrawing each forget digit as one clear other digit moves its
#   code towards that digit's, part of the way.
# - **MIA** and **relearning** [2, 3]: the privacy audit, below.
# - **vs retrains**: "indistinguishable" only inside the retrain spread. Most rows are
#   outside it: the default suppresses far more than retraining does, and it is *not*
#   indistinguishable from a retrained model. The course says so, and does not claim it.

# %% [markdown]
# ## Reference bands: the untrained floor and the retrain spread
#
# Three rows of the report are not "lower is better": the fresh probe and the two
# membership-inference numbers. Each is read against two references. The **retrain
# spread** is where an honest retrain lands (the band is centred on the two retrains'
# mean, as wide on each side as they are apart). The **untrained** MAE shows what a model
# that learned nothing gives: for the probe it is the floor (even random convolutions keep
# some of the digit's shape), and for the MIA it shows only how the training and test
# halves of the data differ.

# %%
import matplotlib.pyplot as plt

banded = {"probe_acc_forget": "fresh probe on forgotten", "mia_auc": "MIA ROC AUC", "mia_accuracy": "MIA accuracy"}
fig, axes = plt.subplots(len(banded), 1, figsize=(7, 4.2))
for ax, (key, label) in zip(axes, banded.items()):
    first, second = report.retrained[key], report.retrained_2[key]
    middle, half = (first + second) / 2, abs(first - second)
    print(f"{label:<25} untrained {report.untrained[key]:.3f}   retrain band [{middle - half:.3f}, "
          f"{middle + half:.3f}]   unlearned {report.unlearned[key]:.3f}   original {report.original[key]:.3f}"
          f"   -> {report.verdict_of(key)}")
    ax.axvspan(middle - half, middle + half, color="tab:green", alpha=0.3, label="retrain spread")
    for name, marker, colour in (("untrained", "x", "0.4"), ("original", "o", "tab:blue"),
                                 ("unlearned", "D", "tab:red")):
        ax.plot(getattr(report, name)[key], 0, marker, color=colour, ms=9, label=name)
    ax.set_yticks([])
    ax.set_title(label, fontsize=10, loc="left")
fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, ncol=4, loc="lower center")
fig.tight_layout(rect=(0, 0.07, 1, 1))
plt.show()

# %% [markdown]
# On the probe, the unlearned model sits inside the band (0.765 against 0.708 to 0.808).
# On the MIA AUC it sits inside too, near the bottom (0.502 against 0.492 to 0.525), and on
# the cruder attack, the logistic regression's accuracy, at the top of a narrow band (0.489
# against 0.482 to 0.489). The untrained MAE sits above the bands: on the offline digits
# the test split happens to be a little harder to redraw than the training split, so even
# a model that learned nothing shows a small gap. So on this run neither attack tells the
# unlearned model from a retrain. That is not the rule: in the README's methods table, on
# the same forget set, its MIA AUC lies just *below* the retrains' band (offline and at
# 8,000 digits), and a run on another CPU saved this notebook with 0.505 against 0.506 to
# 0.518. Read a verdict that turns on the third decimal as "at the edge of the band".
#
# Why can "less than retrained" be seen, when it happens? The unlearning loop pushes on the forget
# digits of the **training** split, the very images the attacker calls members. So it
# damages the members a little more than the unseen forget digits, and their edge over the
# non-members ends up *smaller* than in a retrain: an AUC below the retrains'. The probe
# reads the codes the same way: less of the digit than in a retrain is a trace too. An auditor
# who trains a retrain of their own (or knows where retrains land) sees the model fall
# outside the band on the low side, and that is as much a fingerprint of unlearning as a
# value above it. Over-forgetting is not a safe margin; it is a difference.

# %% [markdown]
# ## What the models draw
#
# The MSE per digit, as bars (forgotten digits shaded), and the reconstructions of one test
# digit of each kind:

# %%
from mae_helpers import compare_reconstructions, plot_per_digit_mse

plot_per_digit_mse({"original": report.original, "unlearned": report.unlearned, "retrained": report.retrained},
                   forget_digits)
plt.show()
three_models = {"original": original, "unlearned": unlearned, "retrained": retrained}
compare_reconstructions(three_models, everything.test, device=device,
                        title=f"test digits and their reconstructions (forgetting {list(forget_digits)})")
plt.show()

# %% [markdown]
# The forgotten digits' bars rise for the unlearned model, above the retrained model's,
# while the retained digits' bars barely move. In the grid, the unlearned model redraws each
# forget digit as another digit: the 0 as a 5, the 3 and the 6 as 8s, the 9 as a 7. The
# retrained model's drawings of them are blurrier, and some are still plainly what they
# were (its 9 is a 9): that is the 19–27% the judge still recognises.
#
# ### Exercise 1 (coding): a referee of your own
#
# A referee need not be a neural network. Complete `nearest_mean_accuracy(model, dataset)`:
# it redraws each of `dataset.images` with `model` (no gradient), gives each drawing the
# digit whose mean image (`means`, computed from the *real* training digits) is nearest in
# squared distance, and returns the share of drawings whose digit is `dataset.targets`.
# `torch.cdist` gives all the distances at once.
#
# **How to tell it worked**: the check prints one share per model for the forget test
# digits, then `Exercise 1: check passed.` It asserts that the mean images themselves are
# all named right, compares your function with a slower version written another way, and
# expects the original's share to be above the unlearned model's.

# %%
train_images, train_labels = everything.train.dataset.images, everything.train.dataset.targets
means = torch.stack([train_images[train_labels == d].mean(0) for d in range(10)])  # (10, 1, 28, 28)


def nearest_mean_accuracy(model, dataset):
    """Share of `dataset.images` whose reconstruction by `model` is nearest to the mean image of its own digit."""
    # Exercise: redraw dataset.images with model (torch.no_grad()), flatten, cdist to means.flatten(1), argmin.
    raise NotImplementedError("complete nearest_mean_accuracy")


def check_nearest_mean():
    """Exercise 1's check: the means name themselves, a slower version agrees, and unlearning lowers the share."""
    from types import SimpleNamespace

    identity = torch.nn.Identity()
    assert nearest_mean_accuracy(identity, SimpleNamespace(images=means, targets=torch.arange(10))) == 1.0
    shares = {name: nearest_mean_accuracy(model, forget_test.dataset) for name, model in three_models.items()}
    for name, share in shares.items():
        print(f"{name:<10} nearest-mean referee on forgotten digits: {share:.1%}")
    with torch.no_grad():
        drawn = original.eval()(forget_test.dataset.images)
    distances = ((drawn[:, None] - means[None]) ** 2).sum(dim=(2, 3, 4))  # (images, 10) without cdist
    slow = (distances.argmin(1) == forget_test.dataset.targets).float().mean().item()
    assert abs(shares["original"] - slow) < 1e-6, f"the original's share should be {slow:.1%}"
    assert shares["original"] > shares["unlearned"], "unlearning should lower the share"


exercises.check("Exercise 1", check_nearest_mean)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 1: `nearest_mean_accuracy`
@exercises.solution  # stands in for your function only while yours raises NotImplementedError
def nearest_mean_accuracy(model, dataset):
    """Share of `dataset.images` whose reconstruction by `model` is nearest to the mean image of its own digit."""
    with torch.no_grad():
        drawn = model.eval()(dataset.images).flatten(1)
    nearest = torch.cdist(drawn, means.flatten(1)).argmin(1)
    return (nearest == dataset.targets).float().mean().item()


exercises.check("Exercise 1", check_nearest_mean)

# %% [markdown]
# A referee this simple already tells the original from the unlearned model, and ranks the
# three models as the judge does. It is cruder than the judge (mean images are blurry, and
# many real digits are nearer another digit's mean), which is why the course grades with a
# trained classifier.

# %% [markdown]
# ## The privacy audit
#
# Suppression asks what the model draws. A privacy audit asks something else: could
# anyone tell that the model was once *trained* on the forgotten digits? Two tests from the
# unlearning literature, both on the forget digits only (`mae_helpers/audit.py`).
#
# **Membership inference (MIA).** An attacker holds the model and some images of 0, 3, 6
# and 9: some were in its training split (the *members*), some never were (the test split,
# the *non-members*). A model redraws what it trained on a little better, so a low
# reconstruction error hints "member". The report gives two numbers: the ROC AUC of "lower
# error = member" (0.5: no hint) and, as the NeurIPS 2023 Machine Unlearning Challenge's
# starting kit does, the cross-validated accuracy of a logistic regression on the error
# (balanced classes, 50%: no hint). Here are the errors themselves:

# %%
from mae_helpers.audit import in_chunks, membership_sets
from mae_helpers.evaluate import per_image_mse

members, outsiders = membership_sets(everything.train, everything.test, forget_digits)
print(f"members: {len(members)} forget digits trained on; non-members: {len(outsiders)} forget test digits")
four_models = {**three_models, "retrained 2": retrained_2}
errors = {name: (per_image_mse(model, in_chunks(members), device)[0], per_image_mse(model, in_chunks(outsiders),
                                                                                     device)[0])
          for name, model in four_models.items()}
fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True)
for ax, (name, (member_errors, outsider_errors)) in zip(axes, errors.items()):
    bins = torch.linspace(-2.6, 0, 40).tolist()
    ax.hist(member_errors.log10().tolist(), bins, density=True, alpha=0.6, label="members (trained on)")
    ax.hist(outsider_errors.log10().tolist(), bins, density=True, alpha=0.6, label="non-members (test)")
    block = report.retrained_2 if name == "retrained 2" else getattr(report, name)
    ax.set_title(f"{name}: AUC {block['mia_auc']:.3f}", fontsize=10)
    ax.set_xlabel("log10 reconstruction MSE")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# For the original model the members' errors sit a little to the left of the non-members':
# it fits what it trained on, and the attacker's AUC (0.589) is well above the retrains'.
# After unlearning both histograms move right, to higher errors, and the members lose their
# edge (0.502, beside the retrains' 0.500 and 0.517). The retrains' AUC is not 0.5 either:
# it is the yardstick.
#
# ### Exercise 2 (coding): the MIA's AUC by counting pairs
#
# The ROC AUC has a plain meaning: pick one member and one non-member at random; the AUC is
# the chance that the member has the *lower* error (a tie counts half). Complete
# `membership_auc(member_errors, outsider_errors)` by comparing every member with every
# non-member (broadcasting: `member_errors[:, None]` against `outsider_errors[None, :]`).
#
# **How to tell it worked**: `Exercise 2: check passed.` The check tries three tiny cases
# whose answers are 1, 0 and 0.5, then compares your AUC with the report's for all four
# models.

# %%
def membership_auc(member_errors, outsider_errors):
    """P(a random member's error < a random non-member's), ties counting half."""
    # Exercise: a (members, non-members) table of comparisons, then its mean.
    raise NotImplementedError("complete membership_auc")


def check_membership_auc():
    """Exercise 2's check: three tiny cases, then the report's mia_auc of each model."""
    low, high = torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4, 0.5])
    assert abs(membership_auc(low, high) - 1.0) < 1e-9, "members all lower: AUC 1"
    assert abs(membership_auc(high, low) - 0.0) < 1e-9, "members all higher: AUC 0"
    assert abs(membership_auc(low, low) - 0.5) < 1e-9, "the same errors: ties count half, AUC 0.5"
    for name, (member_errors, outsider_errors) in errors.items():
        block = report.retrained_2 if name == "retrained 2" else getattr(report, name)
        mine = float(membership_auc(member_errors, outsider_errors))
        assert abs(mine - block["mia_auc"]) < 1e-6, f"{name}: {mine:.4f}, the report says {block['mia_auc']:.4f}"


exercises.check("Exercise 2", check_membership_auc)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 2: `membership_auc`
@exercises.solution  # stands in for your function only while yours raises NotImplementedError
def membership_auc(member_errors, outsider_errors):
    """P(a random member's error < a random non-member's), ties counting half."""
    m, o = member_errors[:, None].double(), outsider_errors[None, :].double()
    return ((m < o).double() + 0.5 * (m == o).double()).mean().item()


exercises.check("Exercise 2", check_membership_auc)

# %% [markdown]
# ### Relearning
#
# The second test of the audit fine-tunes a copy of each model on the forget digits'
# training images (Adam, the unlearning learning rate) and counts the steps until the judge
# recognises half of the redrawn forget test digits again. A model that only *hid* a digit
# gets it back in a few steps; one that never knew it has to learn it. The report's row:

# %%
from mae_helpers.audit import RELEARN_LEVEL, RELEARN_MAX_STEPS

for name in COLUMNS:
    steps = getattr(report, name)["relearn_steps"]
    shown = f"more than {RELEARN_MAX_STEPS}" if steps is None else steps
    print(f"{name:<12} the judge recognises {RELEARN_LEVEL:.0%} of the forget digits again after {shown} steps")

# %% [markdown]
# The original needs no steps (it still draws the digits). The unlearned model needs 4, the
# retrains 1 and 2: on the offline digits, a model that once drew a 3 and a model that never
# did relearn it within a few steps of each other, so this check separates little here. The
# report still calls the unlearned model "above spread": the band reaches one step (one
# check of the relearning schedule) either side of the retrains' mean, 1.5 steps, and 4 lies
# outside it. A model that had only hidden the digits behind a thin
# layer would show 0 or 1 (the baselines below show both).
#
# ### Exercise 3 (Think!): more forgotten than retraining: a win?
#
# The judge recognises far fewer forgotten digits in the unlearned model's drawings than in
# a retrained model's, it takes longer to relearn them, and in some runs the membership
# attack's AUC falls below the retrains'. Is that a better result than retraining?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# It depends on which notion you need. For **suppression** (a model that must not produce
# the digits: copyrighted or harmful content, a class that should never be drawn) yes: it
# does what retraining does not. For **indistinguishability** (privacy: the model should be
# as if the data had never been there) no. A model that draws 3s *worse* than any model
# that never saw a 3, or whose code holds less of them than an honest retrain's, stands out;
# a detector that knows what a retrain looks like sees the difference, and the difference
# itself says which digits were removed. That is why every "compare" row is read against the
# retrain spread from both sides, and why a value below it is reported as over-forgetting,
# not as a success. A privacy-minded method would aim at the retrains' numbers instead.
# </details>

# %% [markdown]
# ## The bottleneck codes in 2-D
#
# Each digit becomes a code of 10 numbers. To look at them we project the codes of the test
# digits onto their two main directions (principal components): centre the codes, and keep
# the two directions along which they spread most (an exact SVD, instant for 10 numbers).
# One dot per test digit, the forget digits large and the retain digits faint; each number
# sits at the middle of its digit's cloud.

# %%
from matplotlib import patheffects

test_images, test_labels = everything.test.dataset.images, everything.test.dataset.targets.cpu()


@torch.no_grad()
def codes_in_2d(model):
    """The bottleneck codes of the test digits, projected on their two principal components."""
    codes = model.eval().encode(test_images).float().cpu()
    centred = codes - codes.mean(0)
    _, _, directions = torch.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:2].T


fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
for ax, (name, model) in zip(axes, three_models.items()):
    points = codes_in_2d(model)
    for digit in range(10):
        mine = points[test_labels == digit]
        forget = digit in forget_digits
        ax.scatter(mine[:, 0], mine[:, 1], s=14 if forget else 5, alpha=0.85 if forget else 0.2,
                   color=plt.cm.tab10(digit), label=str(digit) if forget else None)
        ax.annotate(str(digit), mine.median(0).values.tolist(), fontsize=14 if forget else 11, weight="bold",
                    ha="center", va="center", color="black" if forget else "0.4",
                    path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].legend(title="forget", fontsize=8, markerscale=1.5, loc="best")
fig.suptitle("bottleneck codes of the test digits, first two principal components")
fig.tight_layout()
plt.show()

# %% [markdown]
# What to look for:
#
# - **original**: the forget digits have places of their own.
# - **unlearned**: the forget digits have moved towards the digits they are now drawn as:
#   the 9s sit among the 4s and 7s, and the 6s have left their own place for the middle of
#   the retained digits. Their places are less their own than in the original's code, which
#   is why the fresh probe finds fewer of them (76.5% against 85.3%), about as many as in a
#   retrain's code (78.3% and 73.3%).
# - **retrained**: it never learned the forget digits, yet its code keeps some of them
#   apart, by coding each like the retain digits it resembles. That is why the fresh probe
#   scores far above the untrained floor on the retrains, and why we compare with them
#   rather than with zero.
#
# Two dimensions show only part of a 10-number code.
#
# ### Exercise 4 (Think!): why is the fresh probe so good on the retrained models?
#
# The retrained models never saw a forget digit, yet a fresh linear probe on their codes
# names many of them correctly, far more than on the untrained MAE. How can a code hold
# evidence of a digit its model never learned?
#
# <details>
# <summary>Our answer (click to open)</summary>
#
# The probe is trained on codes of *all* digits, forget digits included: it learns where
# the retrained model happens to put a 3. The retrained model codes a 3 by its strokes, like
# the retain digits it resembles (part 5, part 8), and that mixture is consistent enough
# from one 3 to the next for a linear probe to find it. "Never trained on" does not mean
# "cannot tell apart". This is why the probe is read against the retrains, not against
# zero, and why a probe far below theirs is itself a trace of unlearning.
# </details>

# %% [markdown]
# ## Is it better than the simple baselines?
#
# The first question anyone asks of an unlearning method. Two baselines from the
# literature run in the same loop, with the same budget, witness, guard and stopping rule;
# only the loss differs (`mae_helpers/unlearn.py`, `LOSSES`):
#
# - **`finetune`**: steps on the retained digits only, `MSE(out_r, x_r)`. The baseline of the
#   NeurIPS 2023 Machine Unlearning Challenge's starting kit: forget by letting the forget
#   digits fade while the model keeps practising the rest.
# - **`neggrad`**: NegGrad+ (Kurmanji et al. 2023): descend on the retained digits' MSE and
#   *ascend* on the forget digits', each image's ascent capped so that it cannot run away.
#
# Each model gets every measurement of the report, relearning included. The table shows
# the original and the two retrains first, as references.

# %%
from mae_helpers.report import evaluate_model


def measure(model):
    """Every report metric of one model, the relearning check included."""
    return evaluate_model(model, judge, everything.train, everything.test, forget_digits, device, relearn=True,
                          cfg=cfg)


def print_table(runs):
    """One row per model: the references, then each unlearning run (name -> (metrics, history))."""
    print(f"{'model':<16}{'steps':>6}{'judge true':>11}{'any forget':>11}{'retained MSE':>13}{'retained judge':>15}"
          f"{'probe':>7}{'MIA AUC':>8}{'relearn':>8}")
    rows = [(name, getattr(report, name), None) for name in ("original", "retrained", "retrained_2")]
    rows += [(name, metrics, run.steps) for name, (metrics, run) in runs.items()]
    for name, m, steps in rows:
        relearn = f">{RELEARN_MAX_STEPS}" if m["relearn_steps"] is None else m["relearn_steps"]
        print(f"{name:<16}{'' if steps is None else steps:>6}{m['judge_acc_forget']:>11.1%}"
              f"{m['judge_any_forget']:>11.1%}{m['mse_retain'] / report.original['mse_retain']:>12.3f}x"
              f"{m['judge_acc_retain']:>15.1%}{m['probe_acc_forget']:>7.1%}{m['mia_auc']:>8.3f}{relearn:>8}")


runs = {"evidence": (report.unlearned, history)}
baseline_models = {}
for method in ("finetune", "neggrad"):
    baseline_models[method], run = prepared.unlearn(method, progress=False)
    runs[method] = (measure(baseline_models[method]), run)
    print(f"{method}: {run.steps} steps ({run.stopped})")
print()
print_table(runs)

# %% [markdown]
# Read it plainly:
#
# - **Suppression: the default wins by far.** The judge still recognises 75.2% of the
#   forgotten digits after `finetune` and 29.5% after `neggrad`, against 1.3% after
#   `evidence`; counting any forget digit, 79.3% and 32.0% against 6.0%. In 300 steps
#   `neggrad` gets to the retrains' level (24.0% and 29.8%), `finetune` not near it.
# - **Keeping the retained digits: both baselines win.** `finetune` ends *below* the
#   original's retained MSE (0.888x: it spends every step practising the retained digits),
#   and so does `neggrad` (0.962x); the default 1.050x, inside its guard but the highest of
#   the three. Both baselines have the better retained judge (93.5% and 92.8% against
#   92.0%).
# - **Privacy audit: no method is indistinguishable on every row.** `finetune`'s MIA AUC
#   (0.527) is just above the retrains' band (the members still fit better), `neggrad`'s
#   (0.480) below it, the default's (0.502) inside it. On the probe the baselines leave more
#   of the digits in the code than either retrain (84.8% and 89.7%, against 78.3% and
#   73.3%), the default 76.5%, inside the retrain spread; `neggrad` and the default relearn
#   in 4 steps, where the retrains take 1 and 2.
#
# So the default does what it is for, suppression, at a price in retained error that the
# baselines do not pay. Where you need a model that keeps the retained digits best and the
# forget digits need not vanish from its drawings, `finetune` is the better choice. These
# are 4,000 digits; on 8,000 (the README's methods table, rerun with this evidence term)
# `neggrad` comes much closer (7.7% at 1.083x) and the default beats it on both axes (1.9%
# at 1.068x), while `finetune` still keeps the retained digits better (0.922x) and forgets
# little (80.7%). On the 60k layout `neggrad` forgets little (70.3%) but keeps the retained
# digits better than the default (1.080x against 1.105x), so there neither wins on both. That holds for 0 3 6 9, not for
# every forget set: forgetting 7 or 1 8 on 8,000 digits, `neggrad` forgets as much as the
# default under the benchmark's independent judge and keeps the retained digits better
# (*the other named sets* in benchmarks/results/README.md, the benchmark log). Over the 27
# forget sets of the README's sweep, NegGrad+ forgets as well as the default at a retained
# cost no higher on 6 sets at 8,000 digits by
# the independent judge (on 1 by both judges), and on 1 set of 27 at the 60k layout; `finetune`
# on none (the log's *baselines over the forget-set sweep*). Check a claim on more than one
# forget set.
#
# ### Exercise 5 (coding): your own baseline
#
# Write a baseline as a loss function and put it in the table. The loop calls it as
# `loss(s, x_forget, x_retain, cfg)` and takes one Adam step on the result; `s.model` is
# the model being changed and `s.forget_weight` the weight the loop's controller moves
# (notebook 3). Yours: **the blank page**. Keep the retained digits
# (`MSE(s.model(x_retain), x_retain)`) and teach the model to draw every forget digit as an
# empty page (all pixels -1, the background), weighted by `s.forget_weight`:
# `MSE(s.model(x_retain), x_retain) + s.forget_weight * MSE(s.model(x_forget), blank)`.
# Selective Amnesia does something like it, mapping the forgotten class to noise.
#
# **How to tell it worked**: `Exercise 5: check passed.` The check calls your loss on a few
# real digits with the weight at 0 and at 0.5 and compares it with the formula; it also
# wants a tensor the loop can call `backward()` on. The cell after the solution then unlearns
# with your loss (the solution's while yours is not done) and adds a row to the table.

# %%
import copy
from types import SimpleNamespace

import torch.nn.functional as F


def loss_blank(s, x_forget, x_retain, cfg):
    """Keep the retained digits; draw each forget digit as a blank page (all pixels -1), weight s.forget_weight."""
    # Exercise: two MSE terms; torch.full_like(x_forget, -1.0) is the blank page.
    raise NotImplementedError("complete loss_blank")


def check_loss_blank():
    """Exercise 5's check: the loss on real digits against the formula, at forget_weight 0 and 0.5."""
    is_forget = torch.isin(train_labels, torch.tensor(forget_digits, device=train_labels.device))
    x_f, x_r = train_images[is_forget][:32], train_images[~is_forget][:32]
    model = copy.deepcopy(original).eval()
    keep = F.mse_loss(model(x_r), x_r)
    blank = F.mse_loss(model(x_f), torch.full_like(x_f, -1.0))
    at_0 = loss_blank(SimpleNamespace(model=model, forget_weight=0.0), x_f, x_r, cfg)
    at_half = loss_blank(SimpleNamespace(model=model, forget_weight=0.5), x_f, x_r, cfg)
    assert torch.is_tensor(at_half) and at_half.dim() == 0, "return one number, as a 0-dimensional tensor"
    assert at_half.requires_grad, "keep the graph (no .item(), no torch.no_grad()): the loop calls backward()"
    assert torch.allclose(at_0, keep, rtol=1e-5), "with forget_weight 0 the loss is the retained digits' MSE"
    assert torch.allclose(at_half, keep + 0.5 * blank, rtol=1e-5), "the forget term: forget_weight x MSE to blank"


exercises.check("Exercise 5", check_loss_blank)

# %% cellView="form" jupyter={"source_hidden": true} tags=["solution"]
#@title Solution to Exercise 5: `loss_blank`
@exercises.solution  # stands in for your function only while yours raises NotImplementedError
def loss_blank(s, x_forget, x_retain, cfg):
    """Keep the retained digits; draw each forget digit as a blank page (all pixels -1), weight s.forget_weight."""
    out = s.model(torch.cat([x_forget, x_retain]))
    out_f, out_r = out[: len(x_forget)], out[len(x_forget):]
    return F.mse_loss(out_r, x_retain) + s.forget_weight * F.mse_loss(out_f, torch.full_like(out_f, -1.0))


exercises.check("Exercise 5", check_loss_blank)

# %% [markdown]
# Your loss in the same loop, with the same budget, and its row in the table:

# %%
blank_model, blank_run = prepared.unlearn(loss_blank, progress=False)
runs["blank (yours)"] = (measure(blank_model), blank_run)
print(f"blank: {blank_run.steps} steps ({blank_run.stopped})\n")
print_table(runs)

# %% [markdown]
# Your baseline, read as plainly: **on this run the blank page beats the default on two of
# three axes.** The judge names any forget digit in 4.0% of the forgotten digits against the
# default's 6.0%, and the retained MSE ends *below* the original's (0.943x) against the
# default's 1.050x; only on the true digit does the default win (1.3% against 2.7%). A fixed
# target that is easy to reach, with an exact gradient, is simply easier to learn than
# fooling a reader.
#
# It pays on the other axes. Its forgotten digits are blank pages, a signature anyone who
# looks at the drawings sees (Selective Amnesia's noise has the same problem). The code still
# holds the digits (probe 89.0%, with `neggrad`'s 89.7% the highest in the table): only the
# decoder learned to hide them, and one step of relearning brings half of them back. And its
# MIA AUC (0.479) is the furthest below the retrains' band: the strongest over-forgetting of
# all. Which method is better
# depends on what you need; a cheap baseline that wins on the headline numbers is a result to
# report, not to hide. It is also one run on 4,000 digits: on 8,000 (the README's methods
# table, with this evidence term) the blank page forgot less than the default (4.9% against
# 1.9%) and won only on the retained error, which is why it is not the default.

# %% [markdown]
# ## Stronger or gentler: the strength sweep
#
# `strength` is the one dial. It sets how little evidence may remain (the loop stops once
# the witness's belief that a held-out forget digit shows a forget digit is at most
# `forget_target / strength`) and how much the retained digits may pay (their validation
# MSE may rise by `retain_tolerance × strength`). We unlearn at several strengths with
# everything else from `cfg`, and the judge reads the test digits. Strength 0 is the
# original model; strength 1 is the run above.

# %%
from mae_helpers.train import reconstruction_mse

strengths = [0, 0.5, 1, 2]
sweep = {}
for strength in strengths:
    if strength == cfg.strength:
        model, run = unlearned, history  # the report's run: the same config, so the same model
    else:
        model, run = prepared.unlearn(progress=False, strength=strength)
    judged = judge_scores(judge, model, everything.test, forget_digits, device=device)
    sweep[strength] = {"model": model, "judge forget": judged["judge_acc_forget"],
                       "any forget": judged["judge_any_forget"],
                       "MSE ratio": reconstruction_mse(model, retain_test, device) / report.original["mse_retain"]}
    print(f"strength {strength:<4g} judge: true digit {sweep[strength]['judge forget']:6.1%}, any forget digit "
          f"{sweep[strength]['any forget']:6.1%}; retained MSE {sweep[strength]['MSE ratio']:.3f}x the original's; "
          f"{run.steps} steps")

# %% [markdown]
# The trade-off as a curve, and what each strength draws (the top row is the real test digit):

# %%
from mae_helpers.viz import image_grid, one_per_digit

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot([s["MSE ratio"] for s in sweep.values()], [s["any forget"] for s in sweep.values()], "o-",
        label="unlearned, by strength")
for strength, s in sweep.items():
    ax.annotate(f"{strength:g}", (s["MSE ratio"], s["any forget"]), textcoords="offset points", xytext=(4, 6))
for name, marker in (("retrained", "*"), ("retrained_2", "P")):
    block = getattr(report, name)
    ax.plot(block["mse_retain"] / report.original["mse_retain"], block["judge_any_forget"], marker, ms=11,
            label=name.replace("_", " "))
ax.set_xlabel("retained MSE / original's (test digits)")
ax.set_ylabel("judge: any forget digit")
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
ax.set_title("forgetting vs keeping")
fig.tight_layout()
plt.show()

digits, digit_labels = one_per_digit(everything.test)
with torch.no_grad():
    rows = {"digit": digits, **{f"strength {s:g}": sweep[s]["model"].eval()(digits) for s in strengths}}
image_grid(rows, digit_labels, title="the test digits redrawn after unlearning at each strength")
plt.show()

# %% [markdown]
# Strength 0 changes nothing. Above it, in this run, both go the way the dial says: the
# retained digits pay more at every step (1.040x, 1.050x, 1.110x, each inside the guard its
# strength sets: 5%, 10%, 20% on held-out digits), and more of the forget digits go
# (counting any forget digit: 8.7%, 6.0%, 2.5%; the true digit: 4.3%, 1.3%, 1.3%). At these
# levels one test digit is 0.25 points. That is not guaranteed: every run used its whole
# budget, so the strength acts through the guard and the controller rather than through an
# earlier stop, and the loop returns the check where its *witness* saw the least, so a
# stronger push can end on a check the judge reads a little worse (the README's strength
# benchmark finds that on one seed of three, and this notebook's previous saved run, on
# another CPU, forgot a little less at strength 2 than at 1). In the grid the retained
# digits stay recognisable at every strength; the 0 becomes a 5, the 3 an 8, the 6 a 4 and
# the 9 a 7 at every strength above 0.
#
# The retrains sit far up the curve: aiming at them would mean a much gentler unlearning,
# which is the indistinguishability question of Exercise 3.
#
# ### Scrub through the strengths
#
# The pictures are drawn once, in advance, so moving the slider swaps them instantly: drag
# it and watch the forget digits fade while the others stay.

# %% tags=["nbval-ignore-output"]
# nbval-ignore-output: the widget text holds PNG bytes
from IPython.display import display

from mae_helpers.widgets import StrengthScrubber, figure_png

pictures, captions = [], []
for strength in strengths:
    s = sweep[strength]
    fig = compare_reconstructions({"original": original, "unlearned": s["model"]}, everything.test, device=device,
                                  title=f"strength {strength:g}")
    pictures.append(figure_png(fig))
    plt.close(fig)  # only the slider shows it
    captions.append(f"<b>strength {strength:g}</b>: the judge names a forget digit in {s['any forget']:.0%} of the "
                    f"forgotten digits; retained MSE {s['MSE ratio']:.2f}x the original's")
display(StrengthScrubber(strengths, pictures, captions).widget())

# %% [markdown]
# ## Summary
#
# - Forgetting is graded by referees that take no part in it: the judge on the drawings
#   (suppression: the true digit, and any forget digit), the fresh probe on the codes, and
#   the privacy audit (membership inference and relearning), each read against two
#   retrained models and their spread. The witness is only the loop's stopping rule.
# - The default `evidence` loop suppresses the forgotten digits far more than retraining
#   (the judge names a forget digit in 6.0% of them, against 28.7% and 32.2% for the
#   retrains), inside its guard on the retained digits, by redrawing each as one clear
#   other digit. It is *not* indistinguishable from retraining: the judge sees far less of
#   the forgotten digits, and it takes longer to relearn them (4 steps against 1 and 2),
#   over-forgetting that an auditor can see. In this run its codes (the probe) and its
#   members' edge (the MIA) are within the retrain spread; in others the MIA falls just
#   below it.
# - Against the baselines at the same budget: `finetune` and `neggrad` keep the retained
#   digits better and forget far less (`neggrad` about as much as a retrain). Your
#   blank-page baseline beats the default on any forget digit and on keeping in this run
#   (not on the true digit), and pays with blank drawings, a code that still holds the
#   digits, and fast relearning.
# - Strength trades forgetting against keeping, one dial for both the target and the guard;
#   strength 0 is the original model. Here more strength cost the retained digits more and
#   forgot more; forgetting need not always grow with it (the README's strength benchmark).
#
# The numbers of this run, and the time the run took from the setup cell to here:

# %%
for name, (metrics, _) in runs.items():
    print(f"{name:<14} judge: true {metrics['judge_acc_forget']:.1%}, any forget {metrics['judge_any_forget']:.1%}; "
          f"retained MSE {metrics['mse_retain'] / report.original['mse_retain']:.3f}x; "
          f"probe {metrics['probe_acc_forget']:.1%}; MIA AUC {metrics['mia_auc']:.3f}")
print(f"this notebook ran in {time.perf_counter() - notebook_start:.0f} s on {device}")

# %% [markdown]
# **Where next**: another forget set (`cfg = cfg.replace(forget_digits=(7,))` in the setup
# cell, then Run All; the networks for it are trained and cached), another method
# (`prepared.unlearn("repel")`, `"evidence_codes"`, `"original"`), or the command line:
# `mae-unlearn --forget 1 8 --method neggrad`. The README's *Results* give the default over
# 27 forget sets on 8,000 of MNIST's test digits and over the same 27 on 48,000 training
# images (the 60k layout), each with a second, independent judge, and this notebook's methods
# table.
#
# ## Further reading
#
# - L. Bourtoule et al. [Machine Unlearning](https://arxiv.org/abs/1912.03817). IEEE
#   Symposium on Security and Privacy, 2021. SISA: retrain only the shard that held the
#   erased data, so that exact retraining, the gold standard here, becomes cheap.
# - A. Golatkar, A. Achille, S. Soatto. [Eternal Sunshine of the Spotless Net: Selective
#   Forgetting in Deep Networks](https://arxiv.org/abs/1911.04933). CVPR 2020. Forgetting
#   defined as indistinguishability from a model never trained on the data; information can
#   hide in the weights when the outputs look clean, and the time a model takes to relearn
#   the data is one of their read-outs (our relearning check).
# - R. Shokri, M. Stronati, C. Song, V. Shmatikov. [Membership Inference Attacks against
#   Machine Learning Models](https://arxiv.org/abs/1610.05820). IEEE Symposium on Security
#   and Privacy, 2017. Telling training data from unseen data by a model's behaviour: the
#   attack of the privacy audit.
# - M. Kurmanji, P. Triantafillou, J. Hayes, E. Triantafillou. [Towards Unbounded Machine
#   Unlearning](https://arxiv.org/abs/2302.09880). NeurIPS 2023. SCRUB, and NegGrad+, the
#   strengthened gradient-ascent baseline it compares with (our `neggrad`).
# - E. Triantafillou et al. [Are we making progress in unlearning? Findings from the first
#   NeurIPS unlearning competition](https://arxiv.org/abs/2406.09073). arXiv, 2024. The
#   NeurIPS 2023 Machine Unlearning Challenge: its starting kit's fine-tuning baseline (our
#   `finetune`) and its logistic-regression membership attack (the report's MIA accuracy).
# - A. Heng, H. Soh. [Selective Amnesia: A Continual Learning Approach to Forgetting in
#   Deep Generative Models](https://arxiv.org/abs/2305.10120). NeurIPS 2023. Judges a
#   generative model's forgetting with a classifier on what it draws, as our judge does. Its
#   MNIST numbers (probability 0.058 for the forgotten class, entropy 2.19) score samples the
#   model *generates* for a label it has learned to map to noise, not reconstructions of
#   held-out real digits, so they are not comparable with the report's rows.
# - C. Fan, J. Liu, Y. Zhang, E. Wong, D. Wei, S. Liu. [SalUn: Empowering Machine
#   Unlearning via Gradient-based Weight Saliency in Both Image Classification and
#   Generation](https://arxiv.org/abs/2310.12508). ICLR 2024. Evaluates unlearning against
#   retraining with several gaps at once, membership inference among them, as the report does.
# - *Evidence Unlearning with a Modified Autoencoder (MAE) for MNIST*, the research project
#   this course grows from: scripts that trained a main MAE on all ten digits and an
#   auxiliary MAE on the digits divisible by 3 (0, 3, 6, 9), then fine-tuned the main one on
#   batches of all digits with the loss `MSE(out, x) + β / (MSE(out, aux_out) + 1e-8)`. They
#   defined three Q-layers and never used them, and measured forgetting by the MSE of the
#   forget digits alone: no judge, no retrained model, no held-out test. This notebook adds
#   those referees; the README says what else the course keeps and changes.
