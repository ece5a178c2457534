"""The course notebooks: jupytext pairs in sync, Colab badge, setup cell and metadata, saved outputs,
lesson structure, exercises that check the learner, and how nbval runs them.

Each notebook in notebooks/ is a pair, `NAME.ipynb` (with the outputs of a real run, what
GitHub and Colab show) and `NAME.py` (py:percent, what reviews read), kept in sync by
jupytext (jupytext.toml). The repository URL the notebooks use must be the one in
pyproject.toml's [project.urls] Repository. tools/notebook_metadata.py applies the Colab
metadata, hides solution cells, strips saved widget state and pins the Colab install to a commit;
run it after executing a notebook (`make notebooks` does both).

nbval compares the saved outputs in `make test-notebooks`, in the mode they were saved in (normal
mode, offline digits, CPU, an empty model cache per notebook); the unit tests here only check that
every notebook also runs in fast mode, and the structure that makes that comparison meaningful.
"""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
IGNORE_OUTPUT = "nbval-ignore-output"
SOLUTION = "solution"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
METADATA_SCRIPT = ROOT / "tools" / "notebook_metadata.py"
APPLY_METADATA = f"run `python {METADATA_SCRIPT.relative_to(ROOT)}`"
SANITIZER = NOTEBOOKS / "nbval_sanitize.cfg"
IGNORE_BUDGET = 12  # code cells, in all notebooks together, whose output nbval does not compare




def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads(path.read_text())


def repository_url() -> str:
    """The repository URL from pyproject.toml, the one place it is defined."""
    urls = _toml(ROOT / "pyproject.toml")["project"].get("urls", {})
    assert "Repository" in urls, (
        'pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/REPO": '
        "the notebooks' Colab badges and setup cells must use that URL"
    )
    return urls["Repository"].rstrip("/")


def read_ipynb(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def read_pair(name: str):
    """(notebook read from the .py by jupytext, notebook read from the .ipynb)."""
    return jupytext.read(NOTEBOOKS / f"{name}.py"), read_ipynb(name)


def is_hidden(cell) -> bool:
    """Collapsed by default in JupyterLab (source_hidden) and in Colab (a form shows only its #@title)."""
    return cell.metadata.get("jupyter", {}).get("source_hidden") is True and cell.metadata.get("cellView") == "form"


def cell_summary(nb) -> list[tuple[str, str, list[str], bool]]:
    """What a pair must agree on: each cell's type, source, tags and whether it is hidden."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", [])), is_hidden(c)) for c in nb.cells]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NAMES, "no notebooks found in notebooks/"


def test_every_notebook_is_a_pair():
    ipynb = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    py = {p.stem for p in NOTEBOOKS.glob("*.py")}
    assert py - ipynb == set(), "a .py without its .ipynb: run `jupytext --sync notebooks/NAME.py`"
    assert ipynb - py == set(), "an .ipynb without its .py: run `jupytext --sync notebooks/NAME.ipynb`"


def test_jupytext_config_pairs_ipynb_with_py_percent_and_keeps_tags_and_colab_metadata():
    config = _toml(ROOT / "jupytext.toml")
    assert config["formats"] == "ipynb,py:percent"
    # What marks and hides a solution cell must survive a round trip through the .py ...
    assert {"tags", "cellView", "jupyter"} <= set(config["cell_metadata_filter"].split(","))
    # ... and so must what opens a notebook on a Colab GPU.
    assert {"kernelspec", "colab", "accelerator"} <= set(config["notebook_metadata_filter"].split(","))


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name):
    from_py, from_ipynb = read_pair(name)
    assert cell_summary(from_py) == cell_summary(from_ipynb), (
        f"notebooks/{name}.py and .ipynb differ (cell sources, types or tags): edit one, then "
        f"`jupytext --sync notebooks/{name}.py` (or .ipynb, whichever you edited) and re-run the notebook"
    )
    for nb in (from_py, from_ipynb):
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.metadata["kernelspec"]["language"] == "python"


@pytest.mark.parametrize("name", NAMES)
def test_first_cell_is_a_title_with_the_colab_badge(name):
    first = read_ipynb(name).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    repo_path = re.sub(r"^https://github\.com/", "", repository_url())
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repo_path}/blob/main/notebooks/{name}.ipynb)"
    )
    assert badge in first.source


def test_readme_colab_links_use_the_repository_url():
    links = re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/main/notebooks/([\w.-]+)\.ipynb",
                       (ROOT / "README.md").read_text())
    repo_path = re.sub(r"^https://github\.com/", "", repository_url())
    assert {name for _, name in links} == set(NAMES), "the README's course table needs one Colab badge per notebook"
    assert {path for path, _ in links} == {repo_path}, f"README Colab links must use {repo_path}: {APPLY_METADATA}"


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_installs_from_the_repository_only_on_colab(name):
    nb = read_ipynb(name)
    setup = code_cells(nb)[0].source
    assert f'REPO_URL = "{repository_url()}"' in setup
    assert 'if "google.colab" in sys.modules:' in setup
    assert 'subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPO_URL}' in setup
    assert "Runtime > Change runtime type > GPU" in setup
    for cell in code_cells(nb):
        # A magic inside an `if` breaks the jupytext pairing; pip lines would reinstall torch on Colab.
        assert not re.search(r"^\s*[%!]\s*pip\b", cell.source, re.M), f"use subprocess, not %pip/!pip:\n{cell.source}"
        assert "pip install torch" not in cell.source
    # Every GitHub URL in the notebook points at the one repository.
    for url in re.findall(r"github(?:\.com)?/[\w.-]+/[\w.-]+", "\n".join(c.source for c in nb.cells)):
        assert url.split("/", 1)[1] == re.sub(r"^https://github\.com/", "", repository_url()), url


REPO_COMMIT = re.compile(r'^REPO_COMMIT = "([0-9a-f]*)"', re.M)


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_pins_the_package_and_sets_data_device_and_clock(name):
    """The template 01 and 02 set: the Colab install at the commit the notebook was saved from, the offline
    digits with full MNIST one switch away, the package's device choice, and the clock the last cell reads."""
    nb = read_ipynb(name)
    setup = code_cells(nb)[0].source
    assert re.search(r'^REPO_COMMIT = "[0-9a-f]{40}"  # ', setup, re.M), f"no commit stamped: {APPLY_METADATA}"
    assert 'subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPO_URL}@{REPO_COMMIT}"]' in setup
    assert re.search(r'^DATA_SOURCE = "offline"  # "auto": full MNIST', setup, re.M), "the offline digits, one switch"
    assert "cfg = mae_helpers.get_config(source=DATA_SOURCE)" in setup
    assert "device = resolve_device()" in setup and "notebook_start = time.perf_counter()" in setup
    code = "\n".join(c.source for c in code_cells(nb))
    assert "cuda.is_available" not in code and "mae_helpers.CONFIG" not in code, "use the setup cell's device and cfg"
    for call in calls(code, "get_mnist_loaders"):
        assert "source=" in call, f"every loader reads DATA_SOURCE (or cfg): {call}"


def calls(code: str, function: str) -> list[str]:
    """The text of each call `function(...)` in `code`, parentheses matched."""
    found = []
    for match in re.finditer(rf"\b{function}\(", code):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(code)):
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            if depth == 0:
                break
        found.append(code[match.start():end + 1])
    return found


