"""Writing files so that nothing a user trained or saved is lost: the program deletes only what it wrote.

* `write_atomic`: write beside the target, then rename; honours the umask (a shared cache
  folder works); an interrupted write leaves the old file.
* `probe_folder`: create a folder and write a probe file into it: a read-only or full disk
  shows before minutes of training, not after.
* `RunFolder`: a run's output folder. The run writes into a private folder inside it; `commit` moves
  each file into place (one rename each) and writes `manifest.json`, the SHA-256 of every file, last.
  A later run replaces only files a manifest proves are the program's and unchanged.
* `explain`: any `OSError` as one line naming the path, the cause and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs into one folder are then not refused
    fcntl = None

CAUSES = {  # errno -> (cause, fix)
    errno.EACCES: ("permission denied", "fix its permissions or choose a folder you can write to"),
    errno.EPERM: ("operation not permitted", "fix its permissions or choose a folder you can write to"),
    errno.EROFS: ("read-only file system", "choose a folder on a writable disk"),
    errno.ENOSPC: ("no space left on the device", "free some space or choose another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose another disk"),
    errno.ENOTDIR: ("a file is in the way where a folder is needed", "move that file or choose another path"),
    errno.EEXIST: ("a file is in the way where a folder is needed", "move that file or choose another path"),
    errno.EISDIR: ("a folder is in the way where a file is needed", "move that folder or choose another path"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
}


def explain(err: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for an OSError: the path, the likely cause and what to do about it."""
    where = err.filename or path or "a file"
    cause, fix = CAUSES.get(err.errno, (err.strerror or str(err), "check the path and try again"))
    return f"{where}: {cause}; {fix}"


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` all at once: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # this call's own name: only it removes it
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:  # 0666 - umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a full disk shows here, before the old file is replaced
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:  # a failed write names no file: say which
            err.filename = str(path)
        raise
    return path


def probe_folder(folder: str | os.PathLike) -> list[Path]:
    """Create `folder` if needed and prove it takes a file (else raise the OSError writing would); returns new ones."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    made = [p for p in (folder, *folder.parents) if not p.exists()][::-1]  # a refused run removes them again
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f".write-probe-{secrets.token_hex(4)}", b"ok\n").unlink()  # its own name: runs at once
    return made


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (a run's files are a few MB)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RunFolder:
    """An output folder claimed for one run; the run writes into `work`, and `commit` moves its files in.

    Refused at the start: a path that is a file, that holds (or is) a folder in `protected`
    (name -> path), that holds anything a manifest does not prove to be a previous run, or a
    previous run without `overwrite`. `images`: the run's --images folder, made and probed
    here too; inside the output folder it is not counted as foreign. Use as a context manager:
    leaving without `commit` removes `work` and the folders this run made, and leaves the rest.
    """

    MANIFEST, WORK = "manifest.json", ".mae-unlearn-run-"

    def __init__(self, path, overwrite: bool = False, protected: dict | None = None, images=None):
        self.path = Path(path).expanduser().resolve()
        self.overwrite, self.images = overwrite, None if images is None else Path(images).expanduser().resolve()
        self.protected = {"the working folder": Path.cwd(), **(protected or {})}
        self.work, self.created, self._lock, self._keep, self.committed = None, [], None, False, False

    def __enter__(self) -> RunFolder:
        for what, path in self.protected.items():
            if self.path == Path(path).resolve() or self.path in Path(path).resolve().parents:
                raise ValueError(f"{self.path} is {what} or a folder above it ({path}); give the run a folder of "
                                 "its own, e.g. runs/demo")
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file; --out must name a folder for the run's outputs")
        try:
            self.created = probe_folder(self.path)  # a read-only or full disk shows now, not after the training
            self._acquire()
            proven, others, complete = self._survey()
            if others:
                raise ValueError(f"{self.path} holds files that are not from a run, or changed since "
                                 f"({', '.join(others[:5])}); they are never replaced: choose a new or empty --out")
            if proven and not self.overwrite:
                raise ValueError(f"{self.path} holds a{'' if complete else 'n interrupted'} previous run; pass "
                                 "--overwrite to replace it or choose another --out")
            if self.images is not None:
                self.created += probe_folder(self.images)
            for left in self.path.glob(f"{self.WORK}*"):  # a killed run's: not proven to be ours, so kept
                print(f"note: {left} is the unfinished output of an interrupted run; delete it when no run is "
                      "writing here", file=sys.stderr)
            self.work = self.path / f"{self.WORK}{secrets.token_hex(4)}.partial"
            self.work.mkdir()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        """Remove this run's own work folder (unless kept), give up the claim, and the folders a failed run made."""
        if self.work is not None and not self._keep:
            shutil.rmtree(self.work, ignore_errors=True)  # this run's own folder: made by it, under a new name
        if self._lock is not None:
            os.close(self._lock)  # closing gives up the lock
            self._lock = None
        for folder in reversed([] if self.committed else self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only while empty: what someone put there meanwhile stays

    def _acquire(self) -> None:
        """Lock the folder itself (its descriptor, no lock file), or refuse: another run is writing there."""
        self._lock = os.open(self.path, os.O_RDONLY)  # closed, and so unlocked, by __exit__
        try:
            if fcntl is not None:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{self.path} is being written by another run right now; wait for it to finish "
                             "or choose another --out") from None

    def _survey(self) -> tuple[dict[str, list[str]], list[str], bool]:
        """(files a manifest proves are a previous run's, unchanged: name -> hashes; all else; run complete?)."""
        try:
            manifest = json.loads((self.path / self.MANIFEST).read_text())
            files = {str(name): list(hashes) for name, hashes in manifest["files"].items()}
            complete = manifest["complete"] is True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            files, complete = {}, False
        ignored = {self.MANIFEST if files else None}
        if self.images is not None and self.path in self.images.parents:  # --images inside --out: the run fills it
            ignored.add(self.images.relative_to(self.path).parts[0])
        proven, others = {}, []
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith(self.WORK) and entry.is_dir():  # this run's, or a killed one's (noted)
                continue
            if entry.is_file() and not entry.is_symlink() and sha256(entry) in files.get(entry.name, ()):
                proven[entry.name] = files[entry.name]
            elif entry.name not in ignored:
                others.append(entry.name)
        return proven, others, complete

    def commit(self) -> Path:
        """Move the finished run's files in, each with one rename; the manifest marks the run complete, last.

        Files that appeared in the folder during the run are left alone; one that took the name of a
        file of the run (or changed a previous run's) stops the commit before anything is touched.
        """
        old = self._survey()[0]
        new = {p.name: sha256(p) for p in self.work.iterdir()}
        clash = [n for n in new if n not in old and os.path.lexists(self.path / n)]
        if clash:
            self._keep = True
            raise ValueError(f"{', '.join(clash)} appeared in {self.path} during the run and is not replaced; "
                             f"the finished run stays in {self.work}")
        # Until the last write the manifest allows either run's version of each file and says "not complete":
        # a kill in between leaves files a reader can tell apart from a finished run, and the next run may replace.
        self._write_manifest({n: sorted({*old.get(n, ()), *([new[n]] if n in new else [])}) for n in {*old, *new}},
                             complete=False)
        for name in new:
            os.replace(self.work / name, self.path / name)
        for name in set(old) - set(new):
            (self.path / name).unlink(missing_ok=True)
        self._write_manifest({n: [h] for n, h in new.items()}, complete=True)
        self.committed = True
        return self.path

    def _write_manifest(self, files: dict, complete: bool) -> None:
        """Write manifest.json: every file of the run with its SHA-256, and whether the run is complete."""
        manifest = {"format": "mae_helpers.run/1", "complete": complete, "files": dict(sorted(files.items()))}
        write_atomic(self.path / self.MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
