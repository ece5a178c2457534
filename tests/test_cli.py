"""`mae-unlearn --fast` end to end in a temp dir, and its refusals."""

import json
import subprocess
import sys

import pytest

from mae_helpers import load_model
from mae_helpers.audit import RELEARN_KEYS
from mae_helpers.cli import METHOD_SOURCES, main
from mae_helpers.report import MODEL_KEYS
from mae_helpers.unlearn import METHODS

SAVED = ("original", "unlearned", "retrained", "retrained_2")  # each with a checkpoint and a metrics block


# The tests on `run_dir` are the one real command-line run end to end (and the two baselines on its cached
# networks): marked slow, CI runs them once.
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "demo"
    assert main(["--fast", "--forget", "0", "3", "6", "9", "--out", str(out), "--quiet", "--source", "offline"]) == 0
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fast_run_writes_every_file_and_each_loads(run_dir):
    import matplotlib.image

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"config", *SAVED, "untrained", "verdicts", "seconds", "unlearning"}
    assert metrics["config"]["forget_digits"] == [0, 3, 6, 9] and metrics["config"]["method"] == "evidence"
    assert set(metrics["seconds"]) == {"train", "unlearn", "retrain", "retrain_2"}
    for name in SAVED:  # every metric, the membership inference and the relearning check included
        assert list(metrics[name]) == [*MODEL_KEYS, *RELEARN_KEYS]
        assert len(metrics[name]["per_digit_mse"]) == 10
        model = load_model(run_dir / f"{name}.pt")
        assert model.metadata["role"] == name
    assert list(metrics["untrained"]) == list(MODEL_KEYS)  # the reference: no relearning check
    assert metrics["retrained"]["per_digit_mse"][3] is not None  # evaluated on all test digits
    assert metrics["original"]["relearn_steps"] == 0  # it never forgot
    assert set(metrics["verdicts"]) == set(MODEL_KEYS) - {"per_digit_mse"} | {"relearn_steps"}
    assert set(metrics["verdicts"].values()) <= {"indistinguishable", "above spread", "below spread"}
    for figure in ("reconstructions.png", "per_digit_mse.png", "curves.png"):
        assert matplotlib.image.imread(run_dir / figure).shape[0] > 100


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_report_numbers_are_recomputed_from_the_saved_models(run_dir):
    from mae_helpers import evaluate_model, get_config, get_mnist_loaders, train_judge

    metrics = json.loads((run_dir / "metrics.json").read_text())
    fields = get_config().to_dict()
    cfg = get_config(**{k: tuple(v) if isinstance(v, list) else v for k, v in metrics["config"].items()
                        if k in fields})
    judge = train_judge(cfg, progress=False)
    loaders = get_mnist_loaders(source=cfg.source, max_train_images=cfg.max_train_images)
    for name in ("unlearned", "retrained_2"):
        again = evaluate_model(load_model(run_dir / f"{name}.pt"), judge, loaders.train, loaders.test, [0, 3, 6, 9])
        assert again["mse_forget"] == pytest.approx(metrics[name]["mse_forget"], rel=1e-4)
        for key in ("judge_acc_forget", "judge_any_forget", "mia_auc"):
            assert again[key] == pytest.approx(metrics[name][key], abs=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("method", ["finetune", "neggrad"])
def test_the_baselines_run_end_to_end(run_dir, method):
    """Same forget set, same cached networks as run_dir: only the unlearning differs."""
    out = run_dir.parent / method
    assert main(["--fast", "--forget", "0", "3", "6", "9", "--out", str(out), "--quiet", "--source", "offline",
                 "--method", method]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["method"] == metrics["unlearning"]["method"] == method
    first = json.loads((run_dir / "metrics.json").read_text())
    for name in ("original", "retrained", "retrained_2"):  # the same cached networks: the same numbers
        assert {k: v for k, v in metrics[name].items() if k != "relearn_seconds"} == \
            {k: v for k, v in first[name].items() if k != "relearn_seconds"}
    assert metrics["unlearned"]["mse_retain"] != metrics["original"]["mse_retain"]  # it did change the model
    assert (out / "retrained_2.pt").is_file() and json.loads((out / "manifest.json").read_text())["complete"]


@pytest.mark.slow
@pytest.mark.timeout(900)
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
    for method in METHODS:  # each method with where it comes from
        assert f"{method}: {METHOD_SOURCES[method].split()[0]}" in " ".join(result.stdout.split())
    assert "NeurIPS 2023" in result.stdout and "NegGrad+" in result.stdout


def test_room_preparation_fills_the_cache_and_the_check_finds_it(tmp_path, monkeypatch, capsys):
    """--check-cache trains nothing and fails on an empty cache; after --prepare-only it passes, listing the six."""
    import os

    args = ["--fast", "--epochs", "1", "--forget", "0", "3", "6", "9", "--source", "offline", "--quiet"]
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--check-cache"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no cached main network" in err and "--prepare-only" in err
    assert not list((tmp_path / "empty-cache").glob("*.pt")), "a check must not train"

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "room-cache"))
    assert main([*args, "--prepare-only"]) == 0
    assert len(list((tmp_path / "room-cache").glob("*.pt"))) == 6  # four MAEs, the judge and the witness
    capsys.readouterr()
    before = {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")}
    assert main([*args, "--check-cache"]) == 0
    listing = capsys.readouterr().out
    for name in ("original", "auxiliary", "retrained", "retrained_2", "judge", "witness"):
        assert name in listing
    assert {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")} == before
    assert not (tmp_path / "out").exists() and os.environ["MAE_CACHE_DIR"].endswith("room-cache")
