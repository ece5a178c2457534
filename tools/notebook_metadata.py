"""Make every course notebook ready for Colab and for viewers without widgets. Safe to run again.

    python tools/notebook_metadata.py            # apply to every notebooks/NAME.ipynb and its .py
    python tools/notebook_metadata.py --check    # change nothing; exit 1 and say what is missing
    python tools/notebook_metadata.py --saved-here          # also record this machine as the outputs' (make notebooks)
    python tools/notebook_metadata.py --saved-on-this-machine NB.ipynb   # exit 0 if NB's outputs were saved here

Run it after executing a notebook (nbconvert saves widget state) or after adding solution cells.
For each pair notebooks/NAME.ipynb + NAME.py it:

- adds the metadata Colab writes (`"accelerator": "GPU"` and a `colab` block), so "Open in Colab"
  starts a GPU runtime;
- hides solution cells (tag `solution`) by default: `jupyter.source_hidden` for JupyterLab,
  `cellView: "form"` for Colab (which then shows the cell's `#@title` line instead of its code);
- removes saved widget state (`metadata.widgets` and the widget views in outputs). Colab's
  ipywidgets 7 frontend cannot rebuild the ipywidgets 8 state JupyterLab saves, and without the
  state a viewer shows an error instead of the widget. The plain-text fallback of each output
  stays; a tqdm bar's is replaced by the bar's final text (its saved fallback reads "0%");
- removes the start and end times nbconvert records in each cell (noise in every diff);
- moves the repository URL of the notebooks' setup cells (and every link to that repository
  in the notebooks and the README) to pyproject.toml's `[project.urls] Repository`, the one
  place a fork changes it;
- pins the package a setup cell installs on Colab (`REPO_COMMIT = "..."`, installed as
  `git+REPO_URL@REPO_COMMIT`) to the commit the notebook was saved from: HEAD, when the
  stamp is empty or `mae_helpers/` or pyproject.toml differ between the stamp and HEAD. It
  refuses while those have uncommitted changes (commit the package, run the notebook, then
  this script); `--check` reports a stale stamp and says nothing when git cannot tell;
- copies jupytext.toml's metadata filters into the notebook and rewrites the .py from the
  .ipynb, so the pair stays in sync (it refuses when their cells already differ);
- with `--saved-here` (what `make notebooks` runs after executing them) records the machine the
  outputs come from (`metadata.mae_saved_on`: architecture, CPU model, torch version). Without
  it the record is kept, so tidying a notebook elsewhere does not claim its outputs.

Why the machine: a training run sums floats in an order the CPU's kernels choose (oneDNN and MKL
block by CPU model and cache), so the same notebook prints other last digits on another CPU kind
(notebook 02's test MSE 0.0967 on an Intel Xeon, 0.0981 on an AMD EPYC, both with the Makefile's pins), and
the unlearning loop then keeps another step. `make test-notebooks` compares the outputs only
where they were saved (`--saved-on-this-machine`) and elsewhere says so and runs every cell
without comparing. Without oneDNN (`torch.backends.mkldnn.enabled = False` with
`MKL_CBWR=COMPATIBLE`) the weights no longer changed with the kernels' AVX2 or AVX-512 path on
the AMD machine, which equal runs across kinds would need (not checked on a second kind), but
training took about 5x as long (40 steps of 128 digits: 9.5 s against 1.9 s): too slow for the
lessons.
"""

from __future__ import annotations

import argparse
import functools
import html
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"

COLAB_GPU = "T4"  # the GPU of Colab's free tier
SOLUTION_TAG = "solution"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = "[interactive widget: run the notebook to use it]"
REPO_URL_LINE = re.compile(r'^REPO_URL = "https://github\.com/([\w.-]+/[\w.-]+)"', re.M)
REPO_COMMIT_LINE = re.compile(r'^(REPO_COMMIT = ")([0-9a-f]*)(")', re.M)
PACKAGE_PATHS = ("mae_helpers", "pyproject.toml")  # what a Colab install of the package is built from
SAVED_ON = "mae_saved_on"  # notebook metadata: the machine whose outputs nbval compares