@pytest.mark.parametrize("name", NAMES)
def test_colab_installs_the_package_the_notebook_was_saved_with(name):
    """mae_helpers/ and pyproject.toml are the same at the stamped commit as at HEAD: else the notebook is stale."""
    match = REPO_COMMIT.search(code_cells(read_ipynb(name))[0].source)
    assert match and match.group(1), f"no REPO_COMMIT stamped in the setup cell: {APPLY_METADATA}"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    unchanged = _metadata_script().package_unchanged_since(match.group(1), ROOT)
    if unchanged is None:
        pytest.skip(f"git cannot compare with {match.group(1)[:12]}: not a checkout, or a clone without that commit")
    assert unchanged, (
        f"mae_helpers/ or pyproject.toml changed since {match.group(1)[:12]}, the commit {name}'s Colab install "
        f"is pinned to: commit the package, then `make notebooks NOTEBOOKS=notebooks/{name}.ipynb` (re-runs, stamps)"
    )


@pytest.mark.parametrize("name", NAMES)
def test_saved_outputs_are_a_complete_normal_mode_run(name):
    """Committed notebooks show a real run, top to bottom, without errors, not a fast-mode smoke run."""
    nb = read_ipynb(name)
    counts = [c.execution_count for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name}.ipynb was not run top to bottom on a fresh kernel; re-run it: "
        f"make notebooks NOTEBOOKS=notebooks/{name}.ipynb"
    )
    for cell in code_cells(nb):
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "fast mode: True" not in text, f"{name}.ipynb was saved from a fast-mode (MAE_FAST=1) run"


def output_text(cell) -> str:
    """The printed and plain-text outputs of a code cell."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_on_a_colab_gpu(name):
    for half in read_pair(name):
        assert half.metadata.get("accelerator") == "GPU", APPLY_METADATA
        assert half.metadata.get("colab", {}).get("provenance") == [], APPLY_METADATA
        assert half.metadata["colab"].get("gpuType"), APPLY_METADATA


@pytest.mark.parametrize("name", NAMES)
def test_no_saved_widget_state(name):
    """Colab's ipywidgets 7 cannot rebuild ipywidgets 8 state: committed notebooks keep only static outputs."""
    nb = read_ipynb(name)
    assert "widgets" not in nb.metadata, f"{name}.ipynb carries saved widget state: {APPLY_METADATA}"
    for cell in code_cells(nb):
        assert not [o for o in cell.outputs if WIDGET_VIEW in o.get("data", {})], f"a widget view in:\n{cell.source}"
        assert not re.search(r"\b0%\|", output_text(cell)), f"a bar saved at 0%: {APPLY_METADATA}\n{cell.source}"
        assert "execution" not in cell.metadata, f"nbconvert's run timestamps: {APPLY_METADATA}"


