"""Run a declared :class:`~edgeinfer.experiments.study.Study`: plan, execute, cache, tabulate.

Pipeline (``run_studies``):

1. *validate*: resolve every study and parameter override (type and range), connect the
   Dask client if asked; nothing is written before this succeeds;
2. *plan*: default point + one point per sweep value; tasks = point × realisation, seeded
   by ``SeedSequence(seed, spawn_key=(realisation,))``; identical tasks are merged;
3. *execute*: tasks without a usable cache entry run through joblib (loky processes or
   Dask); each finished task is written to ``cache/<key>.json`` at once, with its key and a
   checksum (:func:`read_cache_entry` trusts nothing else on disk);
4. *write*: tidy table, figures, ``summary.json``, ``report.md`` (see :mod:`.report`),
   staged in a temporary folder and moved into place at the end.

The output folder is locked (:class:`~edgeinfer.experiments.common.FolderLock`) from step 3
on: a second run into it is refused with one line; what a killed run left there (staging
folders, temporary files) is removed first.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import EdgeInferError, UnknownNameError
from edgeinfer.experiments import registry
from edgeinfer.experiments.common import (
    LOCK_NAME,
    FolderLock,
    FolderLockedError,
    clean_leftovers,
    jsonable,
    sigint_blocked,
    start_parent_watchdog,
    write_text_atomic,
)
from edgeinfer.experiments.study import Study, TaskSpec

__all__ = [
    "ExperimentError", "TaskFailedError", "StudyRun", "Point", "resolve_params", "plan", "run_study", "run_studies",
    "task_key", "read_cache_entry", "cache_entry", "MAX_JOBS", "MAX_REALISATIONS", "MAX_SEED",
]

FORMATS = ("parquet", "csv")
BACKENDS = ("loky", "dask")

#: ``--jobs``: -1 (every core) or 1 .. MAX_JOBS (4 x the machine's cores)
MAX_JOBS = 4 * (os.cpu_count() or 1)
#: ``--realisations``: 1 .. MAX_REALISATIONS per point
MAX_REALISATIONS = 10_000
#: ``--seed``: 0 .. MAX_SEED (it is stored in an int64 column)
MAX_SEED = 2**63 - 1


class ExperimentError(EdgeInferError):
    """Bad experiment input (parameter value, option, scheduler) or a study bug."""


class TaskFailedError(ExperimentError):
    """A study's ``run_task`` raised: the message names the study, realisation and parameters;
    the traceback is saved next to the cache. Finished tasks stay cached, so a rerun resumes."""


@dataclass(frozen=True)
class Point:
    """One parameter point of a sweep."""

    sweep: str
    index: int
    params: dict[str, Any]


@dataclass
class StudyRun:
    """What :func:`run_study` produced for one study."""

    study: str
    out_dir: Path
    summary: dict[str, Any]
    tasks_total: int
    tasks_executed: int
    tasks_cached: int
    wall_time_s: float
    files: list[Path] = field(default_factory=list)
    setting: str = "default"

    @property
    def label(self) -> str:
        """``study`` for the default setting, ``study.setting`` otherwise (the output folder's name)."""
        return run_label(self.study, self.setting)


def run_label(study: str, setting: str) -> str:
    """The folder name of one study's run under ``setting``."""
    return study if setting == "default" else f"{study}.{setting}"


# ---------------------------------------------------------------------------- validation


def _split_overrides(overrides: Mapping[str, Any], studies: Sequence[Study]) -> dict[str, dict[str, Any]]:
    """Route ``key`` / ``study.key`` overrides to studies; unknown names -> UnknownNameError."""
    names = {s.name for s in studies}
    out: dict[str, dict[str, Any]] = {s.name: {} for s in studies}
    known_params = sorted({p.name for s in studies for p in s.params})
    for key, value in overrides.items():
        if "." in key:
            sname, pname = key.split(".", 1)
            if sname not in names:
                raise UnknownNameError("study", sname, names)
            study = next(s for s in studies if s.name == sname)
            if pname not in study.param_map:
                raise UnknownNameError(f"parameter of {sname}:", pname, study.param_map)
            out[sname][pname] = value
            continue
        hit = False
        for s in studies:
            if key in s.param_map:
                out[s.name].setdefault(key, value)
                hit = True
        if not hit:
            kind = f"parameter of {studies[0].name}:" if len(studies) == 1 else "parameter"
            raise UnknownNameError(kind, key, known_params)
    return out


def resolve_params(study: Study, overrides: Mapping[str, Any], *, quick: bool,
                   setting: str = "default") -> dict[str, Any]:
    """The default point of ``setting`` after overrides, typed and range-checked
    (ExperimentError on bad values)."""
    params = study.defaults(quick, setting)
    by = study.param_map
    for key, value in overrides.items():
        if key not in by:
            raise UnknownNameError(f"parameter of {study.name}:", key, by)
        try:
            params[key] = by[key].coerce(value)
        except ValueError as exc:
            raise ExperimentError(f"{study.name}.{key}: {exc}") from None
    return params


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file: top-level scalars -> ``key``; tables -> ``study.key``."""
    import tomllib

    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ExperimentError(f"--config: file not found: {p}") from None
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ExperimentError(f"--config {p}: {exc}") from None
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                if isinstance(v2, dict | list):
                    raise ExperimentError(f"--config {p}: {k}.{k2}: expected a scalar value")
                out[f"{k}.{k2}"] = v2
        elif isinstance(v, list):
            raise ExperimentError(f"--config {p}: {k}: expected a scalar value")
        else:
            out[k] = v
    return out


#: file marking a folder as written by the engine (a non-empty folder without it is refused)
MARKER = ".edgeinfer-results"


def check_out_dir(path: Path) -> None:
    """Refuse to write into an existing file, or a non-empty folder the engine did not create."""
    if path.exists() and not path.is_dir():
        raise ExperimentError(f"--out {path}: exists and is not a directory")
    if path.is_dir() and not (path / MARKER).exists() and any(p.name != LOCK_NAME for p in path.iterdir()):
        raise ExperimentError(f"--out {path}: a non-empty folder not written by edgeinfer reproduce; "
                              "choose a new or empty folder")


def _mark(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).touch()


def lock_out_dirs(paths: Sequence[Path]) -> list[FolderLock]:
    """Lock every output folder (created if missing) and remove what a killed run left there;
    ExperimentError (one line, exit 2) if another run holds one of them."""
    locks: list[FolderLock] = []
    try:
        for p in paths:
            try:
                locks.append(FolderLock(p).acquire())
            except FolderLockedError as exc:
                raise ExperimentError(f"--out {p}: another edgeinfer reproduce ({exc.holder}) is writing into this "
                                      "folder; wait for it to finish or choose another folder") from None
            clean_leftovers(p)
    except BaseException:
        for lk in locks:
            lk.release()
        raise
    return locks


def _release(locks: Sequence[FolderLock]) -> None:
    for lk in locks:
        lk.release()


# ---------------------------------------------------------------------------- planning


def plan(study: Study, base: Mapping[str, Any], *, quick: bool) -> list[Point]:
    """The default point, then every sweep's points (other parameters at ``base``)."""
    points = [Point("default", 0, dict(base))]
    by = study.param_map
    for sname, axis in study.sweeps.items():
        for i, v in enumerate(axis.values(quick)):
            points.append(Point(sname, i, {**base, axis.param: by[axis.param].coerce(v)}))
    return points


def task_key(study: Study, params: Mapping[str, Any], seed: int, realisation: int, quick: bool = False,
             algorithms: Sequence[str] | None = None) -> str:
    """Cache key: hash of study name and version, mode, every parameter, the run's algorithms
    (default: the study's), seed, realisation."""
    algs = list(study.algorithms if algorithms is None else algorithms)
    doc = {
        "quick": bool(quick),
        "study": study.name, "version": study.version, "algorithms": algs,
        "params": {k: jsonable(params[k]) for k in sorted(params)}, "seed": int(seed),
        "realisation": int(realisation),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


def _task_seed(seed: int, realisation: int) -> np.random.SeedSequence:
    """The ``realisation``-th child of ``SeedSequence(seed)`` (equal to ``.spawn(n)[r]``)."""
    return np.random.SeedSequence(seed, spawn_key=(realisation,))


# ---------------------------------------------------------------------------- execution


def _run_one(run_task: Any, task: TaskSpec, key: str, parent_pid: int | None = None) -> tuple[str, Any, float]:
    """Run one task; an exception comes back as a :class:`_Failure` (picklable, with the
    traceback as text) rather than tearing down the worker pool with a remote traceback.

    ``parent_pid`` (local worker processes): the run's main process; a watchdog thread ends
    this worker as soon as that process is gone (:func:`~.common.start_parent_watchdog`)."""
    if parent_pid is not None:
        start_parent_watchdog(parent_pid)
    t0 = time.perf_counter()
    try:
        rows = run_task(task)
    except Exception as exc:
        import traceback

        return key, _Failure(f"{type(exc).__name__}: {exc}", traceback.format_exc()), time.perf_counter() - t0
    return key, rows, time.perf_counter() - t0


@dataclass(frozen=True)
class _Failure:
    error: str
    traceback: str


def _raise_failure(study: Study, task: TaskSpec, key: str, failure: _Failure, cache_dir: Path) -> None:
    log = cache_dir / f"{key}.failed.txt"
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(task.params.items()))
    write_text_atomic(log, f"study {study.name}, realisation {task.realisation}\nparams: {params}\n\n"
                           f"{failure.traceback}")
    raise TaskFailedError(
        f"study {study.name}: a task failed (realisation {task.realisation}; {params}): {failure.error}; "
        f"traceback in {log}; finished tasks are cached, rerun to resume")


_SCALARS = (str, int, float, bool, type(None))


def _rows_problem(study: Study, rows: Any) -> str:
    """Why ``rows`` are not a valid result of one task of ``study`` ("" when they are): a
    non-empty list of dicts, each with a string ``algorithm``, every metric, scalar values."""
    if not isinstance(rows, list) or not rows:
        return "run_task must return a non-empty list of dicts"
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("algorithm"), str):
            return "every row of run_task needs an 'algorithm' key (a string)"
        missing = [m for m in study.metrics if m not in r]
        if missing:
            return f"row for {r['algorithm']!r} lacks metrics {missing}"
        bad = [k for k, v in r.items() if not isinstance(k, str) or not isinstance(v, _SCALARS)]
        if bad:
            return f"row for {r['algorithm']!r}: {bad[0]!r} is not a number, string, bool or None"
    return ""


