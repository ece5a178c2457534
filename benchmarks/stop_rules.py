"""Replay stop rules on full-budget trajectories (benchmarks/trajectory.py's printed logs): what each would return.

    python benchmarks/stop_rules.py benchmarks/results/stop-rule-2026-12-06

The folder holds trajectory logs (`traj-SCALE-sSEED*.log`) and the witness's false alarms per set
(`false-alarms-SCALE-sSEED.txt`, lines `SET FALSE_ALARMS`). For each rule, each trajectory is
replayed as the loop would: a check outside the guard resets the count of checks in a row; the
loop stops once the evidence is at most the rule's target at `confirm` checks in a row, and
keeps the check inside the guard with the least evidence. Printed per rule: the steps at which
the runs stop (median over the seed-0 sweep, most over all), and what the independent judge
names of the kept checks' forget digits (median over seed 0, worst over all, and where).
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

LINE = re.compile(r"\s+(\d+) ev\s+([\d.]+)(?: named [\d.]+)? ratio ([\d.]+) \| judge ([\d.]+) ([\d.]+) \| indep "
                  r"([\d.]+) ([\d.]+) \| test ratio ([\d.]+)(\s+REVERT)?")
HEAD = re.compile(r"^(\w+): 300 steps")


def parse(path: Path) -> dict[str, list[dict]]:
    """set -> its checks (step, evidence, guard ratio, judges' reads, revert?), from one log."""
    runs, current = {}, None
    for line in path.read_text().splitlines():
        if match := HEAD.match(line):
            current = runs.setdefault(match.group(1), [])
        elif (match := LINE.match(line)) and current is not None:
            step, ev, ratio, jt, ja, it, ia, test, revert = match.groups()
            current.append({"step": int(step), "ev": float(ev), "ratio": float(ratio), "it": float(it),
                            "ia": float(ia), "test": float(test), "revert": bool(revert)})
    return {name: checks for name, checks in runs.items() if len(checks) == 31}  # whole runs only


def replay(checks: list[dict], target: float, confirm: int, tolerance: float = 0.10) -> tuple[int, int]:
    """(the check the loop stops at, the check it keeps) under one rule."""
    if checks[0]["ev"] <= target:
        return 0, 0
    met, kept = 0, 0
    for i, check in enumerate(checks[1:], 1):
        if check["revert"] or check["ratio"] > 1 + tolerance:
            met = 0
            continue
        kept = i if check["ev"] < checks[kept]["ev"] else kept
        met = met + 1 if check["ev"] <= target else 0
        if met >= confirm:
            return i, kept
    return len(checks) - 1, kept


def main() -> None:
    """Every rule over every trajectory of the folder."""
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/stop-rule-2026-12-06")
    runs, alarms = {}, {}
    for log in sorted(folder.glob("traj-*.log")):
        tag = re.match(r"traj-([\w-]+?-s\d)", log.stem).group(1)
        variant = log.stem[len("traj-") + len(tag):].strip("-") or "defaults"
        if variant != "defaults":
            continue  # the variants (aux_steps=0, no push) are compared in the folder's README
        table = folder / f"false-alarms-{tag}.txt"
        fa = dict(line.split() for line in table.read_text().splitlines()) if table.exists() else {}
        for name, checks in parse(log).items():
            runs[f"{tag}:{name}"] = checks
            alarms[f"{tag}:{name}"] = float(fa[name]) if name in fa else None
    print(f"{len(runs)} whole trajectories from {folder}")
    rules = [("fixed 3%, 2 in a row (before)", lambda n: 0.03, 2)]
    rules += [(f"{m:g} x false alarms, {c} in a row", lambda n, m=m: m * alarms[n], c)
              for m in (1.0, 1.25, 1.5, 2.0) for c in (2, 3)]
    for label, target, confirm in rules:
        rows = []
        for name, checks in runs.items():
            if alarms[name] is None and "false alarms" in label:
                continue
            stop, kept = replay(checks, target(name), confirm)
            rows.append((name, checks[stop]["step"], checks[kept]))
        seed0 = [r for r in rows if "-s0:" in r[0]]
        worst = max(rows, key=lambda r: r[2]["it"])
        worst_any = max(rows, key=lambda r: r[2]["ia"])
        median_true = statistics.median(r[2]["it"] for r in seed0)
        print(f"{label:<34} stop: median {statistics.median(r[1] for r in seed0):4.0f} (seed 0), most "
              f"{max(r[1] for r in rows):3d} | independent judge, true: median {median_true:.1%}"
              f", worst {worst[2]['it']:.1%} ({worst[0]}) | any: worst {worst_any[2]['ia']:.1%} ({worst_any[0]}) | "
              f"retained test MSE worst {max(r[2]['test'] for r in rows):.3f}x")


if __name__ == "__main__":
    main()
