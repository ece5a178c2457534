"""cache.py, through train_cached and train_judge: where it is, its keys, entries that do not fit, unwritable caches."""

import pickle
import pwd
import shutil

import pytest
import torch
from conftest import cli, needs_permissions, one_line_error, resave, run_python, tiny_config

from mae_helpers import MAE, cache, get_config, get_mnist_loaders, load_model, save_model, train_cached
from mae_helpers.cache import (
    NotCached,
    cache_dir,
    cached_path,
    judge_key,
    load_cached,
    load_mae,
    mae_key,
    witness_key,
)
from mae_helpers.data import load_mnist_arrays


def test_the_same_digits_under_another_data_root_share_every_cache_key(tmp_path):
    # the offline digits under another MAE_DATA_ROOT or --data-root retrained all six networks
    loaders = get_mnist_loaders(source="offline", max_train_images=300)
    here = tiny_config(data_root=str(tmp_path / "here"))
    there = tiny_config(data_root=str(tmp_path / "there"), source="auto")  # MAE_DATA_SOURCE=offline: the same digits
    for key in (lambda cfg: mae_key("main", range(10), cfg, loaders.train.dataset),
                lambda cfg: judge_key(cfg, loaders, {"lr": 1e-3}), lambda cfg: witness_key(cfg, loaders, {"lr": 1e-3})):
        assert key(here) == key(there) and "data_root" not in key(here) and key(here)["data"] == "offline"
        assert cached_path("main", key(here)) == cached_path("main", key(there))
    assert mae_key("main", range(10), here, loaders.train.dataset)["pixels"]  # the data's fingerprint is the key


def test_no_home_and_no_passwd_entry_is_one_line_naming_the_fix(tmp_path, monkeypatch, capsys, no_training):
    # was a RuntimeError traceback, "Could not determine home directory"
    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("MAE_CACHE_DIR")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(ValueError, match="MAE_CACHE_DIR"):
        cache_dir()
    one_line_error(capsys, cli("--out", tmp_path / "run"), "HOME", "set MAE_CACHE_DIR")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [pickle.dumps({"weights": object}), b"not weights at all\n"],
                         ids=["pickle", "text"])
def test_a_pickle_or_text_file_as_a_cache_entry_is_one_notice_line(tmp_path, monkeypatch, capsys, content):
    # blocked, but with torch's seven lines of advice to set weights_only=False
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    cfg = tiny_config()
    key = {"name": "main", "format": 2}
    path = cached_path("main", key)
    save_model(MAE(), path, key=key)
    path.write_bytes(content)
    assert load_cached(path, key, lambda p: load_mae(p, cfg)) is None
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and path.name in err and "training it again" in err, err
    assert "weights_only" not in err


def test_forget_batch_is_its_own_setting_outside_the_training_key():
    full, fast = get_config(fast=False), get_config(fast=True)
    assert (full.forget_batch, fast.forget_batch) == (128, 64)
    data = get_mnist_loaders(source="offline", max_train_images=300).train.dataset
    other = full.replace(forget_batch=7)
    assert cached_path("main", mae_key("main", range(10), other, data)) == \
        cached_path("main", mae_key("main", range(10), full, data))


def test_the_cache_key_carries_the_cache_format(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    _, meta = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert meta["key"]["format"] == cache.CACHE_FORMAT
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)  # a release that changes training
    _, newer = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert newer["key"]["format"] == cache.CACHE_FORMAT and len(list(tmp_path.glob("main-*.pt"))) == 2


def test_new_mnist_files_under_the_same_root_train_a_new_model(tmp_path, monkeypatch, mnist_on_disk):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tiny_config(max_train_images=300, source="disk", data_root=str(tmp_path / "data"))
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


# ----------------------------------------------------------------------------- entries that do not fit


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
    path = damaged_entry(tmp_path, monkeypatch, lambda p: p["metadata"].pop("history"))
    capsys.readouterr()
    with pytest.raises(NotCached, match="no cached main network"):
        train_cached("main", [1, 7], tiny_config(), progress=False, train=False)
    (notice,) = [line for line in capsys.readouterr().err.splitlines() if path.name in line]
    assert "counted as missing" in notice and "training it again" not in notice


# ----------------------------------------------------------------------------- a cache that cannot be written


def test_train_cached_with_an_unwritable_cache_trains_and_returns_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache-file"))
    (tmp_path / "cache-file").write_text("not a folder")
    model, meta = train_cached("main", [1, 7], tiny_config(), progress=False)
    assert meta["history"]["epoch"] == [1] and all(torch.isfinite(p).all() for p in model.parameters())
    assert "cannot write the model cache" in capsys.readouterr().err


