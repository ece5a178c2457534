"""What a hostile (or unlucky) user does: every row of issue 10's table and of issue 18's lists, rerun.

Each test reproduces one fault observed on main and asserts what happens now: a one-line
error that names the path or value and the fix, before any training; or the correct
result; and never a lost or silently mixed run. Tests that would need a real second user
or a read-only disk use a child process without root's permission bypass (setpriv).
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (  # its fixtures (experiment, fake_run, no_training, read_only) pytest finds by itself
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
    tiny_config,
)

from mae_helpers import MAE, get_config, get_mnist_loaders, load_model, save_model, train_cached
from mae_helpers import experiment as experiment_module
from mae_helpers.cli import build_parser, config_from_args, main
from mae_helpers.data import check_digits, load_mnist_arrays, split_digits
from mae_helpers.evaluate import Judge
from mae_helpers.files import RunFolder

# ----------------------------------------------------------------------------- row 1: bad paths and a full disk


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
    result = run_python(["-m", "mae_helpers", "--out", str(read_only / "run"), "--quiet"], unprivileged=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "permission denied" in lines[0] and str(read_only) in lines[0]


def test_images_naming_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "images").write_text("not a folder")
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", tmp_path / "images"), "images",
                   "a file is in the way")
    assert not (tmp_path / "run").exists() and leftovers(tmp_path) == []


def test_a_cache_folder_that_is_a_file_warns_once_and_the_run_goes_on(tmp_path, monkeypatch, capsys, fake_run):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache-file"))
    (tmp_path / "cache-file").write_text("not a folder")
    assert cli("--out", tmp_path / "run") == 0
    err = capsys.readouterr().err
    assert err.count("cannot write the model cache") == 1 and "going on without caching" in err
    assert RUN_FILES <= {p.name for p in (tmp_path / "run").iterdir()}


def test_train_cached_with_an_unwritable_cache_trains_and_returns_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache-file"))
    (tmp_path / "cache-file").write_text("not a folder")
    model, meta = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert meta["history"]["epoch"] == [1] and all(torch.isfinite(p).all() for p in model.parameters())
    assert "cannot write the model cache" in capsys.readouterr().err


@needs_permissions
@pytest.mark.parametrize("read_only", [0o555, 0o000], ids=["read-only", "no-access"], indirect=True)
def test_a_read_only_cache_folder_warns_and_training_goes_on(read_only):
    code = ("from mae_helpers import get_config, train_cached\n"
            "cfg = get_config(epochs=1, max_train_images=300, source='offline')\n"
            "model, meta = train_cached('main', [1, 7], cfg, progress=False)\n"
            "print('trained', meta['history']['epoch'])")
    result = run_python(code, env={"MAE_CACHE_DIR": str(read_only)}, unprivileged=True)
    assert result.returncode == 0 and "trained [1]" in result.stdout, result.stderr
    assert "cannot write the model cache" in result.stderr and "permission denied" in result.stderr
    assert "Traceback" not in result.stderr and list(read_only.iterdir()) == []


def test_a_full_disk_is_one_line_and_the_previous_run_survives(tmp_path, monkeypatch, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    full_disk(monkeypatch)
    one_line_error(capsys, cli("--out", out, "--overwrite"), str(tmp_path), "no space left", "free some space")
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_save_model_on_a_full_disk_raises_the_real_error_and_keeps_the_old_file(tmp_path, monkeypatch, batch):
    path = tmp_path / "m.pt"
    first = MAE().eval()
    save_model(first, path)
    full_disk(monkeypatch)
    with pytest.raises(OSError) as err:  # torch's own writer said "enforce fail ... unexpected pos"
        save_model(MAE(), path)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert torch.equal(load_model(path)(batch), first(batch)) and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- row 2: a cache shared by users


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_cached_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = save_model(MAE(), tmp_path / "cache" / "main-0.pt")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode  # was 0600: other users read "truncated or corrupt"
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o777 & ~umask


# ----------------------------------------------------------------------------- row 3: a damaged cache entry


def overwrite_weights(path, fill: bytes):
    """Overwrite 4,096 bytes of the largest weight tensor inside a saved checkpoint (the zip stays readable)."""
    state = torch.load(path, weights_only=True)["state_dict"]
    biggest = max(state.values(), key=lambda t: t.numel())
    data = bytearray(path.read_bytes())
    at = data.find(biggest.numpy().tobytes()[:64])
    assert at > 0
    data[at:at + 4096] = fill * 4096
    path.write_bytes(bytes(data))
    return torch.load(path, weights_only=True)["state_dict"]  # torch itself loads it without a word


@pytest.mark.parametrize("fill", [b"\xff", b"\x3c"], ids=["nan", "finite-garbage"])
def test_a_damaged_cache_entry_is_retrained_with_one_notice(tmp_path, monkeypatch, capsys, fill, batch):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    cfg = tiny_config()
    train_cached("main", None, cfg, progress=False)
    (path,) = tmp_path.glob("main-*.pt")
    overwrite_weights(path, fill)
    with pytest.raises(ValueError, match=path.name):
        load_model(path)
    capsys.readouterr()
    model, _ = train_cached("main", None, cfg, progress=False)
    notices = [line for line in capsys.readouterr().err.splitlines() if path.name in line]
    assert len(notices) == 1 and "damaged" in notices[0] and "training it again" in notices[0]
    assert torch.isfinite(model(batch)).all()
    assert torch.equal(load_model(path)(batch), model(batch))  # the bad file was replaced by the retrained one


# ----------------------------------------------------------------------------- row 4: flags mean what they say


def test_explicit_flags_beat_fast_mode_and_fast_can_be_switched_off():
    parse = build_parser().parse_args
    fast = config_from_args(parse(["--fast", "--epochs", "2", "--unlearn-steps", "30"]))
    assert (fast.epochs, fast.unlearn_max_steps, fast.max_train_images) == (2, 30, 2500)
    full = config_from_args(parse(["--no-fast"]))
    assert (full.epochs, full.max_train_images, full.batch_size) == (10, None, 64)
    assert config_from_args(parse(["--fast"])).epochs == 4


def test_the_cli_trains_with_the_epochs_it_was_given_in_fast_mode(tmp_path, monkeypatch, capsys, fake_run):
    monkeypatch.setenv("MAE_FAST", "1")
    assert cli("--out", tmp_path / "run", "--fast", "--epochs", "2") == 0
    assert fake_run[-1].epochs == 2 and fake_run[-1].max_train_images == 2500


def test_a_relative_data_root_on_the_command_line_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_from_args(build_parser().parse_args(["--data-root", "mnist"])).data_root == str(tmp_path / "mnist")


# ----------------------------------------------------------------------------- row 5: two runs into one folder


def test_a_second_run_into_a_claimed_folder_is_refused(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    with RunFolder(out):  # the first run, still training
        one_line_error(capsys, cli("--out", out), str(out), "another run")
        assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == set()
    assert not out.exists()  # the first run made the folder and, unfinished, took it away again
    assert cli("--out", out) == 0  # once it is done, the folder is free again
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- row 6: killed mid-overwrite

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


def test_temporary_files_of_other_programs_are_never_removed(tmp_path, capsys, fake_run):
    # (issue 18: the age-based sweep deleted any hidden .tmp file older than 10 minutes in --images and the cache)
    cache, images = tmp_path / "cache", tmp_path / "images"
    for folder in (cache, images):
        folder.mkdir()
        (folder / ".editor-swap.tmp").write_bytes(b"someone else's, an hour old")
        os.utime(folder / ".editor-swap.tmp", (time.time() - 3600, time.time() - 3600))
    save_model(MAE(), cache / "judge-1.pt")
    assert cli("--out", tmp_path / "run", "--images", images) == 0
    assert (cache / ".editor-swap.tmp").exists() and (images / ".editor-swap.tmp").exists()


# ----------------------------------------------------------------------------- row 7: Ctrl-C


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


def test_ctrl_c_on_a_real_run_exits_130_without_a_traceback(tmp_path):
    cache = tmp_path / "cache"
    args = ["-m", "mae_helpers", "--out", str(tmp_path / "run"), "--fast", "--epochs", "1", "--quiet"]
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


# ----------------------------------------------------------------------------- row 8: non-finite strength


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300"])
def test_non_finite_strength_is_refused_before_training(tmp_path, capsys, no_training, value):
    one_line_error(capsys, cli("--out", tmp_path / "run", f"--strength={value}"), "strength", "finite number")
    assert not (tmp_path / "run").exists()


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


# ----------------------------------------------------------------------------- row 9: malformed IDX files


def offline_arrays():
    return [a.numpy() for a in load_mnist_arrays("data", "offline")[:4]]


def mismatched_counts(a):
    return a[0], a[1][:-10], a[2], a[3]


def images_32x32(a):
    return np.zeros((len(a[0]), 32, 32), np.uint8), a[1], a[2], a[3]


def labels_above_9(a):
    return a[0], a[1], a[2], np.where(a[3] == 9, 11, a[3])


def no_images(a):
    return a[0][:0], a[1][:0], a[2], a[3]


@pytest.mark.parametrize("damage, file, words", [
    (mismatched_counts, "train-labels-idx1-ubyte", "must match"),
    (images_32x32, "train-images-idx3-ubyte", "not 28 x 28"),
    (labels_above_9, "t10k-labels-idx1-ubyte", "labels up to 11"),
    (no_images, "train-images-idx3-ubyte", "no images"),
])
def test_malformed_idx_files_are_refused_naming_the_file(tmp_path, capsys, mnist_on_disk, damage, file, words):
    mnist_on_disk(tmp_path, damage(offline_arrays()))
    with pytest.raises(ValueError, match=words) as err:
        get_mnist_loaders(data_root=str(tmp_path), source="disk")
    assert str(tmp_path / "MNIST" / "raw" / file) in str(err.value)
    load_mnist_arrays.cache_clear()
    capsys.readouterr()
    one_line_error(capsys, cli("--out", tmp_path / "run", "--source", "disk", "--data-root", tmp_path), file, words)


def test_an_idx_file_longer_or_shorter_than_its_header_says_is_refused(tmp_path, mnist_on_disk):
    raw = mnist_on_disk(tmp_path)
    (raw / "t10k-images-idx3-ubyte").write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes()[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.*header promises"):
        get_mnist_loaders(data_root=str(tmp_path), source="disk")


# ----------------------------------------------------------------------------- row 10: load_model on bad checkpoints


def resave(path, change):
    """Load a checkpoint's raw dict, let `change` edit it, save it back (as a user's script might)."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


