"""One median-and-worst table over forget sets that were swept in more than one run.

    python benchmarks/combine_sweeps.py benchmarks/results/sweep-layout-60k.json \\
        benchmarks/results/random-sets/sweep-layout-60k.json

    python benchmarks/combine_sweeps.py benchmarks/results/sweep-t10k-8k.json \\
        --versus benchmarks/results/sweep-neggrad-t10k-8k.json

A sweep at the 60k layout takes about half an hour per dozen sets, so its sets can be run in
parts (`unlearning.py sweep --sets ... --out another/folder`). The parts must share the scale,
the seed and the method: then they share one original network (the model cache makes it the
same file), and each set's row is what one run would have printed. Each row's time ratio stays
against the retrain timed in its own run: times are compared within a run, never across.

`--versus` puts a sweep of another method beside it, set by set: on which sets the other
method forgets as well (within a point, by each judge) at a retained MSE no higher, that is
where the first method's lead is not there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unlearning import SWEEP_KEYS, summary  # noqa: E402

SAME = ("scale", "seed", "method")  # what the parts must share to be one sweep


def setting(run: dict, key: str):
    """A sweep's setting; files written before `--method` existed ran the default method."""
    return run["args"].get(key, "evidence" if key == "method" else None)


def differing(run: dict, other: dict, keys) -> list[str]:
    """The settings among `keys` in which two sweep files differ."""
    return [key for key in keys if setting(run, key) != setting(other, key)]


def combine(paths: list[Path]) -> tuple[list[dict], dict]:
    """All rows of the sweep files at `paths` and their summary; refuses parts that are not one sweep."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise SystemExit(f"no such file: {', '.join(missing)}")
    runs = [json.loads(Path(p).read_text()) for p in paths]
    for path, run in zip(paths, runs):
        if run.get("args", {}).get("command") != "sweep":
            raise SystemExit(f"{path} is not a sweep's result (benchmarks/unlearning.py sweep writes those)")
        differs = differing(run, runs[0], SAME)
        if differs:
            raise SystemExit(f"{path} differs from {paths[0]} in {', '.join(differs)}: not parts of one sweep")
    rows, seen = [], set()
    for path, run in zip(paths, runs):
        for row in run["result"]["rows"]:
            if row["set"] in seen:
                raise SystemExit(f"forget set {row['set']} is in more than one file (again in {path}); "
                                 "pass each set once")
            seen.add(row["set"])
            rows.append(row)
    return rows, summary(rows, SWEEP_KEYS)


TIE = 0.01  # judged shares within one point count as forgetting as well


def versus(rows: list[dict], other: list[dict]) -> dict:
    """Sets on which `other` forgets as well as `rows` (within TIE, per judge) at a retained MSE no higher."""
    mine = {r["set"]: r for r in rows}
    shared = [r for r in other if r["set"] in mine]
    if not shared:
        raise SystemExit("--versus: the two sweeps share no forget set")
    ties = {}
    for judge in ("true", "indep_true"):
        ties[judge] = [r["set"] for r in shared
                       if r[judge] <= mine[r["set"]][judge] + TIE and r["ratio"] <= mine[r["set"]]["ratio"]]
    ties["both judges"] = [s for s in ties["indep_true"] if s in ties["true"]]
    return {"shared": [r["set"] for r in shared], **ties}


def main() -> None:
    """Print the combined table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="sweep JSON files of one scale, seed and method")
    parser.add_argument("--versus", nargs="+", type=Path, default=None, metavar="FILE",
                        help="sweep files of another method at the same scale and seed, compared set by set "
                             "(default: none)")
    args = parser.parse_args()
    rows, stats = combine(args.files)
    print(f"{len(rows)} forget sets from {len(args.files)} runs: {' '.join(r['set'] for r in rows)}\n")
    print(f"{'':>10} | {'median':>8} | {'worst':>8} (set)")
    for key, (median, worst, where) in stats.items():
        print(f"{key:>10} | {median:8.3f} | {worst:8.3f} ({where})")
    for key, limit in (("indep_true", 0.05), ("indep_any", 0.10), ("ratio", 1.10), ("time_ratio", 0.20)):
        above = [r["set"] for r in rows if r[key] > limit]
        print(f"{key} above {limit:g}: {len(above)} of {len(rows)} sets ({' '.join(above) or 'none'})")
    below = [r["set"] for r in rows if r["d_retain"] < -0.01]
    print(f"d_retain below -1 point: {len(below)} of {len(rows)} sets ({' '.join(below) or 'none'})")
    reverted = [r["set"] for r in rows if r["reverts"]]
    print(f"a check outside the guard (reverted): {len(reverted)} of {len(rows)} sets ({' '.join(reverted) or 'none'})")
    if args.versus:
        first, second = (json.loads(paths[0].read_text()) for paths in (args.files, args.versus))
        differs = differing(first, second, ("scale", "seed"))
        if differs:
            raise SystemExit(f"--versus files differ from {args.files[0]} in {', '.join(differs)}: compare one "
                             "scale and seed")
        ties = versus(rows, combine(args.versus)[0])
        this, that = setting(first, "method"), setting(second, "method")
        print(f"\n{that} against {this} on {len(ties['shared'])} shared sets: forgets as well (within "
              f"{TIE * 100:g} point) at a retained MSE no higher on")
        for judge, name in (("true", "the package judge"), ("indep_true", "the independent judge"),
                            ("both judges", "both judges")):
            print(f"  {name}: {len(ties[judge])} sets ({' '.join(ties[judge]) or 'none'})")


if __name__ == "__main__":
    main()