def _check_rows(study: Study, rows: Any) -> list[dict[str, Any]]:
    if isinstance(rows, list):
        rows = [{k: jsonable(v) for k, v in r.items()} if isinstance(r, dict) else r for r in rows]
    why = _rows_problem(study, rows)
    if why:
        raise ExperimentError(f"study {study.name}: {why}")
    return list(rows)


#: version of the cache entry layout (an entry of another version is recomputed)
CACHE_FORMAT = 2
#: a cache entry above this size is not read (recomputed)
MAX_CACHE_ENTRY_BYTES = 64 * 2**20


def _checksum(key: str, rows: list[dict[str, Any]]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of the key and the rows."""
    doc = json.dumps({"key": key, "rows": rows}, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def cache_entry(key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The document stored in ``cache/<key>.json``: layout version, task key, checksum, rows."""
    return {"format": CACHE_FORMAT, "key": key, "sha256": _checksum(key, rows), "rows": rows}


def read_cache_entry(path: Path, key: str, study: Study) -> tuple[list[dict[str, Any]] | None, str]:
    """The rows cached for task ``key`` at ``path``, or ``None`` and why the entry is unusable
    (``""``: there is none). An entry is used only if it is a regular file of valid JSON with
    this layout version, this task's key, a matching checksum and valid rows; anything else
    (empty, truncated, edited, another task's, a link or a FIFO) is recomputed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    if st.st_size == 0:
        return None, "empty"
    if st.st_size > MAX_CACHE_ENTRY_BYTES:
        return None, f"larger than {MAX_CACHE_ENTRY_BYTES} bytes"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_CACHE_ENTRY_BYTES + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or type(exc).__name__})"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not valid JSON (truncated or corrupted)"
    if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
        return None, "not a cache entry of this edgeinfer version (no checksum)"
    if doc.get("key") != key:
        return None, "belongs to another task (its key differs)"
    rows = doc.get("rows")
    try:
        ok = isinstance(rows, list) and doc.get("sha256") == _checksum(key, rows)
    except (TypeError, ValueError, RecursionError):
        ok = False
    if not ok:
        return None, "checksum mismatch (edited or corrupted)"
    why = _rows_problem(study, rows)
    if why:
        return None, f"invalid rows ({why})"
    return rows, ""


def _load_cache(study: Study, unique: Mapping[str, TaskSpec], cache_dir: Path) -> tuple[
        dict[str, list[dict[str, Any]]], list[tuple[str, TaskSpec]]]:
    """Usable cache entries, and the tasks to run; one warning line for the unusable entries."""
    cache: dict[str, list[dict[str, Any]]] = {}
    pending: list[tuple[str, TaskSpec]] = []
    bad: list[str] = []
    for k, task in unique.items():
        rows, why = read_cache_entry(cache_dir / f"{k}.json", k, study)
        if rows is not None:
            cache[k] = rows
            continue
        if why:
            bad.append(f"{k}.json: {why}")
            _discard(cache_dir / f"{k}.json")
        pending.append((k, task))
    if bad:
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        print(f"edgeinfer: warning: study {study.name}: {len(bad)} unusable cache "
              f"entr{'y' if len(bad) == 1 else 'ies'} in {cache_dir} recomputed ({'; '.join(bad[:3])}{more})",
              file=sys.stderr)
    return cache, pending


def _discard(path: Path) -> None:
    """Remove an unusable cache entry (a folder planted under its name included)."""
    import shutil

    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _write_entry(cache_dir: Path, key: str, rows: list[dict[str, Any]]) -> None:
    write_text_atomic(cache_dir / f"{key}.json", json.dumps(cache_entry(key, rows), allow_nan=True))


def _progress(total: int, desc: str, enabled: bool | None) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the experiments extra
        tqdm = None
    if tqdm is None or not enabled:
        return None
    return tqdm(total=total, desc=desc, unit="task", file=sys.stderr, dynamic_ncols=True)


def _execute(study: Study, pending: list[tuple[str, TaskSpec]], cache_dir: Path, *, jobs: int,
             backend: str, progress: bool | None, scheduler: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run the pending tasks; cache each as it finishes; return their (checked) rows by key."""
    done: dict[str, list[dict[str, Any]]] = {}
    if not pending:
        return done
    bar = _progress(len(pending), study.name, progress)
    by_key = dict(pending)

    def store(results: Iterable[tuple[str, Any, float]]) -> None:
        """Cache each finished task as it arrives (a failure stops the run, see _raise_failure)."""
        for key, rows, _ in results:
            if isinstance(rows, _Failure):
                _raise_failure(study, by_key[key], key, rows, cache_dir)
            checked = _check_rows(study, rows)
            _write_entry(cache_dir, key, checked)
            done[key] = checked
            if bar is not None:
                bar.update(1)

    try:
        if jobs == 1 and backend == "loky":  # in process: no pool, handy in tests and debuggers
            store(_run_one(study.task_runner, t, k) for k, t in pending)
            return done
        import warnings

        from joblib import Parallel, delayed, parallel_config

        if backend == "dask":
            try:
                _execute_dask(study, pending, store, Parallel, delayed, parallel_config)
            except EdgeInferError:
                raise
            except Exception as exc:  # the scheduler went away or stopped answering mid-run
                raise TaskFailedError(f"study {study.name}: lost the Dask scheduler {scheduler} "
                                      f"({_first_line(exc)}); finished tasks are cached, rerun to resume") from None
            return done

        # loky restarts a worker whose memory grew by a few hundred MB (a study importing torch,
        # a large instance) between tasks and warns about it; no task is lost, results are unaffected
        parent = os.getpid()
        with warnings.catch_warnings():  # scoped: the filters are restored afterwards
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor",
                                    category=UserWarning)
            # a failed task stops the run: the results still in flight are dropped on purpose
            warnings.filterwarnings("ignore", category=UserWarning,
                                    message=r".*tasks (have been successfully executed +but not used|which were "
                                            r"still being processed by the workers have been cancelled)")
            with parallel_config(backend=backend, n_jobs=jobs):
                _start_resource_trackers()
                with sigint_blocked():  # the workers start (and are restarted) with Ctrl-C blocked
                    results = Parallel(return_as="generator_unordered")(
                        delayed(_run_one)(study.task_runner, t, k, parent) for k, t in pending)
                try:
                    store(results)
                finally:
                    results.close()  # now, inside the filters, not whenever it is collected
    finally:
        if bar is not None:
            bar.close()
    return done