@needs_permissions
@pytest.mark.parametrize("read_only", [0o555, 0o000], ids=["read-only", "no-access"], indirect=True)
def test_a_read_only_cache_folder_warns_and_training_goes_on(tmp_path, read_only, mnist_on_disk):
    # a child without root's permission bypass: it sees the folder as another user would; it reads the digits
    # from IDX files, which takes no time (the offline subset is parsed from text, anew in every process)
    mnist_on_disk(tmp_path / "data")
    code = ("import sys\n"
            "from mae_helpers import get_config, train_cached\n"
            "cfg = get_config(epochs=1, max_train_images=300, source='disk', data_root=sys.argv[1])\n"
            "model, meta = train_cached('main', [1, 7], cfg, progress=False)\n"
            "print('trained', meta['history']['epoch'])")
    result = run_python(["-c", code, str(tmp_path / "data")], env={"MAE_CACHE_DIR": str(read_only)},
                        unprivileged=True)
    assert result.returncode == 0 and "trained [1]" in result.stdout, result.stderr
    assert "cannot write the model cache" in result.stderr and "permission denied" in result.stderr
    assert "Traceback" not in result.stderr and list(read_only.iterdir()) == []


# ----------------------------------------------------------------------------- the warm start


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A shipped-checkpoints folder of our own (the package's may be empty here), and an empty cache."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(cache, "SHIPPED", folder)
    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MAE_WARM_START", raising=False)
    return folder


def ship(folder, cfg):
    """Train the main MAE of `cfg` into a scratch cache and ship it into `folder` with its hash; its cache name."""
    import hashlib
    import json
    import os

    scratch = folder.parent / "scratch-cache"
    os.environ["MAE_CACHE_DIR"], real = str(scratch), os.environ["MAE_CACHE_DIR"]
    try:
        train_cached("main", None, cfg, progress=False)
    finally:
        os.environ["MAE_CACHE_DIR"] = real
    (entry,) = scratch.glob("main-*.pt")
    shutil.copyfile(entry, folder / entry.name)
    (folder / "manifest.json").write_text(json.dumps(
        {"files": {entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()}}))
    return entry.name


def test_a_shipped_network_is_used_instead_of_training_and_lands_in_the_cache(shipped, monkeypatch):
    cfg = tiny_config()
    name = ship(shipped, cfg)
    import mae_helpers.train as train_module

    monkeypatch.setattr(train_module, "train_and_validate", lambda *a, **k: pytest.fail("trained a shipped network"))
    model, _ = train_cached("main", None, cfg, progress=False)
    assert (cache_dir() / name).read_bytes() == (shipped / name).read_bytes()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  load_model(shipped / name).state_dict().values()))


def test_a_changed_shipped_network_is_not_used_and_says_so(shipped, capsys):
    cfg = tiny_config()
    name = ship(shipped, cfg)
    data = bytearray((shipped / name).read_bytes())
    data[-100] ^= 0xFF  # one byte: the hash no longer matches
    (shipped / name).write_bytes(bytes(data))
    train_cached("main", None, cfg, progress=False)
    assert "does not match the SHA-256" in capsys.readouterr().err
    assert (cache_dir() / name).read_bytes() != bytes(data), "it trained its own"


def test_no_warm_start_trains_everything(shipped, monkeypatch):
    cfg = tiny_config()
    name = ship(shipped, cfg)
    monkeypatch.setenv("MAE_WARM_START", "0")
    assert cache.shipped_entry(name) is None
    monkeypatch.setenv("MAE_WARM_START", "1")
    assert cache.shipped_entry(name) == shipped / name


def test_the_shipped_networks_are_the_lessons_default_path():
    """What the package ships is what the notebooks ask for: every network `prepare` needs for the default
    settings on the offline digits, under the keys it asks with. After a change that retrains them: `make
    checkpoints`."""
    import json

    manifest = cache.SHIPPED / "manifest.json"
    if not manifest.exists():
        pytest.skip("no networks shipped in this checkout (make checkpoints)")
    files = json.loads(manifest.read_text())["files"]
    from mae_helpers.data import loaders_for
    from mae_helpers.evaluate import JUDGE_ARCH, JUDGE_LR

    cfg = get_config(fast=False, source="offline")
    loaders = loaders_for(cfg, None, "cpu")
    main = cached_path("main", mae_key("main", range(10), cfg, loaders.train.dataset))
    judge = cached_path("judge", judge_key(cfg, loaders, {"channels": JUDGE_ARCH["channels"], "lr": JUDGE_LR}))
    assert {main.name, judge.name} <= set(files), "make checkpoints: the shipped networks are not the default path's"
    # the witness, the readers, the auxiliary network and the two retrains of 0 3 6 9
    assert sum(name.startswith(("witness-", "readers-", "auxiliary-", "retrained")) for name in files) == 5
    assert all(hashlib_sha256(cache.SHIPPED / name) == digest for name, digest in files.items())


def hashlib_sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
