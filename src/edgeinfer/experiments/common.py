"""Helpers shared by the engine (:mod:`.engine`) and the writers (:mod:`.report`).

Statistics (:func:`t_halfwidth`), JSON-safe values (:func:`jsonable`, :func:`clean`),
staged output folders (:func:`stage_dir`, :func:`commit_staged`), the files the engine owns
(:func:`write_text_atomic`, :class:`FolderLock`, :func:`clean_leftovers`) and the watchdog
that ends a worker whose parent died (:func:`start_parent_watchdog`). Standard library and
NumPy only; SciPy is imported inside :func:`t_halfwidth`.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["t_halfwidth", "jsonable", "clean", "stage_dir", "commit_staged", "write_text_atomic", "FolderLock",
           "FolderLockedError", "LOCK_NAME", "clean_leftovers", "start_parent_watchdog", "sigint_blocked"]


def t_halfwidth(values: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the ``level`` t-interval of the mean (0 for one value, nan-safe)."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if a.size < 2:
        return 0.0
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))


def jsonable(v: Any) -> Any:
    """A NumPy scalar as the Python scalar; anything else unchanged."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def clean(v: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None, recursively."""
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean(x) for x in v]
    v = jsonable(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def stage_dir(parent: Path) -> Path:
    """A fresh temporary folder inside ``parent`` (same filesystem, so renames are atomic)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))


def commit_staged(stage: Path, dest: Path) -> list[Path]:
    """Move every entry of ``stage`` into ``dest`` (replacing), then remove ``stage``."""
    moved = []
    for entry in sorted(stage.iterdir()):
        target = dest / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)
        moved.append(target)
    stage.rmdir()
    return moved


# ---------------------------------------------------------------------------- files the engine owns


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fresh temporary file beside it, then rename.

    The temporary file is created exclusively (``mkstemp``: a link or a file planted under its
    name is never followed or overwritten); the result gets 0666 less the umask; the rename
    replaces a link at ``path`` by the file, never writes through it. A killed run leaves at most
    a ``.NAME.*.tmp`` file, which :func:`clean_leftovers` removes.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: the lock file of an output folder (``fcntl.flock``: released by the kernel when its holder dies)
LOCK_NAME = ".edgeinfer-lock"


class FolderLockedError(OSError):
    """Another process holds the lock of an output folder."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path}: locked by {holder}")
        self.path = path
        self.holder = holder


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``DIR/.edgeinfer-lock`` (created with ``DIR``).

    A second holder is refused at once (:class:`FolderLockedError`, naming the holder's pid); a
    lock file left by a killed process blocks nothing, because the kernel drops the lock with
    the process. Without ``fcntl`` (not POSIX) the lock is a no-op. A link at the lock's path
    is refused (``O_NOFOLLOW``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{path}: not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                who = f"pid {holder}" if holder.isdigit() else "another process"
                raise FolderLockedError(self.folder, who) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove what a killed run left in ``folder`` (call with its lock held): staging folders
    (``.staging-*``) and temporary files (``.*.tmp``) in ``folder`` and ``folder/cache``.
    Returns the removed paths."""
    removed = []
    for where, pattern in ((folder, ".staging-*"), (folder, ".*.tmp"), (folder / "cache", ".*.tmp")):
        if not where.is_dir():
            continue
        for entry in where.glob(pattern):
            try:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed.append(entry)
            except FileNotFoundError:
                pass
    return removed


# ---------------------------------------------------------------------------- worker processes

#: how often (s) a worker checks that the process that started the run is still alive
WATCHDOG_INTERVAL_S = 0.25

_watchdog_started: int | None = None


def _parent_gone(parent_pid: int, first_ppid: int) -> bool:
    if os.getppid() != first_ppid:  # reparented: the direct parent died
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's (pid reused): treat as gone
        return True
    return False


def start_parent_watchdog(parent_pid: int) -> None:
    """In a worker process: a daemon thread that ends the process (``os._exit``) within
    :data:`WATCHDOG_INTERVAL_S` once ``parent_pid`` (the run's main process) is gone, even in
    the middle of a long task. Started once per process; a no-op in the parent itself."""
    global _watchdog_started
    if parent_pid == os.getpid() or _watchdog_started == parent_pid:
        return
    import threading
    import time

    first_ppid = os.getppid()
    if _parent_gone(parent_pid, first_ppid):
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_INTERVAL_S)
            if _parent_gone(parent_pid, first_ppid):
                os._exit(1)

    threading.Thread(target=watch, name="edgeinfer-parent-watchdog", daemon=True).start()
    _watchdog_started = parent_pid


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in the calling thread for the ``with`` body (POSIX; else a no-op).

    Worker processes (and threads) started inside inherit the blocked mask: a Ctrl-C, which
    the terminal sends to the whole foreground job, then reaches only the run's main process,
    which stops the pool and prints one line, instead of every worker printing a traceback.
    A Ctrl-C that arrives inside the body is delivered when it ends."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # pragma: no cover - not POSIX
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)
