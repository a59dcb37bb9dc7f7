"""Registries of problems (file formats + verify) and solvers keyed by (problem, algorithm).

Frameworks register themselves when their package is imported. The first lookup imports
the framework modules listed in :data:`FRAMEWORK_MODULES` (none of which may import torch or
matplotlib at module level, so ``edgeinfer solve`` stays fast), then every plugin module
named in the entry-point group ``edgeinfer.plugins`` (see :func:`load_plugins`).

Adding a solver::

    from edgeinfer.core.options import Param
    from edgeinfer.core.registry import register_solver

    @register_solver("partial_loading", "my-algo", "one-line description", exact=False,
                     params=(Param("rounds", 10, int, "improvement rounds", bounds=(1, None)),))
    def solve_my_algo(instance, *, options: SolveOptions) -> PartialLoadingSolution:
        rounds = options.params["rounds"]   # declared, typed, range-checked, defaulted
        ...
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from edgeinfer.core.errors import EdgeInferError, SolverError, UnknownNameError
from edgeinfer.core.options import Param, resolve_params
from edgeinfer.core.solution import Solution, SolveOptions, VerifyReport, json_safe
from edgeinfer.core.status import SolveStatus

__all__ = [
    "FRAMEWORK_MODULES",
    "ProblemSpec",
    "SolverInfo",
    "register_problem",
    "register_solver",
    "get_problem",
    "get_solver",
    "list_problems",
    "list_solvers",
    "solve",
    "load_frameworks",
    "load_plugins",
    "plugin_errors",
    "problem_of_instance",
    "resolve_options",
    "PLUGIN_GROUP",
]

#: Entry-point group a user's package names its plugin modules in.
PLUGIN_GROUP = "edgeinfer.plugins"

#: Framework packages, imported on demand to populate the registries.
FRAMEWORK_MODULES: tuple[str, ...] = (
    "edgeinfer.loading",
    "edgeinfer.broadcast",
    "edgeinfer.streaming",
    "edgeinfer.split",
    "edgeinfer.online",
)


@dataclass(frozen=True)
class ProblemSpec:
    """Everything the command line and the experiment engine need to know about a problem.

    Attributes
    ----------
    name: the ``"problem"`` field of its documents.
    description: one line.
    instance_model, solution_model: pydantic models of the JSON documents (for schemas).
    load_instance: ``dict -> instance``; raises ``InvalidInstanceError`` naming the field.
    load_solution: ``(dict, instance) -> solution``; raises ``InvalidSolutionError``.
    dump_solution: ``solution -> dict`` (JSON-ready, includes ``"problem"``).
    verify: ``(instance, solution) -> VerifyReport``, recomputed from the instance alone.
    dump_instance: optional ``instance -> dict``.
    instance_type: the class of the typed instance ``load_instance`` returns, so that an
        instance object finds its problem (``edgeinfer.solve(instance, "algo")``).
    sense: ``"max"`` or ``"min"``: the direction of the objective.
    objective: what the objective is, with its unit (``"users served"``, ``"latency (s)"``).
    """

    name: str
    description: str
    instance_model: type[Any]
    solution_model: type[Any]
    load_instance: Callable[[Any], Any]
    load_solution: Callable[[Any, Any], Any]
    dump_solution: Callable[[Any], dict[str, Any]]
    verify: Callable[[Any, Any], VerifyReport]
    dump_instance: Callable[[Any], dict[str, Any]] | None = None
    instance_type: type | None = None
    sense: str = "max"
    objective: str = "objective"

    def __post_init__(self) -> None:
        if self.sense not in ("max", "min"):
            raise ValueError(f"problem {self.name!r}: sense must be 'max' or 'min'")


@dataclass(frozen=True)
class SolverInfo:
    """A registered solver: ``func(instance, *, options) -> Solution`` and its declared ``params``."""

    problem: str
    algorithm: str
    description: str
    func: Callable[..., Solution]
    exact: bool = False
    params: tuple[Param, ...] = ()
    module: str = field(default="")


_PROBLEMS: dict[str, ProblemSpec] = {}
_SOLVERS: dict[tuple[str, str], SolverInfo] = {}
_LOADED = False
_PLUGINS_LOADED = False
#: plugin entry-point name -> one line saying why it failed to load
_PLUGIN_ERRORS: dict[str, str] = {}


def register_problem(spec: ProblemSpec) -> ProblemSpec:
    if spec.name in _PROBLEMS and _PROBLEMS[spec.name] is not spec:
        raise EdgeInferError(f"problem {spec.name!r} registered twice")
    _PROBLEMS[spec.name] = spec
    return spec


def register_solver(
    problem: str, algorithm: str, description: str, *, exact: bool = False,
    params: Sequence[Param] = (),
) -> Callable[[Callable[..., Solution]], Callable[..., Solution]]:
    """Decorator registering ``func(instance, *, options) -> Solution``.

    ``params`` declares every algorithm parameter the solver reads (name, type, default,
    range, help): :func:`solve` checks the user's values against them and passes the solver
    all of them, typed and defaulted, in ``options.params``.
    """
    params = tuple(params)
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise EdgeInferError(f"solver {algorithm!r} for {problem!r} declares a parameter twice")
    if not all(isinstance(p, Param) for p in params):
        raise EdgeInferError(f"solver {algorithm!r} for {problem!r}: params must be Param objects")

    def deco(func: Callable[..., Solution]) -> Callable[..., Solution]:
        key = (problem, algorithm)
        if key in _SOLVERS and _SOLVERS[key].func is not func:
            raise EdgeInferError(f"solver {algorithm!r} for {problem!r} registered twice")
        _SOLVERS[key] = SolverInfo(problem, algorithm, description, func, exact, params,
                                   getattr(func, "__module__", ""))
        return func

    return deco


def load_frameworks() -> None:
    """Import every framework package that exists, then the plugins, populating the registries."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in FRAMEWORK_MODULES:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)
    load_plugins()