def _start_resource_trackers() -> None:
    """Start the resource trackers of multiprocessing and loky now, outside
    :func:`~.common.sigint_blocked`: starting the first one unblocks SIGINT in the calling
    thread (``pthread_sigmask(SIG_UNBLOCK)``), which would leave the workers interruptible."""
    try:
        from multiprocessing import resource_tracker

        from joblib.externals.loky.backend import resource_tracker as loky_tracker

        resource_tracker.ensure_running()
        loky_tracker.ensure_running()
    except (ImportError, OSError, AttributeError):  # pragma: no cover - the workers are merely interruptible
        pass


def _execute_dask(study: Study, pending: list[tuple[str, TaskSpec]], store: Any, Parallel: Any, delayed: Any,
                  parallel_config: Any) -> None:
    check_dask_workers(study)  # a worker that cannot import the study's code: one line, not a hang
    with parallel_config(backend="dask", n_jobs=-1):
        store(Parallel(return_as="generator")(delayed(_run_one)(study.task_runner, t, k) for k, t in pending))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


#: how long (s) reaching the Dask scheduler may take: TCP connect plus the comm handshake
DASK_CONNECT_TIMEOUT_S = 3.0


def _probe_scheduler(scheduler: str, timeout_s: float) -> None:
    """Open one comm to the scheduler and complete dask's handshake within ``timeout_s``.

    ``distributed.comm.connect`` bounds the TCP connect but waits for the peer's handshake
    without a limit, so a server that accepts and never answers would hang ``Client()``
    forever; here the whole exchange is bounded. The TLS settings come from the dask config,
    as for the client."""
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    args = Security().get_connection_args("client")

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(scheduler, timeout=timeout_s, **args), timeout_s + 1.0)
        await comm.close()

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a fresh event loop, whatever the caller runs
        pool.submit(asyncio.run, probe()).result(timeout=timeout_s + 10.0)


