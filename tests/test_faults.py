"""What a hostile (or unlucky) user does: every row of issue 10's table, rerun.

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

from mae_helpers import MAE, get_config, get_mnist_loaders, load_model, save_model, train_cached
from mae_helpers import cli as cli_module
from mae_helpers.cli import build_parser, config_from_args, main
from mae_helpers.data import check_digits, load_mnist_arrays, split_digits
from mae_helpers.evaluate import Judge
from mae_helpers.experiment import FIGURES, OUTPUT_FILES, run_experiment
from mae_helpers.files import RunFolder

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = set(OUTPUT_FILES + FIGURES)


def tiny_config(**overrides):
    """A config that trains every network in a second or two."""
    settings = dict(epochs=1, max_train_images=600, batch_size=32, unlearn_max_steps=10, source="offline")
    return get_config(**{**settings, **overrides})


@pytest.fixture(scope="module")
def experiment():
    """One real (tiny) experiment: what the CLI tests below write, instead of training again each time."""
    return run_experiment(tiny_config(), progress=False)


@pytest.fixture
def fake_run(monkeypatch, experiment):
    """Make `mae-unlearn` skip training and return the tiny experiment; records the configs it was given."""
    seen = []

    def run(cfg, method, device=None, progress=True):
        seen.append(cfg)
        return experiment

    monkeypatch.setattr(cli_module, "run_experiment", run)
    return seen


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if `mae-unlearn` gets as far as training: the refusal must come first."""
    def run(*args, **kwargs):
        raise AssertionError("mae-unlearn started training before refusing")

    monkeypatch.setattr(cli_module, "run_experiment", run)


def cli(*args):
    """Run `mae-unlearn` quietly in-process; returns its exit code."""
    try:
        code = main(["--quiet", *map(str, args)])
    except SystemExit as exit_info:
        code = exit_info.code
    return code


def one_line_error(capsys, code, *words):
    """Assert a non-zero exit with exactly one stderr line, no traceback, holding every word."""
    err = capsys.readouterr().err.strip().splitlines()
    assert code not in (0, None), err
    assert len(err) == 1 and "Traceback" not in err[0], err
    for word in words:
        assert word in err[0], err
    return err[0]


def previous_run(out, fake_run, capsys):
    """A finished run in `out` (through the CLI), and a snapshot of its bytes."""
    assert cli("--out", out) == 0
    capsys.readouterr()
    return snapshot(out)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


def leftovers(parent):
    """Hidden work, lock, backup and temporary files a run might leave beside its folder."""
    return sorted(p.name for p in Path(parent).rglob(".*"))


# Without CAP_DAC_OVERRIDE root obeys file permissions: the child then sees a read-only folder as a user would.
UNPRIVILEGED = [] if os.geteuid() != 0 else ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
needs_permissions = pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                                       reason="root without setpriv cannot see a folder as read-only")


