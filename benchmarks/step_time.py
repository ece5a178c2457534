"""Where an unlearning run's time goes: the learning move, the unlearning move, one check.

    python benchmarks/step_time.py --scale layout-60k --set 9      # after benchmarks/layouts.py

The forget-any-set issue asks for unlearning in at most 20% of retraining's wall time at the
60k layout. The sweep shows the hard sets using the whole 300-step budget at about 0.4 s a
step. This script times the loop's parts one by one on the package's own `Players` and
`Witness` (same networks, batches and defaults as `unlearn`), so that a faster loop starts
from a measurement, not a guess:

* fitting the readers once before the game (`cfg.q_fit_steps` learning steps);
* the learning move: the Q-layers and the two picture readers take one Adam step;
* the unlearning move: the autoencoder's loss, backward and Adam step (with its batches);
* one check: the witness's two CNNs read the held-out forget digits' reconstructions, the
  guard reads the retained ones, and the checked weights are copied.

Then it adds them up for a run of the whole budget and says how many steps would fit in 20%
of a retrain. The networks come from the model cache (MAE_CACHE_DIR), trained if missing.
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
    """Mean seconds of `fn()` over `repeats` calls."""
    tic = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - tic) / repeats


def main() -> None:
    """Time the parts, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="layout-60k", help="data scale (default: layout-60k)")
    parser.add_argument("--set", default="9", help="forget digits, e.g. 9 or 0369 (default: 9)")
    parser.add_argument("--steps", type=int, default=40, help="steps timed per move (default: 40)")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    parser.add_argument("--retrain-seconds", type=float,
                        help="a retrain's wall time to compare with (default: the cached retrain's, trained if none)")
    args = parser.parse_args()
    if not args.set.isdigit() or len(set(args.set)) != len(args.set) or len(args.set) > 9:
        raise SystemExit(f"--set takes distinct digits such as 9 or 0369, not all ten; got {args.set!r}")
    import torch

    from mae_helpers import get_config, train_cached
    from mae_helpers.data import loaders_for, split_digits
    from mae_helpers.evaluate import train_witness
    from mae_helpers.unlearn import LOSSES, Players, Witness, fit_readers, learn_step, retrain, train_auxiliary

    forget = tuple(sorted(int(c) for c in args.set))
    cfg = get_config(fast=False, seed=0, forget_digits=forget, **scale_settings(args.scale, Path(args.data)))
    print(f"{args.scale}, forget {' '.join(map(str, forget))}: torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model cache "
          f"{os.environ.get('MAE_CACHE_DIR', 'default')}", flush=True)
    original, _ = train_cached("main", None, cfg, progress=False)
    aux, _ = train_auxiliary(forget, cfg, progress=False)
    witness_net = train_witness(original, cfg, progress=False)
    if args.retrain_seconds is None:
        _, meta = retrain(forget, cfg, progress=False)
        args.retrain_seconds = sum(meta["history"]["seconds"])

    _, retain = split_digits(forget)
    p = Players(original, aux, LOSSES["evidence"], cfg, "cpu", learn=True, all_digits=False)
    everything = loaders_for(cfg, None, "cpu")
    fit = timed(lambda: fit_readers(p.s, p.q_opt, everything.train.dataset.images, everything.train.dataset.targets,
                                    cfg.q_fit_steps, cfg.retain_batch, cfg.seed), 1)
    witness = Witness(witness_net, p.s.teacher, loaders_for(cfg, forget, "cpu").val.dataset,
                      loaders_for(cfg, retain, "cpu").val.dataset, everything.train.dataset.images, forget,
                      cfg.witness_images)

    def learn_move():
        x_f, y_f, x_r, y_r = next(p.feed)
        learn_step(p.s, p.q_opt, torch.cat([x_f, x_r[: len(x_f)]]), torch.cat([y_f, y_r[: len(x_f)]]))

    def check():
        witness.evidence(p.student), witness.retain_ratio(p.student), witness.forget_mse(p.student)
        p.weights()

    p.learn = False
    batch = timed(lambda: next(p.feed), args.steps)
    unlearn_move = timed(lambda: p.step(cfg.unlearn_lr, cfg.forget_weight), args.steps)  # includes its batches
    learn = timed(learn_move, args.steps) - batch  # its batch is the unlearning move's in the real loop
    one_check = timed(check, max(3, args.steps // cfg.check_every))

    steps, checks = cfg.unlearn_max_steps, cfg.unlearn_max_steps // cfg.check_every
    parts = {"fit the readers (once)": fit, f"learning move x {steps}": learn * steps,
             f"unlearning move x {steps} (with batches)": unlearn_move * steps, f"check x {checks}": one_check * checks}
    total = sum(parts.values())
    print(f"\n{'part':<38} {'each':>9} {'whole budget':>13} {'share':>6}")
    for (name, seconds), each in zip(parts.items(), (fit, learn, unlearn_move, one_check)):
        print(f"{name:<38} {each * 1000:7.0f}ms {seconds:12.1f}s {seconds / total:6.0%}")
    print(f"{'a run of the whole budget':<38} {'':>9} {total:12.1f}s {'':>6}")
    without_learning = unlearn_move + one_check / cfg.check_every  # seconds a step, checks included
    room = 0.2 * args.retrain_seconds - fit  # the cut-off's seconds left after fitting the readers
    print(f"\nretrain: {args.retrain_seconds:.0f} s; the whole budget is {total / args.retrain_seconds:.0%} of it. "
          f"At {(learn + without_learning) * 1000:.0f} ms a step (checks included), 20% of a retrain holds "
          f"{max(0, room / (learn + without_learning)):.0f} steps; without the learning move, "
          f"{max(0, room / without_learning):.0f}.")


if __name__ == "__main__":
    main()