class _DaskClient:
    """The run's Dask client; while it lives, the ``distributed`` loggers of this process show
    only critical messages (a lost scheduler would otherwise print dozens of traceback lines
    before the engine's one line)."""

    def __init__(self, scheduler: str, timeout_s: float) -> None:
        import logging

        logging.getLogger("distributed")
        names = [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]
        self._levels = {n: logging.getLogger(n).level for n in names}
        for n in names:
            logging.getLogger(n).setLevel(logging.CRITICAL)
        try:
            from dask.distributed import Client

            _probe_scheduler(scheduler, timeout_s)
            self.client = Client(scheduler, timeout=timeout_s, set_as_default=True)
        except BaseException:
            self._restore()
            raise

    def _restore(self) -> None:
        import logging

        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)

    def close(self) -> None:
        try:
            self.client.close(timeout=DASK_CONNECT_TIMEOUT_S)
        except Exception:  # noqa: BLE001, S110 - the scheduler is gone already: nothing to close
            pass
        finally:
            self._restore()


def connect_dask(scheduler: str | None, timeout_s: float | None = None) -> Any:
    """A connection to ``scheduler`` (``.client``: the ``dask.distributed.Client``, default for
    joblib; ``.close()``); ExperimentError (one line) when it is unreachable, silent, not an address dask knows, or ``tls://`` without certificates."""
    if not scheduler:
        raise ExperimentError("--backend dask needs --scheduler tcp://HOST:PORT")
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ExperimentError("--backend dask needs dask[distributed]: pip install 'edgeinfer[dask]'") from None
    if timeout_s is None:
        timeout_s = DASK_CONNECT_TIMEOUT_S
    try:
        return _DaskClient(scheduler, timeout_s)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a bad --scheduler, one line
        if isinstance(exc, TimeoutError) and not str(exc).strip():
            why = (f"it accepted the connection but did not answer within {timeout_s + 1.0:g} s "
                   "(not a Dask scheduler, or a stuck one)")
        elif isinstance(exc, TypeError) and "ssl" in str(exc).lower():
            why = ("a tls:// address needs the client's TLS certificates in the dask configuration "
                   "(distributed.comm.tls.ca-file, .client.cert, .client.key)")
        else:
            why = _first_line(exc)
        raise ExperimentError(f"cannot reach the Dask scheduler {scheduler}: {why}") from None


