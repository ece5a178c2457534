"""experiment.py: what the pipeline and a Prepared refuse before they train or unlearn anything."""

import pytest
from conftest import tiny_config

from mae_helpers import MAE
from mae_helpers import experiment as experiment_module
from mae_helpers.evaluate import Judge
from mae_helpers.experiment import Prepared, run_experiment


def test_an_unknown_method_is_refused_before_any_network_trains(monkeypatch):
    # run_experiment(method="evidnce") on an empty cache trained six networks, then refused the name
    monkeypatch.setattr(experiment_module, "prepare", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(ValueError, match="evidnce"):
        run_experiment(tiny_config(), method="evidnce", progress=False)


@pytest.fixture
def prepared(monkeypatch):
    """A Prepared of tiny_config (untrained networks: nothing here unlearns), and the configs unlearn was given."""
    seen = []
    monkeypatch.setattr(experiment_module, "unlearn", lambda original, aux, cfg, **kwargs: seen.append(cfg))
    return Prepared(cfg=tiny_config(), original=MAE(), aux=MAE(), retrained=MAE(), retrained_2=MAE(),
                    judge=Judge(), witness=None, readers=None, training={}), seen


@pytest.mark.parametrize("change", [dict(seed=1), dict(val_fraction=0.3), dict(max_train_images=900),
                                    dict(source="disk"), dict(data_root="elsewhere"), dict(channels=(8, 16, 32)),
                                    dict(hidden=20), dict(code_dim=6), dict(decoder_norm=False)])
def test_prepared_unlearn_refuses_another_data_split_or_architecture(prepared, change):
    # Prepared.unlearn(seed=1) ran silently on another split than its networks were trained on
    p, seen = prepared
    with pytest.raises(ValueError, match=f"{next(iter(change))}=.*prepare"):
        p.unlearn(progress=False, **change)
    assert seen == []


def test_prepared_unlearn_takes_the_unlearning_settings(prepared):
    p, seen = prepared
    p.unlearn(progress=False, strength=2.0, unlearn_max_steps=5, precision="bf16")
    assert (seen[0].strength, seen[0].unlearn_max_steps, seen[0].seed) == (2.0, 5, p.cfg.seed)


def test_prepared_unlearn_refuses_digits_its_auxiliary_network_was_not_trained_on(prepared):
    p, seen = prepared
    with pytest.raises(ValueError, match=r"digits \[0, 3, 6, 9\].*prepare\(cfg.replace\(forget_digits"):
        p.unlearn(forget_digits=(1,))
    assert seen == []
