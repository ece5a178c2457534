"""The course notebooks: jupytext pairs in sync, Colab badge and setup cell, saved outputs, and nbval.

Each notebook in notebooks/ is a pair, `NAME.ipynb` (with the outputs of a real run, what
GitHub and Colab show) and `NAME.py` (py:percent, what reviews read), kept in sync by
jupytext (jupytext.toml). The repository URL the notebooks use must be the one in
pyproject.toml's [project.urls] Repository.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
IGNORE_OUTPUT = "nbval-ignore-output"


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads(path.read_text())


def repository_url() -> str:
    """The repository URL from pyproject.toml, the one place it is defined."""
    urls = _toml(ROOT / "pyproject.toml")["project"].get("urls", {})
    assert "Repository" in urls, (
        'pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/REPO": '
        "the notebooks' Colab badges and setup cells must use that URL"
    )
    return urls["Repository"].rstrip("/")


def read_pair(name: str):
    """(notebook read from the .py by jupytext, notebook read from the .ipynb)."""
    return jupytext.read(NOTEBOOKS / f"{name}.py"), nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def cell_summary(nb) -> list[tuple[str, str, list[str]]]:
    """What a pair must agree on: each cell's type, source and tags."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NAMES, "no notebooks found in notebooks/"


def test_every_notebook_is_a_pair():
    ipynb = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    py = {p.stem for p in NOTEBOOKS.glob("*.py")}
    assert py - ipynb == set(), "a .py without its .ipynb: run `jupytext --sync notebooks/NAME.py`"
    assert ipynb - py == set(), "an .ipynb without its .py: run `jupytext --sync notebooks/NAME.ipynb`"


def test_jupytext_config_pairs_ipynb_with_py_percent_and_keeps_tags():
    config = _toml(ROOT / "jupytext.toml")
    assert config["formats"] == "ipynb,py:percent"
    assert "tags" in config["cell_metadata_filter"].split(",")


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name):
    from_py, from_ipynb = read_pair(name)
    assert cell_summary(from_py) == cell_summary(from_ipynb), (
        f"notebooks/{name}.py and .ipynb differ (cell sources, types or tags): edit one, then "
        f"`jupytext --sync notebooks/{name}.py` (or .ipynb, whichever you edited) and re-run the notebook"
    )
    for nb in (from_py, from_ipynb):
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.metadata["kernelspec"]["language"] == "python"


@pytest.mark.parametrize("name", NAMES)
def test_first_cell_is_a_title_with_the_colab_badge(name):
    first = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    repo_path = re.sub(r"^https://github\.com/", "", repository_url())
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repo_path}/blob/main/notebooks/{name}.ipynb)"
    )
    assert badge in first.source


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_installs_from_the_repository_only_on_colab(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    setup = code_cells(nb)[0].source
    assert f'REPO_URL = "{repository_url()}"' in setup
    assert 'if "google.colab" in sys.modules:' in setup
    assert 'subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPO_URL}"], check=True)' in setup
    assert 'device = "cuda" if torch.cuda.is_available() else "cpu"' in setup
    assert "Runtime > Change runtime type > GPU" in setup
    assert IGNORE_OUTPUT in code_cells(nb)[0].metadata.get("tags", [])  # its output depends on the machine
    for cell in code_cells(nb):
        # A magic inside an `if` breaks the jupytext pairing; pip lines would reinstall torch on Colab.
        assert not re.search(r"^\s*[%!]\s*pip\b", cell.source, re.M), f"use subprocess, not %pip/!pip:\n{cell.source}"
        assert "pip install torch" not in cell.source
    # Every GitHub URL in the notebook points at the one repository.
    for url in re.findall(r"github(?:\.com)?/[\w.-]+/[\w.-]+", "\n".join(c.source for c in nb.cells)):
        assert url.split("/", 1)[1] == re.sub(r"^https://github\.com/", "", repository_url()), url


@pytest.mark.parametrize("name", NAMES)
def test_saved_outputs_are_a_complete_normal_mode_run(name):
    """Committed notebooks show a real run, top to bottom, without errors, not a fast-mode smoke run."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    counts = [c.execution_count for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name}.ipynb was not run top to bottom on a fresh kernel; re-run it: cd notebooks && "
        f"MAE_DATA_SOURCE=offline jupyter nbconvert --to notebook --execute --inplace {name}.ipynb"
    )
    for cell in code_cells(nb):
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "fast mode: True" not in text, f"{name}.ipynb was saved from a fast-mode (MAE_FAST=1) run"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One model cache for all notebooks, as for a learner: a later notebook reuses notebook 2's models."""
    return tmp_path_factory.mktemp("notebook-model-cache")


@pytest.mark.parametrize("name", NAMES)
def test_outputs_reproduce_under_nbval(name, model_cache):
    """Run the notebook on a fresh kernel, fast and offline, and compare the outputs not tagged nbval-ignore-output.

    The same as `MAE_FAST=1 MAE_DATA_SOURCE=offline pytest --nbval notebooks/NAME.ipynb`.
    """
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel must draw inline figures
    env.update(MAE_FAST="1", MAE_DATA_SOURCE="offline", MAE_CACHE_DIR=str(model_cache))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider", f"notebooks/{name}.ipynb"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
