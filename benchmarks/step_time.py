"""Where an unlearning run's time goes: one step (both moves), one check, and what is paid once.

    python benchmarks/step_time.py --scale layout-60k --set 9      # after benchmarks/layouts.py

Times the package's own `Game` and `Witness` (the same networks, batches and defaults as
`unlearn`), so that a faster loop starts from a measurement, not a guess:

* once per original model (every forget set shares them): the readers' fit, the original's
  drawings of every training image;
* once per forget set: the auxiliary network's training, the setup of a run (its drawings of
  the forget digits, the witness's held-out digits);
* each step: the learning move and the unlearning move, from one forward pass;
* each check (every `cfg.check_every` steps): the witness's look (each held-out digit redrawn
  once) and the snapshot of the weights.

"a step, checks included" = step + (check + snapshot) / check_every: the number the
cheaper-than-retraining issue compares before and after. The networks come from the model
cache (MAE_CACHE_DIR), trained if missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layouts import SCALES, scale_settings  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Mean seconds of `fn()` over `repeats` calls (after one call to warm up)."""
    fn()
    tic = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - tic) / repeats


def main() -> None:
    """Time the parts, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="layout-60k", help="data scale (default: layout-60k)")
    parser.add_argument("--set", default="9", help="forget digits, e.g. 9 or 0369 (default: 9)")
    parser.add_argument("--steps", type=int, default=40, help="steps timed (default: 40)")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    args = parser.parse_args()
    if not args.set.isdigit() or len(set(args.set)) != len(args.set) or len(args.set) > 9:
        raise SystemExit(f"--set takes distinct digits such as 9 or 0369, not all ten; got {args.set!r}")
    import torch

    from mae_helpers import get_config, train_cached
    from mae_helpers.data import loaders_for
    from mae_helpers.train import retrain, train_auxiliary
    from mae_helpers.unlearn import _ORIGINAL_DRAWINGS, LOSSES, Game, original_drawings, train_readers
    from mae_helpers.witness import Witness, train_witness

    forget = tuple(sorted(int(c) for c in args.set))
    settings = scale_settings(args.scale, Path(args.data))
    cfg = get_config(fast=False, seed=0, forget_digits=forget, **settings)
    print(f"{args.scale}, forget {' '.join(map(str, forget))}: torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model cache "
          f"{os.environ.get('MAE_CACHE_DIR', 'default')}", flush=True)
    original, _ = train_cached("main", None, cfg, progress=False)
    _, retrained = retrain(forget, cfg, progress=False)
    witness_net = train_witness(original, cfg, progress=False)
    everything = loaders_for(cfg, None, "cpu")
    images = everything.train.dataset.images

    tic = time.perf_counter()
    readers = train_readers(original, cfg, "cpu")
    fit = readers.metadata.get("seconds", time.perf_counter() - tic)
    _ORIGINAL_DRAWINGS.clear()
    drawings = timed(lambda: (_ORIGINAL_DRAWINGS.clear(), original_drawings(original, images)), 1)
    aux_tic = time.perf_counter()
    aux, aux_meta = train_auxiliary(forget, cfg, progress=False, original=original)
    aux_seconds = sum(aux_meta["history"]["seconds"]) or time.perf_counter() - aux_tic

    holder = {}

    def setup():
        holder["game"] = Game(original, aux, readers, LOSSES["evidence"], cfg, "cpu", all_digits=False)
        holder["witness"] = Witness(witness_net, holder["game"].teacher, everything.val.dataset, images, forget,
                                    cfg.witness_images)

    run_setup = timed(setup, 1)
    game, witness = holder["game"], holder["witness"]
    step = timed(lambda: game.step(cfg.unlearn_lr, cfg.forget_weight), args.steps)
    look = timed(lambda: witness.look(game.student), max(3, args.steps // cfg.check_every))
    snapshot = timed(game.weights, 20)
    per_step = step + (look + snapshot) / cfg.check_every
    retrain_seconds = sum(retrained["history"]["seconds"])

    print(f"\n{'part':<58} {'seconds':>9}")
    rows = {"once per original: the readers' fit": fit,
            "once per original: the original's drawings of the training digits": drawings,
            "once per forget set: the auxiliary network's training": aux_seconds,
            "once per forget set: a run's setup (drawings, held-out digits)": run_setup,
            "one step (learning and unlearning moves)": step,
            f"one check (witness and guard, {len(witness.x_f)} + {len(witness.x_r)} held-out digits)": look,
            "one snapshot of the weights": snapshot}
    for name, seconds in rows.items():
        print(f"{name:<58} {seconds:9.4f}")
    print(f"\na step, checks included: {per_step * 1000:.0f} ms (a check every {cfg.check_every} steps)")
    budget = aux_seconds + run_setup + cfg.unlearn_max_steps * per_step
    print(f"retrain: {retrain_seconds:.0f} s; a run of the whole budget ({cfg.unlearn_max_steps} steps) with its "
          f"auxiliary network: {budget:.0f} s = {budget / retrain_seconds:.0%} of a retrain; 10% of a retrain holds "
          f"{max(0, (0.1 * retrain_seconds - aux_seconds - run_setup) / per_step):.0f} steps")


if __name__ == "__main__":
    main()
