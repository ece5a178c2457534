"""model.py: the MAE's shapes and widths, and its checkpoints: saved atomically, loaded only when whole and sound."""

import errno
import os
import pickle
import zipfile

import pytest
import torch
from conftest import full_disk, leftovers, resave, run_python

from mae_helpers import MAE, count_parameters, load_model, save_model
from mae_helpers import model as model_module
from mae_helpers.evaluate import Judge


def test_every_intermediate_and_q_output_has_the_documented_shape(batch):
    model = MAE()
    out = model.forward_all(batch)
    n = len(batch)
    assert out.reconstruction.shape == (n, 1, 28, 28)
    assert out.encoded.shape == (n, 112)
    assert out.bottleneck.shape == (n, 10)
    assert out.decoder_input.shape == (n, 112)
    assert [q.shape for q in out.q_logits] == [(n, 10)] * 3
    assert torch.equal(model(batch), out.reconstruction)
    assert out.reconstruction.abs().max() <= 1  # bounded to the input range


def test_widths_are_configurable(batch):
    model = MAE(channels=(8, 16, 32), hidden=24, code_dim=6)
    out = model.forward_all(batch)
    assert out.encoded.shape[1] == 32 and out.bottleneck.shape[1] == 6
    assert out.reconstruction.shape == batch.shape
    assert count_parameters(model) < count_parameters(MAE())


def test_decoder_norm_false_is_the_original_layer_list():
    kinds = [type(m).__name__ for m in MAE(decoder_norm=False).decoder]
    assert "GroupNorm" not in kinds and kinds.count("ConvTranspose2d") == 3


def test_q_layers_are_separate_from_autoencoder_parameters():
    model = MAE()
    ae = {id(p) for p in model.autoencoder_parameters()}
    q = {id(p) for p in model.q_layers.parameters()}
    assert ae.isdisjoint(q) and len(ae) + len(q) == len(list(model.parameters()))


def test_save_and_load_round_trip(tmp_path, batch):
    model = MAE(channels=(8, 16, 32), hidden=20, code_dim=5).eval()
    path = save_model(model, tmp_path / "m.pt", digits=[1, 2], seed=3, source="offline")
    loaded = load_model(path)
    assert torch.equal(model(batch), loaded(batch))
    assert torch.equal(model.forward_all(batch).q_logits[1], loaded.forward_all(batch).q_logits[1])
    assert loaded.metadata == {"digits": [1, 2], "seed": 3, "source": "offline"}
    assert loaded.config == model.config


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_corrupt_or_truncated_checkpoint_names_the_file(tmp_path, content):
    path = tmp_path / "broken.pt"
    if content is None:  # truncated: a real checkpoint cut in half
        save_model(MAE(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.pt"):
        load_model(path)


def test_foreign_and_missing_files_name_the_file(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="foreign.pt"):
        load_model(foreign)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, batch):
    path = tmp_path / "m.pt"
    first = MAE().eval()
    save_model(first, path)

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_module.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(MAE(), path)
    monkeypatch.undo()
    assert torch.equal(load_model(path)(batch), first(batch))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_saved_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = save_model(MAE(), tmp_path / "cache" / "main-0.pt")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode  # was 0600: other users of a shared cache read "truncated or corrupt"
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o777 & ~umask


def test_metadata_must_be_json_like(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_model(MAE(), tmp_path / "m.pt", network=MAE())
    assert not (tmp_path / "m.pt").exists()


def test_bad_widths_raise():
    with pytest.raises(ValueError, match="widths"):
        MAE(code_dim=0)


# ----------------------------------------------------------------------------- bounded reads, devices that exist


def recompressed(path, target):
    """`path`'s records written again into the zip `target`, deflated (torch itself stores them)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as packed:
        for record in source.infolist():
            packed.writestr(record.filename, source.read(record))
    return target


def test_a_checkpoint_with_compressed_records_is_refused_before_torch_reads_it(tmp_path, monkeypatch):
    # a 4.2 MB cache file holding a deflated weight record made torch allocate 4.6 GB
    path = recompressed(save_model(MAE(), tmp_path / "m.pt"), tmp_path / "packed.pt")
    monkeypatch.setattr(model_module.torch, "load", lambda *a, **k: pytest.fail("torch read a compressed record"))
    with pytest.raises(ValueError, match="packed.pt.*compressed"):
        load_model(path)


def test_a_checkpoint_whose_records_claim_more_than_the_file_holds_is_refused_unread(tmp_path, monkeypatch):
    path = save_model(MAE(), tmp_path / "m.pt")
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")  # the central directory's first record
    data[at + 20:at + 28] = (1 << 31).to_bytes(4, "little") * 2  # its stored size and its size: 2 GiB each
    path.write_bytes(bytes(data))
    monkeypatch.setattr(model_module.torch, "load", lambda *a, **k: pytest.fail("torch read a record that lies"))
    with pytest.raises(ValueError, match="m.pt.*more bytes than the file holds"):
        load_model(path)


@pytest.mark.parametrize("content", [pickle.dumps({"weights": object}), b"a note, not weights\n"],
                         ids=["pickle", "text"])
def test_a_pickle_or_text_file_is_one_line_naming_it(tmp_path, content):
    # was torch's seven lines of advice to load it with weights_only=False
    path = tmp_path / "note.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and len(message.splitlines()) == 1 and "weights_only" not in message


@pytest.mark.parametrize("device", ["junk", 123, "meta", "cuda", "cuda:7"])
def test_load_model_refuses_a_device_that_is_not_there_or_holds_no_weights(tmp_path, device):
    # was a raw RuntimeError; "meta" returned a model with no weights
    if str(device).startswith("cuda") and torch.cuda.device_count() > int(str(device).partition(":")[2] or 0):
        pytest.skip("that GPU is here")
    path = save_model(MAE(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="device"):
        load_model(path, device=device)
    assert next(load_model(path, device=None).parameters()).device.type == "cpu"


# ----------------------------------------------------------------------------- checkpoints that are not what they claim


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
    # a fresh process: its peak memory is what loading this file alone cost
    result = run_python(["-c", CRAFTED_CHECKPOINT, str(tmp_path / "crafted.pt")])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "crafted.pt").stat().st_size < 4096
    assert "refused:" in result.stdout and "do not fit its architecture" in result.stdout
    assert int(result.stdout.split("grew")[1].split()[0]) < 100  # was 400 MB of weights for that architecture
