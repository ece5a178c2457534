"""Unlearning benchmark: the package defaults at three data scales, against the targets.

    python benchmarks/layouts.py                      # once: builds data/bench/{t10k-8k,layout-60k}
    python benchmarks/unlearning.py                   # every scale (about an hour on a 2-core CPU)
    python benchmarks/unlearning.py --scales offline --seeds 0 --forget-sets 0369 --sweep 0 1 4   # a quick look

Scales (benchmarks/layouts.py says how each is built): `offline` (4,000 real digits: 3,200
training, 1,000 test), `t10k-8k` (the 10,000 real MNIST test digits split 8,000 / 2,000) and
`layout-60k` (MNIST's 60k/10k shape from the t10k digits: 6,000 tiled to 60,000 training
images, 48,000 after the validation split; 4,000 test digits never trained on). The same
defaults everywhere: nothing here is tuned per scale.

Each run trains into a fresh model cache, so the retrained model's training time and the
unlearning time are measured in the same run on the same machine. For every scale it prints
one row per forget set and method (means over seeds) with the original, unlearned and
retrained models on held-out test digits, then the strength sweep on 0 3 6 9, seed 0.

Targets: judge recognises <= 5% of the forgotten digits; retained MSE <= 1.10x the
original's; retained judge accuracy >= the original's - 1 point; unlearning <= 20% of
retraining's wall time; the sweep monotone in forgetting; the fresh probe beside the
retrained model's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from layouts import SCALES, scale_settings

from mae_helpers import evaluate_model, get_config
from mae_helpers.experiment import prepare


def parse_set(text: str) -> tuple[int, ...]:
    """'0369' -> (0, 3, 6, 9)."""
    return tuple(sorted(int(c) for c in text))


def run_methods(cfg, methods, strengths=()) -> dict:
    """{method: metrics} for one forget set and seed; the original and retrained models are evaluated once."""
    p = prepare(cfg, progress=False)
    everything = p.everything

    def evaluate(model):
        return evaluate_model(model, p.judge, everything.train, everything.test, cfg.forget_digits)

    shared = {"original": evaluate(p.original), "retrained": evaluate(p.retrained)}
    results = {}
    for method in methods:
        unlearned, history = p.unlearn(method, progress=False)
        results[method] = {**shared, "unlearned": evaluate(unlearned), "seconds": p.seconds(history),
                           "history": history.to_dict()}
    for strength in strengths:
        unlearned, history = p.unlearn("evidence", progress=False, strength=strength)
        results[f"strength {strength:g}"] = {**shared, "unlearned": evaluate(unlearned),
                                             "seconds": p.seconds(history), "history": history.to_dict()}
    return results


def row(runs: list) -> dict:
    """Means over seeds of the numbers the targets are about."""
    def mean(f):
        return statistics.fmean(f(r) for r in runs)

    return {
        "judge_forget": mean(lambda r: r["unlearned"]["judge_acc_forget"]),
        "judge_forget_original": mean(lambda r: r["original"]["judge_acc_forget"]),
        "judge_forget_retrained": mean(lambda r: r["retrained"]["judge_acc_forget"]),
        "mse_retain_ratio": mean(lambda r: r["unlearned"]["mse_retain"] / r["original"]["mse_retain"]),
        "mse_retain_ratio_retrained": mean(lambda r: r["retrained"]["mse_retain"] / r["original"]["mse_retain"]),
        "judge_retain_delta": mean(lambda r: r["unlearned"]["judge_acc_retain"] - r["original"]["judge_acc_retain"]),
        "probe_forget": mean(lambda r: r["unlearned"]["probe_acc_forget"]),
        "probe_forget_original": mean(lambda r: r["original"]["probe_acc_forget"]),
        "probe_forget_retrained": mean(lambda r: r["retrained"]["probe_acc_forget"]),
        "seconds_unlearn": mean(lambda r: r["seconds"]["unlearn"]),
        "seconds_retrain": mean(lambda r: r["seconds"]["retrain"]),
        "time_ratio": mean(lambda r: r["seconds"]["unlearn"] / r["seconds"]["retrain"]),
        "steps": mean(lambda r: r["history"]["steps"]),
    }


def verdict(r: dict) -> str:
    """Which targets a row meets: judge<=5%, retained MSE<=1.10x, retained judge>=-1 point, time<=20%."""
    checks = [r["judge_forget"] <= 0.05, r["mse_retain_ratio"] <= 1.10, r["judge_retain_delta"] >= -0.01,
              r["time_ratio"] <= 0.20]
    return "".join("Y" if c else "n" for c in checks)


HEADER = (f"{'forget':>6} {'method':>8} | {'judge on forgotten':>18} {'orig / retr':>11} | {'retained MSE':>12} "
          f"{'(retr)':>7} {'judge':>7} | {'fresh probe':>11} {'orig / retr':>11} | {'steps':>5} {'unlearn':>8} "
          f"{'retrain':>8} {'ratio':>6} | targets")


def format_row(label: str, method: str, r: dict) -> str:
    """One table line."""
    return (f"{label:>6} {method:>8} | {r['judge_forget']:18.1%} {r['judge_forget_original']:5.0%} / "
            f"{r['judge_forget_retrained']:<3.0%} | {r['mse_retain_ratio']:11.2f}x "
            f"{r['mse_retain_ratio_retrained']:6.2f}x "
            f"{r['judge_retain_delta'] * 100:+6.1f}p | {r['probe_forget']:11.1%} {r['probe_forget_original']:5.0%} / "
            f"{r['probe_forget_retrained']:<3.0%} | {r['steps']:5.0f} {r['seconds_unlearn']:7.1f}s "
            f"{r['seconds_retrain']:7.1f}s {r['time_ratio']:6.0%} | {verdict(r)}")


def bench_scale(scale: str, seeds, forget_sets, methods, sweep, root: Path) -> dict:
    """Every forget set, method and seed at one scale, then the sweep; prints as it goes; returns raw results."""
    settings = scale_settings(scale, root)
    print(f"\n=== {scale} ({settings}), seeds {list(seeds)} ===\n{HEADER}\n" + "-" * len(HEADER), flush=True)
    results = {}
    for text in forget_sets:
        per_seed = [run_methods(get_config(fast=False, seed=seed, forget_digits=parse_set(text), **settings),
                                methods, sweep if (text == forget_sets[0] and seed == seeds[0]) else ())
                    for seed in seeds]
        for method in methods:
            runs = [by_method[method] for by_method in per_seed]
            results[f"{text} {method}"] = runs
            print(format_row(text, method, row(runs)), flush=True)
        if sweep and text == forget_sets[0]:
            results["sweep"] = {k: v for k, v in per_seed[0].items() if k.startswith("strength")}
    if sweep:
        print(f"\nstrength sweep, forget {forget_sets[0]}, seed {seeds[0]} (evidence):")
        print(f"{'strength':>8} | {'judge on forgotten':>18} | {'retained MSE':>12} | {'retained judge':>14} | "
              f"{'steps':>5} | stopped")
        for key, m in results["sweep"].items():
            r = row([m])
            print(f"{key.split()[1]:>8} | {r['judge_forget']:18.1%} | {r['mse_retain_ratio']:11.2f}x | "
                  f"{r['judge_retain_delta'] * 100:+13.1f}p | {r['steps']:5.0f} | {m['history']['stopped']}")
        forgotten = [m["unlearned"]["judge_acc_forget"] for m in results["sweep"].values()]
        monotone = all(a >= b for a, b in zip(forgotten, forgotten[1:]))
        print(f"monotone in forgetting (more strength never forgets less): {'yes' if monotone else 'NO'}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=list(SCALES), choices=SCALES)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: 0 1 2 at the two small scales, 0 at layout-60k")
    parser.add_argument("--forget-sets", nargs="+", default=["0369", "7", "18"])
    parser.add_argument("--methods", nargs="+", default=["evidence", "original"])
    parser.add_argument("--sweep", type=float, nargs="*", default=[0, 0.5, 1, 2, 4],
                        help="strengths for the sweep (on the first forget set and seed)")
    parser.add_argument("--data", default="data/bench", help="where benchmarks/layouts.py wrote the layouts")
    parser.add_argument("--keep-cache", action="store_true",
                        help="reuse MAE_CACHE_DIR instead of a fresh one (then training times are old ones)")
    parser.add_argument("--json", default=None, help="also write all raw results here")
    args = parser.parse_args()
    if not args.keep_cache:
        os.environ["MAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="mae-bench-cache-")
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, python {sys.version.split()[0]}; "
          f"model cache {os.environ.get('MAE_CACHE_DIR')}")
    start, results = time.perf_counter(), {}
    for scale in args.scales:
        seeds = args.seeds if args.seeds is not None else ([0] if scale == "layout-60k" else [0, 1, 2])
        results[scale] = bench_scale(scale, seeds, args.forget_sets, args.methods, args.sweep, Path(args.data))
    print("\ntargets (Y/n): judge<=5% | retained MSE<=1.10x | retained judge>=-1p | unlearn<=20% of retrain")
    print(f"({time.perf_counter() - start:.0f} s in all)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
