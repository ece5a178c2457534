import os
import shutil
import socket
import time

import pytest
import torch
from conftest import run_python

from mae_helpers import get_mnist_loaders
from mae_helpers.data import DigitTensors, check_digits, load_mnist_arrays, make_loader


def labels_of(loader):
    return torch.cat([y for _, y in loader])


def test_filter_keeps_exactly_the_requested_digits_and_counts():
    train, val, test = get_mnist_loaders(source="offline", digits=[7, 1], max_train_images=None)
    seen = torch.cat([labels_of(train), labels_of(val)])
    assert set(seen.tolist()) == {1, 7}
    assert len(seen) == 800  # the offline subset has 400 training images of each digit
    assert torch.bincount(labels_of(test), minlength=10).tolist() == [0, 100, 0, 0, 0, 0, 0, 100, 0, 0]
    assert 120 < len(val.dataset) < 200  # about 20% of 800
    assert set(train.dataset.targets.tolist()) == {1, 7}


def test_filtered_splits_are_exact_parts_of_the_unfiltered_ones():
    everything = get_mnist_loaders(source="offline", seed=4)
    some = get_mnist_loaders(source="offline", seed=4, digits=[0, 3])
    for split in ("train", "val"):
        full = getattr(everything, split).dataset
        part = getattr(some, split).dataset
        mask = (full.targets == 0) | (full.targets == 3)
        assert torch.equal(full.images[mask].sum((1, 2, 3)).sort().values, part.images.sum((1, 2, 3)).sort().values)


def test_offline_subset_has_a_fixed_stratified_test_split():
    a = load_mnist_arrays("data", "offline")
    load_mnist_arrays.cache_clear()
    b = load_mnist_arrays("data", "offline")
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    assert torch.bincount(a[3].long()).tolist() == [100] * 10
    assert len(a[1]) == 4000 and a[4] == "offline"


def test_auto_falls_back_to_offline_without_network(monkeypatch, tmp_path, capsys):
    calls = []

    def no_network(*args, **kwargs):
        calls.append(args)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("MAE_DATA_SOURCE", raising=False)
    load_mnist_arrays.cache_clear()
    start = time.perf_counter()
    train, _, _ = get_mnist_loaders(data_root=str(tmp_path), source="auto")
    assert time.perf_counter() - start < 30  # fails over instead of hanging on a socket
    assert calls, "auto should have tried the network first"
    assert train.dataset.source == "offline"
    assert "offline MNIST subset" in capsys.readouterr().err


def test_env_var_overrides_auto(monkeypatch, tmp_path):
    monkeypatch.setenv("MAE_DATA_SOURCE", "disk")
    load_mnist_arrays.cache_clear()
    with pytest.raises(ValueError, match="source='offline'"):
        get_mnist_loaders(data_root=str(tmp_path), source="auto")
    monkeypatch.setenv("MAE_DATA_SOURCE", "floppy")
    with pytest.raises(ValueError, match="MAE_DATA_SOURCE"):
        get_mnist_loaders(data_root=str(tmp_path), source="auto")


def test_disk_source_reads_torchvision_layout(tmp_path, mnist_on_disk):
    """Write the offline digits as IDX files in torchvision's layout and load them back."""
    raw = mnist_on_disk(tmp_path, gz=("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"))
    train, val, test = get_mnist_loaders(data_root=str(tmp_path), source="disk", digits=[3], max_train_images=None)
    assert train.dataset.source == "disk"
    assert len(train.dataset) + len(val.dataset) == 400 and len(test.dataset) == 100
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    load_mnist_arrays.cache_clear()
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        get_mnist_loaders(data_root=str(tmp_path), source="disk")


