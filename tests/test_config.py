"""config.py: every field is checked, range and type, when a Config is made; numbers of any kind; switches; devices."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from mae_helpers import get_config
from mae_helpers.config import check_digits, env_flag, resolve_device, split_digits


@pytest.mark.parametrize("field, value", [
    ("strength", -0.5), ("retain_tolerance", -0.1), ("epochs", 0), ("unlearn_max_steps", 0), ("check_every", 0),
    ("retain_batch", 0), ("forget_batch", 0), ("q_fit_steps", 0), ("witness_images", 0), ("lr", 0.0),
    ("val_fraction", 1.0), ("evidence_margin", -0.5), ("aux_steps", -1), ("channels", (8, 0, 32)), ("source", "usb"),
    ("forget_digits", tuple(range(10))),
    # not a finite number, or not a number at all
    ("strength", float("nan")), ("lr", float("inf")), ("epochs", 2.5), ("seed", "0"), ("strength", True),
    # the wrong type (data_root=b"data" was accepted and failed later with a bare TypeError)
    ("data_root", b"data"), ("data_root", 7), ("channels", b"abc"), ("channels", "abc"),
])
def test_every_field_is_checked_once_when_a_config_is_made_naming_it(field, value):
    with pytest.raises(ValueError, match=field):
        get_config(**{field: value})
    with pytest.raises(ValueError, match=field):  # also on the dataclasses path, which skips Config.replace
        dataclasses.replace(get_config(), **{field: value})


def test_a_data_root_may_be_a_path():
    assert get_config(data_root=Path("data") / "mnist").data_root == str(Path("data") / "mnist")


def test_numpy_numbers_and_0d_tensors_are_numbers():
    cfg = get_config(strength=np.float32(1.5), epochs=np.int64(3), max_train_images=torch.tensor(600),
                     forget_digits=torch.tensor([0, 3]))
    assert (cfg.strength, cfg.epochs, cfg.max_train_images, cfg.forget_digits) == (1.5, 3, 600, (0, 3))
    assert type(cfg.strength) is float and type(cfg.epochs) is int
    assert check_digits(torch.tensor(3)) == (3,) and check_digits(np.array([7, 1])) == (1, 7)
    assert split_digits([torch.tensor(0), np.int8(9)])[0] == (0, 9)


def test_unlearn_takes_a_numpy_strength_given_through_dataclasses_replace(experiment):
    from mae_helpers.unlearn import unlearn

    cfg = tiny_config(forget_digits=(0, 1), unlearn_max_steps=2, q_fit_steps=2)
    for strength in (np.float32(1.0), torch.tensor(1.0)):
        # dataclasses.replace skips Config.replace's checks: the number must still reach unlearn as a float
        _, history = unlearn(experiment.original, experiment.original, dataclasses.replace(cfg, strength=strength),
                             progress=False)
        assert history.strength == 1.0 and type(history.strength) is float


@pytest.mark.parametrize("value, on", [("1", True), ("On", True), ("0", False), ("off", False), ("", False)])
def test_env_flag_words(monkeypatch, value, on):
    monkeypatch.setenv("MAE_TEST_FLAG", value)
    assert env_flag("MAE_TEST_FLAG") is on


def test_mps_is_picked_when_present_and_refused_when_absent(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device() == torch.device("mps") and resolve_device("mps") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="mps"):
        resolve_device("mps")
