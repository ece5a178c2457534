"""The instructor guide and the README: commands that parse, targets that exist, a plan that adds up."""

import re
import shlex
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "instructors.md"
README = ROOT / "README.md"
WORKSHOP_MINUTES, SLACK = 180, 10


def code_lines(path: Path) -> list[str]:
    """Each command of the fenced code blocks of a Markdown file: comments dropped, `&&` and `;` chains split."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced and line.strip():
            words = shlex.split(line.replace("\\", "/"), comments=True)  # Windows paths: .venv\Scripts\pip
            command = []
            for word in words + [";"]:
                if word in ("&&", ";"):
                    lines.append(command) if command else None
                    command = []
                else:
                    command.append(word)
    return [" ".join(shlex.quote(w) for w in command) for command in lines]


def pip_commands(path: Path) -> list[list[str]]:
    """The arguments after `pip` of each pip command in a file's code blocks (`pip ...`, `python -m pip ...`)."""
    found = []
    for line in code_lines(path):
        words = shlex.split(line)
        for index, word in enumerate(words):
            if word == "pip" or word.endswith("/pip"):
                found.append(words[index + 1:])
                break
    return found


def extras() -> set[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


@pytest.mark.parametrize("path", [GUIDE, README], ids=lambda p: p.name)
def test_documented_pip_commands_parse_and_name_what_exists(path):
    """Every pip command in a code block parses with pip's own option parser (no `pip download -e`), and the
    projects it names are this repository with extras pyproject.toml defines."""
    pytest.importorskip("pip")
    from pip._internal.commands import create_command

    commands = pip_commands(path)
    assert commands, f"no pip commands in {path.name}'s code blocks"
    for argv in commands:
        try:
            options, args = create_command(argv[0]).parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{path.name}: pip cannot parse `pip {' '.join(argv)}`")
        for target in args + list(getattr(options, "editables", []) or []):
            match = re.fullmatch(r"(\.)(?:\[([\w,-]+)\])?", target)
            if match:  # this repository: it must be installable, with extras that exist
                assert (ROOT / "pyproject.toml").exists()
                assert set(filter(None, (match.group(2) or "").split(","))) <= extras(), target
        if argv[0] == "download":
            assert options.download_dir == "wheelhouse" and "setuptools>=64" in args, (
                "the wheelhouse needs the build backend too: pip installs the package itself with --no-index"
            )


def test_offline_install_reads_the_wheelhouse_the_download_writes():
    """The guide's offline steps are `make wheelhouse` and `make install-offline`, and those read and write one
    folder, with the lab extra and no index."""
    guide = GUIDE.read_text()
    assert "make wheelhouse" in guide and "make install-offline" in guide
    makefile = (ROOT / "Makefile").read_text()
    download = re.search(r"^wheelhouse:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    offline = re.search(r"^install-offline:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "download -d wheelhouse" in download and '".[lab]"' in download and "setuptools>=64" in download
    assert "--no-index --find-links wheelhouse" in offline and '".[lab]"' in offline


@pytest.mark.parametrize("path", [GUIDE, README], ids=lambda p: p.name)
def test_documented_make_targets_exist(path):
    text = path.read_text()
    targets = set(re.findall(r"^make ([\w-]+)", "\n".join(code_lines(path)), re.M))
    targets |= set(re.findall(r"`make ([\w-]+)", text))
    makefile = (ROOT / "Makefile").read_text()
    assert targets, f"no make commands in {path.name}"
    assert not [t for t in targets if not re.search(rf"^{re.escape(t)}:", makefile, re.M)], targets


def test_students_install_without_running_the_tests_and_windows_has_a_path():
    guide = GUIDE.read_text()
    assert "`make install`" in guide and "runs no tests" in guide
    assert "py -m venv .venv" in guide and '.venv/Scripts/python -m pip install -e ".[lab]"' in guide.replace("\\", "/")
    install = re.search(r"^install:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "installed-lab" in install  # JupyterLab comes with the lab extra (no test tools)


def notebook_workshop_minutes(name: str) -> int:
    """A notebook's own estimate for a workshop: 'in a 3-hour workshop, N minutes', else 'about N minutes'."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    text = re.sub(r"\s+", " ", " ".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    time = text[text.index("Prerequisites and time"):]
    match = re.search(r"in a 3-hour workshop, (\d+) minutes", time) or re.search(r"about (\d+) minutes", time)
    assert match, f"{name}: no time estimate under Prerequisites and time"
    return int(match.group(1))


def test_workshop_plan_adds_up_to_three_hours_from_the_notebooks_own_estimates():
    guide = GUIDE.read_text()
    plan = guide[guide.index("## The session plan"):guide.index("## Answers")]
    rows = re.findall(r"^\| (\d+) \| (.*)$", plan, re.M)
    assert sum(int(minutes) for minutes, _ in rows) + SLACK == WORKSHOP_MINUTES, rows
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in names:
        row = [int(minutes) for minutes, text in rows if text.startswith(f"**{name[:2]} ")]
        assert row == [notebook_workshop_minutes(name)], f"{name}: the plan's minutes are the notebook's own estimate"
    assert "see the table below" not in guide


def test_readme_course_table_has_core_and_bonus_times_and_says_what_stands_in_for_full_mnist():
    """The course times are generated from the notebooks' saved outputs (tools/readme_tables.py): the core and the
    whole notebook, cold; the README says what stands in for full MNIST and calls its graders referees."""
    readme = README.read_text()
    assert "readme_tables.course()" in readme
    header = next(line for line in readme.splitlines() if line.startswith("| notebook | core"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["notebook", "core, cold", "with the Bonus sections, cold"]
    assert "stand in for full MNIST" in readme and "benchmarks/layouts.py" in readme
    assert "witnesses" not in readme


def markdown_files() -> list[Path]:
    """The Markdown a reader follows links through: the README, the guides and the benchmark logs."""
    logs = sorted((ROOT / "benchmarks" / "results").rglob("README.md"))
    return [README, *sorted((ROOT / "docs").glob("*.md")), *logs]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(path):
    """A results table cites its run by a link; a moved or renamed file must not leave a dead one."""
    targets = re.findall(r"\]\(([^)\s]+)\)", path.read_text())
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]
    assert local or path != README, "the README links to no file of the repository"
    assert not [t for t in local if not (path.parent / t).exists()], f"dead links in {path.name}"


def test_guide_types_no_run_times_and_starts_jupyterlab_offline_without_make():
    """Measured times live in the README's course table (generated from the notebooks' printed times), not in the
    guide's prose; an offline laptop starts JupyterLab from the venv, since `make lab` may reinstall first."""
    guide = GUIDE.read_text()
    assert not re.search(r"\b\d+(?:\.\d+)? (?:s|seconds)\b", guide), "no run time typed in the guide: see the README"
    preparation = guide[:guide.index("## The session plan")]
    assert ".venv/bin/jupyter lab notebooks" in preparation and "Offline, not `make lab`" in preparation
    assert "WARM_START" in preparation and "`make workshop`" in preparation


def test_plan_teaches_the_cores_and_leaves_the_bonus_as_homework():
    guide = GUIDE.read_text()
    plan = guide[guide.index("## The session plan"):guide.index("## Answers")]
    for name in ("03", "04"):
        row = next(line for line in plan.splitlines() if line.startswith("| ") and f"**{name} " in line)
        assert "the core" in row and "homework: the Bonus sections" in row, row