def run_python(code_or_args, env=None, timeout=300, unprivileged=False, **kwargs):
    """A child Python with this checkout first on the path; returns the CompletedProcess."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_FAST": "1", **(env or {})}
    return subprocess.run([*(UNPRIVILEGED if unprivileged else []), sys.executable, *args], env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(params=[0o555], ids=["read-only"])
def read_only(tmp_path, request):
    """A folder nobody (in a child process without root's bypass) may write into (or, 0o000, even look into)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(request.param)
    yield folder
    folder.chmod(0o755)


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


def full_disk(monkeypatch):
    """Every file write fails as on a full disk (the data reach the disk at fsync)."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)


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
    with RunFolder(out, known=tuple(RUN_FILES)):  # the first run, still training
        one_line_error(capsys, cli("--out", out), str(out), "another run")
        assert not out.exists()
    assert cli("--out", out) == 0  # once it is done, the folder is free again
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- row 6: killed mid-overwrite

KILLED_MID_RUN = """
import os, signal, sys
from mae_helpers.files import RunFolder
run = RunFolder(sys.argv[1], overwrite=True, known=tuple(sys.argv[2:])).__enter__()
(run.work / "original.pt").write_bytes(b"the new run, half written")
(run.work / ".retrained.pt.0123abcd.tmp").write_bytes(b"half a checkpoint")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_run_killed_mid_overwrite_leaves_the_previous_run_and_the_next_run_cleans_up(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    result = run_python(["-c", KILLED_MID_RUN, str(out), *RUN_FILES])
    assert result.returncode == -signal.SIGKILL
    assert snapshot(out) == before  # nothing of the killed run is mixed in
    assert (tmp_path / ".run.partial").exists()
    assert cli("--out", out, "--overwrite") == 0
    assert "interrupted run" in capsys.readouterr().err
    assert leftovers(tmp_path) == [] and {p.name for p in out.iterdir()} == RUN_FILES


def test_temporary_files_an_old_version_left_in_out_do_not_block_the_next_run(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    previous_run(out, fake_run, capsys)
    (out / ".retrained.pt.k2j3h4.tmp").write_bytes(b"left by a run killed on main")
    assert cli("--out", out, "--overwrite") == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_a_run_killed_between_the_two_renames_gets_the_previous_run_back(tmp_path, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    out.rename(tmp_path / ".run.old")  # what commit's first rename leaves
    with RunFolder(out, overwrite=True, known=tuple(RUN_FILES)):
        assert snapshot(out) == before
    assert "restored the previous run" in capsys.readouterr().err


def test_stale_temporary_files_in_the_cache_are_removed(tmp_path):
    stale, fresh = tmp_path / ".retrained-1.pt.0123abcd.tmp", tmp_path / ".main-1.pt.4567ef01.tmp"
    stale.write_bytes(b"left by a killed save")
    fresh.write_bytes(b"another process is saving right now")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    save_model(MAE(), tmp_path / "judge-1.pt")
    assert not stale.exists() and fresh.exists()


# ----------------------------------------------------------------------------- row 7: Ctrl-C


def test_ctrl_c_is_one_line_saying_what_was_kept(tmp_path, monkeypatch, capsys, fake_run):
    out = tmp_path / "run"
    before = previous_run(out, fake_run, capsys)
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))

    def interrupted(cfg, *args, **kwargs):  # one network finished and cached, then Ctrl-C
        save_model(MAE(), tmp_path / "cache" / "main-1.pt")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "run_experiment", interrupted)
    line = one_line_error(capsys, cli("--out", out, "--overwrite"), "interrupted", "is as it was",
                          "1 network(s)", str(tmp_path / "cache"))
    assert line.startswith("mae-unlearn: ")
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_images_gets_the_figures_and_keeps_its_other_files(tmp_path, capsys, fake_run):
    images = tmp_path / "images"
    images.mkdir()
    (images / "panel_03.png").write_bytes(b"a screenshot")
    assert cli("--out", tmp_path / "run", "--images", images) == 0
    assert {p.name for p in images.iterdir()} == {"panel_03.png", *FIGURES}
    assert (images / "curves.png").read_bytes() == (tmp_path / "run" / "curves.png").read_bytes()


def test_ctrl_c_while_copying_figures_says_the_run_is_complete(tmp_path, monkeypatch, capsys, fake_run):
    def interrupted(out, images):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "copy_figures", interrupted)
    one_line_error(capsys, cli("--out", tmp_path / "run", "--images", tmp_path / "images"), "is complete")
    assert {p.name for p in (tmp_path / "run").iterdir()} == RUN_FILES


def test_ctrl_c_on_a_real_run_exits_130_without_a_traceback(tmp_path):
    cache = tmp_path / "cache"
    args = ["-m", "mae_helpers", "--out", str(tmp_path / "run"), "--fast", "--epochs", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAE_CACHE_DIR": str(cache)}
    child = subprocess.Popen([sys.executable, *args], env=env, stderr=subprocess.PIPE, text=True)
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
    stopped = replace(experiment, unlearning=replace(experiment.unlearning, stopped="non-finite loss at step 1"))
    monkeypatch.setattr(cli_module, "run_experiment", lambda *args, **kwargs: stopped)
    assert cli("--out", tmp_path / "run") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["unlearning"]["stopped"] == "non-finite loss at step 1"
    assert "warning: unlearning: " in capsys.readouterr().err


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

    cfg = tiny_config(forget_digits=(0,), unlearn_max_steps=2, cooldown_steps=1, q_fit_steps=2, witness_images=64)
    for strength in (np.float32(1.0), torch.tensor(1.0)):
        # dataclasses.replace skips Config.replace's checks: unlearn itself must read the number
        _, history = unlearn(experiment.original, experiment.original, dataclasses.replace(cfg, strength=strength),
                             progress=False)
        assert history.strength == 1.0


# ----------------------------------------------------------------------------- row 13: MAE_FAST=maybe


def test_an_unknown_env_flag_value_is_an_error_naming_the_allowed_values():
    result = run_python(["-m", "mae_helpers", "--help"], env={"MAE_FAST": "maybe"})
    assert result.returncode != 0
    assert "MAE_FAST must be one of 1/true/yes/on (on) or 0/false/no/off (off); got 'maybe'" in result.stderr


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