def test_metadata_script_has_nothing_left_to_do():
    result = subprocess.run([sys.executable, str(METADATA_SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _metadata_script():
    spec = importlib.util.spec_from_file_location("notebook_metadata", METADATA_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tqdm_widget_state() -> dict:
    """The widget state a finished tqdm bar leaves in a notebook JupyterLab or nbconvert saved."""
    def model(name, **state):
        return {"model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0", "model_name": name,
                "state": state}

    return {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
        "box": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]),
        "left": model("HTMLModel", value="train:\u2007100%"),
        "bar": model("FloatProgressModel", value=200.0, max=200.0),
        "right": model("HTMLModel", value="\u2007200/200\u2007[00:30&lt;00:00,\u2007\u20078.49batch/s]"),
    }}}


def test_metadata_script_strips_widget_state_hides_solutions_and_is_idempotent(tmp_path):
    script = _metadata_script()
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"},
                                            "widgets": _tqdm_widget_state()})
    bar = nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
        "text/plain": "train:   0%|          | 0/200 [00:00<?, ?batch/s]"})
    panel = nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "gone"}})
    nb.cells = [
        nbformat.v4.new_code_cell('REPO_URL = "https://github.com/someone/old-name"', outputs=[bar, panel],
                                  metadata={"execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}}),
        nbformat.v4.new_code_cell("#@title Solution\nx = 1", metadata={"tags": [SOLUTION]}),
        nbformat.v4.new_markdown_cell("[badge](https://colab.research.google.com/github/someone/old-name/blob/main/x.ipynb)"
                                      " and [another project](https://github.com/someone/old-name-2)"),
    ]
    ipynb = tmp_path / "lesson.ipynb"
    nbformat.write(nb, ipynb)
    jupytext.write(nb, tmp_path / "lesson.py", fmt="py:percent")

    assert script.process(ipynb, {"someone/old-name"}, "fork/new-name", write=True)
    first = ipynb.read_text(), (tmp_path / "lesson.py").read_text()
    assert script.process(ipynb, {"someone/old-name"}, "fork/new-name", write=True) == []
    assert (ipynb.read_text(), (tmp_path / "lesson.py").read_text()) == first

    done = nbformat.reads(first[0], as_version=4)
    assert "widgets" not in done["metadata"]
    assert done["metadata"]["accelerator"] == "GPU" and done["metadata"]["colab"]["provenance"] == []
    code, solution, markdown = done["cells"]
    assert [o["data"] for o in code["outputs"]] == [
        {"text/plain": "train: 100%|██████████| 200/200 [00:30<00:00,  8.49batch/s]"},
        {"text/plain": script.WIDGET_PLACEHOLDER},
    ]
    assert "execution" not in code["metadata"]
    assert solution["metadata"]["jupyter"] == {"source_hidden": True} and solution["metadata"]["cellView"] == "form"
    assert code["source"] == 'REPO_URL = "https://github.com/fork/new-name"'
    assert "colab.research.google.com/github/fork/new-name/blob" in markdown["source"]
    assert "github.com/someone/old-name-2" in markdown["source"]  # another repository keeps its URL
    from_py = jupytext.read(tmp_path / "lesson.py")
    assert is_hidden(from_py.cells[1]) and from_py.metadata["accelerator"] == "GPU"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_metadata_script_pins_the_colab_install_to_the_commit_of_the_package(tmp_path):
    """The stamp is HEAD when the package changed since the stamped commit; a notebook-only commit keeps it;
    uncommitted package changes are refused; --check reports a stale stamp."""
    script = _metadata_script()

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "mae_helpers").mkdir()
    (tmp_path / "mae_helpers" / "__init__.py").write_text("VERSION = 1\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"},
                                            script.SAVED_ON: script.this_machine()})
    nb.cells = [nbformat.v4.new_code_cell('REPO_COMMIT = ""  # the commit this notebook was saved from')]
    ipynb = tmp_path / "lesson.ipynb"
    nbformat.write(nb, ipynb)
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "package")
    first = git("rev-parse", "HEAD")

    def stamp(write=True):
        changes = script.process(ipynb, set(), "o/r", write=write, root=tmp_path)
        return REPO_COMMIT.search(nbformat.read(ipynb, as_version=4).cells[0].source).group(1), changes

    stamped, changes = stamp()
    assert stamped == first and f"cell 0: REPO_COMMIT (empty) -> {first[:12]}" in changes
    git("add", ".")
    git("commit", "-qm", "notebook stamped")
    assert stamp() == (first, [])  # a later commit that leaves the package alone keeps the stamp
    (tmp_path / "mae_helpers" / "__init__.py").write_text("VERSION = 2\n")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        stamp()
    git("commit", "-qam", "package changed")
    assert stamp(write=False)[1] == [f"cell 0: REPO_COMMIT {first[:12]} is stale"]
    head = git("rev-parse", "HEAD")
    stamped, changes = stamp()
    assert stamped == head and f"cell 0: REPO_COMMIT {first[:12]} -> {head[:12]}" in changes


