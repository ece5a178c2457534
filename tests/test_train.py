"""train.py: training an MAE (best weights, logs, non-finite losses, precision, short runs), train_cached, retrain."""

import inspect
import json

import pytest
import torch

from mae_helpers import MAE, get_config, get_mnist_loaders, load_model, train_and_validate
from mae_helpers.train import reconstruction_mse


def test_two_epochs_lower_validation_mse(small_loaders):
    model = MAE()
    before = reconstruction_mse(model, small_loaders.val)
    history = train_and_validate(model, small_loaders.train, small_loaders.val, epochs=2, progress=False)
    assert history.epoch == [1, 2] and len(history.seconds) == 2
    assert history.val_loss[-1] < 0.8 * before
    # the weights kept are the best epoch's
    assert reconstruction_mse(model, small_loaders.val) == pytest.approx(history.best_val_loss)


def _run(seed):
    torch.manual_seed(seed)
    loaders = get_mnist_loaders(source="offline", batch_size=128, max_train_images=600, seed=seed)
    model = MAE()
    train_and_validate(model, loaders.train, loaders.val, epochs=2, progress=False)
    return model.state_dict()


def test_seeded_cpu_runs_are_bit_for_bit_reproducible():
    a, b = _run(1), _run(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _run(2)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_checkpoint_and_logs(tmp_path, small_loaders):
    model = MAE()
    history = train_and_validate(model, small_loaders.train, small_loaders.val, epochs=2, progress=False,
                                 checkpoint=tmp_path / "best.pt", log=tmp_path / "log.csv", metadata={"note": "x"})
    saved = load_model(tmp_path / "best.pt")
    assert saved.metadata["epoch"] == history.best_epoch and saved.metadata["note"] == "x"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,seconds" and len(rows) == 3
    train_and_validate(MAE(), small_loaders.train, small_loaders.val, epochs=1, progress=False,
                       log=tmp_path / "log.jsonl")
    assert json.loads((tmp_path / "log.jsonl").read_text())["epoch"] == 1


class PoisonedLoader:
    """Real batches, but the second epoch's contain NaN: the loss blows up mid-run."""

    def __init__(self, loader):
        self.loader, self.epochs = loader, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.epochs += 1
        for images, labels in self.loader:
            yield (images * float("nan") if self.epochs >= 2 else images), labels


def test_non_finite_loss_stops_and_keeps_the_last_good_weights(small_loaders, capsys):
    model = MAE()
    history = train_and_validate(model, PoisonedLoader(small_loaders.train), small_loaders.val, epochs=3,
                                 progress=False)
    assert history.epoch == [1] and history.best_epoch == 1
    assert "non-finite loss in epoch 2" in history.stopped_early
    assert "non-finite" in capsys.readouterr().err
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert reconstruction_mse(model, small_loaders.val) == pytest.approx(history.val_loss[0])


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(lr=0), dict(schedule="cosine")])
def test_bad_training_arguments_raise(small_loaders, kwargs):
    with pytest.raises(ValueError):
        train_and_validate(MAE(), small_loaders.train, small_loaders.val, progress=False, **kwargs)


def test_public_api_keeps_the_original_names_and_signatures():
    import mae_helpers

    for name in ["get_mnist_loaders", "MAE", "train_and_validate", "visualize_reconstructions", "save_model",
                 "load_model"]:
        assert hasattr(mae_helpers, name)
    params = list(inspect.signature(mae_helpers.get_mnist_loaders).parameters)
    assert params[:7] == ["data_root", "digits", "batch_size", "val_fraction", "seed", "source", "device"]
    params = list(inspect.signature(mae_helpers.train_and_validate).parameters)
    assert params[:9] == ["model", "train_loader", "val_loader", "epochs", "lr", "device", "checkpoint", "log",
                          "progress"]
    params = list(inspect.signature(mae_helpers.visualize_reconstructions).parameters)
    assert params[:3] == ["model", "loader", "n_images"]