@pytest.mark.parametrize("change, words", [
    (lambda p: p.pop("config"), "no architecture record"),
    (lambda p: p["config"].update(colour="blue"), "colour"),
    (lambda p: p["config"].update(channels="abc"), "does not build an MAE"),
    (lambda p: p.pop("state_dict"), "has no weights"),
    (lambda p: p.update(state_dict={"encoder.0.weight": "not a tensor"}), "has no weights"),
], ids=["no-config", "unknown-key", "bad-value", "no-weights", "not-tensors"])
def test_malformed_checkpoints_are_a_value_error_naming_the_file(tmp_path, change, words):
    path = save_model(MAE(), tmp_path / "m.pt")
    resave(path, change)
    with pytest.raises(ValueError, match=words) as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_loading_a_judge_as_an_mae_says_so(tmp_path):
    path = save_model(Judge(), tmp_path / "judge-1.pt", key={"name": "judge"}, test_accuracy=0.9)
    with pytest.raises(ValueError, match="judge-1.pt is not an MAE checkpoint.*'judge' network"):
        load_model(path)


def test_non_finite_weights_are_neither_saved_nor_loaded(tmp_path):
    model = MAE()
    with torch.no_grad():
        model.dense[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinity"):
        save_model(model, tmp_path / "nan.pt")
    assert not (tmp_path / "nan.pt").exists()
    path = save_model(MAE(), tmp_path / "old.pt")
    resave(path, lambda p: (p.pop("sha256"), p["state_dict"]["dense.0.weight"].fill_(float("inf"))))
    with pytest.raises(ValueError, match="old.pt is damaged.*NaN or infinity"):  # a file from before the hash
        load_model(path)


# ----------------------------------------------------------------------------- row 11: sizes that leave nothing


@pytest.mark.parametrize("kwargs, words", [
    (dict(max_train_images=0), "max_train_images must be None"),
    (dict(max_train_images=-5), "max_train_images must be None"),
    (dict(max_train_images=2.5), "whole number"),
    (dict(val_fraction=0.999999), "leaves none to train on"),
])
def test_sizes_that_leave_no_training_images_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        get_mnist_loaders(source="offline", **kwargs)


def test_a_digit_missing_from_a_tiny_split_is_refused_not_a_torch_error():
    refused = 0
    for digit in range(10):  # 2 images: one to train on, one to validate; most digits are in neither
        try:
            get_mnist_loaders(source="offline", max_train_images=2, digits=[digit])
        except ValueError as err:
            assert "holds no images of digits" in str(err) and "max_train_images" in str(err)
            refused += 1
    assert refused >= 8


# ----------------------------------------------------------------------------- row 12: numpy and tensor numbers


def test_numpy_numbers_and_0d_tensors_are_numbers():
    cfg = get_config(strength=np.float32(1.5), epochs=np.int64(3), max_train_images=torch.tensor(600),
                     forget_digits=torch.tensor([0, 3]))
    assert (cfg.strength, cfg.epochs, cfg.max_train_images, cfg.forget_digits) == (1.5, 3, 600, (0, 3))
    assert type(cfg.strength) is float and type(cfg.epochs) is int
    assert check_digits(torch.tensor(3)) == (3,) and check_digits(np.array([7, 1])) == (1, 7)
    assert split_digits([torch.tensor(0), np.int8(9)])[0] == (0, 9)
    train, _, _ = get_mnist_loaders(source="offline", digits=torch.tensor([1, 7]), batch_size=np.int64(32),
                                    val_fraction=np.float32(0.2), seed=torch.tensor(1), max_train_images=np.int32(400))
    assert set(train.dataset.targets.tolist()) == {1, 7}


@pytest.mark.parametrize("field, value", [("strength", float("nan")), ("lr", float("inf")), ("epochs", 2.5),
                                          ("seed", "0"), ("strength", True)])
def test_get_config_refuses_what_is_not_a_finite_number_up_front(field, value):
    with pytest.raises(ValueError, match=field):
        get_config(**{field: value})


def test_unlearn_itself_takes_a_numpy_strength(experiment):
    import dataclasses

    from mae_helpers.unlearn import unlearn

    cfg = tiny_config(forget_digits=(0, 1), unlearn_max_steps=2, q_fit_steps=2, witness_images=64)
    for strength in (np.float32(1.0), torch.tensor(1.0)):
        # dataclasses.replace skips Config.replace's checks: unlearn itself must read the number
        _, history = unlearn(experiment.original, experiment.original, dataclasses.replace(cfg, strength=strength),
                             progress=False)
        assert history.strength == 1.0


# ----------------------------------------------------------------------------- row 13: MAE_FAST=maybe


def test_an_unknown_env_flag_value_is_one_line_where_it_is_used_not_at_import(tmp_path):
    helped = run_python(["-m", "mae_helpers", "--help"], env={"MAE_FAST": "maybe"})
    assert helped.returncode == 0 and "--fast" in helped.stdout, helped.stderr  # was a traceback at import
    imported = run_python("import mae_helpers; from mae_helpers import MAE; print('ok')", env={"MAE_FAST": "maybe"})
    assert imported.returncode == 0 and imported.stdout.strip() == "ok", imported.stderr
    run = run_python(["-m", "mae_helpers", "--out", str(tmp_path / "run")], env={"MAE_FAST": "maybe"})
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert "MAE_FAST must be one of 1/true/yes/on (on) or 0/false/no/off (off); got 'maybe'" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value, on", [("1", True), ("On", True), ("0", False), ("off", False), ("", False)])
def test_env_flag_words(monkeypatch, value, on):
    from mae_helpers.config import env_flag

    monkeypatch.setenv("MAE_TEST_FLAG", value)
    assert env_flag("MAE_TEST_FLAG") is on


def test_new_mnist_files_under_the_same_root_train_a_new_model(tmp_path, monkeypatch, mnist_on_disk):
    from mae_helpers import get_config, train_cached
    from mae_helpers.data import load_mnist_arrays

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))
    cfg = get_config(epochs=1, max_train_images=300, source="disk", data_root=str(tmp_path / "data"))
    arrays = [a.clone() for a in load_mnist_arrays("data", "offline")[:4]]
    mnist_on_disk(tmp_path / "data", [a.numpy() for a in arrays])
    _, first = train_cached("main", None, cfg, progress=False)
    _, again = train_cached("main", None, cfg, progress=False)
    assert again["key"] == first["key"], "the same files: the cached model"
    arrays[0][:, :14] = 255 - arrays[0][:, :14]  # the same names and shapes, other pixels
    mnist_on_disk(tmp_path / "data", [a.numpy() for a in arrays])
    _, changed = train_cached("main", None, cfg, progress=False)
    assert changed["key"]["pixels"] != first["key"]["pixels"]
    assert len(list((tmp_path / "cache").glob("main-*.pt"))) == 2