def repository_path(root: Path = ROOT) -> str:
    """OWNER/REPO from pyproject.toml's [project.urls] Repository."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    url = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", url)
    if not match:
        raise SystemExit(f"pyproject.toml: Repository must be https://github.com/OWNER/REPO; got {url!r}")
    return match.group(1)


def _tqdm_text(box: dict, state: dict) -> str | None:
    """The final text of a tqdm notebook bar (HBox of HTML, progress, HTML), or None if `box` is not one."""
    children = [state.get(ref.removeprefix("IPY_MODEL_"), {}) for ref in box["state"].get("children", [])]
    names = [child.get("model_name") for child in children]
    if len(children) != 3 or names[0] != "HTMLModel" or names[2] != "HTMLModel" or "Progress" not in str(names[1]):
        return None
    left, bar, right = (child["state"] for child in children)
    total = bar.get("max") or 0
    filled = int(10 * bar.get("value", 0) / total) if total else 0
    text = f"{left.get('value', '')}|{'█' * filled:<10}|{right.get('value', '')}"
    return html.unescape(text).replace("\u2007", " ")


def strip_widget_state(nb) -> list[str]:
    """Remove saved widget state and widget views; keep (or make) a plain-text fallback. Returns what changed."""
    changes = []
    saved = nb.metadata.pop("widgets", None)
    if saved is not None:
        changes.append("removed metadata.widgets")
    state = (saved or {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            model = state.get(data.pop(WIDGET_VIEW).get("model_id", ""))
            final = _tqdm_text(model, state) if model else None
            if final is not None:
                data["text/plain"] = final
            elif not data.get("text/plain"):
                data["text/plain"] = WIDGET_PLACEHOLDER
            changes.append(f"cell {index}: widget view replaced by its text")
    return changes


def add_colab_metadata(nb) -> list[str]:
    changes = []
    if nb.metadata.get("accelerator") != "GPU":
        nb.metadata["accelerator"] = "GPU"
        changes.append("accelerator: GPU")
    colab = nb.metadata.setdefault("colab", {})
    if colab.get("provenance") != []:  # Colab records who copied the notebook from where: not ours to commit
        colab["provenance"] = []
        changes.append("colab.provenance")
    if "gpuType" not in colab:
        colab["gpuType"] = COLAB_GPU
        changes.append("colab.gpuType")
    return changes


def drop_run_timestamps(nb) -> list[str]:
    """Remove the per-cell start and end times nbconvert records: they change on every run."""
    changed = [index for index, cell in enumerate(nb.cells) if cell.metadata.pop("execution", None) is not None]
    return [f"{len(changed)} cells: execution timestamps removed"] if changed else []


def hide_solutions(nb) -> list[str]:
    changes = []
    for index, cell in enumerate(nb.cells):
        if SOLUTION_TAG not in cell.metadata.get("tags", []):
            continue
        if cell.metadata.get("jupyter", {}).get("source_hidden") is not True:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            changes.append(f"cell {index}: source_hidden")
        if cell.metadata.get("cellView") != "form":
            cell.metadata["cellView"] = "form"
            changes.append(f"cell {index}: cellView form")
    return changes


def point_at_repository(text: str, old_paths: set[str], repo_path: str) -> str:
    """`text` with GitHub and Colab links to any of `old_paths` (OWNER/REPO) moved to `repo_path`."""
    for old in old_paths - {repo_path}:
        text = re.sub(rf"(?<=github\.com/){re.escape(old)}(?![\w.-])", repo_path, text)
        text = re.sub(rf"(?<=colab\.research\.google\.com/github/){re.escape(old)}(?![\w.-])", repo_path, text)
    return text


def old_repositories(nb) -> set[str]:
    """The OWNER/REPO paths a notebook's setup cell installs from (normally one)."""
    return {path for cell in nb.cells if cell.cell_type == "code" for path in REPO_URL_LINE.findall(cell.source)}