def headings(nb) -> list[tuple[int, str]]:
    """Each markdown heading as (index of its cell, text), in order; fenced code is skipped."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            fenced ^= line.startswith("```")
            if not fenced and re.match(r"#{1,6} ", line):
                found.append((index, line.lstrip("#").strip()))
    return found


def sections(nb) -> list[tuple[str, list]]:
    """The notebook cut at its headings: (heading text, the cells from that heading's cell to the next one's)."""
    marks = headings(nb)
    cuts = [(index, title) for n, (index, title) in enumerate(marks) if n + 1 == len(marks) or marks[n + 1][0] != index]
    return [(title, nb.cells[index:(cuts[n + 1][0] if n + 1 < len(cuts) else len(nb.cells))])
            for n, (index, title) in enumerate(cuts)]


def markdown_of(cells) -> str:
    return "\n".join(c.source for c in cells if c.cell_type == "markdown")


def defined_functions(source: str) -> set[str]:
    return set(re.findall(r"^def (\w+)\(", source, re.M))


def learner_functions(source: str) -> set[str]:
    """What an exercise cell leaves the learner to write: its functions but the `check_...` ones."""
    return {name for name in defined_functions(source) if not name.startswith("check_")}


REFERENCES = {  # the further reading every lesson gives (issue 9)
    "Bourtoule et al., Machine Unlearning (SISA)": r"Bourtoule.*Machine Unlearning",
    "Golatkar et al., Eternal Sunshine of the Spotless Net": r"Golatkar.*Eternal Sunshine",
    "Heng & Soh, Selective Amnesia": r"Heng.*Selective Amnesia",
    "Fan et al., SalUn": r"Fan.*SalUn",
    "the original project": r"Evidence Unlearning with a Modified Autoencoder",
}


@pytest.mark.parametrize("name", NAMES)
def test_lesson_has_objectives_prerequisites_summary_and_further_reading(name):
    titles = [title for _, title in headings(read_ipynb(name))]
    position = {key: next((n for n, t in enumerate(titles) if key in t), None)
                for key in ("Objectives", "Prerequisites", "Exercise", "Summary", "Further reading")}
    missing = [key for key, n in position.items() if n is None]
    assert not missing, f"{name}: no heading containing {missing}; headings: {titles}"
    assert position["Objectives"] < position["Exercise"] < position["Summary"], titles
    assert position["Further reading"] == len(titles) - 1, "Further reading is the last section"
    by_title = dict(sections(read_ipynb(name)))
    time = markdown_of(by_title[titles[position["Prerequisites"]]])
    # The estimates are ours (reading, exercises); run times are printed by the notebook, never typed in prose.
    assert "our estimate" in time and "minutes" in time, "give the reading and exercise time as our estimate"
    assert not re.search(r"\b\d+(?:\.\d+)? (?:s|seconds|min)\b", time), "no run time in prose: the last cells print it"
    further = markdown_of(by_title["Further reading"]).replace("\n#", " ").replace("\n", " ")
    assert not [ref for ref, pattern in REFERENCES.items() if not re.search(pattern, further)]


@pytest.mark.parametrize("name", NAMES)
def test_further_reading_says_what_the_original_project_did(name):
    """The original project is cited for what it is and what it did: a main and an auxiliary MAE (on the digits
    divisible by 3), the β / MSE fine-tuning loss, and Q-layers defined but never used."""
    further = markdown_of(dict(sections(read_ipynb(name)))["Further reading"]).replace("\n#", " ").replace("\n", " ")
    entry = next((item for item in further.split(" - ") if re.search(REFERENCES["the original project"], item)), "")
    missing = [word for word in ("auxiliary", "divisible by 3", "MSE", "Q-layers") if word not in entry]
    assert not missing, f"the original project's entry does not say {missing}: {entry}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_has_at_least_three_exercises_of_both_kinds(name):
    """At least three exercises in the whole notebook, coding ones and Think! questions both. As in Neuromatch's
    tutorials the Summary closes the core: an exercise after it belongs to a Bonus section."""
    nb = read_ipynb(name)
    exercises = [(title, cells) for title, cells in sections(nb) if "Exercise" in title]
    assert len(exercises) >= 3, f"{name}: {len(exercises)} exercise headings"
    coding = [(t, cells) for t, cells in exercises if any(SOLUTION in c.metadata.get("tags", []) for c in cells)]
    think = [(t, cells) for t, cells in exercises if "Think!" in t]
    assert coding and think, f"{name}: mix coding exercises (with a solution cell) and Think! questions"
    for title, cells in think:
        text = markdown_of(cells)
        assert "<details>" in text and "</details>" in text, f"{title}: put the answer in a <details> block"
    for title, cells in coding:
        assert "How to tell it worked" in markdown_of(cells), f"{title}: say what the learner should see"
    marks = headings(nb)
    summary = next(index for index, title in marks if "Summary" in title)
    for index, title in marks:
        if "Exercise" in title and index > summary:
            part = [t for i, t in marks if i <= index and re.match(r"Bonus\b|Summary\b", t)][-1]
            assert part.startswith("Bonus"), f"{name}: {title} comes after the Summary but not in a Bonus section"


@pytest.mark.parametrize("name", NAMES)
def test_solution_cells_are_tagged_hidden_and_follow_their_exercise(name):
    """A solution is hidden, follows the exercise cell it solves and redefines what that cell leaves undone."""
    nb = read_ipynb(name)
    title_of = {id(cell): title for title, cells in sections(nb) for cell in cells}
    solutions = 0
    for index, cell in enumerate(nb.cells):
        tagged = SOLUTION in cell.metadata.get("tags", [])
        titled = cell.cell_type == "code" and cell.source.startswith("#@title Solution")
        assert tagged == titled, f"a solution is tagged `{SOLUTION}` and starts '#@title Solution':\n{cell.source}"
        if not tagged:
            assert not is_hidden(cell), f"only solutions are hidden:\n{cell.source}"
            continue
        solutions += 1
        assert is_hidden(cell), f"hide the solution: {APPLY_METADATA}\n{cell.source}"
        exercise = nb.cells[index - 1]
        assert exercise.cell_type == "code" and SOLUTION not in exercise.metadata.get("tags", []), cell.source
        assert "Exercise" in title_of[id(cell)] and title_of[id(exercise)] == title_of[id(cell)], cell.source
        assert "NotImplementedError" in exercise.source, "the exercise cell leaves something for the learner"
        assert learner_functions(exercise.source) <= defined_functions(cell.source), "the solution redefines them all"
    assert solutions, f"{name}: no solution cells"


@pytest.mark.parametrize("name", NAMES)
def test_summary_numbers_are_printed_above(name):
    """A measured number in the Summary (one with a decimal point) is one a cell above printed."""
    nb = read_ipynb(name)
    start = next(index for index, title in headings(nb) if "Summary" in title)
    printed = "\n".join(output_text(c) for c in nb.cells[:start] if c.cell_type == "code")
    summary = markdown_of(next(cells for title, cells in sections(nb) if "Summary" in title))
    summary = re.split(r"^#{1,6} (?!Summary)", summary, flags=re.M)[0]  # up to the next heading
    assert not [n for n in re.findall(r"\d+\.\d+", summary) if n not in printed]


def exercise_pairs(nb) -> list[tuple]:
    """(exercise cell, its solution cell) for every coding exercise."""
    return [(nb.cells[index - 1], cell) for index, cell in enumerate(nb.cells)
            if SOLUTION in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("name", NAMES)
def test_every_coding_exercise_checks_the_answer_and_keeps_the_learners(name):
    """The exercise cell ends with `exercises.check(...)` of a check with asserts (a wrong answer fails, a missing
    one lets Run All go on); the solution runs the same check and, via `@exercises.solution`, keeps a right
    answer, stands in for one not done, and is adopted when the learner's answer fails (tests/test_exercises.py)."""
    for exercise, solution in exercise_pairs(read_ipynb(name)):
        last = exercise.source.rstrip().splitlines()[-1]
        check = re.fullmatch(r'exercises\.check\("(Exercise \d+)", (check_\w+)\)', last)
        assert check, f"end the exercise cell with exercises.check(\"Exercise N\", check_...):\n{exercise.source}"
        body = exercise.source.split(f"def {check.group(2)}(", 1)
        assert len(body) == 2 and "assert " in body[1], f"{check.group(2)} is defined in the cell and asserts"
        assert solution.source.rstrip().endswith(last), f"the solution runs the same check:\n{solution.source}"
        decorated = set(re.findall(r"^@exercises\.solution\b.*\ndef (\w+)\(", solution.source, re.M))
        assert decorated == defined_functions(solution.source), f"decorate with @exercises.solution:\n{solution.source}"