# ============================================================================= issue 18
# ----------------------------------------------------------------------------- it deleted the user's files


def test_files_put_into_out_while_the_run_trains_are_kept(tmp_path, monkeypatch, capsys, experiment):
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


def test_runs_into_a_folder_and_into_its_subfolder_keep_each_others_results(tmp_path, monkeypatch, experiment):
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


def test_overwrite_never_deletes_a_folder_named_like_a_run_file(tmp_path, capsys, no_training):
    out = tmp_path / "run"
    (out / "metrics.json").mkdir(parents=True)
    (out / "metrics.json" / "thesis.tex").write_text("years of work")
    one_line_error(capsys, cli("--out", out, "--overwrite"), "metrics.json", "not from a run")
    assert (out / "metrics.json" / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("out", [".", "", "CWD", "PARENT", "DATA"])
def test_out_holding_the_working_or_data_folder_is_refused(tmp_path, monkeypatch, capsys, no_training, out):
    cwd = tmp_path / "shell" / "here"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    given = {"CWD": str(cwd), "PARENT": str(tmp_path / "shell"), "DATA": str(tmp_path / "datasets")}.get(out, out)
    extra = ["--data-root", str(tmp_path / "datasets" / "mnist")] if out == "DATA" else []
    one_line_error(capsys, cli("--out", given, "--overwrite", *extra), "a folder of its own")
    assert os.getcwd() == str(cwd) and list(cwd.iterdir()) == []


# ----------------------------------------------------------------------------- cache entries are checked


def test_a_checkpoint_copied_over_another_key_is_retrained_with_one_notice(tmp_path, monkeypatch, capsys, batch):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    cfg = tiny_config()
    main_model, _ = train_cached("main", None, cfg, progress=False)
    train_cached("retrained", [1, 2, 4], cfg, progress=False)
    (main_path,), (retrained_path,) = tmp_path.glob("main-*.pt"), tmp_path.glob("retrained-*.pt")
    shutil.copy(main_path, retrained_path)
    capsys.readouterr()
    model, meta = train_cached("retrained", [1, 2, 4], cfg, progress=False)
    notices = [line for line in capsys.readouterr().err.splitlines() if retrained_path.name in line]
    assert len(notices) == 1 and "'main'" in notices[0] and "training it again" in notices[0]
    assert meta["key"]["name"] == "retrained" and not torch.equal(model(batch), main_model(batch))


def damaged_entry(tmp_path, monkeypatch, change):
    """A cached main network of `tiny_config` whose checkpoint `change` edits (resave); returns its path."""
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    train_cached("main", [1, 7], tiny_config(), progress=False)
    (path,) = tmp_path.glob("main-*.pt")
    resave(path, change)
    return path


def sparse_weights(payload):
    payload["state_dict"]["dense.0.weight"] = payload["state_dict"]["dense.0.weight"].to_sparse()


def integer_weights(payload):
    payload["state_dict"]["dense.0.weight"] = payload["state_dict"]["dense.0.weight"].long()


def fake_step_counter(payload):  # batch norm's counter is one int64; a tensor of them under its name is not
    payload["state_dict"]["dense.0.num_batches_tracked"] = torch.zeros(10_000, dtype=torch.int64)


def other_architecture(payload):
    small = MAE(channels=(8, 16, 32))
    payload.update(config=small.config, state_dict=small.state_dict())
    payload.pop("sha256")


@pytest.mark.parametrize("change, words", [
    (lambda p: p["metadata"].pop("history"), "training history"),
    (sparse_weights, "sparse"),
    (integer_weights, "integer"),
    (fake_step_counter, "integer"),
    (other_architecture, "architecture"),
], ids=["no-history", "sparse-tensor", "integer-weights", "fake-step-counter", "other-architecture"])
def test_a_malformed_cache_entry_is_retrained_with_one_notice(tmp_path, monkeypatch, capsys, change, words):
    path = damaged_entry(tmp_path, monkeypatch, change)
    capsys.readouterr()
    model, meta = train_cached("main", [1, 7], tiny_config(), progress=False)
    notices = [line for line in capsys.readouterr().err.splitlines() if path.name in line]
    assert len(notices) == 1 and words in notices[0] and "training it again" in notices[0], notices
    assert meta["history"]["epoch"] == [1] and model.config == MAE().config
    assert load_model(path).metadata["history"]  # the bad entry was replaced


def test_check_cache_mode_says_a_bad_entry_counts_as_missing(tmp_path, monkeypatch, capsys):
    from mae_helpers.cache import NotCached

    path = damaged_entry(tmp_path, monkeypatch, lambda p: p["metadata"].pop("history"))
    capsys.readouterr()
    with pytest.raises(NotCached, match="no cached main network"):
        train_cached("main", [1, 7], tiny_config(), progress=False, train=False)
    (notice,) = [line for line in capsys.readouterr().err.splitlines() if path.name in line]
    assert "counted as missing" in notice and "training it again" not in notice


def test_the_cache_key_carries_the_cache_format(tmp_path, monkeypatch):
    from mae_helpers import cache

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    _, meta = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert meta["key"]["format"] == cache.CACHE_FORMAT
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)  # a release that changes training
    _, newer = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert newer["key"]["format"] == cache.CACHE_FORMAT and len(list(tmp_path.glob("main-*.pt"))) == 2