def set_repository(nb, old_paths: set[str], repo_path: str) -> list[str]:
    changes = []
    for index, cell in enumerate(nb.cells):
        new = point_at_repository(cell.source, old_paths, repo_path)
        if new != cell.source:
            cell.source = new
            changes.append(f"cell {index}: repository URL")
    return changes


def git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    """`git -C root ARGS`, or None when git is not installed."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except FileNotFoundError:
        return None


def package_unchanged_since(commit: str, root: Path = ROOT) -> bool | None:
    """Whether mae_helpers/ and pyproject.toml at HEAD are as at `commit`; None when git cannot tell
    (no git, not a checkout, or a commit this clone does not have, as in a shallow clone)."""
    result = git(root, "diff", "--quiet", commit, "HEAD", "--", *PACKAGE_PATHS)
    return {0: True, 1: False}.get(result.returncode) if result else None


def commit_to_stamp(root: Path = ROOT) -> str:
    """HEAD, the commit a notebook run now was saved from; refuses while the package has uncommitted changes."""
    status = git(root, "status", "--porcelain", "--", *PACKAGE_PATHS)
    head = git(root, "rev-parse", "HEAD")
    if status is None or status.returncode or head.returncode:
        raise SystemExit("cannot pin the notebooks' Colab install: git and a checkout of the repository are needed")
    if status.stdout.strip():
        raise SystemExit("mae_helpers/ or pyproject.toml has uncommitted changes: the notebooks' Colab install is "
                         "pinned to a commit. Commit the package, re-run the notebooks, then run this script.\n"
                         + status.stdout)
    return head.stdout.strip()


def stamp_commit(nb, root: Path, write: bool) -> list[str]:
    """Pin each REPO_COMMIT line to the commit the notebook was saved from (see the module docstring)."""
    changes = []
    for index, cell in enumerate(nb.cells):
        match = REPO_COMMIT_LINE.search(cell.source) if cell.cell_type == "code" else None
        if match is None:
            continue
        stamp = match.group(2)
        if not write:  # --check: only a stale stamp git can see
            if not stamp or package_unchanged_since(stamp, root) is False:
                changes.append(f"cell {index}: REPO_COMMIT {stamp[:12] or '(empty)'} is stale")
            continue
        head = commit_to_stamp(root)  # refuses on uncommitted package changes, stale stamp or not
        if not stamp or package_unchanged_since(stamp, root) is not True:
            cell.source = f"{cell.source[:match.start(2)]}{head}{cell.source[match.end(2):]}"
            changes.append(f"cell {index}: REPO_COMMIT {stamp[:12] or '(empty)'} -> {head[:12]}")
    return changes


@functools.cache
def this_machine() -> str:
    """The CPU and torch that decide a notebook run's last digits, as one line (read once per process)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or "unknown CPU"
    try:  # Linux: platform.processor() says only x86_64
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return f"{platform.machine()}, {cpu}, torch {torch}"


def record_machine(nb, here: bool, write: bool) -> list[str]:
    """With `here` (and `write`), record this machine as the one the outputs were saved on; a check reports
    a missing record. Otherwise the record is kept as it is."""
    if write and here and nb.metadata.get(SAVED_ON) != this_machine():
        nb.metadata[SAVED_ON] = this_machine()
        return [f"{SAVED_ON}: {this_machine()}"]
    if not write and not nb.metadata.get(SAVED_ON):
        return [f"{SAVED_ON} is missing: run `make notebooks` to save the outputs and record the machine"]
    return []