def _callable_modules(fn: Any) -> list[str]:
    """Modules a pickled callable refers to by name (a ``functools.partial`` and its arguments
    included); ``__main__`` is left out (cloudpickle sends it by value)."""
    import functools

    fns = [fn]
    if isinstance(fn, functools.partial):
        fns = [fn.func, *fn.args, *fn.keywords.values()]
    mods = []
    for f in fns:
        mod = getattr(f, "__module__", None) if callable(f) else None
        if mod and mod != "__main__" and mod not in mods:
            mods.append(mod)
    return mods


def _import_modules(modules: Sequence[str]) -> str:
    """Runs on a Dask worker: ``""`` when every module imports, else one line saying which failed."""
    import importlib

    for mod in modules:
        try:
            importlib.import_module(mod)
        except BaseException as exc:  # noqa: BLE001 - report anything, never kill the worker
            if isinstance(exc, KeyboardInterrupt):
                raise
            return f"cannot import {mod!r} ({type(exc).__name__}: {exc})"
    return ""


#: how long the check of the Dask workers may take (s): workers to appear, imports to finish
DASK_CHECK_TIMEOUT_S = 60.0


def check_dask_workers(study: Study, timeout_s: float = DASK_CHECK_TIMEOUT_S) -> None:
    """Before any task is sent: every worker of the default Dask client imports the modules the
    study's task function is pickled by reference from (the study's module, a plugin's).

    A task that a worker cannot unpickle is retried by Dask on other workers and can leave
    ``reproduce`` waiting with no message; instead, a worker that lacks a module (or no worker
    within ``timeout_s``) is one :class:`TaskFailedError` line naming the worker and the module.
    """
    from dask.distributed import get_client, wait

    mods = _callable_modules(study.task_runner)
    client = get_client()
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (TimeoutError, OSError) as exc:
        raise TaskFailedError(f"study {study.name}: no Dask worker joined the scheduler within {timeout_s:.0f} s "
                              f"({type(exc).__name__})") from None
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"]) if _takes_n_workers(client) \
        else sorted(client.scheduler_info()["workers"])
    futures = {w: client.submit(_import_modules, mods, workers=[w], allow_other_workers=False, pure=False,
                                key=f"edgeinfer-import-check-{w}-{time.time_ns()}") for w in workers}
    try:
        wait(list(futures.values()), timeout=timeout_s)
    except TimeoutError:
        pass
    for w, fut in futures.items():
        if fut.status != "finished":
            why = f"the import check did not finish within {timeout_s:.0f} s ({fut.status})"
            if fut.status == "error":
                err = fut.exception()
                why = f"the import check failed: {type(err).__name__}: {err}"
            fut.cancel()
        else:
            why = fut.result()
        if why:
            raise TaskFailedError(
                f"study {study.name}: Dask worker {w} {why}; install the study's package (plugin) on every "
                "worker, or run without --backend dask")


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