def test_the_judge_is_retrained_when_the_test_split_changes(tmp_path, monkeypatch, mnist_on_disk):
    from mae_helpers.evaluate import train_judge

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))
    arrays = [a.numpy().copy() for a in load_mnist_arrays("data", "offline")[:4]]
    mnist_on_disk(tmp_path / "data", arrays)
    cfg = tiny_config(source="disk", data_root=str(tmp_path / "data"), max_train_images=1200, epochs=2)
    first = train_judge(cfg, progress=False).test_accuracy
    arrays[3] = (arrays[3] + 1) % 10  # other test labels: the judge's true score drops to chance
    mnist_on_disk(tmp_path / "data", arrays)
    again = train_judge(cfg, progress=False).test_accuracy
    assert first > 0.5 and again < 0.3 and len(list((tmp_path / "cache").glob("judge-*.pt"))) == 2


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


# ----------------------------------------------------------------------------- inputs: sizes checked first


def test_a_corrupt_gz_mnist_file_is_one_line_naming_it(tmp_path, capsys, mnist_on_disk):
    raw = mnist_on_disk(tmp_path, gz=("train-images-idx3-ubyte",))
    path = raw / "train-images-idx3-ubyte.gz"
    data = bytearray(path.read_bytes())
    start = data.index(0, 10) + 1 if data[3] & 0x08 else 10  # the deflate data, after the header and file name
    data[start] = 0x07  # a block of type 3, which deflate does not have: zlib.error, not an OSError
    path.write_bytes(bytes(data))
    load_mnist_arrays.cache_clear()
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz is not a readable MNIST IDX file"):
        get_mnist_loaders(data_root=str(tmp_path), source="disk")
    load_mnist_arrays.cache_clear()
    capsys.readouterr()
    one_line_error(capsys, cli("--out", tmp_path / "run", "--source", "disk", "--data-root", tmp_path),
                   str(path), "not a readable")