def test_batches_are_in_range_reshuffled_and_cover_the_split_once(small_loaders):
    train = small_loaders.train
    first = [x for x, _ in train]
    second = [x for x, _ in train]
    for x in first:
        assert x.shape[1:] == (1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert x.min() == -1 and x.max() == 1
    assert sum(len(x) for x in first) == len(train.dataset)
    assert not torch.equal(first[0], second[0]), "training batches should be reshuffled each epoch"


def test_make_loader_visits_every_index_exactly_once():
    ids = torch.arange(1000, dtype=torch.float32).view(-1, 1, 1, 1)
    loader = make_loader(DigitTensors(ids, torch.zeros(1000, dtype=torch.long)), batch_size=64, shuffle=True, seed=3)
    for _ in range(2):
        seen = torch.cat([x.flatten() for x, _ in loader])
        assert sorted(seen.long().tolist()) == list(range(1000))
    assert len(loader) == 16


def test_validation_and_test_are_not_shuffled(small_loaders):
    a = torch.cat([x for x, _ in small_loaders.val])
    b = torch.cat([x for x, _ in small_loaders.val])
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(digits=[10]), "0-9"),
        (dict(digits=[-1, 2]), "0-9"),
        (dict(digits=[]), "empty"),
        (dict(digits=[3, 3]), "more than once"),
        (dict(digits="37"), "list of digits"),
        (dict(digits=[2.5]), "0-9"),
        (dict(val_fraction=0), "between 0 and 1"),
        (dict(val_fraction=1.0), "between 0 and 1"),
        (dict(batch_size=0), "batch_size"),
        (dict(source="usb"), "source must be one of"),
        (dict(device="tpu"), "device"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_mnist_loaders(**{"source": "offline", **kwargs})


def test_disk_source_without_files_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="source='download'") as err:
        get_mnist_loaders(data_root=str(tmp_path), source="disk")
    assert str(tmp_path) in str(err.value)
    assert isinstance(err.value, FileNotFoundError)  # also catchable as a missing-file error


def test_check_digits_rejects_all_ten_when_asked():
    assert check_digits([9, 0, 3]) == (0, 3, 9)
    assert check_digits(4) == (4,)
    with pytest.raises(ValueError, match="all ten"):
        check_digits(range(10), allow_all=False)


# ----------------------------------------------------------------------------- one data folder for CLI and notebooks


def test_a_relative_data_root_means_the_repository_folder_from_anywhere_in_a_checkout(monkeypatch):
    from pathlib import Path

    from mae_helpers.config import checkout_root, resolve_data_root

    root = Path(__file__).resolve().parents[1]
    assert checkout_root() == root  # the tests run from a checkout
    for cwd in (root, root / "notebooks"):  # where `mae-unlearn` and the notebooks run
        monkeypatch.chdir(cwd)
        assert resolve_data_root("data") == root / "data"
    assert resolve_data_root("/elsewhere/mnist") == Path("/elsewhere/mnist")


def test_outside_a_checkout_a_relative_data_root_is_taken_from_the_working_folder(monkeypatch, tmp_path,
                                                                                   mnist_on_disk):
    from mae_helpers import config

    monkeypatch.setattr(config, "checkout_root", lambda: None)
    mnist_on_disk(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    train, _, _ = get_mnist_loaders(data_root="data", source="disk", digits=[3])
    assert train.dataset.source == "disk"


def test_mae_data_root_is_the_default_and_notebooks_in_notebooks_read_it(tmp_path, mnist_on_disk):
    """The instructor's MNIST folder, named once in MAE_DATA_ROOT, is what a notebook kernel in notebooks/ loads."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    mnist_on_disk(tmp_path / "mnist")
    code = ("from mae_helpers import CONFIG, get_mnist_loaders; print(CONFIG.data_root); "
            "print(get_mnist_loaders(source='disk', digits=[5]).train.dataset.source)")
    env = {**os.environ, "MAE_DATA_ROOT": str(tmp_path / "mnist"), "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-c", code], cwd=root / "notebooks", env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "mnist"), "disk"]


def test_the_offline_digits_need_no_readable_data_root(tmp_path, monkeypatch):
    # (issue 37: with --source offline and an unreadable --data-root, the run failed)
    import errno

    closed, real_stat = tmp_path / "closed", os.stat

    def no_access(path, *args, **kwargs):
        if str(path).startswith(str(closed)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", no_access)
    load_mnist_arrays.cache_clear()
    train, _, _ = get_mnist_loaders(data_root=str(closed), source="offline", max_train_images=300)
    assert train.dataset.source == "offline"


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="root without setpriv reads any file")
def test_an_unreadable_mnist_file_says_permission_denied_not_delete_it(tmp_path, mnist_on_disk):
    # (issue 37: a mode-000 MNIST file got "delete it and load again")
    raw = mnist_on_disk(tmp_path / "data")
    (raw / "train-labels-idx1-ubyte").chmod(0)
    result = run_python(["-m", "mae_helpers", "--out", str(tmp_path / "run"), "--quiet", "--source", "disk",
                         "--data-root", str(tmp_path / "data")], env={"MAE_CACHE_DIR": str(tmp_path / "cache")},
                        unprivileged=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "train-labels-idx1-ubyte: permission denied" in lines[0] and "delete it" not in lines[0]
    assert "so that you can read it" in lines[0] and not (tmp_path / "run").exists()
