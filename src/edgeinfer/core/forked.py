"""Forked worker processes that compute independent tasks and hand the results back in order.

Why not :class:`multiprocessing.pool.Pool`: its ``terminate()``, called when a search stops early
with tasks still running, can block for ever (CPython issues #78178 and #96995, open: the pool's
shared task queue is guarded by a lock that an idle worker holds while it waits for a task). A
CI run of the test suite hung that way for 90 minutes. Here every worker has its own pipe, nothing
is shared, and :meth:`ForkedWorkers.close` kills the workers (``SIGKILL``) and reaps them, which
cannot block on a lock.

The task function travels by ``fork`` (Linux only: the callers fall back to one process
elsewhere), so it may be a closure over large state; tasks and results are pickled. A task whose
worker raised or died comes back as ``None``: the caller computes it again in its own process,
where an error surfaces as usual.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

#: seconds :meth:`ForkedWorkers.close` waits for a killed worker to be reaped
REAP_S = 5.0


def _serve(fn: Callable[[Any], Any], conn: Connection, inherited: list[Connection]) -> None:
    """A worker's loop: answer each task received on ``conn`` with ``("ok", fn(task))``, or with
    ``("error", None)`` if ``fn`` raised; end when the parent's end closes. ``SIGINT`` is ignored:
    a Ctrl-C reaches the whole process group, and the parent, which handles it, kills the workers
    (no traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in inherited:  # the parent's ends of this and earlier workers' pipes: closed here, so
        other.close()        # that a worker sees EOF (and ends) when the parent is gone
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(task))
        except Exception:  # the caller recomputes the task itself, where the error surfaces
            reply = ("error", None)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class ForkedWorkers:
    """``jobs`` forked processes running ``fn``; use as a context manager (or call :meth:`close`)."""

    def __init__(self, fn: Callable[[Any], Any], jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"ForkedWorkers needs at least one job, got {jobs!r}")
        ctx = mp.get_context("fork")
        self._procs: list[Any] = []
        self._conns: list[Connection] = []
        self._busy: dict[Connection, int] = {}  # worker -> index of the task it is computing
        try:
            for _ in range(jobs):
                here, there = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=_serve, args=(fn, there, [*self._conns, here]), daemon=True)
                proc.start()
                there.close()
                self._procs.append(proc)
                self._conns.append(here)
        except BaseException:
            self.close()
            raise

    def map(self, tasks: Iterable[Any]) -> Iterator[Any]:
        """The results of ``tasks`` in their order, each ``None`` where its worker raised or died;
        a worker gets its next task as soon as it has answered. Stopping early leaves tasks
        running until :meth:`close`, or until the next ``map``, which kills the workers still
        computing them (their late answers would be taken for its own)."""
        busy = self._busy
        for conn in busy:
            stale = self._procs[self._conns.index(conn)]
            stale.kill()
            stale.join(REAP_S)
        busy.clear()
        todo = deque(enumerate(tasks))
        free = [conn for conn, proc in zip(self._conns, self._procs, strict=True) if proc.is_alive()]
        done: dict[int, Any] = {}
        total = len(todo)
        for i in range(total):
            while i not in done:
                while free and todo:
                    conn = free.pop()
                    j, task = todo.popleft()
                    try:
                        conn.send(task)
                    except (BrokenPipeError, OSError):  # a dead worker: this task is the caller's
                        done[j] = None
                        continue
                    busy[conn] = j
                if i in done:
                    break
                if not busy:  # every worker is gone: the rest is the caller's
                    done.update((j, None) for j, _ in todo)
                    todo.clear()
                    break
                for ready in wait(list(busy)):
                    conn = ready  # type: ignore[assignment]  # wait() returns the objects it was given
                    j = busy.pop(conn)
                    try:
                        kind, result = conn.recv()
                    except (EOFError, OSError):  # died while computing: the caller's
                        done[j] = None
                        continue
                    done[j] = result if kind == "ok" else None
                    free.append(conn)
            yield done.pop(i)

    def close(self) -> None:
        """Kill the workers and reap them (never waits on a lock; idempotent)."""
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join(REAP_S)
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []
        self._busy.clear()

    def __enter__(self) -> ForkedWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