def ignored_cells(name: str) -> list:
    """The code cells nbval runs without comparing their output (tag or comment marker)."""
    tags, comment = {IGNORE_OUTPUT, "nbval-skip"}, re.compile(r"^#\s*NBVAL_(IGNORE_OUTPUT|SKIP)", re.M)
    return [cell for cell in code_cells(read_ipynb(name))
            if tags & set(cell.metadata.get("tags", [])) or comment.search(cell.source)]


@pytest.mark.parametrize("name", NAMES)
def test_each_ignored_output_says_why(name):
    """A cell nbval does not compare says why in a comment (`# nbval-ignore-output: ...`): timings, progress bars
    or numbers that depend on the machine, and nothing that notebooks/nbval_sanitize.cfg could blank out."""
    for cell in ignored_cells(name):
        assert re.search(r"^# nbval-ignore-output: \w+( \w+){2}", cell.source, re.M), cell.source


def test_at_most_12_code_cells_in_all_ignore_their_output():
    counts = {name: len(ignored_cells(name)) for name in NAMES}
    assert sum(counts.values()) <= IGNORE_BUDGET, f"cells whose output nbval ignores: {counts}"


@pytest.mark.parametrize("name", NAMES)
def test_last_code_cell_prints_the_run_time(name):
    """The time a learner can trust: every notebook prints its own, from the setup cell to its last cell."""
    nb = read_ipynb(name)
    assert "time.perf_counter() - notebook_start" in code_cells(nb)[-1].source
    assert re.search(r"this notebook ran in \d+ s", output_text(code_cells(nb)[-1])), "re-run the notebook"
    time = markdown_of(dict(sections(nb))[next(t for _, t in headings(nb) if "Prerequisites" in t)])
    assert "last code cell prints" in time, "say under Prerequisites and time that the last cell prints it"


