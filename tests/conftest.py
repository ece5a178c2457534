"""Shared fixtures. Tests never touch the network: data comes from the offline subset."""

import os

os.environ.setdefault("MAE_DATA_SOURCE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")
if "MAE_CACHE_DIR" not in os.environ:  # tests never reuse a model a user trained
    import tempfile

    os.environ["MAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="mae-test-cache-")

import pytest  # noqa: E402
import torch  # noqa: E402

from mae_helpers import get_mnist_loaders  # noqa: E402


@pytest.fixture(scope="session")
def small_loaders():
    """Loaders over 1,200 offline training images (all digits), batch 128."""
    return get_mnist_loaders(source="offline", batch_size=128, max_train_images=1200, seed=0, device="cpu")


@pytest.fixture
def batch(small_loaders):
    """One real batch of images in [-1, 1]."""
    images, _ = next(iter(small_loaders.val))
    return images[:16]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