# ---------------------------------------------------------------------------- tables


def _tidy(study: Study, points: list[Point], keys: dict[tuple[int, int], str], cache: dict[str, list[dict]],
          seed: int, n_real: int) -> Any:
    import pandas as pd

    param_names = [p.name for p in study.params]
    records = []
    for pi, pt in enumerate(points):
        for r in range(n_real):
            for row in cache[keys[(pi, r)]]:
                rec = {"study": study.name, "sweep": pt.sweep, "point": pt.index, "realisation": r, "seed": seed}
                rec.update({k: pt.params[k] for k in param_names})
                rec.update(row)
                records.append(rec)
    df = pd.DataFrame.from_records(records)
    for p in study.params:  # stable dtypes even when a column is all-integral
        if p.type is float:
            df[p.name] = df[p.name].astype("float64")
    return df


def _versions(backend: str) -> dict[str, str]:
    import joblib
    import pandas
    import scipy

    from edgeinfer import __version__

    v = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
         "pandas": pandas.__version__, "joblib": joblib.__version__, "edgeinfer": __version__}
    if backend == "dask":
        import dask

        v["dask"] = dask.__version__
    return v


# ---------------------------------------------------------------------------- public API


def _prepare(names: Sequence[str] | str) -> list[Study]:
    if isinstance(names, str):
        names = [names]
    if list(names) == ["all"]:
        avail = []
        for n, study, why in registry.study_status():
            if study is not None:
                if not study.fixture:
                    avail.append(n)
            elif not why.endswith("does not exist"):
                print(f"edgeinfer: note: skipping study {n!r}: {why}", file=sys.stderr)
        if not avail:
            raise ExperimentError("no study is available")
        return [registry.get_study(n) for n in avail]
    return [registry.get_study(n) for n in names]