def load_plugins(*, warn: bool = True) -> dict[str, str]:
    """Import every module named in the entry-point group ``edgeinfer.plugins`` (once).

    A plugin module registers problems, solvers and studies through the public API when it is
    imported. One that fails to import is reported in one line on standard error (naming the
    entry point and the error) and skipped; the rest still load. Returns the failures
    (entry-point name -> reason).
    """
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return dict(_PLUGIN_ERRORS)
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    try:
        eps = sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name)
    except Exception as exc:  # a broken distribution's metadata must not break edgeinfer
        _PLUGIN_ERRORS["<metadata>"] = f"reading entry points failed: {type(exc).__name__}: {exc}"
        eps = []
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen:  # the same distribution found twice on the path
            continue
        seen.add(ep.name)
        try:
            ep.load()
        except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _PLUGIN_ERRORS[ep.name] = f"{type(exc).__name__}: {msg}"[:300]
    if warn:
        for name, why in _PLUGIN_ERRORS.items():
            print(f"edgeinfer: warning: plugin {name!r} ({PLUGIN_GROUP}) failed to load and is skipped: {why}",
                  file=sys.stderr)
    return dict(_PLUGIN_ERRORS)


def plugin_errors() -> dict[str, str]:
    """The plugins that failed to load (entry-point name -> reason)."""
    load_frameworks()
    return dict(_PLUGIN_ERRORS)


def get_problem(name: str) -> ProblemSpec:
    if name not in _PROBLEMS:
        load_frameworks()
    if name not in _PROBLEMS:
        raise UnknownNameError("problem", name, _PROBLEMS)
    return _PROBLEMS[name]


def get_solver(problem: str, algorithm: str) -> SolverInfo:
    get_problem(problem)
    key = (problem, algorithm)
    if key not in _SOLVERS:
        load_frameworks()  # a plugin may register it
    if key not in _SOLVERS:
        known = [a for (p, a) in _SOLVERS if p == problem]
        raise UnknownNameError(f"algorithm for {problem}", algorithm, known)
    return _SOLVERS[key]


def list_problems() -> list[ProblemSpec]:
    load_frameworks()
    return [_PROBLEMS[k] for k in sorted(_PROBLEMS)]


def list_solvers(problem: str | None = None) -> list[SolverInfo]:
    load_frameworks()
    return [s for k, s in sorted(_SOLVERS.items()) if problem is None or k[0] == problem]


def problem_of_instance(instance: Any) -> ProblemSpec:
    """The registered problem whose typed instance ``instance`` is."""
    load_frameworks()
    for spec in _PROBLEMS.values():
        if spec.instance_type is not None and type(instance) is spec.instance_type:
            return spec
    for spec in _PROBLEMS.values():
        if spec.instance_type is not None and isinstance(instance, spec.instance_type):
            return spec
    raise UnknownNameError("instance type", type(instance).__name__,
                           [s.instance_type.__name__ for s in _PROBLEMS.values() if s.instance_type])


def resolve_options(info: SolverInfo, options: SolveOptions | None) -> SolveOptions:
    """``options`` with its params checked against ``info.params`` and every default filled in.

    Raises :class:`~edgeinfer.core.errors.InvalidOptionError` naming a bad parameter.
    """
    opts = options or SolveOptions()
    params = resolve_params(info.params, opts.params, where=f"solver {info.problem}/{info.algorithm}")
    return replace(opts, params=params)


def solve(
    problem: str, algorithm: str, instance: Any, options: SolveOptions | None = None
) -> Solution:
    """Run a registered solver and stamp its wall time.

    The options' params are checked against the solver's declarations first
    (``InvalidOptionError``). Bad input raises (``InvalidInstanceError``,
    ``UnsupportedInstanceError``); infeasibility comes back as a status; anything else a
    solver raises is an internal error (``SolverError``). ``stats`` are made JSON-safe
    (non-finite numbers become ``None``).
    """
    info = get_solver(problem, algorithm)
    opts = resolve_options(info, options)
    t0 = time.perf_counter()
    try:
        sol = info.func(instance, options=opts)
    except EdgeInferError:
        raise
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # a crash inside a solver is ours, not bad input
        raise SolverError(f"{problem}/{algorithm} failed: {type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - t0
    if not isinstance(sol, Solution):
        raise SolverError(f"{problem}/{algorithm} returned {type(sol).__name__}, not a Solution")
    changes: dict[str, Any] = {"stats": json_safe(dict(sol.stats))}
    if sol.wall_time_s == 0.0:
        changes["wall_time_s"] = wall
    sol = replace(sol, **changes)
    if sol.status is SolveStatus.ERROR:
        raise SolverError(f"{problem}/{algorithm} reported an error: {dict(sol.stats).get('message', '')}")
    return sol
