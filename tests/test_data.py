"""data.py: MNIST from the offline subset, disk or a download; digit filters, splits and loaders; bad files refused."""

import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli, one_line_error, run_python, write_idx

from mae_helpers import get_mnist_loaders
from mae_helpers.data import DigitTensors, _read_idx, check_digits, load_mnist_arrays, make_loader


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


def test_mae_data_root_is_the_default_and_notebooks_in_notebooks_read_it(tmp_path, monkeypatch, mnist_on_disk):
    """The instructor's MNIST folder, named once in MAE_DATA_ROOT, is what a notebook kernel in notebooks/ loads."""
    from mae_helpers import config

    mnist_on_disk(tmp_path / "mnist")
    monkeypatch.setenv("MAE_DATA_ROOT", str(tmp_path / "mnist"))
    monkeypatch.chdir(Path(__file__).resolve().parents[1] / "notebooks")
    assert config.CONFIG.data_root == str(tmp_path / "mnist")  # read when asked for, as a fresh kernel reads it
    assert get_mnist_loaders(source="disk", digits=[5]).train.dataset.source == "disk"


def test_the_offline_digits_need_no_readable_data_root(tmp_path, monkeypatch):
    # with --source offline and an unreadable --data-root, the run failed
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
    # a mode-000 MNIST file got "delete it and load again"
    raw = mnist_on_disk(tmp_path / "data")
    (raw / "train-labels-idx1-ubyte").chmod(0)
    result = run_python(["-m", "mae_helpers", "--out", str(tmp_path / "run"), "--quiet", "--source", "disk",
                         "--data-root", str(tmp_path / "data")], env={"MAE_CACHE_DIR": str(tmp_path / "cache")},
                        unprivileged=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "train-labels-idx1-ubyte: permission denied" in lines[0] and "delete it" not in lines[0]
    assert "so that you can read it" in lines[0] and not (tmp_path / "run").exists()


def test_numpy_numbers_and_0d_tensors_are_numbers_to_the_loaders():
    train, _, _ = get_mnist_loaders(source="offline", digits=torch.tensor([1, 7]), batch_size=np.int64(32),
                                    val_fraction=np.float32(0.2), seed=torch.tensor(1), max_train_images=np.int32(400))
    assert set(train.dataset.targets.tolist()) == {1, 7}


def test_loaders_share_their_tensors_and_stay_fresh():
    first = get_mnist_loaders(source="offline", max_train_images=600, digits=[1, 7])
    again = get_mnist_loaders(source="offline", max_train_images=600, digits=[1, 7])
    assert first.train.dataset is again.train.dataset and first.test.dataset is again.test.dataset
    assert first.train is not again.train  # a fresh loader shuffles from the seed again: same batches
    assert torch.equal(next(iter(first.train))[0], next(iter(again.train))[0])


def test_the_data_in_memory_follows_new_files_and_mae_data_source(tmp_path, monkeypatch):
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


# ----------------------------------------------------------------------------- sizes that leave nothing


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


# ----------------------------------------------------------------------------- malformed files: refused naming them


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
