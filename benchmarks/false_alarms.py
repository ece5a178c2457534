"""The witness's false alarms per forget set: its belief in a forget digit where there is none.

    python benchmarks/false_alarms.py t10k-8k 0 8 18 0369     # SET FALSE_ALARMS per line

The original's drawings of the held-out (validation) retained digits, read by the witness of
that original: its mean belief that they show one of the forget digits. The loop's stop is
relative to it (`Witness.false_alarms`, which reads the first 1,024 distinct held-out retained
digits; this reads them all). The networks come from the model cache, trained if missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from layouts import SCALES, scale_settings  # noqa: E402

from mae_helpers import get_config, train_cached  # noqa: E402
from mae_helpers.common import inference  # noqa: E402
from mae_helpers.data import loaders_for  # noqa: E402
from mae_helpers.witness import train_witness  # noqa: E402


def main() -> None:
    """Print each set's false alarms."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scale", choices=SCALES)
    parser.add_argument("seed", type=int)
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--data", default="data/bench", help="benchmarks/layouts.py's output (default: data/bench)")
    args = parser.parse_args()
    cfg = get_config(fast=False, seed=args.seed, **scale_settings(args.scale, Path(args.data)))
    original, _ = train_cached("main", None, cfg, progress=False)
    witness = train_witness(original, cfg, progress=False)
    val = loaders_for(cfg).val.dataset
    with inference(original, witness):
        belief = witness(original(val.images).clamp(-1, 1)).exp()
    for text in args.sets:
        forget = torch.tensor([int(c) for c in text])
        retained = ~torch.isin(val.targets, forget)
        print(text, f"{belief[retained][:, forget].sum(1).mean().item():.4f}")


if __name__ == "__main__":
    main()
