import json

import pytest
import torch
from torch import nn

import mae_helpers.evaluate as ev
from mae_helpers import MAE, get_config, get_mnist_loaders, train_and_validate
from mae_helpers.evaluate import (
    METRIC_KEYS,
    Judge,
    UnlearningReport,
    classifier_accuracy,
    evaluate_model,
    judge_scores,
    per_digit_mse,
    probe_accuracy,
    probe_scores,
    train_judge,
)
from mae_helpers.train import reconstruction_mse

FORGET = (0, 3, 6, 9)
SMALL = dict(epochs=3, max_train_images=1200, source="offline", seed=0)  # judge: ~88% test accuracy in seconds


class Blank(nn.Module):
    """A 'model' that has forgotten everything: blank reconstructions, one constant code for every image."""

    def forward(self, x):
        return -torch.ones_like(x)

    def encode(self, x):
        return torch.zeros(len(x), 10)


@pytest.fixture(scope="module")
def judge():
    return train_judge(get_config(**SMALL), device="cpu", progress=False)


@pytest.fixture(scope="module")
def trained_mae():
    """An MAE trained for 5 s on small_loaders' 960 training images: its reconstructions are recognisable."""
    loaders = get_mnist_loaders(source="offline", batch_size=32, max_train_images=1200, seed=0, device="cpu")
    torch.manual_seed(0)
    model = MAE()
    train_and_validate(model, loaders.train, loaders.val, epochs=8, lr=3e-3, progress=False, device="cpu")
    return model.eval()


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
    assert classifier_accuracy(judge, small_loaders.test, "cpu") == pytest.approx(judge.test_accuracy)

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


def test_evaluate_model_returns_exactly_the_metrics_as_plain_floats(trained_mae, judge, small_loaders):
    metrics = evaluate_model(trained_mae, judge, small_loaders.train, small_loaders.test, FORGET, device="cpu")
    assert list(metrics) == list(METRIC_KEYS)
    assert all(type(metrics[k]) is float for k in METRIC_KEYS if k != "per_digit_mse")
    assert len(metrics["per_digit_mse"]) == 10 and all(type(v) is float for v in metrics["per_digit_mse"])
    assert metrics["mse_forget"] == pytest.approx(sum(metrics["per_digit_mse"][d] for d in FORGET) / 4, rel=1e-5)
    blank = evaluate_model(Blank(), judge, small_loaders.train, small_loaders.test, FORGET, device="cpu")
    assert blank["mse_forget"] > metrics["mse_forget"]
    assert metrics["judge_acc_forget"] > 0.5 and metrics["judge_acc_retain"] > 0.5  # chance is 0.1
    assert blank["judge_acc_forget"] <= 0.25 + 1e-6 and blank["probe_acc_forget"] <= 0.25 + 1e-6


def test_report_recomputes_from_the_models(trained_mae, judge, small_loaders, tmp_path):
    train, test = small_loaders.train, small_loaders.test
    unlearned = MAE().eval()
    report = UnlearningReport.from_models(trained_mae, unlearned, None, judge, train, test, FORGET,
                                          seconds={"train": 1.5, "unlearn": 0.5}, config=get_config(**SMALL),
                                          device="cpu")
    # CPU evaluation is deterministic (the probe is zero-initialised), so the numbers agree exactly
    assert report.original == evaluate_model(trained_mae, judge, train, test, FORGET, device="cpu")
    assert report.unlearned == evaluate_model(unlearned, judge, train, test, FORGET, device="cpu")
    assert report.retrained is None

    with torch.no_grad():  # change the unlearned model: a recomputed report must notice
        unlearned.decoder[-2].bias.fill_(-3.0)
    changed = UnlearningReport.from_models(None, unlearned, None, judge, train, test, FORGET, device="cpu")
    assert changed.original is None
    assert changed.unlearned["mse_retain"] != pytest.approx(report.unlearned["mse_retain"], rel=1e-3)

    data = json.loads(json.dumps(report.to_dict()))  # JSON-able
    assert set(data) == {"config", "original", "unlearned", "retrained", "seconds"}
    assert data["config"]["forget_digits"] == list(FORGET) and data["config"]["epochs"] == SMALL["epochs"]
    assert set(data["original"]) == set(METRIC_KEYS) and data["retrained"] is None
    assert data["seconds"] == {"train": 1.5, "unlearn": 0.5}
    assert UnlearningReport.from_dict(data).to_dict() == data
    assert json.loads(report.save(tmp_path / "run" / "metrics.json").read_text()) == data

    text = str(report)
    assert "original" in text and "unlearned" in text and "retrained" not in text.splitlines()[1]
    assert "0, 3, 6, 9" in text and "lower is better" in text
    assert len({len(line) for line in text.splitlines()[1:]}) == 1  # fixed width: every table line equally long
    assert "<table>" in report._repr_html_() and "unlearned" in report._repr_html_()