def test_sanitizer_blanks_timings_bars_and_temporary_paths_only():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZER.read_text())
    assert len(patterns) >= 3

    def clean(text):
        for regex, replacement in patterns:
            text = re.sub(regex, replacement, text)
        return text

    same = [
        ("this notebook ran in 12 s on cpu", "this notebook ran in 345 s on cpu"),
        ("unlearning 18.8 s against retraining 4.2 s", "unlearning 3.1 s against retraining 40 s"),
        ("train: 100%|██████████| 500/500 [00:07<00:00, 69.81batch/s, epoch=10, loss=0.0845]",
         "train:   0%|          | 0/500 [00:00<?, ?batch/s]"),
        ("cached in /tmp/tmp.x1Y2/main-0123.pt", "cached in /tmp/tmp.Q9/main-0123.pt"),
    ]
    for saved, new in same:
        assert clean(saved) == clean(new), (saved, new)
    for kept in ("forget digits 0s and 3s", "500 steps", "MSE 0.0966", "3,200 images", "epoch 10 of 10", "39.4%"):
        assert clean(kept) == kept


def makefile_recipe(target: str) -> str:
    """The recipe of a Makefile target (its tab-indented lines)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"no target {target} in the Makefile"
    return match.group(1)


def test_make_test_compares_the_notebooks_in_the_mode_they_were_saved_in():
    """CI (`.ci/run` -> `make test`) runs the unit tests, then nbval on every notebook in normal mode, offline,
    on the CPU, each from an empty model cache; `make notebooks`, which saves the outputs, runs the same way."""
    makefile = (ROOT / "Makefile").read_text()
    mode = re.search(r"^SAVED_MODE := ((?:.*\\\n)*.*)$", makefile, re.M).group(1).replace("\\\n", " ").split()
    assert {"MAE_FAST=0", "MAE_DATA_SOURCE=offline", "CUDA_VISIBLE_DEVICES=", "OMP_NUM_THREADS=2"} <= set(mode)
    assert "$(MAKE) test-notebooks" in makefile_recipe("test")
    for target, command in (("test-notebooks", f"$$compare --nbval-sanitize-with {SANITIZER.relative_to(ROOT)}"),
                            ("notebooks", "nbconvert --to notebook --execute --inplace")):
        recipe = " ".join(makefile_recipe(target).replace("\\\n", " ").split())
        assert "$(SAVED_MODE) MAE_CACHE_DIR=$$cache" in recipe and "cache=$$(mktemp -d)" in recipe, recipe
        assert command in recipe, recipe
    assert "tools/notebook_metadata.py --saved-here" in makefile_recipe("notebooks")
    # Compared by default; left uncompared only where the outputs were saved on another machine, unless NBVAL=strict.
    recipe = " ".join(makefile_recipe("test-notebooks").replace("\\\n", " ").split())
    assert "compare=--nbval;" in recipe and re.search(r"^NBVAL \?= auto$", makefile, re.M)
    assert ('if [ "$(NBVAL)" != strict ] && ! $(BIN)/python tools/notebook_metadata.py --saved-on-this-machine '
            '$$notebook; then compare=--nbval-lax; fi;') in recipe, recipe


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("mode, accepted", [("auto", True), ("strict", True), ("", True), ("lax", False),
                                            ("Strict", False)])
def test_make_test_notebooks_refuses_an_unknown_nbval_mode(mode, accepted, tmp_path):
    """`NBVAL=` takes auto or strict (unset: auto); anything else stops before a notebook runs, with an error
    naming both, instead of silently running as auto. No notebook is named, so an accepted mode does nothing."""
    venv = tmp_path / "no-venv"  # -o: the recipe runs without installing anything
    args = ["make", "-s", "-C", str(ROOT), f"VENV={venv}", "-o", f"{venv}/.installed-dev", "test-notebooks",
            "NOTEBOOKS="] + ([f"NBVAL={mode}"] if mode else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) == accepted, result.stderr
    if not accepted:
        assert f"NBVAL={mode} is not a comparison mode" in result.stderr
        assert "NBVAL=auto" in result.stderr and "NBVAL=strict" in result.stderr


def test_saved_outputs_record_the_machine_and_are_compared_only_there(tmp_path, capsys):
    """`--saved-here` records this machine; tidying without it keeps the record; `--saved-on-this-machine` is true
    only for this machine's record and otherwise names both machines and the fix; `--check` wants a record."""
    script = _metadata_script()
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("print(0.0967)")]
    ipynb = tmp_path / "lesson.ipynb"
    nbformat.write(nb, ipynb)
    jupytext.write(nb, tmp_path / "lesson.py", fmt="py:percent")

    assert f"{script.SAVED_ON} is missing" in " ".join(script.process(ipynb, set(), "a/b", write=False))
    assert not script.saved_on_this_machine(ipynb) and "an unrecorded machine" in capsys.readouterr().err
    script.process(ipynb, set(), "a/b", write=True, saved_here=True)
    assert nbformat.read(ipynb, as_version=4).metadata[script.SAVED_ON] == script.this_machine()
    assert script.saved_on_this_machine(ipynb) and capsys.readouterr().err == ""
    assert script.process(ipynb, set(), "a/b", write=False) == []

    other = "aarch64, Apple M9, torch 9.0"
    saved = nbformat.read(ipynb, as_version=4)
    saved.metadata[script.SAVED_ON] = other
    nbformat.write(saved, ipynb)
    script.process(ipynb, set(), "a/b", write=True)  # tidying here does not claim another machine's outputs
    assert nbformat.read(ipynb, as_version=4).metadata[script.SAVED_ON] == other
    assert not script.saved_on_this_machine(ipynb)
    message = capsys.readouterr().err
    assert other in message and script.this_machine() in message and "make notebooks" in message
    assert "NBVAL=strict" in message