def saved_on_this_machine(ipynb: Path) -> bool:
    """Whether `ipynb`'s outputs were saved on this machine; if not, say what differs and what nbval does then."""
    saved = nbformat.read(ipynb, as_version=4).metadata.get(SAVED_ON)
    if saved == this_machine():
        return True
    print(f"{ipynb.name}: outputs saved on {saved or 'an unrecorded machine'}; this is {this_machine()}.\n"
          "  Another CPU sums floats in another order, so the numbers differ in their last digits: nbval runs\n"
          "  every cell and compares nothing here. `make notebooks` re-saves the outputs on this machine;\n"
          "  `make test-notebooks NBVAL=strict` compares anyway.", file=sys.stderr)
    return False


def apply_jupytext_filters(nb, config) -> list[str]:
    wanted = {"cell_metadata_filter": config.cell_metadata_filter,
              "notebook_metadata_filter": config.notebook_metadata_filter}
    current = nb.metadata.setdefault("jupytext", {})
    changes = [f"jupytext.{key}" for key, value in wanted.items() if current.get(key) != value]
    current.update(wanted)
    return changes


def cells_of(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def process(ipynb: Path, old_paths: set[str], repo_path: str, write: bool, root: Path = ROOT,
            saved_here: bool = False) -> list[str]:
    """Apply everything to one pair; return the list of changes (written only when `write`).

    `root` is the git checkout whose HEAD a REPO_COMMIT line is pinned to.
    """
    py = ipynb.with_suffix(".py")
    text = ipynb.read_text()
    nb = nbformat.reads(text, as_version=4)
    if py.exists() and cells_of(jupytext.read(py)) != cells_of(nb):
        raise SystemExit(f"{py.name} and {ipynb.name} differ: run `jupytext --sync {py}` first")
    config = load_jupytext_config(str(ipynb.parent))
    changes = (add_colab_metadata(nb) + hide_solutions(nb) + strip_widget_state(nb) + drop_run_timestamps(nb)
               + set_repository(nb, old_paths, repo_path) + stamp_commit(nb, root, write)
               + apply_jupytext_filters(nb, config) + record_machine(nb, saved_here, write))
    new_text = nbformat.writes(nb) + "\n"
    # From the notebook as written (keys sorted), as `jupytext --sync` would: the .py then lists cell metadata
    # in the same order whichever tool wrote it last.
    new_py = jupytext.writes(nbformat.reads(new_text, as_version=4), fmt="py:percent", config=config)
    if py.exists() and py.read_text() != new_py:
        changes.append(f"{py.name} rewritten from the notebook")
    if write:
        if new_text != text:
            ipynb.write_text(new_text)
        if not py.exists() or py.read_text() != new_py:
            py.write_text(new_py)
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would change")
    what.add_argument("--saved-here", action="store_true",
                      help="also record this machine as the one the outputs were saved on (after executing them)")
    what.add_argument("--saved-on-this-machine", action="store_true",
                      help="change nothing; exit 0 if every notebook's outputs were saved on this machine, else 1")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    notebooks = [path.with_suffix(".ipynb") for path in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.saved_on_this_machine:
        return 0 if all([saved_on_this_machine(ipynb) for ipynb in notebooks]) else 1
    repo_path = repository_path()
    # Every notebook's current URL, so that a fork's new URL reaches all of them and the README.
    old_paths = set().union(*(old_repositories(nbformat.read(path, as_version=4)) for path in notebooks))
    changed = False
    for ipynb in notebooks:
        changes = process(ipynb, old_paths, repo_path, write=not args.check, saved_here=args.saved_here)
        changed |= bool(changes)
        for change in changes:
            print(f"{ipynb.stem}: {change}")
    readme = README.read_text()
    if point_at_repository(readme, old_paths, repo_path) != readme:
        changed = True
        print("README.md: repository URL")
        if not args.check:
            README.write_text(point_at_repository(readme, old_paths, repo_path))
    if args.check and changed:
        print("run `python tools/notebook_metadata.py` to apply", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
