"""How long a contributor waits: the unit suite, and CI on a clean clone (install included).

    python tools/time_tests.py [--skip-ci] [--out benchmarks/results/test-times.json]

Runs `pytest` (the unit suite, fast mode, as CI runs it) in this checkout, then clones the
committed HEAD into a temporary folder and runs `.ci/run` there (a fresh venv, the install,
Chromium where it can, ruff, the import contract, the unit suite, the slow tests, the notebooks
under nbval), and records both wall times with the machine. Run it alone on the machine: two
torch jobs at once thrash 2 cores. The README's test times are generated from the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notebook_metadata import this_machine  # the same words the notebooks record (tools/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, int, str]:
    """(seconds, exit code, last lines of output) of one command; all of its output goes to a new temporary file,
    named in those last lines, to read a failure by."""
    tic = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds, output = time.perf_counter() - tic, result.stdout + result.stderr
    handle, log = tempfile.mkstemp(prefix="time_tests-", suffix=".log")  # a new file: no earlier log is replaced
    with os.fdopen(handle, "w") as file:
        file.write(output)
    return seconds, result.returncode, f"{output[-3000:]}\n(the whole output: {log})"


def main() -> None:
    """Time both, print, save."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-ci", action="store_true", help="time the unit suite only")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "test-times.json"))
    args = parser.parse_args()
    env = {**os.environ, "MAE_FAST": "1", "MAE_DATA_SOURCE": "offline", "PYTHONUNBUFFERED": "1"}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    unit, code, tail = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], ROOT, env)
    print(f"unit suite (pytest, fast mode): {unit:.0f} s, exit {code}\n{tail[-600:]}", flush=True)
    result = {"commit": head, "machine": f"{os.cpu_count()} cores, {this_machine()}",
              "unit_seconds": unit, "unit_exit": code}
    if not args.skip_ci:
        with tempfile.TemporaryDirectory(prefix="ci-clone-") as tmp:
            clone = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            ci_env = {k: v for k, v in os.environ.items() if not k.startswith(("MAE_", "VIRTUAL_ENV"))}
            ci, code, tail = timed(["bash", ".ci/run"], clone, {**ci_env, "CI": "true"})
        print(f"CI (.ci/run on a clean clone of {head}): {ci:.0f} s, exit {code}\n{tail[-1500:]}", flush=True)
        result.update(ci_seconds=ci, ci_exit=code)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
