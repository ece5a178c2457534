"""audit.py: the AUC and the attack's statistics, who counts as a member, and the relearning check."""

import types

import pytest
import torch
from conftest import SMALL
from torch import nn

from mae_helpers import MAE, get_config
from mae_helpers.audit import (
    MIA_KEYS,
    RELEARN_MAX_STEPS,
    fit_logistic,
    forget_images,
    logistic_cv_accuracy,
    membership_sets,
    mia_scores,
    relearn_steps,
    roc_auc,
)
from mae_helpers.common import image_hashes
from mae_helpers.data import DigitTensors

FORGET = (0, 3, 6, 9)


def pairwise_auc(positive, negative):
    """The Mann-Whitney definition: the share of (positive, negative) pairs ordered right, ties half."""
    p, n = positive[:, None], negative[None, :]
    return float(((p > n).double() + 0.5 * (p == n).double()).mean())


def test_roc_auc_on_a_hand_counted_example_with_ties():
    # pairs: 0.9 beats both; each 0.5 ties the negative 0.5 (half) and beats 0.1: (2 + 1.5 + 1.5) / 6
    assert roc_auc(torch.tensor([0.9, 0.5, 0.5]), torch.tensor([0.5, 0.1])) == pytest.approx(5 / 6)
    assert roc_auc(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 0
    assert roc_auc(torch.tensor([7.0]), torch.tensor([7.0, 7.0])) == 0.5
    with pytest.raises(ValueError, match="both groups"):
        roc_auc(torch.tensor([1.0]), torch.tensor([]))


def test_roc_auc_is_the_mann_whitney_statistic():
    generator = torch.Generator().manual_seed(1)
    for size_p, size_n in ((50, 70), (300, 17)):
        positive = torch.randint(0, 12, (size_p,), generator=generator).float()  # many ties
        negative = torch.randint(0, 10, (size_n,), generator=generator).float()
        assert roc_auc(positive, negative) == pytest.approx(pairwise_auc(positive, negative), abs=1e-12)
    stats = pytest.importorskip("scipy.stats")
    u = stats.mannwhitneyu(positive.numpy(), negative.numpy()).statistic  # U of the first sample
    assert roc_auc(positive, negative) == pytest.approx(u / (size_p * size_n))


def test_logistic_regression_on_separable_and_on_random_data():
    generator = torch.Generator().manual_seed(0)
    label = torch.cat([torch.ones(500), torch.zeros(500)])
    separable = torch.cat([torch.rand(500, generator=generator) + 1.5, torch.rand(500, generator=generator)])  # a gap
    assert logistic_cv_accuracy(separable, label) == 1.0
    a, b = fit_logistic(separable, label)
    assert torch.isfinite(a) and torch.isfinite(b) and a > 0  # the penalty keeps the slope finite
    noise = torch.randn(1000, generator=generator)
    assert abs(logistic_cv_accuracy(noise, label) - 0.5) < 0.06
    # on data drawn from a logistic model, Newton's method finds its weights
    x = torch.randn(20000, generator=generator, dtype=torch.float64)
    y = (torch.rand(20000, generator=generator, dtype=torch.float64) < torch.sigmoid(2 * x - 1)).double()
    assert fit_logistic(x, y).tolist() == pytest.approx([2.0, -1.0], abs=0.1)


def test_fit_logistic_matches_scikit_learns_default_the_starting_kit_uses():
    linear_model = pytest.importorskip("sklearn.linear_model")
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(60, generator=generator, dtype=torch.float64)
    y = (x + 0.8 * torch.randn(60, generator=generator, dtype=torch.float64) > 0).double()
    kit = linear_model.LogisticRegression(tol=1e-12).fit(x[:, None].numpy(), y.numpy())  # C=1: L2 on the slope only
    assert fit_logistic(x, y).tolist() == pytest.approx([kit.coef_[0, 0], kit.intercept_[0]], abs=1e-4)


class Memoriser(nn.Module):
    """Redraws the images it memorised exactly and every other image as a blank."""

    def __init__(self, memorised):
        super().__init__()
        self.known = set(image_hashes(memorised))

    def forward(self, x):
        known = torch.tensor([h in self.known for h in image_hashes(x)])
        return torch.where(known[:, None, None, None], x, -torch.ones_like(x))


class HashNoise(nn.Module):
    """A reconstruction error that depends on the image's pixels only by chance: membership leaves no trace."""

    def forward(self, x):
        shift = torch.tensor([int.from_bytes(h[:2], "little") / 65536 for h in image_hashes(x)])
        return x + shift[:, None, None, None]


def loader(images, targets):
    """The least a loader must offer `mia_scores`: a dataset holding the split as two tensors."""
    return types.SimpleNamespace(dataset=DigitTensors(images, targets))


def test_a_model_that_memorised_the_members_is_caught_and_one_that_did_not_is_not(small_loaders):
    train, test = small_loaders.train, small_loaders.test
    memoriser = Memoriser(forget_images(train.dataset, FORGET))
    caught = mia_scores(memoriser, train, test, FORGET, device="cpu")
    assert caught["mia_auc"] == 1.0 and caught["mia_accuracy"] > 0.99
    chance = mia_scores(HashNoise(), train, test, FORGET, device="cpu")
    assert abs(chance["mia_auc"] - 0.5) < 0.08 and abs(chance["mia_accuracy"] - 0.5) < 0.08
    # members are forget digits only: memorising the retained digits tells no more than memorising nothing
    retained_only = Memoriser(train.dataset.images[~torch.isin(train.dataset.targets, torch.tensor(FORGET))])
    assert mia_scores(retained_only, train, test, FORGET, device="cpu") == \
        mia_scores(Memoriser(train.dataset.images[:0]), train, test, FORGET, device="cpu")
    assert mia_scores(HashNoise(), loader(train.dataset.images[:0], train.dataset.targets[:0]), test, FORGET,
                      device="cpu") == dict.fromkeys(MIA_KEYS)


def test_members_are_counted_once_and_copies_of_training_images_are_no_non_members(small_loaders):
    train, test = small_loaders.train.dataset, small_loaders.test.dataset
    members, outsiders = membership_sets(small_loaders.train, small_loaders.test, FORGET)
    assert len(members) == int(torch.isin(train.targets, torch.tensor(FORGET)).sum())  # distinct already
    # tile a few members five times more and slip one member into the test split
    is_member = torch.isin(train.targets, torch.tensor(FORGET))
    extra_images = train.images[is_member][:40].repeat(5, 1, 1, 1)
    extra_labels = train.targets[is_member][:40].repeat(5)
    tiled = loader(torch.cat([train.images, extra_images]), torch.cat([train.targets, extra_labels]))
    leaked = loader(torch.cat([test.images, extra_images[:1]]), torch.cat([test.targets, extra_labels[:1]]))
    tiled_members, tiled_outsiders = membership_sets(tiled, leaked, FORGET)
    assert torch.equal(tiled_members, members) and torch.equal(tiled_outsiders, outsiders)
    # the low-error copies would otherwise weigh five times: the scores must not move
    assert mia_scores(HashNoise(), tiled, leaked, FORGET, device="cpu") == \
        mia_scores(HashNoise(), small_loaders.train, small_loaders.test, FORGET, device="cpu")


def test_relearning_takes_no_steps_for_a_model_that_still_draws_the_digits(trained_mae, judge, small_loaders):
    cfg = get_config(**SMALL)
    before = {k: v.clone() for k, v in trained_mae.state_dict().items()}
    result = relearn_steps(trained_mae, judge, forget_images(small_loaders.train.dataset, FORGET),
                           small_loaders.test, FORGET, cfg, device="cpu")
    assert result["relearn_steps"] == 0 and result["relearn_seconds"] > 0
    assert all(torch.equal(v, trained_mae.state_dict()[k]) for k, v in before.items())  # the model is untouched


def test_relearning_a_blank_model_takes_steps(judge, small_loaders):
    blank = MAE()
    with torch.no_grad():
        blank.decoder[-2].bias.fill_(-3.0)  # tanh(-3): every reconstruction is background
    before = {k: v.clone() for k, v in blank.state_dict().items()}
    result = relearn_steps(blank, judge, forget_images(small_loaders.train.dataset, FORGET), small_loaders.test,
                           FORGET, get_config(**SMALL), device="cpu")
    assert result["relearn_steps"] is None or 0 < result["relearn_steps"] <= RELEARN_MAX_STEPS
    assert all(torch.equal(v, blank.state_dict()[k]) for k, v in before.items())
