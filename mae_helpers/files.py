"""Writing files so that nothing a user trained or saved is lost: the program deletes only what it wrote.

* `write_atomic`: write beside the target, then rename; honours the umask (a shared cache
  folder works); an interrupted write leaves the old file.
* `probe_folder`: create a folder and write a probe file into it: a read-only or full disk
  shows before minutes of training, not after. A refused probe removes the folders it made.
* `open_regular`, `read_bounded`, `sha256`: reads that cost no more memory than a small constant plus
  the file's size: a FIFO or a device is refused unopened, a file larger than its kind can be unread.
* `signals_held`: Ctrl-C (and TERM, HUP) waits until a block ends, then takes effect.
* `RunFolder`: a run's output folder. The run writes into a private folder inside it; `commit` moves
  each file into place (one rename each) and writes `manifest.json`, the SHA-256 of every file, last.
  A later run replaces only files a manifest proves are the program's and unchanged. The commit holds
  signals, and any error in it puts the previous run back: the folder holds one whole run or the other.
  The --images folder has a manifest of its own (`.mae-unlearn-figures.json`): a figure there is
  replaced only when it proves the program copied it there.
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
import signal
import stat
import sys
import threading
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
READ_FIXES = dict.fromkeys((errno.EACCES, errno.EPERM), "fix its permissions so that you can read it, or ask its owner")


class ReadError(OSError):
    """An OSError met while reading an input (MNIST files, their folder): `explain` words its fix for reading."""


def explain(err: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for an OSError: the path, the likely cause and what to do about it."""
    where = err.filename or path or "a file"
    cause, fix = CAUSES.get(err.errno, (err.strerror or str(err), "check the path and try again"))
    if isinstance(err, ReadError):
        fix = READ_FIXES.get(err.errno, fix)
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
    """Create `folder` if needed and prove it takes a file (else raise the OSError writing would); returns new ones.

    When it cannot, the folders it made are removed again (`new/sub` of a refused `new/sub/<too long>/y`).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    made = [p for p in (folder, *folder.parents) if not p.exists()][::-1]  # a refused run removes them again
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f".write-probe-{secrets.token_hex(4)}", b"ok\n").unlink()  # its own name: runs at once
    except BaseException:
        remove_empty(made)
        raise
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove these folders, deepest first, each only while empty: what someone put there meanwhile stays."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


# ----------------------------------------------------------------------------- bounded reads

CHUNK = 1 << 20  # hashing reads a file in pieces of this size: a huge file costs time, not memory
MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists a dozen files in a few KB


def open_regular(path: str | os.PathLike, limit: int | None = None, what: str = "file"):
    """`path` opened for reading when it is a regular file of at most `limit` bytes; else a ValueError naming it.

    A FIFO, a device or a socket is refused from its status, unopened (opening a FIFO waits for a
    writer, reading a device may never end); the open itself cannot block either, should one be
    swapped in meanwhile.
    """
    path = Path(path)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path} is not a regular file (a FIFO, a device or a socket?); a {what} is a plain file")
    f = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)), "rb")
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
        f.close()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file (a FIFO, a device or a socket?); a {what} is a plain file")
        raise ValueError(f"{path} holds {info.st_size} bytes, more than a {what} can ({limit} at most)")
    return f


def read_bounded(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file `path` if it holds at most `limit` (see `open_regular`); else a ValueError."""
    with open_regular(path, limit, what) as f:
        data = f.read(limit + 1)  # one more: a file that grew since its size was read is refused too
    if len(data) > limit:
        raise ValueError(f"{path} holds more than {limit} bytes; a {what} is smaller")
    return data


def sha256(path: Path) -> str:
    """The SHA-256 of a regular file's bytes, read in pieces (a ValueError for a FIFO or a device)."""
    digest = hashlib.sha256()
    with open_regular(path) as f:
        for piece in iter(lambda: f.read(CHUNK), b""):
            digest.update(piece)
    return digest.hexdigest()


