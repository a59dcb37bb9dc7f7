"""Registries of problems (file formats + verify) and solvers keyed by (problem, algorithm).

Frameworks register themselves when their package is imported. Lookups import
only the framework modules listed in :data:`FRAMEWORK_MODULES`, none of which may
import torch or matplotlib at module level, so ``edgeinfer solve`` stays fast.

Adding a solver::

    from edgeinfer.core.registry import register_solver

    @register_solver("partial_loading", "my-algo", "one-line description", exact=False)
    def solve_my_algo(instance, *, options: SolveOptions) -> PartialLoadingSolution: ...
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from edgeinfer.core.errors import EdgeInferError, SolverError, UnknownNameError
from edgeinfer.core.solution import Solution, SolveOptions, VerifyReport
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
]

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


@dataclass(frozen=True)
class SolverInfo:
    problem: str
    algorithm: str
    description: str
    func: Callable[..., Solution]
    exact: bool = False


_PROBLEMS: dict[str, ProblemSpec] = {}
_SOLVERS: dict[tuple[str, str], SolverInfo] = {}
_LOADED = False


def register_problem(spec: ProblemSpec) -> ProblemSpec:
    if spec.name in _PROBLEMS and _PROBLEMS[spec.name] is not spec:
        raise EdgeInferError(f"problem {spec.name!r} registered twice")
    _PROBLEMS[spec.name] = spec
    return spec


def register_solver(
    problem: str, algorithm: str, description: str, *, exact: bool = False
) -> Callable[[Callable[..., Solution]], Callable[..., Solution]]:
    """Decorator registering ``func(instance, *, options) -> Solution``."""

    def deco(func: Callable[..., Solution]) -> Callable[..., Solution]:
        key = (problem, algorithm)
        if key in _SOLVERS and _SOLVERS[key].func is not func:
            raise EdgeInferError(f"solver {algorithm!r} for {problem!r} registered twice")
        _SOLVERS[key] = SolverInfo(problem, algorithm, description, func, exact)
        return func

    return deco


def load_frameworks() -> None:
    """Import every framework package that exists, populating the registries."""
    global _LOADED
    if _LOADED:
        return
    for mod in FRAMEWORK_MODULES:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)
    _LOADED = True


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
        known = [a for (p, a) in _SOLVERS if p == problem]
        raise UnknownNameError(f"algorithm for {problem}", algorithm, known)
    return _SOLVERS[key]


def list_problems() -> list[ProblemSpec]:
    load_frameworks()
    return [_PROBLEMS[k] for k in sorted(_PROBLEMS)]


def list_solvers(problem: str | None = None) -> list[SolverInfo]:
    load_frameworks()
    return [s for k, s in sorted(_SOLVERS.items()) if problem is None or k[0] == problem]


def solve(
    problem: str, algorithm: str, instance: Any, options: SolveOptions | None = None
) -> Solution:
    """Run a registered solver and stamp its wall time.

    Bad input raises (``InvalidInstanceError``, ``UnsupportedInstanceError``);
    infeasibility comes back as a status.
    """
    info = get_solver(problem, algorithm)
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    try:
        sol = info.func(instance, options=opts)
    except EdgeInferError:
        raise
    except (ArithmeticError, RuntimeError) as exc:  # numerical failure inside a solver
        raise SolverError(f"{problem}/{algorithm} failed: {exc}") from exc
    wall = time.perf_counter() - t0
    if not isinstance(sol, Solution):
        raise SolverError(f"{problem}/{algorithm} returned {type(sol).__name__}, not a Solution")
    if sol.wall_time_s == 0.0:
        sol = replace(sol, wall_time_s=wall)
    if sol.status is SolveStatus.ERROR:
        raise SolverError(f"{problem}/{algorithm} reported an error: {dict(sol.stats).get('message', '')}")
    return sol
