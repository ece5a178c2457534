"""`mae-unlearn --fast` end to end in a temp dir, and its refusals."""

import json
import subprocess
import sys

import pytest

from mae_helpers import load_model
from mae_helpers.cli import main
from mae_helpers.evaluate import METRIC_KEYS


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "demo"
    assert main(["--fast", "--forget", "0", "3", "6", "9", "--out", str(out), "--quiet", "--source", "offline"]) == 0
    return out


def test_fast_run_writes_every_file_and_each_loads(run_dir):
    import matplotlib.image

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"config", "original", "unlearned", "retrained", "seconds", "unlearning"}
    assert metrics["config"]["forget_digits"] == [0, 3, 6, 9]
    assert set(metrics["seconds"]) == {"train", "unlearn", "retrain"}
    for name in ("original", "unlearned", "retrained"):
        assert set(METRIC_KEYS) <= set(metrics[name])
        assert len(metrics[name]["per_digit_mse"]) == 10
        model = load_model(run_dir / f"{name}.pt")
        assert model.metadata["role"] == name
    assert metrics["retrained"]["per_digit_mse"][3] is not None  # evaluated on all test digits
    for figure in ("reconstructions.png", "per_digit_mse.png", "curves.png"):
        assert matplotlib.image.imread(run_dir / figure).shape[0] > 100


def test_report_numbers_are_recomputed_from_the_saved_models(run_dir):
    from mae_helpers import get_config, get_mnist_loaders
    from mae_helpers.evaluate import evaluate_model, train_judge

    metrics = json.loads((run_dir / "metrics.json").read_text())
    fields = get_config().to_dict()
    cfg = get_config(**{k: tuple(v) if isinstance(v, list) else v for k, v in metrics["config"].items()
                        if k in fields})
    judge = train_judge(cfg, progress=False)
    loaders = get_mnist_loaders(source=cfg.source, max_train_images=cfg.max_train_images)
    again = evaluate_model(load_model(run_dir / "unlearned.pt"), judge, loaders.train, loaders.test, [0, 3, 6, 9])
    assert again["mse_forget"] == pytest.approx(metrics["unlearned"]["mse_forget"], rel=1e-4)
    assert again["judge_acc_forget"] == pytest.approx(metrics["unlearned"]["judge_acc_forget"], abs=1e-6)


def test_a_previous_run_is_kept_unless_overwrite(run_dir, capsys):
    before = (run_dir / "metrics.json").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main(["--fast", "--out", str(run_dir), "--quiet"])
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (run_dir / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["--forget"], "expected at least one"),
    (["--forget", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], "all ten"),
    (["--forget", "12"], "0-9"),
    (["--forget", "3", "3"], "more than once"),
    (["--strength", "-1"], "strength"),
    (["--method", "magic"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["--fast", "--out", str(tmp_path / "x"), "--quiet", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_help_states_defaults_and_module_entry_point_works():
    result = subprocess.run([sys.executable, "-m", "mae_helpers", "--help"], capture_output=True, text=True, check=True)
    assert "--forget" in result.stdout and "(default: [0, 3, 6, 9])" in result.stdout
    assert "--unlearn-steps" in result.stdout and "--retain-tolerance" in result.stdout
    assert "--overwrite" in result.stdout


def test_room_preparation_fills_the_cache_and_the_check_finds_it(tmp_path, monkeypatch, capsys):
    """--check-cache trains nothing and fails on an empty cache; after --prepare-only it passes, listing the four."""
    import os

    args = ["--fast", "--forget", "0", "3", "6", "9", "--source", "offline", "--quiet"]
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--check-cache"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no cached main network" in err and "--prepare-only" in err
    assert not list((tmp_path / "empty-cache").glob("*.pt")), "a check must not train"

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "room-cache"))
    assert main([*args, "--prepare-only"]) == 0
    assert len(list((tmp_path / "room-cache").glob("*.pt"))) == 4
    capsys.readouterr()
    before = {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")}
    assert main([*args, "--check-cache"]) == 0
    listing = capsys.readouterr().out
    for name in ("original", "auxiliary", "retrained", "judge"):
        assert name in listing
    assert {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")} == before
    assert not (tmp_path / "out").exists() and os.environ["MAE_CACHE_DIR"].endswith("room-cache")
