"""The cost of one unlearning step, checks included, before and after the cheaper loop: one run, one machine.

    python benchmarks/step_time_before_after.py [--scale layout-60k] [--set 9] [--before 978e799]

Checks out `--before` (the last main before the cheaper loop) into a temporary git worktree,
runs its `benchmarks/step_time.py`, then this checkout's, one after the other with the same
model cache, and prints both breakdowns and the ratio. Needs git and the layouts
(`python benchmarks/layouts.py`); writes benchmarks/results/step-time-{scale}.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "978e799"  # main before the cheaper loop: its step_time.py prints "At N ms a step (checks included)"
PER_STEP = {"before": re.compile(r"At (\d+) ms a step \(checks included\)"),
            "after": re.compile(r"a step, checks included: (\d+) ms")}


def run(label: str, folder: Path, args, env: dict) -> tuple[str, int]:
    """Run `folder`'s step_time.py; (its output, its per-step milliseconds)."""
    command = [sys.executable, "benchmarks/step_time.py", "--scale", args.scale, "--set", args.set,
               "--data", str(Path(args.data).resolve())]
    result = subprocess.run(command, cwd=folder, env={**env, "PYTHONPATH": str(folder)}, capture_output=True,
                            text=True, check=False)
    output = result.stdout + result.stderr
    print(f"=== {label}: {folder} ===\n{result.stdout}", flush=True)
    match = PER_STEP[label].search(output)
    if result.returncode or not match:
        raise SystemExit(f"{label}'s step_time.py failed:\n{output[-3000:]}")
    return result.stdout, int(match.group(1))


def main() -> None:
    """Both runs, the ratio, the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="layout-60k", help="data scale (default: layout-60k)")
    parser.add_argument("--set", default="9", help="forget digits (default: 9)")
    parser.add_argument("--before", default=BEFORE, help=f"the commit to compare with (default: {BEFORE})")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    parser.add_argument("--out", default=None, help="JSON (default: benchmarks/results/step-time-{scale}.json)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="step-time-before-") as tmp:
        worktree = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), args.before], cwd=ROOT, check=True)
        try:
            before_text, before = run("before", worktree, args, env)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    after_text, after = run("after", ROOT, args, env)
    print(f"one step, checks included, at {args.scale} (forget {args.set}): {before} ms before ({args.before}), "
          f"{after} ms after ({head}): {before / after:.1f}x cheaper")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"step-time-{args.scale}.json")
    out.write_text(json.dumps({"args": vars(args), "before_commit": args.before, "after_commit": head,
                               "before_ms": before, "after_ms": after, "ratio": before / after,
                               "before_output": before_text, "after_output": after_text}, indent=1) + "\n")


if __name__ == "__main__":
    main()
