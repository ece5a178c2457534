"""The Makefile's install targets: a learner gets the [lab] extra, and a room without a network works offline."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target: str, venv: Path) -> str:
    """The commands `make TARGET` would run with the virtual environment `venv` (nothing runs)."""
    result = subprocess.run(["make", "-n", "-C", str(ROOT), f"VENV={venv}", target], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lab_installs_nothing_when_jupyterlab_is_there(tmp_path):
    """A laptop installed from a wheelhouse has JupyterLab: `make lab` opens it and never reaches for the index."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    jupyter = venv / "bin" / "jupyter"
    jupyter.write_text("#!/bin/sh\necho jupyter \"$@\"\n")
    jupyter.chmod(0o755)
    result = subprocess.run(["make", "-s", "-C", str(ROOT), f"VENV={venv}", "lab"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jupyter lab notebooks" and "pip" not in result.stdout + result.stderr


def test_a_learner_gets_the_lab_extra_and_an_offline_install_never_asks_an_index(tmp_path):
    commands = dry_run("install", tmp_path / "fresh")
    assert 'install -e ".[lab]"' in commands and "[dev]" not in commands
    offline = dry_run("install-offline", tmp_path / "fresh")
    assert "--no-index --find-links wheelhouse" in offline and "upgrade pip" not in offline
    assert '".[lab]"' in dry_run("wheelhouse", tmp_path / "fresh")


def test_the_lab_extra_holds_no_test_tools():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    lab = " ".join(extras["lab"])
    assert "jupyterlab" in lab and not any(tool in lab for tool in ("pytest", "playwright", "ruff", "nbval"))
    assert "mae-helpers[lab]" in extras["dev"], "the dev extra builds on the lab extra"