# ----------------------------------------------------------------------------- a core path, times, numbers, imports

CORE_WORDS = 2600  # markdown words of the core of notebooks 03 and 04: about 15 minutes of reading
CORED = ("03_q_layers_and_unlearning", "04_visual_evaluation")  # the notebooks with Bonus sections
MAX_UNPRINTED_NUMBERS = 5  # numbers typed in markdown that no output of their notebook shows, in all notebooks
BONUS = re.compile(r"^## Bonus\b", re.M)
CORE_TIME = "the core ran in {time.perf_counter() - notebook_start:.0f} s"
LAST_TIME = "this notebook ran in {time.perf_counter() - notebook_start:.0f} s on {device}"


def core_cells(nb) -> list:
    """The core of a notebook: its cells before the first "## Bonus" heading, and never its Further reading."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and BONUS.search(cell.source):
            break
        if cell.cell_type == "markdown" and re.search(r"^## Further reading", cell.source, re.M):
            cells.append(nbformat.v4.new_markdown_cell(cell.source.split("## Further reading")[0]))
            break
        cells.append(cell)
    return cells


def words(markdown: str) -> int:
    """Words a reader reads: images and link targets, HTML tags and table rules left out."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return len([w for w in text.split() if re.search(r"[A-Za-z0-9]", w)])


@pytest.mark.parametrize("name", CORED)
def test_core_reads_in_15_minutes(name):
    """The core of 03 and 04 (everything before the first "## Bonus" heading, Further reading left out) holds at
    most CORE_WORDS words of markdown: about 15 minutes of reading, before the exercises and the runs."""
    nb = read_ipynb(name)
    assert BONUS.search("\n".join(c.source for c in nb.cells if c.cell_type == "markdown")), f"{name}: no Bonus"
    count = words(markdown_of(core_cells(nb)))
    assert count <= CORE_WORDS, f"{name}: the core holds {count} words of markdown (at most {CORE_WORDS})"


@pytest.mark.parametrize("name", CORED)
def test_every_section_states_its_time_and_bonus_comes_after_the_summary(name):
    """Each teaching section, core and Bonus, says how long it takes (ours: "*About N minutes.*") in its heading or
    its first line; the Bonus sections follow the Summary and come before Further reading."""
    nb = read_ipynb(name)
    fixed = ("Objectives", "Prerequisites", "Setup", "Summary", "Further reading")
    for title, cells in sections(nb):
        if cells[0].source.startswith(f"# {title}") or any(title.startswith(f) for f in fixed):
            continue
        if title.startswith(("Exercise", "Bonus exercise")) or not re.search(rf"^## {re.escape(title)}$",
                                                                               cells[0].source, re.M):
            continue  # only the ## sections; an exercise is timed by its section
        after = cells[0].source.split(title, 1)[1].strip().splitlines()
        first = after[0] if after else ""
        assert re.search(r"[Aa]bout \d+ minutes?", title + " " + first), f"{name}: '{title}' states no time"
    titles = [title for _, title in headings(nb)]
    bonus = [n for n, t in enumerate(titles) if t.startswith("Bonus")]
    summary = next(n for n, t in enumerate(titles) if "Summary" in t)
    assert bonus and min(bonus) > summary and max(bonus) < titles.index("Further reading"), titles


@pytest.mark.parametrize("name", NAMES)
def test_core_and_notebook_print_their_run_times(name):
    """The README's course table is generated from two printed phrases: "the core ran in N s" in the last code cell
    of the core, "this notebook ran in N s on DEVICE" in the last code cell (both from the setup cell's clock).
    Only the code is checked here: the saved outputs show them once the notebooks are run again."""
    nb = read_ipynb(name)
    core = [c for c in core_cells(nb) if c.cell_type == "code"]
    assert CORE_TIME in core[-1].source, f"{name}: the core's last code cell prints f\"{CORE_TIME}\""
    assert LAST_TIME in code_cells(nb)[-1].source, f"{name}: the last code cell prints f\"{LAST_TIME}\""


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_offers_the_warm_start(name):
    """WARM_START sets MAE_WARM_START before any network is loaded: True copies the networks this repository's
    `make checkpoints` trained (verified by their hash) into the model cache, False trains every one here."""
    setup = code_cells(read_ipynb(name))[0].source
    assert re.search(r"^WARM_START = True  # False: train every network here \(.+\)$", setup, re.M), setup
    line = 'os.environ["MAE_WARM_START"] = "1" if WARM_START else "0"'
    assert line in setup and setup.index(line) < setup.index("import mae_helpers"), setup


