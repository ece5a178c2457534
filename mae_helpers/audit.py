"""The privacy audit: could anyone tell that the model once trained on the forgotten digits?

Two tests from the unlearning literature, both on the forget digits only:

* Membership inference (`mia_scores`). An attacker holds the model and some images of the
  forgotten digits: some were in its training split (members), some never were (the test
  split). A model fits what it trained on a little better, so the reconstruction error of
  each image hints at membership. We report the ROC AUC of "lower error = member" (0.5: no
  hint at all) and, as the NeurIPS 2023 Machine Unlearning Challenge's starting kit does, the
  cross-validated accuracy of a logistic regression on that error, with classes balanced.
  Read both against the *retrained* models', not against 0.5: the training and test halves
  of a data set differ in difficulty, so even a model that never saw either shows a gap.
  A value *below* the retrained one is over-forgetting, and it gives the model away too.
* Relearning (`relearn_steps`). Fine-tune a copy on the forget digits and count the steps
  until the judge recognises half of the redrawn test digits again. A model that only hid
  a digit relearns it in a few steps; one that never knew it takes as long as learning.
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from .common import device_of, distinct, in_chunks, not_copies
from .config import Config
from .evaluate import judge_scores, per_image_mse

CV_FOLDS = 5
MIA_KEYS = ("mia_auc", "mia_accuracy")
RELEARN_KEYS = ("relearn_steps", "relearn_seconds")
RELEARN_MAX_STEPS = 200  # a model that has not relearned by then reports None ("more than this")
# The steps after which the judge looks: every step at first, then ~25% apart. A hidden digit comes
# back in a handful of steps, so "5 or fewer" would lump the unlearned and retrained models together.
RELEARN_CHECKS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, RELEARN_MAX_STEPS)
RELEARN_LEVEL = 0.5  # "relearned" once the judge recognises this share of the redrawn forget digits
LOGISTIC_PENALTY = 1.0  # L2 on the slope, as scikit-learn's default LogisticRegression (C=1) the starting kit uses


def roc_auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a random positive scores above a random negative), ties counting half (the Mann-Whitney U statistic)."""
    if not len(positive) or not len(negative):
        raise ValueError(f"roc_auc needs both groups; got {len(positive)} positive and {len(negative)} negative scores")
    scores = torch.cat([positive.flatten(), negative.flatten()]).double()
    _, group, counts = scores.unique(sorted=True, return_inverse=True, return_counts=True)
    last = counts.cumsum(0).double()  # 1-based rank of each distinct value's last copy
    ranks = (last - (counts - 1) / 2)[group]  # tied scores share the mean of their ranks
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_logistic(x: torch.Tensor, y: torch.Tensor, iterations: int = 25,
                 penalty: float = LOGISTIC_PENALTY) -> torch.Tensor:
    """Weights (a, b) of P(y=1) = sigmoid(a x + b), by Newton's method with an L2 penalty on a.

    Without the penalty separable data have no optimum (a grows without bound); with it each
    step is a 2x2 solve of a strictly convex problem, which converges in a few iterations.
    """
    x, y = x.double(), y.double()
    features = torch.stack([x, torch.ones_like(x)], 1)
    ridge = torch.diag(torch.tensor([penalty, 1e-9], dtype=torch.float64))  # the intercept is not penalised
    w = torch.zeros(2, dtype=torch.float64)
    for _ in range(iterations):
        p = torch.sigmoid(features @ w)
        gradient = features.T @ (p - y) + ridge @ w
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + ridge
        w = w - torch.linalg.solve(hessian, gradient)
    return w


def logistic_cv_accuracy(feature: torch.Tensor, label: torch.Tensor, folds: int = CV_FOLDS, seed: int = 0) -> float:
    """Mean held-out accuracy of a 1-feature logistic regression over `folds` folds (the starting kit's attack)."""
    order = torch.randperm(len(label), generator=torch.Generator().manual_seed(seed))
    feature, label = feature[order].double(), label[order].double()
    correct = 0.0
    for fold in torch.arange(len(label)).chunk(folds):
        train = torch.ones(len(label), dtype=torch.bool)
        train[fold] = False
        mean, std = feature[train].mean(), feature[train].std().clamp_min(1e-12)
        a, b = fit_logistic((feature[train] - mean) / std, label[train])
        guess = a * (feature[fold] - mean) / std + b > 0
        correct += (guess.double() == label[fold]).sum().item()
    return correct / len(label)


