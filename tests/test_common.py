"""The helpers both wings share: running a model without changing it, accuracy, image hashes, the schedule."""

import pytest
import torch
from torch import nn

from mae_helpers import MAE, get_config
from mae_helpers.common import classifier_accuracy, distinct, image_hashes, in_chunks, inference, not_copies, one_cycle


def test_inference_runs_a_model_without_changing_it_and_restores_its_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train()
    weights = [p.clone() for p in model.parameters()]
    x = torch.ones(2, 4)
    with inference(model):
        assert not model.training and not torch.is_grad_enabled()
        assert torch.equal(model(x), model(x)), "eval mode: dropout is off"
    assert model.training and torch.is_grad_enabled()
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    with pytest.raises(RuntimeError), inference(model):
        raise RuntimeError("an error inside the block")
    assert model.training, "the mode comes back after an error too"


def test_classifier_accuracy_counts_right_answers():
    class Says3(nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()

    labels = torch.tensor([3, 3, 1, 3])
    assert classifier_accuracy(Says3(), in_chunks(torch.zeros(4, 1, 28, 28), labels)) == pytest.approx(0.75)


def test_copies_are_found_by_their_exact_pixels():
    images = torch.rand(5, 1, 28, 28)
    again = torch.cat([images[:2], images[:1], torch.rand(1, 1, 28, 28)])
    assert image_hashes(images[:1]) == image_hashes(images[:1].clone())
    assert not_copies(again, images).tolist() == [False, False, False, True]
    assert distinct(again).tolist() == [True, True, False, True]


def test_one_cycle_is_none_for_a_run_too_short_to_have_one():
    optimizer = torch.optim.Adam(MAE().parameters(), lr=1e-3)
    assert one_cycle(optimizer, 1e-3, 5) is None and one_cycle(optimizer, 1e-3, 10) is not None


def _public_functions_that_take_a_model():
    """(name, call(model, judge, loaders)) for every public function that runs a model it is given."""
    from mae_helpers import viz
    from mae_helpers.audit import mia_scores, relearn_steps
    from mae_helpers.evaluate import judge_scores, measure_model, per_digit_mse, per_image_mse, probe_scores
    from mae_helpers.report import evaluate_model
    from mae_helpers.train import reconstruction_mse
    from mae_helpers.witness import Witness, WitnessNet

    forget = (3, 6)
    return {
        "per_image_mse": lambda m, j, ld: per_image_mse(m, ld.test),
        "per_digit_mse": lambda m, j, ld: per_digit_mse(m, ld.test),
        "judge_scores": lambda m, j, ld: judge_scores(j, m, ld.test, forget),
        "probe_scores": lambda m, j, ld: probe_scores(m, ld.train, ld.test, forget, epochs=5),
        "measure_model": lambda m, j, ld: measure_model(m, j, ld.train, ld.test, forget),
        "mia_scores": lambda m, j, ld: mia_scores(m, ld.train, ld.test, forget),
        "relearn_steps": lambda m, j, ld: relearn_steps(m, j, ld.train.dataset.images[:64], ld.test, forget,
                                                        get_config(fast=True)),
        "evaluate_model": lambda m, j, ld: evaluate_model(m, j, ld.train, ld.test, forget),
        "reconstruction_mse": lambda m, j, ld: reconstruction_mse(m, ld.test),
        "visualize_reconstructions": lambda m, j, ld: viz.visualize_reconstructions(m, ld.test),
        "compare_reconstructions": lambda m, j, ld: viz.compare_reconstructions({"m": m}, ld.test),
        "classifier_accuracy (the judge)": lambda m, j, ld: classifier_accuracy(j, ld.test),
        "Witness.look": lambda m, j, ld: Witness(WitnessNet(), m, ld.val.dataset, ld.train.dataset.images, forget,
                                                 64).look(m),
    }


@pytest.mark.parametrize("name", list(_public_functions_that_take_a_model()))
def test_every_public_function_runs_a_model_without_changing_it(name, small_loaders, judge):
    """It never moves the caller's model or its weights, and gives it back in the mode it came in."""
    import matplotlib.pyplot as plt

    call = _public_functions_that_take_a_model()[name]
    model = MAE().train()
    judge.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    judge_before = {k: v.clone() for k, v in judge.state_dict().items()}
    try:
        call(model, judge, small_loaders)
    finally:
        plt.close("all")
    assert model.training and judge.training, "the mode it came in"
    for net, weights in ((model, before), (judge, judge_before)):
        for key, value in net.state_dict().items():
            assert torch.equal(value, weights[key]) and value.device.type == "cpu" and value.is_contiguous(), key
    judge.eval()
