"""Run a declared :class:`~edgeinfer.experiments.study.Study`: plan, execute, cache, tabulate.

Pipeline (``run_studies``):

1. *validate*: resolve every study and parameter override (type and range), connect the
   Dask client if asked; nothing is written before this succeeds;
2. *plan*: default point + one point per sweep value; tasks = point × realisation, seeded
   by ``SeedSequence(seed, spawn_key=(realisation,))``; identical tasks are merged;
3. *execute*: tasks without a cache file run through joblib (loky processes or Dask);
   each finished task is written to ``cache/<key>.json`` at once;
4. *write*: tidy table, figures, ``summary.json``, ``report.md`` (see :mod:`.report`),
   staged in a temporary folder and moved into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import EdgeInferError, UnknownNameError
from edgeinfer.experiments import registry
from edgeinfer.experiments.common import jsonable
from edgeinfer.experiments.study import Study, TaskSpec

__all__ = [
    "ExperimentError", "TaskFailedError", "StudyRun", "Point", "resolve_params", "plan", "run_study", "run_studies",
    "task_key",
]

FORMATS = ("parquet", "csv")
BACKENDS = ("loky", "dask")


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


def resolve_params(study: Study, overrides: Mapping[str, Any], *, quick: bool) -> dict[str, Any]:
    """The default point after overrides, typed and range-checked (ExperimentError on bad values)."""
    params = study.defaults(quick)
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
    if path.is_dir() and not (path / MARKER).exists() and any(path.iterdir()):
        raise ExperimentError(f"--out {path}: a non-empty folder not written by edgeinfer reproduce; "
                              "choose a new or empty folder")


def _mark(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).touch()


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


def _run_one(run_task: Any, task: TaskSpec, key: str) -> tuple[str, Any, float]:
    """Run one task; an exception comes back as a :class:`_Failure` (picklable, with the
    traceback as text) rather than tearing down the worker pool with a remote traceback."""
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
    log.write_text(f"study {study.name}, realisation {task.realisation}\nparams: {params}\n\n{failure.traceback}")
    raise TaskFailedError(
        f"study {study.name}: a task failed (realisation {task.realisation}; {params}): {failure.error}; "
        f"traceback in {log}; finished tasks are cached, rerun to resume")


def _check_rows(study: Study, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not rows:
        raise ExperimentError(f"study {study.name}: run_task must return a non-empty list of dicts")
    out = []
    for r in rows:
        if not isinstance(r, dict) or "algorithm" not in r:
            raise ExperimentError(f"study {study.name}: every row of run_task needs an 'algorithm' key")
        missing = [m for m in study.metrics if m not in r]
        if missing:
            raise ExperimentError(f"study {study.name}: row for {r['algorithm']!r} lacks metrics {missing}")
        out.append({k: jsonable(v) for k, v in r.items()})
    return out


def _write_json_atomic(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, allow_nan=True))
    os.replace(tmp, path)


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
             backend: str, progress: bool | None) -> None:
    if not pending:
        return
    bar = _progress(len(pending), study.name, progress)
    by_key = dict(pending)

    def store(results: Iterable[tuple[str, Any, float]]) -> None:
        """Cache each finished task as it arrives (a failure stops the run, see _raise_failure)."""
        for key, rows, _ in results:
            if isinstance(rows, _Failure):
                _raise_failure(study, by_key[key], key, rows, cache_dir)
            _write_json_atomic(cache_dir / f"{key}.json", {"rows": _check_rows(study, rows)})
            if bar is not None:
                bar.update(1)

    try:
        if jobs == 1 and backend == "loky":  # in process: no pool, handy in tests and debuggers
            store(_run_one(study.task_runner, t, k) for k, t in pending)
            return
        import warnings

        from joblib import Parallel, delayed, parallel_config

        if backend == "dask":  # a worker that cannot import the study's code: one line, not a hang
            check_dask_workers(study)

        # loky restarts a worker whose memory grew by a few hundred MB (a study importing torch,
        # a large instance) between tasks and warns about it; no task is lost, results are unaffected
        with warnings.catch_warnings():  # scoped: the filters are restored afterwards
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor",
                                    category=UserWarning)
            with parallel_config(backend=backend, n_jobs=jobs if backend == "loky" else -1):
                store(Parallel(return_as="generator_unordered" if backend == "loky" else "generator")(
                    delayed(_run_one)(study.task_runner, t, k) for k, t in pending))
    finally:
        if bar is not None:
            bar.close()


def connect_dask(scheduler: str | None, timeout_s: float = 3.0) -> Any:
    """A ``dask.distributed.Client`` for ``scheduler``; ExperimentError when unreachable."""
    if not scheduler:
        raise ExperimentError("--backend dask needs --scheduler tcp://HOST:PORT")
    try:
        from dask.distributed import Client
    except ImportError:
        raise ExperimentError("--backend dask needs dask[distributed]: pip install 'edgeinfer[dask]'") from None
    try:
        return Client(scheduler, timeout=timeout_s, set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExperimentError(f"cannot reach the Dask scheduler {scheduler}: {first}") from None


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
                avail.append(n)
            elif not why.endswith("does not exist"):
                print(f"edgeinfer: note: skipping study {n!r}: {why}", file=sys.stderr)
        if not avail:
            raise ExperimentError("no study is available")
        return [registry.get_study(n) for n in avail]
    return [registry.get_study(n) for n in names]


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
) -> list[StudyRun]:
    """Run studies (``"all"`` or names). One study writes into ``out_dir``; several into
    ``out_dir/<study>/`` plus a combined ``summary.json`` and ``report.md``.

    ``algorithms`` (one study only) replaces the study's algorithms: its own names or any
    registered solver of its problem (``Study.resolve_algorithms``).
    Everything is validated (and the Dask scheduler contacted) before any file is created.
    """
    from edgeinfer.experiments import report

    multi = (names == "all" or list(names) == ["all"] or (not isinstance(names, str) and len(names) > 1))
    studies = _prepare(names)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ExperimentError(f"--seed: expected a non-negative integer, got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ExperimentError(f"--jobs: expected a positive integer or -1, got {jobs!r}")
    if realisations is not None and (isinstance(realisations, bool) or not isinstance(realisations, int)
                                     or realisations < 1):
        raise ExperimentError(f"--realisations: expected a positive integer, got {realisations!r}")
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, FORMATS)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ExperimentError("--format parquet needs pyarrow; use --format csv") from None
    if algorithms is not None and (multi or len(studies) != 1):
        raise ExperimentError("--algorithms needs exactly one study (not 'all' or several)")
    algs = {s.name: s.resolve_algorithms(algorithms) for s in studies}
    routed = _split_overrides(dict(overrides or {}), studies)
    bases = {s.name: resolve_params(s, routed[s.name], quick=quick) for s in studies}
    out_root = Path(out_dir)
    check_out_dir(out_root)
    if multi:
        for s in studies:
            check_out_dir(out_root / s.name)
    client = connect_dask(scheduler) if backend == "dask" else None

    try:
        runs = []
        if multi:
            _mark(out_root)
        for study in studies:
            sdir = out_root / study.name if multi else out_root
            runs.append(_run_one_study(
                study, bases[study.name], sdir, algorithms=algs[study.name], quick=quick, seed=int(seed), jobs=jobs,
                realisations=realisations, backend=backend, fmt=fmt, figures=figures,
                progress=progress, command=command, scheduler=scheduler,
            ))
        if multi:
            report.write_combined(out_root, runs, seed=int(seed), quick=quick, command=command)
        return runs
    finally:
        if client is not None:
            client.close()


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
                 algorithms: Sequence[str] | None = None) -> StudyRun:
    """Run an unregistered :class:`Study` object (same options as :func:`run_studies`)."""
    algs = study.resolve_algorithms(algorithms)
    base = resolve_params(study, dict(overrides or {}), quick=quick)
    check_out_dir(Path(out_dir))
    client = connect_dask(scheduler) if backend == "dask" else None
    try:
        return _run_one_study(study, base, Path(out_dir), algorithms=algs, quick=quick, seed=seed, jobs=jobs,
                              realisations=realisations, backend=backend, fmt=fmt, figures=figures,
                              progress=progress, command=command, scheduler=scheduler)
    finally:
        if client is not None:
            client.close()


def _run_one_study(study: Study, base: dict[str, Any], sdir: Path, *, algorithms: tuple[str, ...], quick: bool,
                   seed: int, jobs: int,
                   realisations: int | None, backend: str, fmt: str, figures: bool, progress: bool | None,
                   command: str | None, scheduler: str | None) -> StudyRun:
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
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache: dict[str, list[dict[str, Any]]] = {}
    pending: list[tuple[str, TaskSpec]] = []
    for k, task in unique.items():
        f = cache_dir / f"{k}.json"
        if f.exists():
            try:
                cache[k] = json.loads(f.read_text())["rows"]
                continue
            except (ValueError, KeyError, OSError):
                pass  # unreadable: recompute
        pending.append((k, task))
    _execute(study, pending, cache_dir, jobs=jobs, backend=backend, progress=progress)
    for k, _ in pending:
        cache[k] = json.loads((cache_dir / f"{k}.json").read_text())["rows"]
    df = _tidy(study, points, keys, cache, seed, n_real)
    meta = {
        "study": study.name, "title": study.title, "mode": "quick" if quick else "full", "seed": seed,
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
                    wall_time_s=time.perf_counter() - t0, files=files)
