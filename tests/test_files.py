"""files.py on its own: a run's folder and its commit, bounded reads, held signals (no training here)."""

import json
import os
import signal
import tracemalloc

import pytest
from conftest import run_python, snapshot

from mae_helpers.files import RunFolder, signals_held

RUN = ("original.pt", "metrics.json", "curves.png")  # a run's files, written by hand


def begin(out, text, overwrite=False) -> RunFolder:
    """A claimed RunFolder whose work folder holds RUN's files saying `text` (leave it with __exit__)."""
    run = RunFolder(out, overwrite).__enter__()
    for name in RUN:
        (run.work / name).write_text(f"{text} {name}")
    return run


def committed(out, text, overwrite=False) -> None:
    """A whole run of RUN's files saying `text` in `out`."""
    run = begin(out, text, overwrite)
    run.commit()
    run.__exit__()


def is_whole(out, text) -> bool:
    """Whether `out` holds exactly one complete run of RUN's files saying `text`, as its manifest says."""
    manifest = json.loads((out / "manifest.json").read_text())
    files = {p.name for p in out.iterdir()}
    return manifest["complete"] is True and set(manifest["files"]) == set(RUN) and files == {*RUN, "manifest.json"} \
        and all((out / n).read_text() == f"{text} {n}" for n in RUN)


def commit_renames(tmp_path) -> int:
    """How many renames an --overwrite commit of RUN makes (each file, the manifest twice)."""
    out = tmp_path / "counted"
    committed(out, "old")
    run, calls, real = begin(out, "new", overwrite=True), [], os.replace
    os.replace = lambda *args: calls.append(args) or real(*args)
    try:
        run.commit()
    finally:
        os.replace = real
        run.__exit__()
    return len(calls)


def test_a_ctrl_c_at_any_rename_of_a_commit_waits_until_the_new_run_is_whole(tmp_path, monkeypatch):
    # SIGINT at the 11th rename once left 3 files of the new run and 6 of the old, "X is as it was"
    renames = commit_renames(tmp_path)
    assert renames >= len(RUN) + 2
    for n in range(1, renames + 1):
        out = tmp_path / f"at-{n}"
        committed(out, "old")
        run, calls, real = begin(out, "new", overwrite=True), [], os.replace

        def rename_then_ctrl_c(*args, n=n, real=real, calls=calls):
            calls.append(args)
            if len(calls) == n:
                os.kill(os.getpid(), signal.SIGINT)  # as `strace -e inject=rename:signal=SIGINT:when=N` does
            return real(*args)

        monkeypatch.setattr(os, "replace", rename_then_ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            run.commit()
        monkeypatch.undo()
        run.__exit__()
        assert run.committed and is_whole(out, "new"), n


def test_an_error_at_any_rename_of_a_commit_puts_the_previous_run_back(tmp_path, monkeypatch):
    renames = commit_renames(tmp_path)
    for n in range(1, renames + 1):
        out = tmp_path / f"at-{n}"
        committed(out, "old")
        before = snapshot(out)
        run, calls, real = begin(out, "new", overwrite=True), [], os.replace

        def interrupted_rename(*args, n=n, real=real, calls=calls):
            calls.append(args)
            if len(calls) == n:
                raise KeyboardInterrupt  # a Ctrl-C that was not held, or an error (a full disk) at that rename
            return real(*args)

        monkeypatch.setattr(os, "replace", interrupted_rename)
        with pytest.raises(KeyboardInterrupt):
            run.commit()
        monkeypatch.undo()
        run.__exit__()
        assert not run.committed and snapshot(out) == before and is_whole(out, "old"), n
        assert [p.name for p in out.iterdir() if p.is_dir()] == [], n  # the new run's work folder is gone


def test_a_commit_that_cannot_be_undone_says_where_each_run_is(tmp_path, monkeypatch):
    out = tmp_path / "run"
    committed(out, "old")
    run, calls, real = begin(out, "new", overwrite=True), [], os.replace

    def failing(*args):  # the second file's rename fails, and so does every rename after it
        calls.append(args)
        if len(calls) >= 3:
            raise OSError(5, "Input/output error", str(args[0]))
        return real(*args)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="could not be undone.*complete.*false.*previous") as err:
        run.commit()
    monkeypatch.undo()
    run.__exit__()
    assert str(run.work) in str(err.value) and (run.work / ".previous").is_dir()  # kept, as the message says
    assert json.loads((out / "manifest.json").read_text())["complete"] is False


def test_a_refused_out_leaves_none_of_the_folders_it_made(tmp_path):
    # `--out new/sub/<300 characters>/y` was refused but left new/sub behind
    with pytest.raises(OSError, match="too long"):
        RunFolder(tmp_path / "new" / "sub" / ("x" * 300) / "y").__enter__()
    assert list(tmp_path.iterdir()) == []


def sparse(path, size):
    """A file of `size` bytes that takes no room on the disk (and no time to write)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def peak_memory(call) -> int:
    """The most Python allocated at once (bytes) while `call()` ran."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refused(out, *words):
    """A function that claims `out` with --overwrite and asserts the refusal names `words`."""
    def claim():
        with pytest.raises(ValueError) as err:
            RunFolder(out, overwrite=True).__enter__()
        for word in words:
            assert word in str(err.value)
    return claim


@pytest.mark.parametrize("name", ["big.bin", "original.pt"], ids=["foreign", "named-in-the-manifest"])
def test_a_huge_file_in_out_costs_no_memory_to_refuse(tmp_path, name):
    # a 3 GB sparse file inside --out made a run use 3.7 GB of memory just to refuse
    out = tmp_path / "run"
    committed(out, "old")
    sparse(out / name, 64 << 20)  # named in the manifest, it is hashed, but in pieces
    assert peak_memory(refused(out, name, "not from a run")) < 8 << 20  # was all 64 MB of it, and more


def test_a_huge_manifest_costs_no_memory_to_refuse(tmp_path):
    # a 2 GB sparse manifest.json once took 4.7 GB
    out = tmp_path / "run"
    committed(out, "old")
    sparse(out / "manifest.json", 64 << 20)
    assert peak_memory(refused(out, "manifest.json")) < 8 << 20


FIFO_MANIFEST = """
import os, sys
from mae_helpers.files import RunFolder
os.mkfifo(os.path.join(sys.argv[1], "manifest.json"))
try:
    RunFolder(sys.argv[1], overwrite=True).__enter__()
except ValueError as err:
    print("refused:", err)
"""


def test_a_fifo_named_like_the_manifest_is_refused_not_waited_on(tmp_path):
    # a FIFO named manifest.json once hung the run
    (tmp_path / "run").mkdir()
    result = run_python(["-c", FIFO_MANIFEST, str(tmp_path / "run")], timeout=30)
    assert result.returncode == 0 and "refused:" in result.stdout and "manifest.json" in result.stdout, result.stderr


def test_held_signals_take_effect_when_the_block_ends():
    seen = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
    try:
        with signals_held((signal.SIGUSR1,)):
            os.kill(os.getpid(), signal.SIGUSR1)
            assert seen == []
        assert seen == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