def check_run_options(*, seed: Any, jobs: Any, realisations: Any) -> None:
    """``--seed`` in [0, MAX_SEED], ``--jobs`` -1 or in [1, MAX_JOBS], ``--realisations`` None or
    in [1, MAX_REALISATIONS]; ExperimentError (one line, exit 2) otherwise."""
    def integer(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, int | np.integer)

    if not integer(seed) or not 0 <= seed <= MAX_SEED:
        raise ExperimentError(f"--seed: expected an integer in [0, 2**63 - 1], got {seed!r}")
    if not integer(jobs) or not (jobs == -1 or 1 <= jobs <= MAX_JOBS):
        raise ExperimentError(f"--jobs: expected -1 (every core) or an integer in [1, {MAX_JOBS}] "
                              f"(4 x the {os.cpu_count() or 1} cores), got {jobs!r}")
    if realisations is not None and (not integer(realisations) or not 1 <= realisations <= MAX_REALISATIONS):
        raise ExperimentError(f"--realisations: expected an integer in [1, {MAX_REALISATIONS}], got {realisations!r}")


def run_studies(
    names: Sequence[str] | str,
    out_dir: str | os.PathLike[str],
    *,
    quick: bool = True,
    seed: int = 0,
    jobs: int = 1,
    realisations: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    fmt: str = "parquet",
    figures: bool = True,
    progress: bool | None = None,
    command: str | None = None,
    algorithms: Sequence[str] | None = None,
    setting: str | None = None,
) -> list[StudyRun]:
    """Run studies (``"all"`` or names), each under every setting it declares (``setting``
    names one). One run (one study, one setting) writes into ``out_dir``; several into
    ``out_dir/<study>/`` (default setting) and ``out_dir/<study>.<setting>/`` plus a combined
    ``summary.json`` and ``report.md``. ``"all"`` leaves out test fixtures (``Study.fixture``).

    ``algorithms`` (one study only) replaces the study's algorithms: its own names or any
    registered solver of its problem (``Study.resolve_algorithms``).
    Everything is validated (and the Dask scheduler contacted) before any file is created.
    """
    from edgeinfer.experiments import report

    everything = names == "all" or list(names) == ["all"]
    studies = _prepare(names)
    units = _units(studies, setting, everything)
    multi = everything or len(units) > 1
    check_run_options(seed=seed, jobs=jobs, realisations=realisations)
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ExperimentError("--format parquet needs pyarrow; use --format csv") from None
    if algorithms is not None and (everything or len(studies) != 1):
        raise ExperimentError("--algorithms needs exactly one study (not 'all' or several)")
    algs = {s.name: s.resolve_algorithms(algorithms) for s in studies}
    routed = _split_overrides(dict(overrides or {}), studies)
    bases = {(s.name, st): resolve_params(s, routed[s.name], quick=quick, setting=st) for s, st in units}
    out_root = Path(out_dir)
    check_out_dir(out_root)
    subdirs = [out_root / run_label(s.name, st) for s, st in units]
    if multi:
        for d in subdirs:
            check_out_dir(d)
    client = connect_dask(scheduler) if backend == "dask" else None
    locks: list[FolderLock] = []
    try:
        locks = lock_out_dirs([out_root, *subdirs] if multi else [out_root])
        runs = []
        if multi:
            _mark(out_root)
        for (study, st), sub in zip(units, subdirs, strict=True):
            sdir = sub if multi else out_root
            runs.append(_run_one_study(
                study, bases[(study.name, st)], sdir, algorithms=algs[study.name], quick=quick, seed=int(seed),
                jobs=jobs, realisations=realisations, backend=backend, fmt=fmt, figures=figures,
                progress=progress, command=command, scheduler=scheduler, setting=st,
            ))
        if multi:
            report.write_combined(out_root, runs, seed=int(seed), quick=quick, command=command)
        return runs
    finally:
        _release(locks)
        if client is not None:
            client.close()


def _units(studies: Sequence[Study], setting: str | None, everything: bool) -> list[tuple[Study, str]]:
    """(study, setting) pairs to run: every setting of each study, or the one named (a study
    of ``all`` without it is left out with a note; a named study without it is an error)."""
    if setting is None:
        return [(s, st) for s in studies for st in s.setting_names]
    units = []
    for s in studies:
        if setting in s.setting_names:
            units.append((s, setting))
        elif everything:
            print(f"edgeinfer: note: study {s.name!r} has no setting {setting!r}; left out", file=sys.stderr)
        else:
            raise UnknownNameError(f"setting of study {s.name}", setting, s.setting_names)
    if not units:
        raise ExperimentError(f"--setting {setting}: no study has it")
    return units


