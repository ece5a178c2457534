"""The README's numbers, generated from the result files the benchmarks write (and the notebooks' own outputs).

The README holds `cog` blocks that call these functions; `make readme` regenerates them and
`make test` checks that the README agrees with the files (`cog --check`). So a number in the
README is never typed: it is what a benchmark printed, read back from its JSON.

    [[[cog import readme_tables; readme_tables.targets()]]]
    ...generated...
    [[[end]]]
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NOTEBOOKS = ROOT / "notebooks"


def _out(text: str) -> None:
    """Write into the cog block (plain print outside cog, for a look)."""
    try:
        import cog

        cog.outl(text)
    except (ImportError, AttributeError):
        print(text)


def load(name: str) -> dict | None:
    """A result file of benchmarks/results, or None where the benchmark has not run for this version."""
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def load_all(*names: str) -> list[dict] | None:
    """Every named result file; where one is missing, None, and the table says so in its place."""
    data = [load(name) for name in names]
    missing = [name for name, d in zip(names, data) if d is None]
    if not missing:
        return data
    files = ", ".join(f"`benchmarks/results/{n}`" for n in missing)
    _out(f"*Not measured for this version of the loop yet ({files} missing; `make benchmarks` writes it). "
         "Runs of earlier versions are in [the archive](benchmarks/results/archive/README.md).*")
    return None


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _sweep_rows(sweep: dict) -> dict[str, list[dict]]:
    """seed -> rows of a sweep result."""
    return {seed: result["rows"] for seed, result in sweep["result"]["seeds"].items()}


def _median_worst(rows: list[dict], key: str, lowest: bool = False) -> tuple[float, float, str]:
    """(median, worst value, worst set) of one measure over forget sets."""
    values = [r[key] for r in rows]
    worst = (min if lowest else max)(rows, key=lambda r: r[key])
    return statistics.median(values), worst[key], worst["set"]


def _over_seeds(per_seed: dict[str, list[dict]], key: str, lowest: bool = False) -> tuple[float, float, str]:
    """(the worst seed's median, the worst value over seeds and sets, "set (seed s)") of one measure."""
    stats = {seed: _median_worst(rows, key, lowest) for seed, rows in per_seed.items()}
    pick = min if lowest else max
    median = pick(m for m, _, _ in stats.values())
    seed = pick(stats, key=lambda s: stats[s][1])
    where = stats[seed][2] + (f", seed {seed}" if len(stats) > 1 else "")
    return median, stats[seed][1], where


def _cell(stat: tuple[float, float, str], fmt=_pct) -> str:
    median, worst, where = stat
    return f"{fmt(median)} / {fmt(worst)} ({where})"


def targets() -> None:
    """The cheaper-than-retraining targets: every default, the 27-set sweeps at 8k (3 seeds) and the 60k layout.

    After the table, the measures that missed their target are listed: generated, like the table.
    """
    sweeps = load_all("sweep-t10k-8k.json", "sweep-layout-60k.json")
    if sweeps is None:
        return
    k8, k60 = sweeps
    r8, r60 = _sweep_rows(k8), _sweep_rows(k60)
    step = load("step-time-layout-60k.json")
    panel = load("panel-time-offline.json")
    times = notebook_times()
    lines = ["| measure | 8k, seeds " + " ".join(r8) + " | 60k layout, seed " + " ".join(r60) + " | target | met? |",
             "|---|---|---|---|---|"]
    missed = []

    def row(label: str, k8_cell: str, k60_cell: str, target: str, ok: bool | None, note: str = "") -> None:
        """One measure and whether it met its target (None: not measured for this version)."""
        if ok is False:
            missed.append(label.split(": median")[0])  # the measure's name, without the statistics it shows
        verdict = "–" if ok is None else "yes" if ok else "**no**"
        lines.append(f"| {label} | {k8_cell} | {k60_cell} | {target} | {verdict}{note} |")

    def points(x: float) -> str:
        return f"{x * 100:+.1f} points"

    t8, t60 = _over_seeds(r8, "time_ratio"), _over_seeds(r60, "time_ratio")
    row("unlearning / retrain time at 8k, everything paid per set: median (worst seed) / worst",
        _cell(t8, "{:.0%}".format), "", "≤ 50% / ≤ 100%", t8[0] <= 0.5 and t8[1] <= 1.0)
    row("unlearning / retrain time at the 60k layout, everything paid per set: median / worst", "",
        _cell(t60, "{:.0%}".format), "≤ 10% / ≤ 20%", t60[0] <= 0.1 and t60[1] <= 0.2)
    if step is None:
        row("one step, checks included, at the 60k layout", "", "not measured for this version", "≥ 3× cheaper", None)
    else:
        row("one step, checks included, at the 60k layout", "",
            f"{step['before_ms']:.0f} ms → {step['after_ms']:.0f} ms ({step['ratio']:.1f}× cheaper)",
            "≥ 3× cheaper", step["ratio"] >= 3)
    for key, label, median_max, worst_max in (("indep_true", "independent judge: true digit", 0.03, 0.10),
                                              ("indep_any", "independent judge: any forget digit", None, 0.12)):
        a, b = _over_seeds(r8, key), _over_seeds(r60, key)
        ok = all(s[1] <= worst_max and (median_max is None or s[0] <= median_max) for s in (a, b))
        target = (f"median ≤ {median_max:.0%}, " if median_max else "") + f"worst ≤ {worst_max:.0%}"
        row(f"{label}: median (worst seed) / worst", _cell(a), _cell(b), target, ok)
    a, b = _over_seeds(r8, "ratio"), _over_seeds(r60, "ratio")
    row("retained digits' test MSE vs the original's", _cell(a, "{:.3f}×".format), _cell(b, "{:.3f}×".format),
        "worst ≤ 1.10×", a[1] <= 1.10 and b[1] <= 1.10)
    a, b = _over_seeds(r8, "d_retain", lowest=True), _over_seeds(r60, "d_retain", lowest=True)
    row("retained digits' judge accuracy vs the original's", _cell(a, points), _cell(b, points), "worst ≥ −1 point",
        a[1] >= -0.01 and b[1] >= -0.01)
    if panel is None:
        row("offline, default set: why the loop stops; one press of notebook 03's panel", "", "", "`evidence_gone`; "
            "≤ 10 s", None, " (not measured for this version)")
    else:
        stops = [p["stop_reason"] for p in panel["presses"]]
        row(f"offline, default set: why the loop stops (notebook 03's panel, {len(stops)} presses)", "", "",
            "`evidence_gone`", all(s == "evidence_gone" for s in stops), f" (`{'`, `'.join(sorted(set(stops)))}`)")
        row("one press of notebook 03's panel (offline, default set, networks cached): median", "", "", "≤ 10 s",
            panel["median_seconds"] <= 10, f" ({panel['median_seconds']:.1f} s)")
    for name in ("03", "04"):
        if name in times:
            total = times[name]["total"]
            row(f"notebook {name}, cold, offline (its last cell)", "", "", "≤ 180 s", total <= 180, f" ({total:.0f} s)")
    lines.append("")
    lines.append("**Missed:** " + "; ".join(missed) + "." if missed
                 else "**Every target met.**")
    _out("\n".join(lines))


METHOD_ROWS = (("evidence", "`evidence` (default)"), ("finetune", "`finetune` (challenge kit baseline)"),
               ("neggrad", "`neggrad` (NegGrad+)"), ("repel", "`repel` (pixel-only ablation)"),
               ("blank", "`blank` (notebook 04's exercise)"), ("original", "`original` (research rules)"))
SCALES = (("offline", "offline"), ("t10k-8k", "8k"), ("layout-60k", "60k"))


def methods(forget: str = "0369") -> None:
    """Every method on one forget set at the three scales, beside two retrains and an untrained MAE."""
    files = load_all(*(f"methods-{scale}.json" for scale, _ in SCALES))
    if files is None:
        return
    runs = {label: f["result"][forget] for (_, label), f in zip(SCALES, files)}

    def cells(get) -> str:
        return " / ".join(get(run) for run in runs.values())

    def ref(name, key, fmt):
        return cells(lambda run: fmt(run["references"][name][key]) if run["references"][name].get(key) is not None
                     else "–")

    def unlearned(method, key, fmt):
        return cells(lambda run: fmt(run["methods"][method]["unlearned"][key]))

    def ratio(block, run):
        return f"{block['mse_retain'] / run['references']['original']['mse_retain']:.3f}×"

    def steps(value):
        return "–" if value is None else f">{200}" if value == "none" else str(value)

    head = " / ".join(runs)
    lines = [f"| model ({head}) | judge: true digit | judge: any forget digit | independent judge: true digit | "
             "retained MSE vs original | probe on forgotten | MIA ROC AUC | steps to relearn 50% | unlearning: steps, "
             "seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for name, label in (("original", "original"), ("retrained", "retrained (seed 1)"),
                        ("retrained_2", "retrained (seed 2)")):
        lines.append(f"| {label} | {ref(name, 'judge_acc_forget', _pct)} | {ref(name, 'judge_any_forget', _pct)} | "
                     f"{ref(name, 'indep_true', _pct)} | "
                     f"{cells(lambda run, n=name: ratio(run['references'][n], run))} | "
                     f"{ref(name, 'probe_acc_forget', _pct)} | {ref(name, 'mia_auc', '{:.3f}'.format)} | "
                     f"{ref(name, 'relearn_steps', steps)} | |")
    lines.append(f"| untrained MAE | – | – | – | – | {ref('untrained', 'probe_acc_forget', _pct)} | "
                 f"{ref('untrained', 'mia_auc', '{:.3f}'.format)} | – | |")
    for method, label in METHOD_ROWS:
        if not all(method in run["methods"] for run in runs.values()):
            continue
        history = cells(lambda run, m=method: f"{run['methods'][m]['history']['steps']}, "
                                              f"{run['methods'][m]['seconds']['unlearn']:.0f} s")
        lines.append(f"| {label} | {unlearned(method, 'judge_acc_forget', _pct)} | "
                     f"{unlearned(method, 'judge_any_forget', _pct)} | {unlearned(method, 'indep_true', _pct)} | "
                     f"{cells(lambda run, m=method: ratio(run['methods'][m]['unlearned'], run))} | "
                     f"{unlearned(method, 'probe_acc_forget', _pct)} | "
                     f"{unlearned(method, 'mia_auc', '{:.3f}'.format)} | "
                     f"{unlearned(method, 'relearn_steps', steps)} | {history} |")
    _out("\n".join(lines))


def strength() -> None:
    """The strength dial on the first named set at 8k, per seed: forgetting and cost at each strength."""
    files = load_all("strength-t10k-8k.json")
    if files is None:
        return
    result = files[0]["result"]
    seeds = list(result)
    values = [row["strength"] for row in result[seeds[0]]["rows"]]
    lines = ["| strength | " + " | ".join(f"seed {s}: judge any / retained MSE / steps" for s in seeds) + " |",
             "|---|" + "---|" * len(seeds)]
    for i, value in enumerate(values):
        cells = [f"{r['rows'][i]['any']:.1%} / {r['rows'][i]['ratio']:.3f}× / {r['rows'][i]['steps']}"
                 for r in result.values()]
        lines.append(f"| {value:g} | " + " | ".join(cells) + " |")
    monotone = [s for s in seeds if all(result[s]["monotone"].values())]
    lines.append("")
    lines.append(f"Monotone in forgetting and in retained cost on {len(monotone)} of {len(seeds)} seeds"
                 + (f" (not on seed {', '.join(s for s in seeds if s not in monotone)})" if len(monotone) < len(seeds)
                    else "") + ".")
    _out("\n".join(lines))


def course() -> None:
    """Per notebook: the core's and the whole notebook's run time, cold, as its saved outputs print them."""
    times = notebook_times()
    lines = ["| notebook | core, cold | with the Bonus sections, cold |", "|---|---|---|"]
    for name, t in sorted(times.items()):
        core = "–" if t["core"] is None else f"{t['core']:.0f} s"
        lines.append(f"| {name} | {core} | {t['total']:.0f} s |")
    _out("\n".join(lines))


def speed() -> None:
    """The data pipeline: the original's per-sample PIL transforms against the package's tensors, one process."""
    files = load_all("speed.json")
    if files is None:
        return
    s = files[0]
    e = s["epoch_seconds"]
    lines = ["| | original | package | ratio |", "|---|---|---|---|",
             f"| one 60k-image epoch, batch 64, same model, only the data pipeline differs | {e['original']:.1f} s | "
             f"{e['package']:.1f} s | **{e['original'] / e['package']:.2f}×** |"]
    original, package, epochs = s["original_seconds_to_target"], s["package_seconds_to_target"], s["args"]["epochs"]
    ref_epochs, target = s["args"]["ref_epochs"], s["target_val_mse"]
    if package is not None:
        lines.append(f"| wall time to the validation MSE the original reaches after {ref_epochs} epochs ({target:.3f}) "
                     f"| {original:.1f} s | {package:.1f} s | **{original / package:.1f}×** less |")
    lines.append(f"| validation MSE after {epochs} package epochs ({s['package_seconds']:.1f} s) | "
                 f"{target:.3f} after {ref_epochs} epochs | **{s['package_val_mse']:.3f}** | |")
    lines.append("")
    lines.append(f"*{s['machine']}.*")
    _out("\n".join(lines))


def test_times() -> None:
    """How long a contributor waits: the unit suite and CI on a clean clone (tools/time_tests.py)."""
    times = load("test-times.json")
    if times is None:
        _out("*The suite's times are not measured for this version yet (`python tools/time_tests.py` writes "
             "`benchmarks/results/test-times.json`).*")
        return
    def verdict(seconds: float, target_minutes: int, exit_code: int) -> str:
        """The target beside the time, and a failure where there was one."""
        met = "met" if seconds <= target_minutes * 60 else "**missed**"
        failed = f"; it failed, exit {exit_code}" if exit_code else ""
        return f" (target ≤ {target_minutes} minutes: {met}{failed})"

    ci = (f" `.ci/run` on a clean clone (a fresh venv, the install, Chromium, every check, the notebooks under "
          f"nbval): **{times['ci_seconds'] / 60:.1f} minutes**"
          + verdict(times["ci_seconds"], 12, times["ci_exit"]) + ".") if "ci_seconds" in times else ""
    machine = times["machine"].rstrip(", ")
    _out(f"The unit suite (`pytest`, fast mode): **{times['unit_seconds'] / 60:.1f} minutes**"
         + verdict(times["unit_seconds"], 3, times["unit_exit"]) + f" on a 2-core CPU ({machine}; "
         f"`python tools/time_tests.py`, commit {times['commit']}, nothing else running)." + ci)


NOTEBOOK_TIME = re.compile(r"this notebook ran in (\d+) s")
CORE_TIME = re.compile(r"the core ran in (\d+) s")


def notebook_times() -> dict[str, dict]:
    """Per notebook (by its number): the core's and the whole run's seconds, as its saved outputs print them."""
    times = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        text = "".join("".join(o.get("text", "")) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code" for o in c.get("outputs", []))
        total, core = NOTEBOOK_TIME.search(text), CORE_TIME.search(text)
        if total:
            times[path.name[:2]] = {"total": float(total.group(1)), "core": float(core.group(1)) if core else None}
    return times


if __name__ == "__main__":
    targets()