def gzip_file(path, header: bytes, zeros: int):
    """A gzip file holding `header` and then `zeros` zero bytes, written in chunks (a bomb costs no memory here)."""
    import gzip

    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        chunk = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(chunk)
        f.write(bytes(zeros % (1 << 20)))


@pytest.mark.parametrize("shape, zeros", [((10, 28, 28), 256 << 20), ((400_000, 28, 28), 400_000 * 784)],
                         ids=["more-data-than-promised", "promises-more-than-mnist-holds"])
def test_a_gzip_bomb_is_refused_before_it_is_read_whole(tmp_path, shape, zeros):
    import tracemalloc

    from mae_helpers.data import _read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    gzip_file(path, (0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape), zeros)
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="header promises"):
            _read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # was all of it: 256 or 314 MB


CRAFTED_CHECKPOINT = """
import resource, sys, torch
from mae_helpers import load_model
torch.save({"format": "mae_helpers.checkpoint/1", "state_dict": {"dense.0.weight": torch.zeros(2)},
            "config": {"channels": [1, 2000, 2000], "hidden": 56, "code_dim": 10, "num_classes": 10,
                       "decoder_norm": True}, "metadata": {}}, sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_model(sys.argv[1])
except ValueError as err:
    print("refused:", err)
print("grew", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, "MB")
"""


