"""cli.py: `mae-unlearn` end to end (slow); flags, refusals before training, --out, --images, Ctrl-C, pipes, exits."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import (
    ROOT,
    RUN_FILES,
    cli,
    ctrl_c_as_in_a_terminal,
    full_disk,
    leftovers,
    needs_permissions,
    one_line_error,
    previous_run,
    run_python,
    snapshot,
)

from mae_helpers import MAE, get_config, load_model, save_model
from mae_helpers import cli as cli_module
from mae_helpers import experiment as experiment_module
from mae_helpers.audit import RELEARN_KEYS
from mae_helpers.cli import METHOD_SOURCES, build_parser, config_from_args, main
from mae_helpers.experiment import FIGURES
from mae_helpers.files import RunFolder, sha256
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
    seconds = metrics["seconds"]  # the unlearning counts everything paid for the set; what the set shares beside it
    assert set(seconds) == {"train", "unlearn", "auxiliary", "unlearn_loop", "once_per_original", "retrain",
                            "retrain_2"}
    assert seconds["unlearn"] == pytest.approx(seconds["auxiliary"] + seconds["unlearn_loop"])
    for name in SAVED:  # every metric, the membership inference and the relearning check included
        assert list(metrics[name]) == [*MODEL_KEYS, *RELEARN_KEYS]
        assert len(metrics[name]["per_digit_mse"]) == 10
        model = load_model(run_dir / f"{name}.pt")
        assert model.metadata["role"] == name
    assert list(metrics["untrained"]) == list(MODEL_KEYS)  # the reference: no relearning check
    assert metrics["retrained"]["per_digit_mse"][3] is not None  # evaluated on all test digits
    assert metrics["original"]["relearn_steps"] == 0  # it never forgot
    assert set(metrics["verdicts"]) == set(MODEL_KEYS) - {"per_digit_mse"} | {"relearn_steps"}
    assert set(metrics["verdicts"].values()) <= {"within spread", "above spread", "below spread"}
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


# ----------------------------------------------------------------------------- arguments, checked before any training


@pytest.mark.parametrize("args, message", [
    (["--forget"], "expected at least one"),
    (["--forget", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], "all ten"),
    (["--forget", "12"], "0-9"),
    (["--forget", "3", "3"], "more than once"),
    (["--strength", "-1"], "strength"),
    (["--method", "magic"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, no_training, args, message):
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


def test_explicit_flags_beat_fast_mode_and_fast_can_be_switched_off(tmp_path, monkeypatch, fake_run):
    parse = build_parser().parse_args
    fast = config_from_args(parse(["--fast", "--epochs", "2", "--unlearn-steps", "30"]))
    assert (fast.epochs, fast.unlearn_max_steps, fast.max_train_images) == (2, 30, 2500)
    full = config_from_args(parse(["--no-fast"]))
    assert (full.epochs, full.max_train_images, full.batch_size) == (10, None, 64)
    assert config_from_args(parse(["--fast"])).epochs == 4
    monkeypatch.setenv("MAE_FAST", "1")  # and the run trains with them
    assert cli("--out", tmp_path / "run", "--fast", "--epochs", "2") == 0
    assert fake_run[-1].epochs == 2 and fake_run[-1].max_train_images == 2500


def test_forget_given_twice_forgets_both(tmp_path, fake_run):
    assert cli("--out", tmp_path / "run", "--forget", "3", "--forget", "6") == 0
    assert fake_run[-1].forget_digits == (3, 6)


def test_a_relative_data_root_on_the_command_line_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_from_args(build_parser().parse_args(["--data-root", "mnist"])).data_root == str(tmp_path / "mnist")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300"])
def test_non_finite_strength_is_refused_before_training(tmp_path, capsys, no_training, value):
    one_line_error(capsys, cli("--out", tmp_path / "run", f"--strength={value}"), "strength", "finite number")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("seed", [2**63, 2**64, -1])
def test_a_seed_out_of_range_is_refused_naming_the_flag(tmp_path, capsys, no_training, seed):
    one_line_error(capsys, cli("--out", tmp_path / "run", "--seed", seed), "--seed", "2**63")
    with pytest.raises(ValueError, match="seed"):
        get_config(seed=seed)


@pytest.mark.parametrize("device", ["meta", "tpu", "cuda:7"])
def test_unsupported_devices_are_refused_naming_the_flag(tmp_path, capsys, no_training, device):
    one_line_error(capsys, cli("--out", tmp_path / "run", "--device", device), "--device")
    assert not (tmp_path / "run").exists()


def test_an_unknown_env_flag_value_is_one_line_where_it_is_used_not_at_import(tmp_path, monkeypatch, capsys,
                                                                              no_training):
    # a fresh interpreter: in this one the package is imported already
    imported = run_python("import mae_helpers.cli, mae_helpers.experiment; from mae_helpers import MAE; print('ok')",
                          env={"MAE_FAST": "maybe"})
    assert imported.returncode == 0 and imported.stdout.strip() == "ok", imported.stderr  # was a traceback at import
    monkeypatch.setenv("MAE_FAST", "maybe")
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "--fast" in capsys.readouterr().out
    code = cli("--out", tmp_path / "run")
    one_line_error(capsys, code, "MAE_FAST must be one of 1/true/yes/on (on) or 0/false/no/off (off); got 'maybe'")
    assert code == 2 and not (tmp_path / "run").exists()


def test_a_bad_mplbackend_is_one_line(tmp_path):
    # a fresh interpreter: matplotlib reads MPLBACKEND when it is first imported
    result = run_python(["-m", "mae_helpers", "--out", str(tmp_path / "run")], env={"MPLBACKEND": "nonsense"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "MPLBACKEND='nonsense'" in lines[0] and "MPLBACKEND=Agg" in lines[0]


# ----------------------------------------------------------------------------- --out: never mixed, never not its own


def test_a_previous_run_is_kept_unless_overwrite(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    with pytest.raises(SystemExit) as exit_info:
        main(["--fast", "--out", str(out), "--quiet"])
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert snapshot(out) == before


def test_out_naming_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    one_line_error(capsys, cli("--out", target), str(target), "is a file")
    assert target.read_text() == "mine"


def test_out_holding_other_files_is_never_replaced(tmp_path, capsys, no_training):
    (tmp_path / "thesis.tex").write_text("years of work")
    one_line_error(capsys, cli("--out", tmp_path, "--overwrite"), "thesis.tex", "not from a run")
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


@needs_permissions
def test_out_in_a_read_only_folder_is_refused_before_training(read_only):
    # a child without root's permission bypass: it sees the folder as another user would
    result = run_python(["-m", "mae_helpers", "--out", str(read_only / "run"), "--quiet"], unprivileged=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "permission denied" in lines[0] and str(read_only) in lines[0]


def test_a_second_run_into_a_claimed_folder_is_refused(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    with RunFolder(out):  # the first run, still training
        one_line_error(capsys, cli("--out", out), str(out), "another run")
        assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == set()
    assert not out.exists()  # the first run made the folder and, unfinished, took it away again
    assert cli("--out", out) == 0  # once it is done, the folder is free again
    assert leftovers(tmp_path) == []


def test_files_put_into_out_while_the_run_trains_are_kept(tmp_path, monkeypatch, capsys, fake_run, experiment):
    out = tmp_path / "run"

    def run(*args, **kwargs):  # the user saves notes into --out while the networks train
        (out / "notes.txt").write_text("mine")
        return experiment

    monkeypatch.setattr(experiment_module, "run_experiment", run)
    assert cli("--out", out) == 0
    assert (out / "notes.txt").read_text() == "mine" and RUN_FILES <= {p.name for p in out.iterdir()}
    capsys.readouterr()
    one_line_error(capsys, cli("--out", out, "--overwrite"), "notes.txt", "not from a run")  # refused, not deleted
    assert (out / "notes.txt").read_text() == "mine"


def test_runs_into_a_folder_and_into_its_subfolder_keep_each_others_results(tmp_path, monkeypatch, fake_run,
                                                                              experiment):
    outer, inner = tmp_path / "X", tmp_path / "X" / "inner"

    def run(*args, **kwargs):  # while the outer run trains, a second run into X/inner finishes
        if len(calls) == 0:
            calls.append("outer")
            assert cli("--out", inner) == 0
        return experiment

    calls = []
    monkeypatch.setattr(experiment_module, "run_experiment", run)
    assert cli("--out", outer) == 0
    assert {p.name for p in inner.iterdir()} == RUN_FILES and RUN_FILES <= {p.name for p in outer.iterdir()}


@pytest.mark.parametrize("hidden", [".notes.tmp", ".drafts.tmp/"])
def test_hidden_temporary_files_in_out_do_not_count_as_empty(tmp_path, capsys, no_training, hidden):
    out = tmp_path / "run"
    out.mkdir()
    if hidden.endswith("/"):
        (out / hidden).mkdir()
        (out / hidden / "chapter.tex").write_text("mine")
    else:
        (out / hidden).write_text("mine")
    one_line_error(capsys, cli("--out", out, "--overwrite"), hidden.rstrip("/"), "not from a run")
    assert sorted(p.name for p in out.iterdir()) == [hidden.rstrip("/")]


def test_overwrite_never_deletes_a_folder_named_like_a_run_file(tmp_path, capsys, no_training):
    out = tmp_path / "run"
    (out / "metrics.json").mkdir(parents=True)
    (out / "metrics.json" / "thesis.tex").write_text("years of work")
    one_line_error(capsys, cli("--out", out, "--overwrite"), "metrics.json", "not from a run")
    assert (out / "metrics.json" / "thesis.tex").read_text() == "years of work"


def test_folders_named_like_recovery_leftovers_beside_out_are_never_touched(tmp_path, capsys, fake_run):
    for name in (".results.old", ".results.partial"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("mine")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "thesis.tex").write_text("mine")
    one_line_error(capsys, cli("--out", tmp_path / "results"), "thesis.tex")  # refused ...
    assert cli("--out", tmp_path / "fresh") == 0  # ... or not: the neighbours are not the run's business
    for name in (".results.old", ".results.partial"):
        assert (tmp_path / name / "mine.txt").read_text() == "mine"


def test_temporary_files_of_other_programs_are_never_removed(tmp_path, capsys, fake_run):
    # an age-based sweep deleted any hidden .tmp file older than 10 minutes in --images and the cache
    cache, images = tmp_path / "cache", tmp_path / "images"
    for folder in (cache, images):
        folder.mkdir()
        (folder / ".editor-swap.tmp").write_bytes(b"someone else's, an hour old")
        os.utime(folder / ".editor-swap.tmp", (time.time() - 3600, time.time() - 3600))
    save_model(MAE(), cache / "judge-1.pt")
    assert cli("--out", tmp_path / "run", "--images", images) == 0
    assert (cache / ".editor-swap.tmp").exists() and (images / ".editor-swap.tmp").exists()


def test_out_on_a_mount_point_is_written_without_renaming_it(tmp_path, monkeypatch, capsys, fake_run):
    out = tmp_path / "volume"
    out.mkdir()
    real_rename, real_replace = os.rename, os.replace

    def busy(real):
        def move(src, dst, *args, **kwargs):  # a mount point cannot be renamed: "Device or resource busy"
            if out.resolve() in (Path(src).resolve(), Path(dst).resolve()):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(src))
            return real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "rename", busy(real_rename))
    monkeypatch.setattr(os, "replace", busy(real_replace))
    assert cli("--out", out) == 0
    assert cli("--out", out, "--overwrite") == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES


@pytest.mark.parametrize("where", ["inside", "equal"])
def test_a_cache_folder_inside_out_is_refused_and_kept(tmp_path, monkeypatch, capsys, no_training, where):
    out = tmp_path / "run"
    cache = out / "cache" if where == "inside" else out
    monkeypatch.setenv("MAE_CACHE_DIR", str(cache))
    save_model(MAE(), cache / "main-1.pt")
    one_line_error(capsys, cli("--out", out, "--overwrite"), "the model cache", str(out))
    assert (cache / "main-1.pt").exists()


@pytest.mark.parametrize("out", [".", "", "CWD", "PARENT", "DATA"])
def test_out_holding_the_working_or_data_folder_is_refused(tmp_path, monkeypatch, capsys, no_training, out):
    cwd = tmp_path / "shell" / "here"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    given = {"CWD": str(cwd), "PARENT": str(tmp_path / "shell"), "DATA": str(tmp_path / "datasets")}.get(out, out)
    extra = ["--data-root", str(tmp_path / "datasets" / "mnist")] if out == "DATA" else []
    one_line_error(capsys, cli("--out", given, "--overwrite", *extra), "a folder of its own")
    assert os.getcwd() == str(cwd) and list(cwd.iterdir()) == []


def test_a_run_refused_for_its_data_leaves_no_folder_it_made(tmp_path, monkeypatch, capsys):
    def bad_data(*args, **kwargs):
        raise ValueError("data/MNIST/raw/train-images-idx3-ubyte is not a readable MNIST IDX file")

    monkeypatch.setattr(experiment_module, "run_experiment", bad_data)
    assert cli("--out", tmp_path / "a" / "b" / "c", "--images", tmp_path / "new" / "figures") != 0
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- --images writes only what it owns


def test_images_naming_a_file_is_refused_before_training_leaving_no_folder(tmp_path, capsys, no_training):
    (tmp_path / "images").write_text("not a folder")
    one_line_error(capsys, cli("--out", tmp_path / "a" / "b" / "c", "--images", tmp_path / "images"), "images",
                   "a file is in the way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"] and leftovers(tmp_path) == []


def test_images_gets_the_figures_and_keeps_its_other_files(tmp_path, capsys, fake_run):
    images = tmp_path / "images"
    images.mkdir()
    (images / "panel_03.png").write_bytes(b"a screenshot")
    assert cli("--out", tmp_path / "run", "--images", images) == 0
    assert {p.name for p in images.iterdir()} == {"panel_03.png", *FIGURES, RunFolder.FIGURES_MANIFEST}
    assert (images / "curves.png").read_bytes() == (tmp_path / "run" / "curves.png").read_bytes()
    assert cli("--out", tmp_path / "run-2", "--images", images) == 0  # its own copies it replaces
    assert (images / "curves.png").read_bytes() == (tmp_path / "run-2" / "curves.png").read_bytes()
    assert (images / "panel_03.png").read_bytes() == b"a screenshot"


def test_images_inside_out_can_be_run_twice(tmp_path, fake_run):
    out = tmp_path / "run"
    assert cli("--out", out, "--images", out / "figures") == 0
    assert cli("--out", out, "--images", out / "figures", "--overwrite") == 0
    assert {p.name for p in (out / "figures").iterdir()} == {*FIGURES, RunFolder.FIGURES_MANIFEST}


@pytest.mark.parametrize("images", ["figs", "."])
def test_images_holding_a_users_figure_is_refused_before_training(tmp_path, monkeypatch, capsys, no_training, images):
    # --images figs, or --images ., overwrote the user's own curves.png, with exit code 0
    monkeypatch.chdir(tmp_path)
    (tmp_path / images).mkdir(exist_ok=True)
    (tmp_path / images / "curves.png").write_bytes(b"my own curves")
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", images), "curves.png", "never replaced")
    assert (tmp_path / images / "curves.png").read_bytes() == b"my own curves"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png" if images == "." else "figs"]
    assert [p.name for p in (tmp_path / images).iterdir()] == ["curves.png"]


@pytest.mark.parametrize("inside", [False, True], ids=["the-folder", "a-folder-in-it"])
def test_images_in_another_runs_folder_is_refused_before_training(tmp_path, monkeypatch, capsys, fake_run, inside):
    # `--images runs/a` replaced run a's figures; its manifest no longer matched, --overwrite was refused
    before = previous_run(tmp_path / "a", fake_run, capsys)
    monkeypatch.setattr(experiment_module, "run_experiment", lambda *a, **k: pytest.fail("trained before refusing"))
    images = tmp_path / "a" / "figs" if inside else tmp_path / "a"
    one_line_error(capsys, cli("--out", tmp_path / "b", "--images", images), "another run", "choose another --images")
    assert snapshot(tmp_path / "a") == before and sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("name", ["original.pt", "manifest.json", "curves.png", ""])
def test_images_taking_the_place_of_a_run_file_is_refused_before_training(tmp_path, capsys, no_training, name):
    # --images X/original.pt was refused after the whole run; X/manifest.json deleted the run
    out = tmp_path / "run"
    line = one_line_error(capsys, cli("--out", out, "--images", out / name if name else out), "--images")
    assert ("--out itself" if not name else name) in line
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the model cache, and preparing a room


def test_a_cache_folder_that_is_a_file_warns_once_and_the_run_goes_on(tmp_path, monkeypatch, capsys, fake_run):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache-file"))
    (tmp_path / "cache-file").write_text("not a folder")
    assert cli("--out", tmp_path / "run") == 0
    err = capsys.readouterr().err
    assert err.count("cannot write the model cache") == 1 and "going on without caching" in err
    assert RUN_FILES <= {p.name for p in (tmp_path / "run").iterdir()}


def test_room_preparation_fills_the_cache_and_the_check_finds_it(tmp_path, monkeypatch, capsys, tiny_fast_mode):
    """--check-cache trains nothing and fails on an empty cache; after --prepare-only it passes, listing the seven."""
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
    assert len(list((tmp_path / "room-cache").glob("*.pt"))) == 7  # four MAEs, the judge, the witness, the readers
    capsys.readouterr()
    before = {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")}
    assert main([*args, "--check-cache"]) == 0
    listing = capsys.readouterr().out
    for name in ("original", "auxiliary", "retrained", "retrained_2", "judge", "witness", "readers"):
        assert name in listing
    assert {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")} == before
    assert not (tmp_path / "out").exists() and os.environ["MAE_CACHE_DIR"].endswith("room-cache")


def test_prepare_only_with_a_cache_that_cannot_take_files_fails_before_training(tmp_path, monkeypatch, capsys):
    def no_prepare(*args, **kwargs):
        raise AssertionError("--prepare-only trained with a cache it cannot fill")

    monkeypatch.setattr(experiment_module, "prepare", no_prepare)
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache-file"))
    (tmp_path / "cache-file").write_text("not a folder")
    line = one_line_error(capsys, cli("--prepare-only"), str(tmp_path / "cache-file"), "a file is in the way")
    assert "in the cache" not in line and capsys.readouterr().out == ""


@needs_permissions
def test_prepare_only_on_a_read_only_cache_fails_before_training(read_only):
    result = run_python(["-m", "mae_helpers", "--prepare-only", "--quiet"], env={"MAE_CACHE_DIR": str(read_only)},
                        unprivileged=True)
    assert result.returncode == 1 and "permission denied" in result.stderr, result.stderr
    assert "in the cache" not in result.stdout and len(result.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- a full disk


def test_a_full_disk_is_one_line_and_the_previous_run_survives(tmp_path, monkeypatch, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    full_disk(monkeypatch)
    one_line_error(capsys, cli("--out", out, "--overwrite"), str(tmp_path), "no space left", "free some space")
    assert snapshot(out) == before and leftovers(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see which file a write is for")
def test_a_full_disk_under_images_still_shows_the_report_of_the_complete_run(tmp_path, monkeypatch, capsys,
                                                                            fake_run, experiment):
    # it ended with "error", exit code 1 and no report, though the run was complete
    images, real_fsync = tmp_path / "images", os.fsync

    def full_under_images(fd):  # once the figures are copied there (the write probe before the training passes)
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.parent == images and ".png." in path.name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_under_images)
    code = cli("--out", tmp_path / "run", "--images", images)
    out, err = capsys.readouterr()
    assert code == 1 and str(experiment.report).splitlines()[0] in out
    last = err.strip().splitlines()[-1]
    assert "no space left" in last and "the run in" in last and "is complete" in last, err
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["complete"] is True


# ----------------------------------------------------------------------------- Ctrl-C and a killed run


def test_ctrl_c_is_one_line_saying_what_was_kept(tmp_path, monkeypatch, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))

    def interrupted(cfg, *args, **kwargs):  # one network finished and cached, then Ctrl-C
        save_model(MAE(), tmp_path / "cache" / "main-1.pt")
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment_module, "run_experiment", interrupted)
    line = one_line_error(capsys, cli("--out", out, "--overwrite"), "interrupted", "is as it was",
                          "1 network(s)", str(tmp_path / "cache"))
    assert line.startswith("mae-unlearn: ")
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_ctrl_c_on_a_real_run_exits_130_without_a_traceback(tmp_path, mnist_on_disk):
    cache = tmp_path / "cache"
    mnist_on_disk(tmp_path / "data")  # IDX files load at once; the offline subset is parsed from text (seconds)
    args = ["-m", "mae_helpers", "--out", str(tmp_path / "run"), "--fast", "--epochs", "1", "--quiet",
            "--source", "disk", "--data-root", str(tmp_path / "data")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_CACHE_DIR": str(cache)}
    child = subprocess.Popen([sys.executable, *args], env=env, stderr=subprocess.PIPE, text=True,
                             preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.time() + 240
    while not list(cache.glob("main-*.pt")) and time.time() < deadline and child.poll() is None:
        time.sleep(0.2)  # interrupt once the first network is cached, while the next one trains
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("mae-unlearn: interrupted")
    assert "network(s) trained by this run are kept" in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("after_s", [0.3, 1.0])
def test_ctrl_c_during_the_imports_is_one_line(tmp_path, after_s):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_FAST": "1", "MAE_CACHE_DIR": str(tmp_path / "cache")}
    child = subprocess.Popen([sys.executable, "-m", "mae_helpers", "--out", str(tmp_path / "run"), "--quiet"],
                             env=env, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_as_in_a_terminal)
    time.sleep(after_s)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("mae-unlearn: interrupted"), err


def test_ctrl_c_while_copying_figures_says_the_run_is_complete(tmp_path, monkeypatch, capsys, fake_run):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "copy_figures", interrupted)
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", tmp_path / "images"), "is complete",
                   "only copying its figures")
    assert {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES


@pytest.mark.parametrize("how, words", [("signal", "is complete"), ("error", "is as it was")])
def test_ctrl_c_in_the_middle_of_a_commit_says_which_run_is_whole(tmp_path, monkeypatch, capsys, fake_run, how, words):
    # SIGINT at the 11th rename said "X is as it was", and X held 3 files of the new run, 6 of the old
    out = tmp_path / "run"
    previous_run(out, fake_run, capsys)
    before = {p.name: p.stat().st_ino for p in out.iterdir()}  # the same experiment again: the same bytes
    real_commit, real_replace = RunFolder.commit, os.replace

    def commit(self):
        calls = []

        def replace(*args):
            calls.append(args)
            if len(calls) == 4:  # some files of the new run are in, others not yet
                if how == "signal":
                    os.kill(os.getpid(), signal.SIGINT)
                else:
                    raise KeyboardInterrupt
            return real_replace(*args)

        monkeypatch.setattr(os, "replace", replace)
        try:
            return real_commit(self)
        finally:
            monkeypatch.setattr(os, "replace", real_replace)

    monkeypatch.setattr(RunFolder, "commit", commit)
    one_line_error(capsys, cli("--out", out, "--overwrite"), words)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and {p.name for p in out.iterdir()} == RUN_FILES
    assert all(sha256(out / name) in hashes for name, hashes in manifest["files"].items())
    files = {p.name: p.stat().st_ino for p in out.iterdir() if p.name != "manifest.json"}
    assert all((before[name] == inode) is (how == "error") for name, inode in files.items())  # all old, or all new


KILLED_MID_RUN = """
import os, signal, sys
from mae_helpers.files import RunFolder
run = RunFolder(sys.argv[1], overwrite=True).__enter__()
(run.work / "original.pt").write_bytes(b"the new run, half written")
(run.work / ".retrained.pt.0123abcd.tmp").write_bytes(b"half a checkpoint")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_run_killed_mid_overwrite_leaves_the_previous_run_and_the_next_run_goes_on(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    result = run_python(["-c", KILLED_MID_RUN, str(out)])
    assert result.returncode == -signal.SIGKILL
    assert snapshot(out) == before  # nothing of the killed run is mixed in
    (work,) = [p for p in out.iterdir() if p.name.startswith(".mae-unlearn-run-")]
    assert cli("--out", out, "--overwrite") == 0
    assert f"{work} is the unfinished output of an interrupted run" in capsys.readouterr().err
    assert work.exists(), "not proven to be this run's own: never removed"
    assert {p.name for p in out.iterdir() if p.is_file()} == RUN_FILES


KILLED_MID_COMMIT = """
import os, signal, sys
from mae_helpers.files import RunFolder
run = RunFolder(sys.argv[1], overwrite=True).__enter__()
for name in sys.argv[2:]:
    (run.work / name).write_bytes(b"the new run's " + name.encode())
moved = []
def replace_then_die(src, dst, _replace=os.replace):
    _replace(src, dst)
    moved.extend([] if str(dst).endswith("manifest.json") else [dst])
    if len(moved) == 2:  # two of the new run's files are in, the others not yet
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace_then_die
run.commit()
"""


def test_a_run_killed_mid_commit_is_marked_unfinished_and_replaced_by_the_next(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    previous_run(out, fake_run, capsys)
    result = run_python(["-c", KILLED_MID_COMMIT, str(out), *sorted(RUN_FILES - {"manifest.json"})])
    assert result.returncode == -signal.SIGKILL
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False  # two runs' files, and the manifest says the run is not complete
    assert sum(b"the new run's" in (out / n).read_bytes() for n in manifest["files"]) == 2
    one_line_error(capsys, cli("--out", out), "interrupted previous run", "--overwrite")
    assert cli("--out", out, "--overwrite") == 0
    assert json.loads((out / "manifest.json").read_text())["complete"] is True
    assert {p.name for p in out.iterdir() if p.is_file()} == RUN_FILES


# ----------------------------------------------------------------------------- output that never costs the result


PIPED_RUN = """
import pathlib, sys, time, types
import mae_helpers.experiment as E
reader_gone = pathlib.Path(sys.argv[2])
def run_experiment(*args, **kwargs):
    print("Using the offline MNIST subset", file=sys.stderr)
    while not reader_gone.exists():
        time.sleep(0.02)
    for epoch in range(1000):
        print(f"epoch {epoch}", file=sys.stderr)
    return types.SimpleNamespace(report="\\n".join(f"row {i}" for i in range(100000)),
                                 unlearning=types.SimpleNamespace(steps=1, seconds=0.1, stopped="done",
                                                                  stop_reason=None))
E.run_experiment = run_experiment
def write_outputs(exp, out):
    for name in E.OUTPUT_FILES + E.FIGURES:
        (out / name).write_bytes(b"x")
E.write_outputs = write_outputs
from mae_helpers.cli import main
sys.exit(main(["--out", sys.argv[1], "--quiet"]))
"""


@pytest.mark.parametrize("reader", ["head -1", "grep -q"])
def test_a_reader_that_stops_reading_costs_the_output_never_the_run(tmp_path, reader):
    # `mae-unlearn ... 2>&1 | head -1` exited 1 and X never appeared; `| grep -q` exited 1
    out, reader_gone = tmp_path / "run", tmp_path / "reader-gone"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_FAST": "1"}
    child = subprocess.Popen([sys.executable, "-c", PIPED_RUN, str(out), str(reader_gone)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # 2>&1
    if reader == "head -1":  # gone while the networks train
        assert "offline" in child.stdout.readline()
    else:  # gone once it found what it looks for, in the report
        reader_gone.touch()
        assert any(line == "row 5\n" for line in child.stdout)
    child.stdout.close()
    reader_gone.touch()
    assert child.wait(timeout=60) == 0
    assert json.loads((out / "manifest.json").read_text())["complete"] is True


REPORT_TO_A_READER_THAT_LEAVES = """
import sys, types
import mae_helpers.experiment as E
E.run_experiment = lambda *args, **kwargs: types.SimpleNamespace(
    report="\\n".join(f"row {i}" for i in range(100000)),
    unlearning=types.SimpleNamespace(steps=1, seconds=0.1, stopped="done", stop_reason=None))
def write_outputs(exp, out):
    for name in E.OUTPUT_FILES + E.FIGURES:
        (out / name).write_bytes(b"x")
E.write_outputs = write_outputs
from mae_helpers.cli import main
sys.exit(main(["--out", sys.argv[1], "--quiet"]))
"""


def test_a_reader_that_stops_reading_the_report_leaves_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_FAST": "1"}
    child = subprocess.Popen([sys.executable, "-c", REPORT_TO_A_READER_THAT_LEAVES, str(tmp_path / "run")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "row 0\n"
    child.stdout.close()  # `| head -1`, stderr still read
    err = child.stderr.read()
    assert child.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_ctrl_c_while_the_report_prints_is_one_line(tmp_path, monkeypatch, capsys, fake_run):
    # was a KeyboardInterrupt traceback
    def ctrl_c(text):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "say", ctrl_c)
    try:
        code = cli("--out", tmp_path / "run")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the report printed escaped as a traceback")
    one_line_error(capsys, code, "interrupted", "is complete")
    assert code == 130 and {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES


def test_an_unexpected_error_shows_its_traceback_an_expected_one_is_one_line(tmp_path, monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(experiment_module, "run_experiment", bug)
    assert cli("--out", tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: an internal bug" in err and "please report it" in err

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(experiment_module, "run_experiment", out_of_memory)
    one_line_error(capsys, cli("--out", tmp_path / "run"), "out of memory", "--device cpu")
    with pytest.raises(ValueError, match="strength"):  # --debug: every error with its traceback
        main(["--quiet", "--debug", "--out", str(tmp_path / "run"), "--strength", "-1"])


def test_an_unlearning_that_stopped_early_is_recorded_in_metrics_and_said(tmp_path, monkeypatch, capsys, experiment):
    from mae_helpers.unlearn import StopReason

    history = replace(experiment.unlearning, stop_reason=StopReason.NON_FINITE, steps=0)
    monkeypatch.setattr(experiment_module, "run_experiment", lambda *args, **kwargs: replace(experiment,
                                                                                             unlearning=history))
    assert cli("--out", tmp_path / "run") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["unlearning"]["stop_reason"] == "non_finite"
    assert metrics["unlearning"]["stopped"].startswith("non-finite loss at step 1")
    assert "warning: unlearning: 0 steps" in capsys.readouterr().err