def forget_images(dataset, forget_digits) -> torch.Tensor:
    """The images of `dataset` (a DigitTensors) whose label is a forget digit."""
    is_forget = torch.isin(dataset.targets, torch.tensor(forget_digits, device=dataset.targets.device))
    return dataset.images[is_forget]


def membership_sets(train_loader, test_loader, forget_digits) -> tuple[torch.Tensor, torch.Tensor]:
    """(members, non-members) for the MIA: distinct forget training images; forget test images that are no copy."""
    train_images = train_loader.dataset.images
    members = forget_images(train_loader.dataset, forget_digits)
    members = members[distinct(members)]
    # A test image with the exact pixels of a training image was trained on: it is no non-member.
    outsiders = forget_images(test_loader.dataset, forget_digits)
    return members, outsiders[not_copies(outsiders, train_images)]


def mia_scores(model: nn.Module, train_loader, test_loader, forget_digits, device=None, seed: int = 0) -> dict:
    """Membership inference on the forget digits: {"mia_auc", "mia_accuracy"} (None where a group is empty).

    Members: forget digits of `train_loader` (the training split, never validation), each
    distinct image once. Non-members: forget digits of `test_loader`, less exact copies of a
    training image. mia_auc: ROC AUC of "lower reconstruction error = member". mia_accuracy:
    the starting kit's attack, a logistic regression on the (log) error, cross-validated over
    CV_FOLDS folds, on equal numbers of both (drawn with `seed`). 0.5 is no hint at all, but
    read both against the retrained models' values (module docstring): below them is
    over-forgetting, which an attacker sees as well as under-forgetting.
    """
    members, outsiders = membership_sets(train_loader, test_loader, forget_digits)
    if not len(members) or not len(outsiders):
        return dict.fromkeys(MIA_KEYS)
    member_errors, _ = per_image_mse(model, in_chunks(members), device)
    outsider_errors, _ = per_image_mse(model, in_chunks(outsiders), device)
    auc = roc_auc(-member_errors, -outsider_errors)  # lower error = member
    n = min(len(member_errors), len(outsider_errors))
    generator = torch.Generator().manual_seed(seed)
    pick_m = torch.randperm(len(member_errors), generator=generator)[:n]
    pick_o = torch.randperm(len(outsider_errors), generator=generator)[:n]
    # The log spreads the errors' long right tail: one standardised feature fits a logistic regression better.
    feature = torch.cat([member_errors[pick_m], outsider_errors[pick_o]]).clamp_min(1e-12).log()
    label = torch.cat([torch.ones(n), torch.zeros(n)])
    return {"mia_auc": auc, "mia_accuracy": logistic_cv_accuracy(feature, label, seed=seed)}


def relearn_steps(model: nn.Module, judge: nn.Module, forget_train, test_loader, forget_digits, cfg: Config,
                  device=None) -> dict:
    """Steps of Adam (`cfg.unlearn_lr`, `cfg.forget_batch`) on the forget digits until the judge recognises half again.

    `forget_train`: the forget digits' training images (a tensor). After each step count in
    RELEARN_CHECKS the judge reads the student's reconstructions of the forget test digits.
    Returns {"relearn_steps": the first such count at which it recognises RELEARN_LEVEL of
    them (0: it still draws them) or None (not within RELEARN_MAX_STEPS),
    "relearn_seconds": wall time}. The batches come from `cfg.seed`, so every model sees the
    same ones. The model itself is untouched.
    """
    device = device_of(model, device)
    start = time.perf_counter()
    student = copy.deepcopy(model).to(device).train()  # a copy learns; the caller's model is untouched
    optimizer = torch.optim.Adam(student.parameters(), lr=cfg.unlearn_lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    images = forget_train.to(device)
    test_set = test_loader.dataset
    is_forget = torch.isin(test_set.targets, torch.tensor(forget_digits, device=test_set.targets.device))
    # Only the forget test digits: the check runs up to 22 times, and the retained ones do not count.
    looks = in_chunks(test_set.images[is_forget], test_set.targets[is_forget])

    def recognised() -> float:
        return judge_scores(judge, student, looks, forget_digits, device)["judge_acc_forget"]

    steps = None
    for step in range(RELEARN_MAX_STEPS + 1):
        if step in RELEARN_CHECKS and recognised() >= RELEARN_LEVEL:
            steps = step
            break
        if step == RELEARN_MAX_STEPS:
            break
        pick = torch.randint(len(images), (cfg.forget_batch,), generator=generator).to(device)
        loss = F.mse_loss(student(images[pick]), images[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {"relearn_steps": steps, "relearn_seconds": time.perf_counter() - start}
