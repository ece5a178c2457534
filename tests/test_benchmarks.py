"""The benchmark's command line refuses an unknown method before it trains anything."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("flag", ["--method", "--methods"])
def test_an_unknown_method_is_refused_at_once_and_the_known_ones_named(flag, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "unlearning.py"), "sweep", flag, "evidenc",
                          "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "invalid choice: 'evidenc'" in run.stderr and "'blank'" in run.stderr and "'neggrad'" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_distinct_digits_check_imports_and_explains_itself():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "distinct_digits.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "3,600 distinct digits of *every* class" in run.stdout and "--mnist-dir" in run.stdout


@pytest.mark.parametrize("script", ["layouts.py", "distinct_digits.py"])
def test_a_missing_mnist_folder_is_named_with_the_flag_that_fixes_it(script, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--mnist-dir", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1
    assert "pass --mnist-dir" in run.stderr and "Traceback" not in run.stderr
    assert not any(tmp_path.iterdir()), "nothing is written when the input is missing"
