"""The conda environment and pyproject.toml describe the same install."""

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    import pytest

    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11+")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_this_repo_with_extras_that_exist():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert python == "python=3.11"
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    project = _pyproject()["project"]
    installs_repo = [line for line in pip_section if re.fullmatch(r'-e\s+"?\.(\[[\w,]+\])?"?', line)]
    assert len(installs_repo) == 1, "the pip section must install the repository itself"
    extras = re.findall(r"\[([\w,]+)\]", installs_repo[0])
    assert extras == ["dev"] and "dev" in project["optional-dependencies"]
    # anything else listed there must be a dependency pyproject.toml already declares
    declared = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"]}
    declared |= {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["optional-dependencies"]["dev"]}
    for line in pip_section:
        if line not in installs_repo:
            assert re.split(r"[<>=!~\[ ]", line)[0].lower() in declared, line


def test_runtime_dependencies_have_lower_bounds_only():
    for dep in _pyproject()["project"]["dependencies"]:
        assert "==" not in dep and "<" not in dep, f"{dep}: Colab ships its own versions; use a lower bound"
    names = {re.split(r"[<>=]", d)[0] for d in _pyproject()["project"]["dependencies"]}
    assert {"torch", "torchvision", "matplotlib", "numpy", "tqdm", "ipywidgets", "mlxtend"} <= names