def public_imports(code: str) -> list[str]:
    """Every name a notebook takes from mae_helpers that starts with an underscore (module or name)."""
    import ast

    private = []
    for cell in code.split("\n# %%"):
        try:
            tree = ast.parse(cell)
        except SyntaxError:  # a magic or a shell line: no imports of ours in those
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mae_helpers"):
                names = [*node.module.split("."), *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [part for alias in node.names if alias.name.startswith("mae_helpers")
                         for part in alias.name.split(".")]
            else:
                continue
            private += [n for n in names if n.startswith("_")]
    private += re.findall(r"\bmae_helpers(?:\.\w+)*\.(_\w+)", code)  # mae_helpers.data._load_offline()
    return sorted(set(private))


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_import_only_public_names(name):
    """A lesson uses the package's public names only: a name with a leading underscore may change at any time."""
    nb = read_ipynb(name)
    code = "\n# %%\n".join(c.source for c in code_cells(nb))
    assert public_imports(code) == [], f"{name} uses private names of mae_helpers"


def test_public_imports_finds_private_names():
    assert public_imports("from mae_helpers.unlearn import _x, y\nimport mae_helpers._y\nmae_helpers.data._z()") \
        == ["_x", "_y", "_z"]
    assert public_imports("from mae_helpers.unlearn import Game\nimport mae_helpers") == []


# What counts as a number typed in markdown. Left out first: fenced code, `code spans`, LaTeX ($...$), HTML tags,
# link and image targets and bare URLs; numbers labelled as a place in the course or a text (Exercise 3,
# notebooks 2 and 4, Section 2.1, Article 17, part 5); time estimates in minutes (ours, not measured); years
# (four digits from 1900 to 2099: citations). Then a number is a decimal (96.5), a percentage (3%), a ratio
# (1.10x, 1.10×, ×1.5) or a whole number of two or more digits (12, 3,200); not a digit name 0-9.
STRIPPED = (r"^```.*?^```", r"`[^`\n]*`", r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"<[^>\n]*>", r"\]\([^)\s]*\)",
            r"https?://\S+")
LABELLED = re.compile(r"\b(?:[Ee]xercises?|[Nn]otebooks?|[Ss]ections?|[Aa]rticles?|[Pp]arts?|[Cc]hapters?)"
                      r"\s+\d+(?:\.\d+)?(?:(?:,\s*|\s+and\s+|\s+or\s+|\s*[-–]\s*)\d+(?![\d,]))*")
NUMBER = re.compile(r"(?<![\w.,/-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%|\s?×|x(?![A-Za-z]))?")


def typed_numbers(markdown: str) -> list[str]:
    """The numbers a text types (the rule above), normalised: no thousands commas, no % or × sign."""
    text = markdown
    for pattern in STRIPPED:
        text = re.sub(pattern, " ", text, flags=re.M | re.S)
    text = LABELLED.sub(" ", text)
    text = re.sub(r"\b\d+(?:[-–]\d+)?\s+minutes?\b", " ", text)
    found = []
    for whole, decimal, sign in NUMBER.findall(text):
        value = whole.replace(",", "") + decimal
        if re.fullmatch(r"(19|20)\d\d", value) and not sign:
            continue  # a year
        if decimal or sign or len(value) >= 2:
            found.append(value)
    return found


def printed_numbers(text: str) -> set[str]:
    """Every number an output shows, normalised as `typed_numbers` does (digits 0-9 too)."""
    found = re.findall(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?", text)
    return {whole.replace(",", "") + decimal for whole, decimal in found}


def unprinted_numbers(nb) -> list[str]:
    """The numbers typed in a notebook's markdown that none of its saved outputs shows."""
    outputs = []
    for cell in code_cells(nb):
        outputs.append(output_text(cell))
        outputs += [re.sub(r"<[^>]+>", " ", "".join(o.get("data", {}).get("text/html", "")))
                    for o in cell.get("outputs", [])]
    printed = printed_numbers("\n".join(outputs))
    return [n for n in typed_numbers(markdown_of(nb.cells)) if n not in printed]


def test_typed_numbers_follow_the_rule():
    text = ("Exercise 12 and notebooks 2 and 4: 96.5% of 3,200 images, 1.10x and 1.07× the original, ×1.5, "
            "12 steps, digits 0 and 9, Golatkar et al. (2020), about 15 minutes, `0.0967` in code, $10^{-8}$, "
            "[a link](https://example.org/2.5), Section 2.1, Article 17, 4,000 digits and 3%.")
    assert typed_numbers(text) == ["96.5", "3200", "1.10", "1.07", "1.5", "12", "4000", "3"]
    assert printed_numbers("MSE 0.0967 on 3,200 images; (8, 1, 28, 28)") == {"0.0967", "3200", "8", "1", "28"}


def test_numbers_in_markdown_come_from_outputs():
    """A run-specific number belongs in a printed line next to its explanation, not in prose, where it goes stale.
    At most MAX_UNPRINTED_NUMBERS numbers typed in the markdown of all notebooks together may appear in no saved
    output of their notebook (the rule: `typed_numbers`), and those only as citations of the literature.
    Needs the saved outputs of a run of the current notebooks (`make notebooks`)."""
    offenders = {name: unprinted_numbers(read_ipynb(name)) for name in NAMES}
    count = sum(len(numbers) for numbers in offenders.values())
    assert count <= MAX_UNPRINTED_NUMBERS, (
        f"{count} numbers typed in markdown appear in no output of their notebook (at most "
        f"{MAX_UNPRINTED_NUMBERS}): " + "; ".join(f"{name}: {', '.join(n)}" for name, n in offenders.items() if n))