def run_study(name: str | Study, out_dir: str | os.PathLike[str], **kwargs: Any) -> StudyRun:
    """Run one study into ``out_dir`` (see :func:`run_studies` for the options).

    ``name`` may also be a :class:`Study` object (not registered), e.g. in tests.
    """
    if isinstance(name, Study):
        return run_declared(name, out_dir, **kwargs)
    return run_studies([name], out_dir, **kwargs)[0]


def run_declared(study: Study, out_dir: str | os.PathLike[str], *, quick: bool = True, seed: int = 0,
                 jobs: int = 1, realisations: int | None = None, overrides: Mapping[str, Any] | None = None,
                 backend: str = "loky", scheduler: str | None = None, fmt: str = "parquet",
                 figures: bool = True, progress: bool | None = None, command: str | None = None,
                 algorithms: Sequence[str] | None = None, setting: str | None = None) -> StudyRun:
    """Run an unregistered :class:`Study` object under one setting (default ``"default"``;
    otherwise the same options as :func:`run_studies`)."""
    check_run_options(seed=seed, jobs=jobs, realisations=realisations)
    algs = study.resolve_algorithms(algorithms)
    setting = "default" if setting is None else setting
    base = resolve_params(study, dict(overrides or {}), quick=quick, setting=setting)
    check_out_dir(Path(out_dir))
    client = connect_dask(scheduler) if backend == "dask" else None
    locks: list[FolderLock] = []
    try:
        locks = lock_out_dirs([Path(out_dir)])
        return _run_one_study(study, base, Path(out_dir), algorithms=algs, quick=quick, seed=seed, jobs=jobs,
                              realisations=realisations, backend=backend, fmt=fmt, figures=figures,
                              progress=progress, command=command, scheduler=scheduler, setting=setting)
    finally:
        _release(locks)
        if client is not None:
            client.close()


def _run_one_study(study: Study, base: dict[str, Any], sdir: Path, *, algorithms: tuple[str, ...], quick: bool,
                   seed: int, jobs: int,
                   realisations: int | None, backend: str, fmt: str, figures: bool, progress: bool | None,
                   command: str | None, scheduler: str | None, setting: str = "default") -> StudyRun:
    from edgeinfer.experiments import report

    t0 = time.perf_counter()
    n_real = realisations if realisations is not None else study.realisations[0 if quick else 1]
    points = plan(study, base, quick=quick)
    keys: dict[tuple[int, int], str] = {}
    unique: dict[str, TaskSpec] = {}
    for pi, pt in enumerate(points):
        for r in range(n_real):
            k = task_key(study, pt.params, seed, r, quick, algorithms)
            keys[(pi, r)] = k
            if k not in unique:
                unique[k] = TaskSpec(study=study.name, params=dict(pt.params), algorithms=algorithms,
                                     realisation=r, seed=_task_seed(seed, r), quick=quick)
    _mark(sdir)
    cache_dir = sdir / "cache"
    if cache_dir.is_symlink() or (cache_dir.exists() and not cache_dir.is_dir()):
        raise ExperimentError(f"--out {sdir}: {cache_dir} is a link or not a folder; the cache must be a folder "
                              "of its own (remove it)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache, pending = _load_cache(study, unique, cache_dir)
    cache.update(_execute(study, pending, cache_dir, jobs=jobs, backend=backend, progress=progress,
                          scheduler=scheduler))
    df = _tidy(study, points, keys, cache, seed, n_real)
    meta = {
        "study": study.name, "title": study.title, "setting": setting,
        "setting_note": study.setting_notes.get(setting, ""), "mode": "quick" if quick else "full", "seed": seed,
        "realisations": n_real, "algorithms": list(algorithms), "jobs": jobs, "backend": backend, "scheduler": scheduler,
        "default_point": {k: jsonable(v) for k, v in base.items()},
        "sweeps": {s: {"param": a.param, "values": [jsonable(v) for v in a.values(quick)]}
                   for s, a in study.sweeps.items()},
        "tasks": {"total": len(unique), "executed": len(pending), "cached": len(unique) - len(pending)},
        "versions": _versions(backend), "command": command,
    }
    files = report.write_study(study, df, sdir, meta=meta, fmt=fmt, figures=figures, t0=t0)
    summary = json.loads((sdir / "summary.json").read_text())
    return StudyRun(study=study.name, out_dir=sdir, summary=summary, tasks_total=len(unique),
                    tasks_executed=len(pending), tasks_cached=len(unique) - len(pending),
                    wall_time_s=time.perf_counter() - t0, files=files, setting=setting)
