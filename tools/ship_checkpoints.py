"""Copy the networks of the lessons' default path from a filled model cache into mae_helpers/checkpoints/.

    python tools/ship_checkpoints.py CACHE_FOLDER [--to mae_helpers/checkpoints]

`make checkpoints` fills a fresh cache with `mae-unlearn --prepare-only --no-fast --source offline`
(the default config, forget 0 3 6 9, seed 0, the offline digits, in the Makefile's SAVED_MODE), then
runs this. It replaces the shipped files and writes manifest.json: each file's SHA-256, which the
package checks before it uses a file (mae_helpers/cache.py: the warm start), and how they were made.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "make checkpoints (mae-unlearn --prepare-only --no-fast --source offline, in the Makefile's SAVED_MODE)"


def main() -> None:
    """Copy, hash, write the manifest."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", type=Path, help="a model cache filled by mae-unlearn --prepare-only")
    parser.add_argument("--to", type=Path, default=ROOT / "mae_helpers" / "checkpoints", help="the shipped folder")
    args = parser.parse_args()
    entries = sorted(args.cache.glob("*.pt"))
    if len(entries) != 7:
        raise SystemExit(f"{args.cache} holds {len(entries)} networks, not the seven of one forget set "
                         "(four MAEs, the judge, the witness, the readers): fill a fresh cache first")
    args.to.mkdir(parents=True, exist_ok=True)
    for old in args.to.glob("*.pt"):
        old.unlink()
    files = {}
    for entry in entries:
        shutil.copyfile(entry, args.to / entry.name)
        files[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import torch

    manifest = {"format": "mae_helpers.checkpoints/1", "made_by": COMMAND, "commit": commit,
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}",
                "files": files}
    (args.to / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {len(files)} networks into {args.to} ({sum(e.stat().st_size for e in entries) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
