"""The helpers both wings share: running a model without changing it, accuracy, image hashes, the schedule."""

import pytest
import torch
from torch import nn

from mae_helpers import MAE
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
