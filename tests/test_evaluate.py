"""evaluate.py: the referees (per-digit MSE, the judge and its cache, the probe, measure_model), real and blank."""

import pytest
import torch
from conftest import SMALL
from torch import nn

import mae_helpers.evaluate as ev
from mae_helpers import MAE, get_config, get_mnist_loaders
from mae_helpers.common import classifier_accuracy
from mae_helpers.evaluate import (
    METRIC_KEYS,
    Judge,
    fit_judge,
    judge_scores,
    measure_model,
    per_digit_mse,
    probe_accuracy,
    probe_scores,
    train_judge,
)
from mae_helpers.train import reconstruction_mse

FORGET = (0, 3, 6, 9)


class Blank(nn.Module):
    """A 'model' that has forgotten everything: blank reconstructions, one constant code for every image."""

    def forward(self, x):
        return -torch.ones_like(x)

    def encode(self, x):
        return torch.zeros(len(x), 10)


def test_per_digit_mse_none_for_absent_digits_and_matches_direct_computation():
    test = get_mnist_loaders(digits=[1, 4, 7], source="offline", batch_size=64, max_train_images=200, device="cpu").test
    model = MAE().eval()
    result = per_digit_mse(model, test, device="cpu")
    assert len(result) == 10
    assert [d for d, v in enumerate(result) if v is None] == [0, 2, 3, 5, 6, 8, 9]
    images, labels = test.dataset.images, test.dataset.targets
    with torch.no_grad():
        for d in (1, 4, 7):
            x = images[labels == d]
            assert result[d] == pytest.approx(((model(x) - x) ** 2).mean().item(), rel=1e-5)
    # three digits of 100 test images each: their mean is the loader-wide MSE
    assert sum(result[d] for d in (1, 4, 7)) / 3 == pytest.approx(reconstruction_mse(model, test, "cpu"), rel=1e-5)


def test_judge_is_accurate_and_loaded_from_cache_the_second_time(judge, small_loaders, monkeypatch):
    assert isinstance(judge, Judge) and not judge.training
    assert judge.test_accuracy > 0.8
    assert classifier_accuracy(judge, small_loaders.test) == pytest.approx(judge.test_accuracy)

    def no_training(*args, **kwargs):
        raise AssertionError("the judge was trained again instead of loaded from the cache")

    monkeypatch.setattr(ev, "fit_judge", no_training)
    again = train_judge(get_config(**SMALL), device="cpu", progress=False)
    assert again.test_accuracy == judge.test_accuracy
    images, _ = next(iter(small_loaders.test))
    with torch.no_grad():
        assert torch.equal(again(images), judge(images))
    # the MAE's own settings do not shape the judge: same judge
    assert train_judge(get_config(**SMALL, lr=1e-3, hidden=32), device="cpu", progress=False).test_accuracy == \
        judge.test_accuracy
    with pytest.raises(AssertionError, match="trained again"):  # other data or training length: another judge
        train_judge(get_config(**{**SMALL, "epochs": 1}), device="cpu", progress=False)


def test_the_judge_trains_at_exactly_five_steps(small_loaders):
    x, y = small_loaders.train.dataset.images[:80], small_loaders.train.dataset.targets[:80]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    assert len(loader) == 5  # torch's OneCycleLR divides by zero here
    assert not fit_judge(Judge(), loader, epochs=1, device="cpu", progress=False).training


def test_judge_on_real_images_recognises_both_groups(judge, small_loaders):
    scores = judge_scores(judge, None, small_loaders.test, FORGET, device="cpu")
    assert scores["judge_acc_forget"] > 0.8 and scores["judge_acc_retain"] > 0.8
    assert scores["judge_p_forgotten"] > 0.6
    assert scores["judge_entropy_forgotten"] < ev.UNIFORM_ENTROPY / 2
    # the offline test split holds 100 images of each digit: 4 forget digits, 6 retain digits
    overall = 0.4 * scores["judge_acc_forget"] + 0.6 * scores["judge_acc_retain"]
    assert overall == pytest.approx(judge.test_accuracy, abs=1e-6)


def test_judge_on_blank_reconstructions_is_at_chance(judge, small_loaders):
    scores = judge_scores(judge, Blank(), small_loaders.test, FORGET, device="cpu")
    # one blank picture for every image, so one verdict: right for at most one of the four forget digits
    assert scores["judge_acc_forget"] <= 0.25 + 1e-6
    # p(0) + p(3) + p(6) + p(9) <= 1 for the same picture, so their mean is at most 1/4
    assert scores["judge_p_forgotten"] <= 0.25 + 1e-6
    assert 0 <= scores["judge_entropy_forgotten"] <= ev.UNIFORM_ENTROPY + 1e-5