def read_manifest(path: Path) -> tuple[dict[str, list[str]], bool] | None:
    """(file name -> SHA-256 hashes, complete?) of the manifest at `path`; None when there is none or it is not one."""
    try:
        manifest = json.loads(read_bounded(path, MAX_MANIFEST_BYTES, "manifest"))
        files = {str(name): list(hashes) for name, hashes in manifest["files"].items()}
        return files, manifest.get("complete") is True
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):  # deep JSON: RecursionError
        return None


def _proven(path: Path, hashes) -> bool:
    """Whether `path` is a regular file (no link) whose SHA-256 is one of `hashes` (one it may not read: an OSError)."""
    try:
        return bool(hashes) and stat.S_ISREG(os.lstat(path).st_mode) and sha256(path) in hashes
    except (FileNotFoundError, ValueError):  # gone meanwhile, or a FIFO swapped in: not proven
        return False


# ----------------------------------------------------------------------------- signals

HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def signals_held(signums: tuple = HELD_SIGNALS):
    """Hold these signals until the block ends, then deliver them (Ctrl-C: a KeyboardInterrupt there).

    For a block that must not stop half-way: a Ctrl-C inside torch's C++ start-up aborts the process,
    and one between two renames of a commit would leave half of each run. Signals the process
    ignores stay ignored; `kill -9` cannot be held.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield
        return
    pending = []
    held = [s for s in signums if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)  # now with its own handler: Ctrl-C raises KeyboardInterrupt from here


# ----------------------------------------------------------------------------- a run's folder


class RunFolder:
    """An output folder claimed for one run; the run writes into `work`, and `commit` moves its files in.

    Refused at the start: a path that is a file, that holds (or is) a folder in `protected`
    (name -> path), that holds anything a manifest does not prove to be a previous run, or a
    previous run without `overwrite`. `images`: the run's --images folder, which gets copies of
    `figures` (`copy_figures`); refused at the start too when it is --out, takes the name of one of
    the run's `files` inside --out, is (or is inside) another run's folder, or holds a file named
    like a figure that its own manifest does not prove. Use as a context manager: leaving without
    `commit` removes `work` and the folders this run made, and leaves the rest.
    """

    MANIFEST, WORK, FIGURES_MANIFEST = "manifest.json", ".mae-unlearn-run-", ".mae-unlearn-figures.json"

    def __init__(self, path, overwrite: bool = False, protected: dict | None = None, images=None,
                 files: tuple = (), figures: tuple = ()):
        self.path = Path(path).expanduser().resolve()
        self.overwrite, self.images = overwrite, None if images is None else Path(images).expanduser().resolve()
        self.protected = {"the working folder": Path.cwd(), **(protected or {})}
        self.files, self.figures = tuple(files), tuple(figures)
        self.work, self.created, self._lock, self._keep, self.committed = None, [], None, False, False
        self.figures_copied = False

    def __enter__(self) -> RunFolder:
        for what, path in self.protected.items():
            if self.path == Path(path).resolve() or self.path in Path(path).resolve().parents:
                raise ValueError(f"{self.path} is {what} or a folder above it ({path}); give the run a folder of "
                                 "its own, e.g. runs/demo")
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file; --out must name a folder for the run's outputs")
        try:
            if self.images is not None:
                self._check_images_place()  # before anything is made: a wrong --images leaves nothing behind
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
                self._check_figures_owned()
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
        remove_empty([] if self.committed else self.created)

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
        files, complete = read_manifest(self.path / self.MANIFEST) or ({}, False)
        ignored = {self.MANIFEST if files else None}
        if self.images is not None and self.path in self.images.parents:  # --images inside --out: the run fills it
            ignored.add(self.images.relative_to(self.path).parts[0])
        proven, others = {}, []
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith(self.WORK) and entry.is_dir():  # this run's, or a killed one's (noted)
                continue
            if _proven(entry, files.get(entry.name)):  # only files the manifest names are read, each in pieces
                proven[entry.name] = files[entry.name]
            elif entry.name not in ignored:
                others.append(entry.name)
        return proven, others, complete

    # ------------------------------------------------------------------------- commit

    def commit(self) -> Path:
        """Move the finished run's files in, each with one rename; the manifest marks the run complete, last.

        Signals wait until it is done. Any error on the way (a full disk, a failed rename) puts the
        previous run back, as it was, and is raised: the folder holds one whole run or the other.
        Files that appeared in the folder during the run are left alone; one that took the name of a
        file of the run (or changed a previous run's) stops the commit before anything is touched.
        """
        old = self._survey()[0]
        new = {p.name: sha256(p) for p in self.work.iterdir()}
        clash = [n for n in new if n not in old and os.path.lexists(self.path / n)]
        clash += [self.MANIFEST] if not old and os.path.lexists(self.path / self.MANIFEST) else []
        if clash:
            self._keep = True
            raise ValueError(f"{', '.join(clash)} appeared in {self.path} during the run and is not replaced; "
                             f"the finished run stays in {self.work}")
        before = self._manifest_bytes()  # put back on an error (None: there was none)
        undo: list[list[tuple[Path, Path]]] = []  # per step done, the renames that take it back
        with signals_held():
            try:
                self._swap(old, new, undo)
            except BaseException:
                self._undo(undo, before)
                raise
            self.committed = True
        return self.path

    def _swap(self, old: dict, new: dict, undo: list) -> None:
        """Replace the previous run's files `old` by the new run's `new` (name -> hash), recording each step in `undo`.

        A copy of each previous file (a hard link: no space, no time) waits in the work folder until the end.
        Until the last write the manifest allows either run's version of each file and says "not complete":
        a kill -9 in between leaves files a reader can tell apart from a finished run, and the next run may replace.
        """
        self._write_manifest({n: sorted({*old.get(n, ()), *([new[n]] if n in new else [])}) for n in {*old, *new}},
                             complete=False)
        previous = self.work / ".previous"
        previous.mkdir()
        for name in old:
            _keep_copy(self.path / name, previous / name)
        for name in new:
            os.replace(self.work / name, self.path / name)
            back = [(self.path / name, self.work / name)]  # the new file out again, then the previous one back
            undo.append(back + [(previous / name, self.path / name)] if name in old else back)
        for name in set(old) - set(new):
            os.replace(self.path / name, previous / name)
            undo.append([(previous / name, self.path / name)])
        self._write_manifest({n: [h] for n, h in new.items()}, complete=True)

    def _undo(self, undo: list[list[tuple[Path, Path]]], manifest: bytes | None) -> None:
        """Take back every step of a commit, last first, and restore the previous manifest (None: there was none).

        Should that fail too, the work folder is kept and an OSError says where each run's files are.
        """
        try:
            while undo:
                for source, target in undo[-1]:
                    os.replace(source, target)
                undo.pop()
            if self._manifest_bytes() != manifest:
                if manifest is None:
                    (self.path / self.MANIFEST).unlink()  # written by this commit
                else:
                    write_atomic(self.path / self.MANIFEST, manifest)
        except OSError as err:
            self._keep = True
            if undo:
                raise OSError(f"moving the run into {self.path} failed and could not be undone ({explain(err)}): "
                              f"it holds files of both runs and its manifest.json says \"complete\": false; the "
                              f"rest of the new run is in {self.work}, the previous run's files in "
                              f"{self.work / '.previous'}") from err
            raise OSError(f"the previous run is back in {self.path}, but its manifest.json could not be restored "
                          f"({explain(err)}): it says \"complete\": false; the new run is in {self.work}") from err

    def _manifest_bytes(self) -> bytes | None:
        """The bytes of manifest.json in the folder, None when there is none (or it cannot be read)."""
        try:
            return read_bounded(self.path / self.MANIFEST, MAX_MANIFEST_BYTES, "manifest")
        except (OSError, ValueError):
            return None

    def _write_manifest(self, files: dict, complete: bool) -> None:
        """Write manifest.json: every file of the run with its SHA-256, and whether the run is complete."""
        manifest = {"format": "mae_helpers.run/1", "complete": complete, "files": dict(sorted(files.items()))}
        write_atomic(self.path / self.MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    # ------------------------------------------------------------------------- --images

    def _check_images_place(self) -> None:
        """Refuse an --images folder that is --out, takes the name of a run file in it, or is another run's folder."""
        images = self.images
        if images == self.path:
            raise ValueError(f"--images {images} is --out itself, where the run writes its figures anyway; "
                             "leave --images out or choose another folder")
        if self.path in images.parents:
            name = images.relative_to(self.path).parts[0]
            if name in {*self.files, self.MANIFEST} or name.startswith(self.WORK):
                raise ValueError(f"--images {images} takes the name of the run's own {name} in --out; choose "
                                 f"another --images, e.g. {self.path / 'figures'}")
        for folder in (images, *images.parents):
            if folder == self.path:  # --out's own previous run is this run's to replace
                break
            if read_manifest(folder / self.MANIFEST) is not None:
                where = "is" if folder == images else f"is inside {folder},"
                raise ValueError(f"--images {images} {where} the output folder of another run, whose files are "
                                 "never replaced; choose another --images")

    def _figures_owned(self) -> dict[str, list[str]]:
        """Figure name -> the hashes of the copies this program put into --images (from its own manifest)."""
        path = self.images / self.FIGURES_MANIFEST
        owned = read_manifest(path)
        if owned is None and os.path.lexists(path):  # a file of that name that is not ours is never replaced
            raise ValueError(f"--images {self.images} holds {self.FIGURES_MANIFEST}, which is not this program's "
                             "list of the figures it copied there; move it or choose another --images")
        return (owned or ({}, False))[0]

    def _check_figures_owned(self, when: str = "") -> dict[str, list[str]]:
        """The --images manifest's hashes; a ValueError when a file named like a figure is not a copy it proves."""
        owned = self._figures_owned()
        foreign = [n for n in self.figures
                   if os.path.lexists(self.images / n) and not _proven(self.images / n, owned.get(n))]
        if foreign:
            raise ValueError(f"--images {self.images} holds {', '.join(foreign)}{when}, not copied there by this "
                             f"program (its {self.FIGURES_MANIFEST} does not prove it); what it did not write is never "
                             "replaced: move such files away or choose another --images")
        return owned

    def copy_figures(self) -> None:
        """Copy the committed run's figures into --images, each atomically, with signals held; its manifest first
        lists both versions, then only the new ones (an error half-way leaves every file there proven)."""
        owned = self._check_figures_owned(" (it appeared during the run)")
        new = {n: read_bounded(self.path / n, 1 << 30, "figure") for n in self.figures}
        hashes = {n: hashlib.sha256(data).hexdigest() for n, data in new.items()}
        with signals_held():
            self._write_figures_manifest({**owned, **{n: sorted({*owned.get(n, ()), h}) for n, h in hashes.items()}})
            for name, data in new.items():
                write_atomic(self.images / name, data)
            self._write_figures_manifest({**owned, **{n: [h] for n, h in hashes.items()}})
            self.figures_copied = True

    def _write_figures_manifest(self, files: dict) -> None:
        """Write the --images manifest: the figures this program copied there, with their SHA-256."""
        manifest = {"format": "mae_helpers.figures/1", "files": dict(sorted(files.items()))}
        write_atomic(self.images / self.FIGURES_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


def _keep_copy(source: Path, target: Path) -> None:
    """`target` as a second name of `source` (a hard link), or a copy where the file system has no links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
