"""The unlearning loop on a small offline subset: it forgets, controls itself, takes its settings from cfg."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mae_helpers import MAE, get_config, train_cached
from mae_helpers.data import loaders_for
from mae_helpers.evaluate import judge_scores, train_judge
from mae_helpers.train import reconstruction_mse
from mae_helpers.unlearn import (
    ORIGINAL_BETA,
    Run,
    UnlearnState,
    batches,
    loss_original,
    repulsion,
    train_auxiliary,
    unlearn,
)

FORGET = (1, 7)
RETAIN = tuple(d for d in range(10) if d not in FORGET)


@pytest.fixture(scope="module")
def setup():
    """A small but working original model, its auxiliary and a judge (about half a minute on 2 cores)."""
    cfg = get_config(source="offline", max_train_images=2000, epochs=6, batch_size=32, forget_digits=FORGET,
                     unlearn_max_steps=60, check_every=10, cooldown_steps=10, retain_batch=64, q_fit_steps=30,
                     witness_images=256)
    original, _ = train_cached("main", None, cfg, progress=False)
    aux, _ = train_auxiliary(FORGET, cfg, progress=False)
    judge = train_judge(cfg, progress=False)
    return cfg, original, aux, judge


def test_the_loop_forgets_and_keeps_the_rest(setup):
    cfg, original, aux, judge = setup
    everything, forget, retain = loaders_for(cfg), loaders_for(cfg, FORGET), loaders_for(cfg, RETAIN)
    weights = {k: v.clone() for k, v in original.state_dict().items()}
    unlearned, history = unlearn(original, aux, cfg, progress=False)
    before = judge_scores(judge, original, everything.test, FORGET)
    after = judge_scores(judge, unlearned, everything.test, FORGET)
    assert before["judge_acc_forget"] > 0.5, "the original must recognisably reconstruct the digits to forget"
    assert after["judge_acc_forget"] < 0.5 * before["judge_acc_forget"]
    assert after["judge_acc_retain"] > before["judge_acc_retain"] - 0.05
    assert reconstruction_mse(unlearned, forget.test) > 1.3 * reconstruction_mse(original, forget.test)
    # the guard held on the held-out digits the loop watched, and the test digits agree
    assert history.retain_ratio[-1] <= 1 + history.tolerance
    assert reconstruction_mse(unlearned, retain.test) < (1 + 2 * history.tolerance) * reconstruction_mse(
        original, retain.test)
    assert history.recognised[-1] < 0.5 * history.recognised[0]
    assert history.step[0] == 0 and history.steps > 0 and history.seconds > 0
    assert all(torch.equal(weights[k], v) for k, v in original.state_dict().items()), "the original was changed"


def test_the_stop_rule_fires_once_the_evidence_is_gone(setup):
    cfg, original, aux, _ = setup
    lenient = cfg.replace(forget_target=0.4, unlearn_max_steps=200)
    _, history = unlearn(original, aux, lenient, progress=False)
    assert history.stopped.startswith("evidence gone")
    pushed = history.steps - lenient.cooldown_steps
    assert pushed < lenient.unlearn_max_steps, "it stopped before its budget"
    assert history.step[-2] == pushed and history.recognised[-2] <= 0.4 < history.recognised[0]
    assert all(r > 0.4 for r, ratio in zip(history.recognised[:-2], history.retain_ratio[:-2])
               if ratio <= 1 + history.tolerance), "it stopped at the first check that met the rule"


def test_the_guard_never_returns_weights_that_damage_the_retained_digits(setup):
    cfg, original, aux, _ = setup
    reckless = cfg.replace(unlearn_lr=2e-2, retain_tolerance=0.02, forget_weight=5.0)
    model, history = unlearn(original, aux, reckless, progress=False)
    tolerance = history.tolerance
    assert max(history.retain_ratio) > 1 + tolerance, "this run must overshoot for the test to mean anything"
    assert history.retain_ratio[-1] <= 1 + tolerance or "kept step" in history.stopped
    held_out = loaders_for(cfg, RETAIN).val.dataset.images[: cfg.witness_images]
    with torch.no_grad():
        ratio = F.mse_loss(model(held_out), held_out) / F.mse_loss(original(held_out), held_out)
    assert ratio.item() <= 1 + tolerance + 1e-6


def test_the_loop_returns_the_checked_weights_with_the_least_evidence(setup, monkeypatch):
    import mae_helpers.unlearn as U

    cfg, original, aux, _ = setup
    never = cfg.replace(forget_target=0.0, cooldown_steps=0, unlearn_max_steps=40)  # the budget decides

    def scripted_witness(*seen):  # what the witness "sees" at steps 0, 10, 20, 30, 40 (and after)
        counts = iter(seen)
        monkeypatch.setattr(U.Witness, "recognised", lambda self, model: next(counts))

    scripted_witness(0.9, 0.3, 0.1, 0.4, 0.2, 0.2)  # least evidence at step 20
    model, history = unlearn(original, aux, never, progress=False)
    assert history.step[:5] == [0, 10, 20, 30, 40]
    assert history.stopped.endswith("kept step 20"), history.stopped
    scripted_witness(0.9, 0.3, 0.1, 0.1)
    cut, _ = unlearn(original, aux, never.replace(unlearn_max_steps=20), progress=False)
    scripted_witness(0.9, 0.8, 0.7, 0.6, 0.5, 0.5)  # least at the last step
    last, history_last = unlearn(original, aux, never, progress=False)
    assert history_last.stopped.endswith("kept step 40")
    same = [torch.equal(a, b) for a, b in zip(model.state_dict().values(), cut.state_dict().values())]
    assert all(same), "the returned weights are those of step 20"
    assert not torch.equal(model.decoder[-2].weight, last.decoder[-2].weight)


def test_every_setting_comes_from_cfg(setup):
    cfg, original, aux, _ = setup
    never = cfg.replace(forget_target=0.0)  # the witness never reaches 0%: the budget decides
    short, h_short = unlearn(original, aux, never.replace(unlearn_max_steps=20), progress=False)
    long, h_long = unlearn(original, aux, never.replace(unlearn_max_steps=40), progress=False)
    assert (h_short.steps, h_long.steps) == (20 + cfg.cooldown_steps, 40 + cfg.cooldown_steps)
    assert not torch.equal(short.decoder[-2].weight, long.decoder[-2].weight)
    same, _ = unlearn(original, aux, never.replace(unlearn_max_steps=20), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(short.state_dict().values(), same.state_dict().values())), \
        "the same config gives the same model"
    slower, _ = unlearn(original, aux, never.replace(unlearn_max_steps=20, unlearn_lr=1e-4), progress=False)
    assert not torch.equal(short.decoder[-2].weight, slower.decoder[-2].weight)


def test_more_strength_never_forgets_less(setup):
    cfg, original, aux, judge = setup
    test = loaders_for(cfg).test
    judged, costs = [], []
    for strength in (0.0, 0.1, 1.0, 4.0):
        model, history = unlearn(original, aux, cfg.replace(strength=strength), progress=False)
        judged.append(judge_scores(judge, model, test, FORGET)["judge_acc_forget"])
        costs.append(history.retain_ratio[-1])
        if strength == 0:
            assert history.steps == 0
            assert all(torch.equal(a, b) for a, b in zip(model.autoencoder_parameters(),
                                                          original.autoencoder_parameters()))
    assert judged[0] > judged[1] > judged[2] >= judged[3], f"judged forgotten {judged} at strengths 0, 0.1, 1, 4"
    assert costs[1] <= costs[2] <= costs[3], f"retained MSE ratios {costs}"


def test_the_original_method_is_the_research_loss_on_batches_of_all_digits(setup):
    cfg, original, aux, _ = setup
    x = torch.linspace(-1, 1, 2 * 784).reshape(2, 1, 28, 28)
    model, aux_small = MAE(), MAE()
    with torch.no_grad():
        out, aux_out = model(x), aux_small(x)
    # by hand: the mean of the squared differences, and beta over it
    mse = ((out - x) ** 2).sum() / x.numel()
    distance = ((out - aux_out) ** 2).sum() / x.numel()
    expected = mse + 0.1 / (distance + 1e-8)
    s = UnlearnState(model, aux_small, model, 0.0, torch.ones(10, dtype=torch.bool), beta=ORIGINAL_BETA)
    assert loss_original(s, x[:1], x[1:], cfg).item() == pytest.approx(expected.item(), rel=1e-6)
    assert ORIGINAL_BETA == 0.1
    # its batches are cfg.batch_size images of all digits, forget and retained ones mixed
    x_f, y_f, x_r, y_r = next(batches(cfg, all_digits=True, device="cpu"))
    assert len(x_f) + len(x_r) == cfg.batch_size and set(y_f.tolist()) <= set(FORGET)
    assert len(y_f) > 0 and len(y_r) > 0 and not set(y_r.tolist()) & set(FORGET)
    # validation as the research code: the 1 / MSE term without beta
    run = Run(original, aux, loss_original, cfg.replace(strength=3.0), "cpu", all_digits=True)
    with torch.no_grad():
        v = run.val_images
        research = F.mse_loss(original(v), v) + 1 / (F.mse_loss(original(v), aux(v)) + 1e-8)
    assert run.research_val_loss() == pytest.approx(research.item(), rel=1e-5)
    model, history = unlearn(original, aux, cfg, method="original", progress=False)
    assert history.steps == cfg.unlearn_max_steps and "lowest validation loss" in history.stopped


def test_repulsion_is_bounded_and_largest_at_the_target():
    x = torch.zeros(4, 1, 28, 28)
    assert repulsion(x, x, 0.1).item() == pytest.approx(1.0)
    assert 0 < repulsion(x + 1, x, 0.1).item() < 1e-4


def test_bad_input_raises_clear_errors(setup):
    cfg, original, aux, _ = setup
    for strength in (-1, float("nan"), float("inf")):  # dataclasses.replace skips cfg.replace's checks
        with pytest.raises(ValueError, match="strength"):
            unlearn(original, aux, dataclasses.replace(cfg, strength=strength), progress=False)
    with pytest.raises(ValueError, match="method"):
        unlearn(original, aux, cfg, method="magic", progress=False)
    with pytest.raises(ValueError, match="architecture"):
        unlearn(original, MAE(channels=(8, 16, 32)), cfg, progress=False)
    with pytest.raises(ValueError, match="unlearn_max_steps"):
        unlearn(original, aux, dataclasses.replace(cfg, unlearn_max_steps=0), progress=False)
    for digits, message in [([], "empty"), (range(10), "all ten"), ([3, 11], "0-9"), ([2, 2], "more than once")]:
        with pytest.raises(ValueError, match=message):
            train_auxiliary(digits, cfg, progress=False)


def test_numpy_and_tensor_strengths_are_numbers(setup):
    cfg, original, aux, _ = setup
    small = cfg.replace(unlearn_max_steps=10, cooldown_steps=2)
    for strength in (np.float32(0.5), torch.tensor(0.5)):
        _, history = unlearn(original, aux, small.replace(strength=strength), progress=False)
        assert history.strength == 0.5


def test_non_finite_loss_stops_and_keeps_good_weights(setup, monkeypatch, capsys):
    import mae_helpers.unlearn as U

    cfg, original, aux, _ = setup
    calls = []

    def poisoned(s, x_f, x_r, c):
        calls.append(1)
        loss = U.loss_evidence(s, x_f, x_r, c)
        return loss * float("nan") if len(calls) > 25 else loss

    model, history = unlearn(original, aux, cfg, method=poisoned, progress=False)
    assert "non-finite loss at step 26" in history.stopped
    assert "non-finite" in capsys.readouterr().err
    assert history.step == [0, 10, 20] and history.steps == 25
    assert all(torch.isfinite(p).all() for p in model.parameters())
