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

from .config import Config, resolve_device
from .evaluate import evaluating, judge_scores, per_image_mse
from .unlearn import image_hashes

CV_FOLDS = 5
RELEARN_MAX_STEPS = 200  # a model that has not relearned by then reports None ("more than this")
RELEARN_CHECK_EVERY = 5
RELEARN_LEVEL = 0.5  # "relearned" once the judge recognises this share of the redrawn forget digits


def roc_auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a random positive scores above a random negative), ties counting half (the Mann-Whitney U statistic)."""
    scores = torch.cat([positive, negative]).double()
    ranks = torch.empty_like(scores)
    order = scores.argsort()
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in scores.unique():  # average the ranks of tied scores
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_logistic(x: torch.Tensor, y: torch.Tensor, iterations: int = 25) -> torch.Tensor:
    """Weights (a, b) of P(y=1) = sigmoid(a x + b), by Newton's method (two parameters: a 2x2 solve each step)."""
    features = torch.stack([x, torch.ones_like(x)], 1)
    w = torch.zeros(2, dtype=torch.float64)
    for _ in range(iterations):
        p = torch.sigmoid(features @ w)
        gradient = features.T @ (p - y)
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + 1e-6 * torch.eye(2, dtype=torch.float64)
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


def distinct(images: torch.Tensor) -> torch.Tensor:
    """Mask keeping the first copy of each image (a tiled data set holds the same digit many times)."""
    seen, keep = set(), []
    for h in image_hashes(images):
        keep.append(h not in seen)
        seen.add(h)
    return torch.tensor(keep, dtype=torch.bool)


def mia_scores(model: nn.Module, train_loader, test_loader, forget_digits, device=None, seed: int = 0) -> dict:
    """Membership inference on the forget digits: {"mia_auc", "mia_accuracy"} (0.5 = no hint of membership).

    Members: forget digits of `train_loader` (the training split, never validation), each
    distinct image once. Non-members: forget digits of `test_loader`. Accuracy uses equal
    numbers of both, drawn with `seed`.
    """
    forget = torch.tensor(forget_digits)
    train_set = train_loader.dataset
    is_member = torch.isin(train_set.targets.cpu(), forget)
    members = train_set.images[is_member.to(train_set.images.device)]
    members = members[distinct(members).to(members.device)]
    member_errors, _ = per_image_mse(model, [(members, torch.zeros(len(members)))], device)
    test_errors, test_labels = per_image_mse(model, test_loader, device)
    outsiders = test_errors[torch.isin(test_labels, forget)]
    if not len(member_errors) or not len(outsiders):
        return {"mia_auc": None, "mia_accuracy": None}
    auc = roc_auc(-member_errors, -outsiders)  # lower error = member
    n = min(len(member_errors), len(outsiders))
    generator = torch.Generator().manual_seed(seed)
    pick_m = torch.randperm(len(member_errors), generator=generator)[:n]
    pick_o = torch.randperm(len(outsiders), generator=generator)[:n]
    feature = torch.cat([member_errors[pick_m], outsiders[pick_o]]).clamp_min(1e-12).log()
    label = torch.cat([torch.ones(n), torch.zeros(n)])
    return {"mia_auc": auc, "mia_accuracy": logistic_cv_accuracy(feature, label, seed=seed)}


def relearn_steps(model: nn.Module, judge: nn.Module, forget_train, test_loader, forget_digits, cfg: Config,
                  device=None) -> dict:
    """Steps of Adam (`cfg.unlearn_lr`, `cfg.forget_batch`) on the forget digits until the judge recognises half again.

    `forget_train`: the forget digits' training images (a tensor). Returns {"relearn_steps":
    steps or None (not within RELEARN_MAX_STEPS), "relearn_seconds": wall time}. The model
    itself is untouched.
    """
    device = resolve_device(device)
    start = time.perf_counter()
    student = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.Adam(student.parameters(), lr=cfg.unlearn_lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    images = forget_train.to(device)

    def recognised() -> float:
        with evaluating(student):
            return judge_scores(judge, student, test_loader, forget_digits, device)["judge_acc_forget"]

    steps = None
    for step in range(RELEARN_MAX_STEPS + 1):
        if step % RELEARN_CHECK_EVERY == 0 and recognised() >= RELEARN_LEVEL:
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
