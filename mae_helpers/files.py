"""Writing files so that nothing a user trained or saved is lost.

* `write_atomic`: write beside the target, then rename; the file honours the umask (a
  workshop can share one cache folder) and an interrupted write leaves the old file.
* `probe_folder`: create a folder and write a probe file into it, so a read-only or full
  disk is found before minutes of training, not after.
* `RunFolder`: a run's output folder, claimed at the start (a second run into it is
  refused) and written aside in a sibling folder that replaces it whole at the end, so
  readers never see half of one run beside half of another.
* `explain`: any `OSError` as one line naming the path, the cause and the fix.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs into one folder are then not refused
    fcntl = None

STALE_TEMP_S = 600  # a temporary file this old belongs to a killed process (a save takes well under a second)

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


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new, exclusively created temporary file beside `path`: (fd, its path); mode 0666 minus the umask."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def remove_stale_temps(folder: Path, older_than_s: float = STALE_TEMP_S) -> None:
    """Delete the temporary files that killed processes left in `folder` (older than `older_than_s`)."""
    for tmp in folder.glob(".*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
        except OSError:
            pass  # someone else's, or already gone: not ours to worry about


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` all at once: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a full disk shows here, before the old file is replaced
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:  # a failed write names no file: say which
            err.filename = str(path)
        raise
    remove_stale_temps(path.parent)
    return path


def probe_folder(folder: str | os.PathLike) -> Path:
    """Create `folder` if needed and prove it takes a file; raises the OSError that writing would."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / ".write-probe", b"ok\n").unlink()
    return folder


class FolderBusy(ValueError):
    """Another process holds the claim on an output folder."""


class RunFolder:
    """An output folder claimed for one run; the run writes into `work` and `commit` swaps it in whole.

    `known`: the names a run writes, to recognise a previous run (replaced only when
    `overwrite`); a folder holding anything else is never replaced. Use as a context
    manager: leaving the block without `commit` (an error, Ctrl-C) removes `work` and
    leaves `path` as it was. A run killed outright leaves `work` behind; the next claim
    removes it.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, known: tuple[str, ...] = ()):
        self.path = Path(path).expanduser().resolve()
        if not self.path.name:
            raise ValueError(f"{path} cannot hold a run; give a folder of its own, e.g. runs/demo")
        self.overwrite, self.known = overwrite, set(known)
        sibling = lambda suffix: self.path.with_name(f".{self.path.name}.{suffix}")
        self.work, self._old, self._lock_path = sibling("partial"), sibling("old"), sibling("lock")
        self._lock = None  # the lock file's descriptor while the claim is held
        self._keep_work = False
        self.committed = False  # True once `path` holds this run

    def __enter__(self) -> RunFolder:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._recover()
            self._check()
            probe_folder(self.work)  # a read-only or full disk shows now, not after the training
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _acquire(self) -> None:
        """Take the lock file beside the folder, or refuse: another run is writing there."""
        if fcntl is None:
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder before us may have removed the file after we opened it: then our lock guards nothing.
            if os.fstat(fd).st_ino != os.stat(self._lock_path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            raise FolderBusy(f"{self.path} is being written by another run right now; wait for it to finish "
                             "or choose another --out") from None
        self._lock = fd

    def _recover(self) -> None:
        """Undo what a killed run left: a swap cut in half, an unfinished work folder."""
        if self._old.exists():
            if self.path.exists():
                shutil.rmtree(self._old)
            else:  # killed between the two renames of `commit`: the previous run comes back
                os.rename(self._old, self.path)
                print(f"restored the previous run in {self.path} (an earlier run was interrupted)", file=sys.stderr)
        if self.work.exists():
            shutil.rmtree(self.work)
            print(f"removed {self.work}, the unfinished output of an interrupted run", file=sys.stderr)

    def _check(self) -> None:
        """Refuse a path that is a file, holds other files, or holds a previous run without `overwrite`."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ValueError(f"{self.path} is a file; --out must name a folder for the run's outputs")
        # Temporary files a killed save left (".NAME.xxxx.tmp") go with the folder; anything else is the user's.
        entries = {p.name for p in self.path.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp"))}
        foreign = sorted(entries - self.known)
        if foreign:
            raise ValueError(f"{self.path} holds files that are not from a run ({', '.join(foreign[:5])}); "
                             "choose a new or empty folder for --out")
        if entries and not self.overwrite:
            raise ValueError(f"{self.path} holds a previous run ({', '.join(sorted(entries))}); pass --overwrite "
                             "to replace it or choose another --out")

    def commit(self) -> Path:
        """Put the finished `work` folder in place of `path`; the previous run goes only once the new one is in."""
        if self.path.exists():
            os.rename(self.path, self._old)
        try:
            os.rename(self.work, self.path)
        except OSError:
            if self._old.exists():
                os.rename(self._old, self.path)
            self._keep_work = True
            print(f"the finished run stays in {self.work}", file=sys.stderr)
            raise
        self.committed = True
        shutil.rmtree(self._old, ignore_errors=True)
        return self.path

    def _release(self) -> None:
        """Remove an uncommitted work folder and give up the claim."""
        if not self._keep_work:
            shutil.rmtree(self.work, ignore_errors=True)
        if self._lock is not None:
            self._lock_path.unlink(missing_ok=True)
            os.close(self._lock)  # after the unlink: a waiting run then sees a new file (the inode check)
            self._lock = None