def test_train_cached_reuses_the_same_config_and_retrains_a_changed_one(tmp_path, monkeypatch, batch):
    from mae_helpers import get_config, train_cached

    monkeypatch.setenv("MAE_CACHE_DIR", str(tmp_path))
    cfg = get_config(epochs=1, max_train_images=300, source="offline")
    first, meta = train_cached("main", [1, 2], cfg, progress=False)
    assert len(list(tmp_path.glob("main-*.pt"))) == 1 and meta["history"]["epoch"] == [1]
    again, _ = train_cached("main", [1, 2], cfg, progress=False)
    assert torch.equal(first(batch), again(batch))
    train_cached("main", [1, 2], get_config(epochs=1, max_train_images=300, source="offline", seed=5), progress=False)
    train_cached("main", [1, 3], cfg, progress=False)
    assert len(list(tmp_path.glob("main-*.pt"))) == 3


def _autocast_dtype(context):
    """The dtype an autocast context would use, or None for a plain float32 context."""
    return getattr(context, "fast_dtype", None) if isinstance(context, torch.autocast) else None


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # autocast objects built on a CPU-only machine
@pytest.mark.parametrize("capability, precision, expected", [
    ((7, 5), "fp32", None),              # Colab's T4, default
    ((7, 5), "bf16", None),              # T4 has no native bf16: float32, with a warning
    ((8, 0), "fp32", None),              # A100, default: float32 (bf16 measured no faster here)
    ((8, 0), "bf16", torch.bfloat16),    # A100 and newer, asked for: bf16
    ((9, 0), "bf16", torch.bfloat16),    # H100/H200
])
def test_mixed_precision_only_where_bf16_is_native(monkeypatch, capability, precision, expected):
    from mae_helpers.train import autocast_for

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    if precision == "bf16" and expected is None:
        with pytest.warns(UserWarning, match="compute capability >= 8.0"):
            context = autocast_for(torch.device("cuda"), precision)
    else:
        context = autocast_for(torch.device("cuda"), precision)
    assert _autocast_dtype(context) == expected


def test_cpu_is_always_float32_and_unknown_precision_is_refused(small_loaders):
    from mae_helpers.train import autocast_for

    assert _autocast_dtype(autocast_for(torch.device("cpu"), "bf16")) is None
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast_for(torch.device("cpu"), "fp8")
    with pytest.raises(ValueError, match="precision"):
        train_and_validate(MAE(), small_loaders.train, small_loaders.val, epochs=1, precision="half", progress=False)


def test_reconstruction_mse_makes_no_float64_tensor_which_mps_cannot_hold(small_loaders):
    from torch.overrides import TorchFunctionMode

    class Float64Spy(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            if isinstance(result, torch.Tensor) and result.dtype == torch.float64:
                raise AssertionError(f"{func} made a float64 tensor, which MPS cannot hold")
            return result

    with Float64Spy():
        value = reconstruction_mse(MAE(), small_loaders.val, "cpu")
    assert value > 0


@pytest.mark.parametrize("batches, epochs", [(5, 1), (1, 5), (4, 1), (9, 1), (2, 5)])
def test_very_short_runs_train_without_a_scheduler_error(small_loaders, batches, epochs):
    # torch's OneCycleLR divides by zero at 5 total steps; runs under 10 steps keep a constant rate
    x = small_loaders.train.dataset.images[: 16 * batches]
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(len(x))), batch_size=16)
    assert len(train) == batches
    history = train_and_validate(MAE(), train, small_loaders.val, epochs=epochs, progress=False)
    assert len(history.val_loss) == epochs and all(v == v for v in history.val_loss)


@pytest.mark.parametrize("replica", [5, -3, True, 1.0])
def test_retrain_refuses_a_replica_out_of_range_before_training(monkeypatch, replica):
    from mae_helpers import train as train_module

    monkeypatch.setattr(train_module, "train_cached", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(ValueError, match="replica"):
        train_module.retrain([0, 3], get_config(), replica=replica)
