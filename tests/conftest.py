"""Shared fixtures. Tests never touch the network: data comes from the offline subset."""

import os

os.environ.setdefault("MAE_DATA_SOURCE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")
if "MAE_CACHE_DIR" not in os.environ:  # tests never reuse a model a user trained
    import tempfile

    os.environ["MAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="mae-test-cache-")

import pytest  # noqa: E402
import torch  # noqa: E402

from mae_helpers import MAE, get_config, get_mnist_loaders, train_and_validate  # noqa: E402

SMALL = dict(epochs=3, max_train_images=1200, source="offline", seed=0)  # judge: ~88% test accuracy in seconds


@pytest.fixture(scope="session")
def small_loaders():
    """Loaders over 1,200 offline training images (all digits), batch 128."""
    return get_mnist_loaders(source="offline", batch_size=128, max_train_images=1200, seed=0, device="cpu")


@pytest.fixture(scope="session")
def judge():
    """The judge of the SMALL config (trained once per session, then cached)."""
    from mae_helpers import train_judge

    return train_judge(get_config(**SMALL), device="cpu", progress=False)


@pytest.fixture(scope="session")
def trained_mae():
    """An MAE trained for 5 s on small_loaders' 960 training images: its reconstructions are recognisable."""
    loaders = get_mnist_loaders(source="offline", batch_size=32, max_train_images=1200, seed=0, device="cpu")
    torch.manual_seed(0)
    model = MAE()
    train_and_validate(model, loaders.train, loaders.val, epochs=8, lr=3e-3, progress=False, device="cpu")
    return model.eval()


@pytest.fixture
def batch(small_loaders):
    """One real batch of images in [-1, 1]."""
    images, _ = next(iter(small_loaders.val))
    return images[:16]


def write_idx(path, array, gz=False):
    """Write a uint8 array as an MNIST IDX file (gzipped when `gz`)."""
    import gzip

    import numpy as np

    array = np.ascontiguousarray(np.asarray(array, dtype=np.uint8))
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(header + array.tobytes())
    else:
        path.write_bytes(header + array.tobytes())


@pytest.fixture
def mnist_on_disk():
    """A function writing (train images, train labels, test images, test labels) as torchvision's MNIST/raw files
    under a root (default: the offline digits); `gz` names the files to gzip. Returns the raw folder."""
    from mae_helpers.data import load_mnist_arrays

    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def write(root, arrays=None, gz=()):
        arrays = arrays or load_mnist_arrays("data", "offline")[:4]
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name, array in zip(names, arrays):
            write_idx(raw / name, array, gz=name in gz)
        load_mnist_arrays.cache_clear()  # the files changed under the same root
        return raw

    return write


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
