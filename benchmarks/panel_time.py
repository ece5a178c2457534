"""How long a learner waits after pressing Unlearn in notebook 03's panel (offline digits, the default set).

    python benchmarks/panel_time.py [--repeats 3] [--out benchmarks/results/panel-time-offline.json]

The panel's networks are cached first (untimed: a notebook has trained or loaded them by then),
then `UnlearningPanel.run()` is timed `--repeats` times, as a press of the button runs it: the
auxiliary network (cached after the first press), the unlearning run, the before/after test MSE
and the figure. Prints each time, the median, and why the loop stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    """Time the panel's run, print and save the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="presses timed (default: 3)")
    parser.add_argument("--out", default="benchmarks/results/panel-time-offline.json", help="where the JSON goes")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from mae_helpers import get_config
    from mae_helpers.experiment import prepare
    from mae_helpers.widgets import UnlearningPanel

    cfg = get_config(fast=False, source="offline")
    p = prepare(cfg, device="cpu", progress=False)  # the networks a learner has when the panel shows
    panel = UnlearningPanel(p.original, cfg, device="cpu")
    seconds, results = [], []
    for _ in range(args.repeats):
        tic = time.perf_counter()
        result = panel.run()
        seconds.append(time.perf_counter() - tic)
        plt.close(result.figure)
        results.append({"seconds": seconds[-1], "steps": result.history.steps,
                        "stop_reason": result.history.stop_reason.value, "stopped": result.history.stopped})
        print(f"press: {seconds[-1]:.1f} s; {result.history.steps} steps; {result.history.stopped}", flush=True)
    machine = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
               f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"median {statistics.median(seconds):.1f} s over {args.repeats} presses ({machine})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "machine": machine, "presses": results,
                               "median_seconds": statistics.median(seconds)}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