def test_a_crafted_checkpoint_is_refused_before_the_network_is_built(tmp_path):
    result = run_python(["-c", CRAFTED_CHECKPOINT, str(tmp_path / "crafted.pt")])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "crafted.pt").stat().st_size < 4096
    assert "refused:" in result.stdout and "do not fit its architecture" in result.stdout
    assert int(result.stdout.split("grew")[1].split()[0]) < 100  # was 400 MB of weights for that architecture


@pytest.mark.parametrize("seed", [2**63, 2**64, -1])
def test_a_seed_out_of_range_is_refused_naming_the_flag(tmp_path, capsys, no_training, seed):
    one_line_error(capsys, cli("--out", tmp_path / "run", "--seed", seed), "--seed", "2**63")
    with pytest.raises(ValueError, match="seed"):
        get_config(seed=seed)


@pytest.mark.parametrize("device", ["meta", "tpu", "cuda:7"])
def test_unsupported_devices_are_refused_naming_the_flag(tmp_path, capsys, no_training, device):
    one_line_error(capsys, cli("--out", tmp_path / "run", "--device", device), "--device")
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- lines and exit codes

PIPED_RUN = """
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


def test_a_reader_that_stops_reading_is_no_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_FAST": "1"}
    child = subprocess.Popen([sys.executable, "-c", PIPED_RUN, str(tmp_path / "run")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "row 0\n"
    child.stdout.close()  # `| head -1`
    err = child.stderr.read()
    assert child.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_a_bad_mplbackend_is_one_line(tmp_path):
    result = run_python(["-m", "mae_helpers", "--out", str(tmp_path / "run")], env={"MPLBACKEND": "nonsense"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "MPLBACKEND='nonsense'" in lines[0] and "MPLBACKEND=Agg" in lines[0]


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


def test_forget_given_twice_forgets_both(tmp_path, fake_run):
    assert cli("--out", tmp_path / "run", "--forget", "3", "--forget", "6") == 0
    assert fake_run[-1].forget_digits == (3, 6)


@pytest.mark.parametrize("reason", ["images-is-a-file", "bad-data"])
def test_a_refused_run_leaves_no_folder_it_made(tmp_path, monkeypatch, capsys, reason):
    def bad_data(*args, **kwargs):
        raise ValueError("data/MNIST/raw/train-images-idx3-ubyte is not a readable MNIST IDX file")

    monkeypatch.setattr(experiment_module, "run_experiment", bad_data)
    (tmp_path / "images-file").write_text("not a folder")
    images = tmp_path / ("images-file" if reason == "images-is-a-file" else "new/figures")
    assert cli("--out", tmp_path / "a" / "b" / "c", "--images", images) != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images-file"]


def test_the_data_in_memory_follows_new_files_and_mae_data_source(tmp_path, monkeypatch):
    import socket

    from conftest import write_idx

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    def source():
        return get_mnist_loaders(data_root=str(tmp_path), source="auto").train.dataset.source

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("MAE_DATA_SOURCE", "auto")
    assert source() == "offline"  # no files, no network
    arrays = [a.numpy() for a in load_mnist_arrays("data", "offline")[:4]]
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name, array in zip(names, arrays):  # MNIST files appear while the kernel runs (no cache_clear)
        write_idx(raw / name, array)
    assert source() == "disk"
    monkeypatch.setenv("MAE_DATA_SOURCE", "offline")
    assert source() == "offline"


# ----------------------------------------------------------------------------- plumbing


def test_mps_is_picked_when_present_and_mse_needs_no_float64(monkeypatch, small_loaders):
    from torch.overrides import TorchFunctionMode

    from mae_helpers.config import resolve_device
    from mae_helpers.train import reconstruction_mse

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device() == torch.device("mps") and resolve_device("mps") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="mps"):
        resolve_device("mps")

    class Float64Spy(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            if isinstance(result, torch.Tensor) and result.dtype == torch.float64:
                raise AssertionError(f"{func} made a float64 tensor, which MPS cannot hold")
            return result

    with Float64Spy():
        value = reconstruction_mse(MAE(), small_loaders.val, "cpu")
    assert value > 0


def test_the_judge_trains_at_exactly_five_steps(small_loaders):
    from mae_helpers.evaluate import fit_judge

    x, y = small_loaders.train.dataset.images[:80], small_loaders.train.dataset.targets[:80]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    assert len(loader) == 5  # torch's OneCycleLR divides by zero here
    assert not fit_judge(Judge(), loader, epochs=1, device="cpu", progress=False).training


def test_compare_reconstructions_leaves_the_callers_models_as_they_were(small_loaders):
    from mae_helpers.viz import compare_reconstructions

    class Unmovable(MAE):
        def to(self, *args, **kwargs):
            raise AssertionError("the caller's model was moved")

    model = Unmovable().train()
    compare_reconstructions({"model": model}, small_loaders.test, device="cpu")
    assert model.training


def test_prepared_unlearn_refuses_digits_its_auxiliary_network_was_not_trained_on(monkeypatch):
    from mae_helpers.experiment import Prepared

    monkeypatch.setattr(experiment_module, "unlearn", lambda *a, **k: pytest.fail("unlearned the wrong digits"))
    prepared = Prepared(cfg=tiny_config(forget_digits=(0, 3)), original=MAE(), aux=MAE(), retrained=MAE(),
                        retrained_2=MAE(), judge=Judge(), witness=None, readers=None, training={})
    with pytest.raises(ValueError, match=r"digits \[0, 3\].*prepare\(cfg.replace\(forget_digits"):
        prepared.unlearn(forget_digits=(1,))


def test_forget_batch_is_its_own_setting_outside_the_training_key():
    from mae_helpers.cache import cached_path, mae_key

    full, fast = get_config(fast=False), get_config(fast=True)
    assert (full.forget_batch, fast.forget_batch) == (128, 64)
    data = get_mnist_loaders(source="offline", max_train_images=300).train.dataset
    other = full.replace(forget_batch=7)
    assert cached_path("main", mae_key("main", range(10), other, data)) == \
        cached_path("main", mae_key("main", range(10), full, data))


@pytest.mark.parametrize("field, value", [
    ("strength", -0.5), ("retain_tolerance", -0.1), ("epochs", 0), ("unlearn_max_steps", 0), ("check_every", 0),
    ("retain_batch", 0), ("forget_batch", 0), ("q_fit_steps", 0), ("witness_images", 0), ("lr", 0.0),
    ("val_fraction", 1.0), ("forget_target", 1.5), ("channels", (8, 0, 32)), ("source", "usb"),
    ("forget_digits", tuple(range(10))),
])
def test_every_range_is_checked_once_in_config(field, value):
    import dataclasses

    with pytest.raises(ValueError, match=field):
        get_config(**{field: value})
    with pytest.raises(ValueError, match=field):  # also on the dataclasses path, which skips Config.replace
        dataclasses.replace(get_config(), **{field: value})


def test_loaders_share_their_tensors_and_stay_fresh():
    first = get_mnist_loaders(source="offline", max_train_images=600, digits=[1, 7])
    again = get_mnist_loaders(source="offline", max_train_images=600, digits=[1, 7])
    assert first.train.dataset is again.train.dataset and first.test.dataset is again.test.dataset
    assert first.train is not again.train  # a fresh loader shuffles from the seed again: same batches
    assert torch.equal(next(iter(first.train))[0], next(iter(again.train))[0])


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


def test_the_widget_panel_shows_any_error(monkeypatch):
    from mae_helpers.widgets import UnlearningPanel

    panel = UnlearningPanel(MAE(), tiny_config())

    def broken():
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(panel, "run", broken)
    panel.button.click()
    assert "RuntimeError: CUDA error" in panel.status.value and not panel.button.disabled
