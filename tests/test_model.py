import pickle
import zipfile

import pytest
import torch

from mae_helpers import MAE, count_parameters, load_model, save_model
from mae_helpers import model as model_module


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
    # (issue 37: a 4.2 MB cache file holding a deflated weight record made torch allocate 4.6 GB)
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
    # (issue 37: torch's seven lines of advice to load it with weights_only=False)
    path = tmp_path / "note.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and len(message.splitlines()) == 1 and "weights_only" not in message


@pytest.mark.parametrize("device", ["junk", 123, "meta", "cuda", "cuda:7"])
def test_load_model_refuses_a_device_that_is_not_there_or_holds_no_weights(tmp_path, device):
    # (issue 37: a raw RuntimeError; "meta" returned a model with no weights)
    if str(device).startswith("cuda") and torch.cuda.device_count() > int(str(device).partition(":")[2] or 0):
        pytest.skip("that GPU is here")
    path = save_model(MAE(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="device"):
        load_model(path, device=device)
    assert next(load_model(path, device=None).parameters()).device.type == "cpu"
