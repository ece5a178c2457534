"""Whole unlearning runs, read at every check by the loop's witness AND by both judges: what a stop rule costs.

    python benchmarks/trajectory.py t10k-8k 0                  # the sweep's 27 sets, seed 0
    python benchmarks/trajectory.py t10k-8k 2 8 18             # some sets of seed 2
    python benchmarks/trajectory.py t10k-8k 0 8 9 --override aux_steps=0
    python benchmarks/trajectory.py t10k-8k 0 8 9 --method nopush

Each run has `evidence_margin` 0, so it never stops early: up to the step where a real run would
stop, the controller does exactly what it would have done (the stop decides nothing else). At
every check the student is also read by the package's judge and the independent judge on the
forget test digits, and its retained test MSE is measured. A stop rule can then be replayed on
the saved trajectory (`benchmarks/stop_rules.py`): which check it would stop at, which it would
keep, and what the judges say of that check. This is how the loop's stop and its margin were
chosen (benchmarks/results/stop-rule-2026-12-06). Slow: the judges read at every check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from independent_judge import independent_judge  # noqa: E402
from layouts import SCALES, scale_settings  # noqa: E402
from unlearning import forget_sets  # noqa: E402

from mae_helpers import get_config, train_cached, train_judge  # noqa: E402
from mae_helpers import witness as witness_module  # noqa: E402
from mae_helpers.common import inference  # noqa: E402
from mae_helpers.data import loaders_for  # noqa: E402
from mae_helpers.train import train_auxiliary  # noqa: E402
from mae_helpers.unlearn import forget_evidence, keep_retained, read_picture, train_readers, unlearn  # noqa: E402
from mae_helpers.witness import train_witness  # noqa: E402


def loss_nopush(s, x_f, x_r, cfg):
    """The evidence loss without the bounded push: keep + w * evidence (what the push buys)."""
    return keep_retained(s, x_r, cfg) + s.forget_weight * forget_evidence((read_picture(s, s.out_f),), s.retain_mask)


def reads_at_every_check(forget, test, judge, indep, original, reads: list):
    """A Witness.look that also lets both judges read the student, and measures its retained test MSE."""
    is_forget = torch.isin(test.targets, torch.tensor(forget))
    x_f, y_f = test.images[is_forget], test.targets[is_forget]
    x_r, y_r = test.images[~is_forget][:1000], test.targets[~is_forget][:1000]
    with inference(original):
        base = torch.nn.functional.mse_loss(original(x_r), x_r).item()
    look = witness_module.Witness.look

    def look_and_read(self, model):
        seen = look(self, model)
        with inference(model, judge, indep):
            drawn_f, drawn_r = model(x_f).clamp(-1, 1), model(x_r)
            row = {}
            for name, net in (("judge", judge), ("indep", indep)):
                named = net(drawn_f).argmax(1)
                row[f"{name}_true"] = (named == y_f).float().mean().item()
                row[f"{name}_any"] = torch.isin(named, torch.tensor(forget)).float().mean().item()
            row["test_ratio"] = torch.nn.functional.mse_loss(drawn_r, x_r).item() / base
            row["judge_retain"] = (judge(drawn_r.clamp(-1, 1)).argmax(1) == y_r).float().mean().item()
        reads.append(row)
        return seen

    return look_and_read


def main() -> None:
    """Run the trajectories, print each check, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scale", choices=SCALES)
    parser.add_argument("seed", type=int)
    parser.add_argument("sets", nargs="*", help="forget sets such as 8 0369 (default: the sweep's 27)")
    parser.add_argument("--override", nargs="*", default=[], metavar="FIELD=VALUE", help="config fields")
    parser.add_argument("--method", default="evidence", help="a name in LOSSES, or nopush")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    parser.add_argument("--out", default=None, help="JSON of every trajectory")
    args = parser.parse_args()
    defaults = get_config(fast=False)
    overrides = {k: type(getattr(defaults, k))(v) for k, v in (item.split("=") for item in args.override)}
    settings = scale_settings(args.scale, Path(args.data))
    base = get_config(fast=False, seed=args.seed, **settings, **overrides)
    original, _ = train_cached("main", None, base, progress=False)
    judge = train_judge(base, progress=False)
    witness_net, readers = train_witness(original, base, progress=False), train_readers(original, base)
    indep, _ = independent_judge(settings, Path(args.data) / f"independent-judge-{args.scale}.pt")
    test = loaders_for(base, None, "cpu").test.dataset
    method = loss_nopush if args.method == "nopush" else args.method
    results = {}
    for text in args.sets or forget_sets():
        forget = tuple(int(c) for c in text)
        cfg = base.replace(forget_digits=forget, evidence_margin=0.0)
        (aux, _meta), reads = train_auxiliary(forget, cfg, progress=False, original=original), []
        look = witness_module.Witness.look
        witness_module.Witness.look = reads_at_every_check(forget, test, judge, indep, original, reads)
        tic = time.perf_counter()
        try:
            _, history = unlearn(original, aux, cfg, method=method, progress=False, witness_net=witness_net,
                                 readers=readers)
        finally:
            witness_module.Witness.look = look
        h = history.to_dict()
        results[text] = {"history": h, "reads": reads, "seconds": time.perf_counter() - tic}
        print(f"{text}: {history.steps} steps, false alarms {history.false_alarms:.4f}")
        for step, evidence, ratio, read in zip(h["step"], h["evidence"], h["retain_ratio"], reads):
            print(f"  {step:4d} ev {evidence:6.3f} ratio {ratio:5.3f} | judge {read['judge_true']:5.3f} "
                  f"{read['judge_any']:5.3f} | indep {read['indep_true']:5.3f} {read['indep_any']:5.3f} | test ratio "
                  f"{read['test_ratio']:5.3f}" + ("  REVERT" if step in h["reverts"] else ""), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}) + "\n")


if __name__ == "__main__":
    main()
