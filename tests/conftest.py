"""Shared fixtures. Tests never touch the network: data comes from the offline subset."""

import os

os.environ.setdefault("MAE_DATA_SOURCE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")
if "MAE_CACHE_DIR" not in os.environ:  # tests never reuse a model a user trained
    import tempfile

    os.environ["MAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="mae-test-cache-")

import errno  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from mae_helpers import MAE, get_config, get_mnist_loaders, train_and_validate  # noqa: E402
from mae_helpers import experiment as experiment_module  # noqa: E402
from mae_helpers.cli import main  # noqa: E402
from mae_helpers.experiment import FIGURES, OUTPUT_FILES, run_experiment  # noqa: E402

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


# ----------------------------------------------------------------------------- a run through the command line

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = set(OUTPUT_FILES + FIGURES) | {"manifest.json"}


def tiny_config(**overrides):
    """A config that trains every network in a second or two."""
    settings = dict(epochs=1, max_train_images=600, batch_size=32, unlearn_max_steps=10, source="offline")
    return get_config(**{**settings, **overrides})


@pytest.fixture(scope="session")
def experiment():
    """One real (tiny) experiment: what the CLI tests write, instead of training again each time."""
    return run_experiment(tiny_config(), progress=False)


@pytest.fixture
def fake_run(monkeypatch, experiment):
    """Make `mae-unlearn` skip training and return the tiny experiment; records the configs it was given."""
    seen = []

    def run(cfg, method, device=None, progress=True):
        seen.append(cfg)
        return experiment

    monkeypatch.setattr(experiment_module, "run_experiment", run)
    return seen


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if `mae-unlearn` gets as far as training: the refusal must come first."""
    def run(*args, **kwargs):
        raise AssertionError("mae-unlearn started training before refusing")

    monkeypatch.setattr(experiment_module, "run_experiment", run)


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
    """The name and bytes of every file in `folder` (folders inside it are left out)."""
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


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



def full_disk(monkeypatch):
    """Every file write fails as on a full disk (the data reach the disk at fsync)."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)


def ctrl_c_as_in_a_terminal() -> None:
    """In the child: Ctrl-C at its default, even when the tests run as a background job (which ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