def test_probe_finds_evidence_in_a_trained_code_and_none_in_a_constant_one(trained_mae, small_loaders):
    train, test = small_loaders.train, small_loaders.test
    trained = probe_scores(trained_mae, train, test, FORGET, device="cpu")
    assert trained["probe_acc_forget"] > 0.5 and trained["probe_acc_retain"] > 0.5  # chance is 0.1
    assert probe_accuracy(trained_mae, train, test, FORGET, device="cpu") == trained["probe_acc_forget"]  # no seed
    # a constant code gives every image one prediction: right for at most one forget digit in four
    assert probe_accuracy(Blank(), train, test, FORGET, device="cpu") <= 0.25 + 1e-6
    retain_only = get_mnist_loaders(digits=[1, 2], source="offline", max_train_images=200, device="cpu").train
    with pytest.raises(ValueError, match="forget digit"):
        probe_accuracy(trained_mae, retain_only, test, FORGET, device="cpu")


def test_measure_model_returns_exactly_the_metrics_as_plain_floats(trained_mae, judge, small_loaders):
    metrics = measure_model(trained_mae, judge, small_loaders.train, small_loaders.test, FORGET, device="cpu")
    assert list(metrics) == list(METRIC_KEYS)
    assert all(type(metrics[k]) is float for k in METRIC_KEYS if k != "per_digit_mse")
    assert len(metrics["per_digit_mse"]) == 10 and all(type(v) is float for v in metrics["per_digit_mse"])
    assert metrics["mse_forget"] == pytest.approx(sum(metrics["per_digit_mse"][d] for d in FORGET) / 4, rel=1e-5)
    blank = measure_model(Blank(), judge, small_loaders.train, small_loaders.test, FORGET, device="cpu")
    assert blank["mse_forget"] > metrics["mse_forget"]
    assert metrics["judge_acc_forget"] > 0.5 and metrics["judge_acc_retain"] > 0.5  # chance is 0.1
    assert blank["judge_acc_forget"] <= 0.25 + 1e-6 and blank["probe_acc_forget"] <= 0.25 + 1e-6
    for scores in (metrics, blank):  # naming the true digit is naming a forget digit
        assert scores["judge_any_forget"] >= scores["judge_acc_forget"]


class Redrawer(nn.Module):
    """Draws each test image of a forget digit as a real image of the next forget digit (0 -> 3 -> 6 -> 9 -> 0)."""

    def __init__(self, test_set, judge):
        super().__init__()
        labels, images = test_set.targets, test_set.images
        with torch.no_grad():
            sure = judge(images).argmax(1) == labels  # stand-ins the judge itself reads right
        self.stand_in = {d: images[(labels == d) & sure][0] for d in FORGET}
        self.label = {img.numpy().tobytes(): int(y) for img, y in zip(images, labels)}

    def forward(self, x):
        out = x.clone()
        for i, img in enumerate(x):
            digit = self.label[img.numpy().tobytes()]
            if digit in FORGET:
                out[i] = self.stand_in[FORGET[(FORGET.index(digit) + 1) % len(FORGET)]]
        return out


def test_judge_any_forget_catches_a_forget_digit_redrawn_as_another_forget_digit(judge, small_loaders):
    redrawn = judge_scores(judge, Redrawer(small_loaders.test.dataset, judge), small_loaders.test, FORGET, "cpu")
    # Every 0 is now a clear 3, every 3 a clear 6...: the true digit is gone, yet nothing was forgotten.
    assert redrawn["judge_acc_forget"] == 0
    assert redrawn["judge_any_forget"] == 1
    real = judge_scores(judge, None, small_loaders.test, FORGET, device="cpu")
    assert redrawn["judge_acc_retain"] == pytest.approx(real["judge_acc_retain"])  # retained digits untouched
    # Forgetting only 0 and 3, the same drawings: a 0 drawn as a 3 is not forgotten, a 3 drawn as a 6 is.
    pair = judge_scores(judge, Redrawer(small_loaders.test.dataset, judge), small_loaders.test, (0, 3), "cpu")
    assert pair["judge_acc_forget"] == 0 and pair["judge_any_forget"] == pytest.approx(0.5)
