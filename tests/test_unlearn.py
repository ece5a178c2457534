"""Unlearning on a small offline subset: it must separate forget from retain, and refuse bad input."""

import pytest
import torch

from mae_helpers import MAE, get_config, get_mnist_loaders, train_cached
from mae_helpers.evaluate import judge_scores, train_judge
from mae_helpers.train import reconstruction_mse
from mae_helpers.unlearn import repulsion, train_auxiliary, unlearn

FORGET = (1, 7)
RETAIN = tuple(d for d in range(10) if d not in FORGET)


@pytest.fixture(scope="module")
def setup():
    """A small but working original model, its auxiliary and a judge (about half a minute on 2 cores)."""
    cfg = get_config(source="offline", max_train_images=2000, epochs=6, batch_size=32, forget_digits=FORGET)
    original, _ = train_cached("main", None, cfg, progress=False)
    aux, _ = train_auxiliary(FORGET, cfg, progress=False)
    judge = train_judge(cfg, progress=False)

    def loaders(digits):
        return get_mnist_loaders(source="offline", digits=digits, batch_size=32, max_train_images=2000)

    return cfg, original, aux, judge, loaders(FORGET), loaders(RETAIN), loaders(None)


def test_evidence_loop_separates_forget_from_retain(setup):
    cfg, original, aux, judge, forget, retain, everything = setup
    before = judge_scores(judge, original, everything.test, FORGET)
    weights = {k: v.clone() for k, v in original.state_dict().items()}
    torch.manual_seed(0)
    unlearned, history = unlearn(original, aux, forget.train, retain.train, strength=2.0, epochs=3, progress=False,
                                 cfg=cfg)
    after = judge_scores(judge, unlearned, everything.test, FORGET)
    assert before["judge_acc_forget"] > 0.5, "the original must recognisably reconstruct the digits to forget"
    assert after["judge_acc_forget"] < 0.5 * before["judge_acc_forget"]
    assert after["judge_acc_retain"] > before["judge_acc_retain"] - 0.15
    mse_forget = reconstruction_mse(unlearned, forget.test)
    mse_retain = reconstruction_mse(unlearned, retain.test)
    assert mse_forget > 1.3 * reconstruction_mse(original, forget.test)
    assert mse_retain < 1.5 * reconstruction_mse(original, retain.test)
    assert mse_forget > mse_retain
    # the history has a point before and after every epoch, and the Q-layers lost their belief
    assert history.epoch == [0, 1, 2, 3] and history.seconds > 0
    assert history.q_belief_forget[-1] < history.q_belief_forget[0]
    assert history.mse_forget[-1] > history.mse_forget[0]
    # the model passed in is untouched
    assert all(torch.equal(weights[k], v) for k, v in original.state_dict().items())


def test_strength_zero_changes_little_and_more_strength_forgets_more(setup):
    cfg, original, aux, judge, forget, retain, everything = setup
    results = []
    for strength in (0.0, 2.0):
        torch.manual_seed(0)
        model, _ = unlearn(original, aux, forget.train, retain.train, strength=strength, epochs=1, progress=False,
                           cfg=cfg)
        results.append(reconstruction_mse(model, forget.test))
    assert results[0] < 1.15 * reconstruction_mse(original, forget.test)
    assert results[1] > results[0]


@pytest.mark.parametrize("method", ["repel", "original"])
def test_reference_methods_run_and_raise_forget_mse(setup, method):
    cfg, original, aux, judge, forget, retain, everything = setup
    torch.manual_seed(0)
    model, history = unlearn(original, aux, forget.train, retain.train, method=method, strength=1.0, epochs=1,
                             progress=False, cfg=cfg)
    assert history.method == method and len(history.mse_forget) == 2
    assert reconstruction_mse(model, forget.test) > reconstruction_mse(original, forget.test)


def test_repulsion_is_bounded_and_largest_at_the_target():
    x = torch.zeros(4, 1, 28, 28)
    assert repulsion(x, x, 0.1).item() == pytest.approx(1.0)
    assert 0 < repulsion(x + 1, x, 0.1).item() < 1e-4


def test_bad_input_raises_clear_errors(setup):
    cfg, original, aux, judge, forget, retain, everything = setup
    with pytest.raises(ValueError, match="strength"):
        unlearn(original, aux, forget.train, retain.train, strength=-1, progress=False)
    with pytest.raises(ValueError, match="method"):
        unlearn(original, aux, forget.train, retain.train, method="magic", progress=False)
    with pytest.raises(ValueError, match="architecture"):
        unlearn(original, MAE(channels=(8, 16, 32)), forget.train, retain.train, progress=False)
    with pytest.raises(ValueError, match="share digits"):
        unlearn(original, aux, forget.train, everything.train, progress=False)
    for digits, message in [([], "empty"), (range(10), "all ten"), ([3, 11], "0-9"), ([2, 2], "more than once")]:
        with pytest.raises(ValueError, match=message):
            train_auxiliary(digits, cfg, progress=False)


def test_non_finite_loss_stops_and_keeps_good_weights(setup, monkeypatch, capsys):
    import mae_helpers.unlearn as U

    cfg, original, aux, judge, forget, retain, everything = setup
    calls = []

    def poisoned(s, x_f, x_r, c):
        calls.append(1)
        loss = U.loss_repel(s, x_f, x_r, c)
        return loss * float("nan") if len(calls) > len(forget.train) else loss

    monkeypatch.setitem(U.LOSSES, "repel", poisoned)
    model, history = unlearn(original, aux, forget.train, retain.train, method="repel", epochs=3, progress=False,
                             cfg=cfg)
    assert "non-finite loss in epoch 2" in history.stopped_early
    assert "non-finite" in capsys.readouterr().err
    assert history.epoch == [0, 1]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert reconstruction_mse(model, forget.train) == pytest.approx(history.mse_forget[-1], rel=0.2)
