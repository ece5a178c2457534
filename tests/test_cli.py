"""`mae-unlearn --fast` end to end in a temp dir, and its refusals."""

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RUN_FILES, cli, one_line_error, previous_run, snapshot

from mae_helpers import cli as cli_module
from mae_helpers import experiment as experiment_module
from mae_helpers import load_model
from mae_helpers.audit import RELEARN_KEYS
from mae_helpers.cli import METHOD_SOURCES, main
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
    """--check-cache trains nothing and fails on an empty cache; after --prepare-only it passes, listing the seven."""
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
    assert len(list((tmp_path / "room-cache").glob("*.pt"))) == 7  # four MAEs, the judge, the witness, the readers
    capsys.readouterr()
    before = {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")}
    assert main([*args, "--check-cache"]) == 0
    listing = capsys.readouterr().out
    for name in ("original", "auxiliary", "retrained", "retrained_2", "judge", "witness", "readers"):
        assert name in listing
    assert {p: p.stat().st_mtime for p in (tmp_path / "room-cache").glob("*.pt")} == before
    assert not (tmp_path / "out").exists() and os.environ["MAE_CACHE_DIR"].endswith("room-cache")


# ----------------------------------------------------------------------------- --images writes only what it owns


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
    # (issue 37: --images figs, or --images ., overwrote the user's own curves.png, with exit code 0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / images).mkdir(exist_ok=True)
    (tmp_path / images / "curves.png").write_bytes(b"my own curves")
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", images), "curves.png", "never replaced")
    assert (tmp_path / images / "curves.png").read_bytes() == b"my own curves"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png" if images == "." else "figs"]
    assert [p.name for p in (tmp_path / images).iterdir()] == ["curves.png"]


@pytest.mark.parametrize("inside", [False, True], ids=["the-folder", "a-folder-in-it"])
def test_images_in_another_runs_folder_is_refused_before_training(tmp_path, monkeypatch, capsys, fake_run, inside):
    # (issue 37: `--images runs/a` replaced run a's figures; its manifest no longer matched, --overwrite was refused)
    before = previous_run(tmp_path / "a", fake_run, capsys)
    monkeypatch.setattr(experiment_module, "run_experiment", lambda *a, **k: pytest.fail("trained before refusing"))
    images = tmp_path / "a" / "figs" if inside else tmp_path / "a"
    one_line_error(capsys, cli("--out", tmp_path / "b", "--images", images), "another run", "choose another --images")
    assert snapshot(tmp_path / "a") == before and sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("name", ["original.pt", "manifest.json", "curves.png", ""])
def test_images_taking_the_place_of_a_run_file_is_refused_before_training(tmp_path, capsys, no_training, name):
    # (issue 37: --images X/original.pt was refused after the whole run; X/manifest.json deleted the run)
    out = tmp_path / "run"
    line = one_line_error(capsys, cli("--out", out, "--images", out / name if name else out), "--images")
    assert ("--out itself" if not name else name) in line
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_copying_figures_says_the_run_is_complete(tmp_path, monkeypatch, capsys, fake_run):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "copy_figures", interrupted)
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", tmp_path / "images"), "is complete",
                   "only copying its figures")
    assert {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see which file a write is for")
def test_a_full_disk_under_images_still_shows_the_report_of_the_complete_run(tmp_path, monkeypatch, capsys,
                                                                            fake_run, experiment):
    # (issue 37: it ended with "error", exit code 1 and no report, though the run was complete)
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


# ----------------------------------------------------------------------------- a commit that cannot half-happen


@pytest.mark.parametrize("how, words", [("signal", "is complete"), ("error", "is as it was")])
def test_ctrl_c_in_the_middle_of_a_commit_says_which_run_is_whole(tmp_path, monkeypatch, capsys, fake_run, how, words):
    # (issue 37: SIGINT at the 11th rename: "X is as it was", and X held 3 files of the new run, 6 of the old)
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
    # (issue 37: `mae-unlearn ... 2>&1 | head -1` exited 1 and X never appeared; `| grep -q` exited 1)
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


def test_ctrl_c_while_the_report_prints_is_one_line(tmp_path, monkeypatch, capsys, fake_run):
    # (issue 37: a KeyboardInterrupt traceback)
    def ctrl_c(text):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "say", ctrl_c)
    try:
        code = cli("--out", tmp_path / "run")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the report printed escaped as a traceback")
    one_line_error(capsys, code, "interrupted", "is complete")
    assert code == 130 and {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES
