"""edgeinfer: plan and run multi-user AI inference at the wireless edge.

The everyday API (see the README)::

    import edgeinfer

    inst = edgeinfer.load("examples/slide_small.json")       # a typed, validated instance
    sol = edgeinfer.solve(inst, "slide", seed=0)              # verified independently
    print(sol)                                                # slide/slide: optimal, users served 11, ...
    edgeinfer.save(sol, "sol.json")
    edgeinfer.verify(inst, "sol.json").ok                     # True
    edgeinfer.problems(), edgeinfer.algorithms("slide")

Extending it: :func:`register_solver` with declared :class:`Param` s, from your own code or
from a plugin package (entry-point group ``edgeinfer.plugins``; docs/architecture.md).

Importing ``edgeinfer`` loads nothing heavy: the frameworks are imported on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from edgeinfer.core.solution import Solution, VerifyReport

__all__ = [
    "__version__",
    "load",
    "solve",
    "verify",
    "save",
    "problems",
    "algorithms",
    "solver",
    # re-exported lazily from edgeinfer.core
    "Param",
    "ProblemSpec",
    "Solution",
    "SolveOptions",
    "SolveStatus",
    "VerifyReport",
    "register_problem",
    "register_solver",
    "EdgeInferError",
    "InvalidInstanceError",
    "InvalidSolutionError",
    "InvalidOptionError",
    "UnknownNameError",
    "UnsupportedInstanceError",
    "SolverError",
    "VerificationError",
]

_LAZY = {
    "Param": "edgeinfer.core.options",
    "ProblemSpec": "edgeinfer.core.registry",
    "register_problem": "edgeinfer.core.registry",
    "register_solver": "edgeinfer.core.registry",
    "Solution": "edgeinfer.core.solution",
    "SolveOptions": "edgeinfer.core.solution",
    "VerifyReport": "edgeinfer.core.solution",
    "SolveStatus": "edgeinfer.core.status",
    "EdgeInferError": "edgeinfer.core.errors",
    "InvalidInstanceError": "edgeinfer.core.errors",
    "InvalidSolutionError": "edgeinfer.core.errors",
    "InvalidOptionError": "edgeinfer.core.errors",
    "UnknownNameError": "edgeinfer.core.errors",
    "UnsupportedInstanceError": "edgeinfer.core.errors",
    "SolverError": "edgeinfer.core.errors",
    "VerificationError": "edgeinfer.core.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgeinfer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


PathOrDoc = str | os.PathLike[str] | dict[str, Any]


def load(source: PathOrDoc) -> Any:
    """Read and validate an instance (a JSON file's path, or the parsed document).

    Returns the problem's typed instance (e.g. ``SlideInstance``); a malformed document raises
    ``InvalidInstanceError`` naming the field.
    """
    from edgeinfer.core.io import load_instance

    return load_instance(source)[1]


def _instance_and_spec(instance_or_path: Any) -> tuple[Any, Any]:
    from edgeinfer.core.io import load_instance
    from edgeinfer.core.registry import problem_of_instance

    if isinstance(instance_or_path, str | os.PathLike | dict):
        spec, inst = load_instance(instance_or_path)
        return inst, spec
    return instance_or_path, problem_of_instance(instance_or_path)


def solve(
    instance_or_path: Any,
    algorithm: str,
    *,
    seed: int = 0,
    time_limit_s: float | None = None,
    verify: bool = True,
    **params: Any,
) -> Solution:
    """Solve an instance (typed, a path or a document) with a registered algorithm.

    ``params`` are the algorithm's declared parameters (``edgeinfer.solver(problem, algorithm)``
    lists them; ``edgeinfer list --problem NAME`` prints them): an unknown, mistyped or
    out-of-range one raises ``InvalidOptionError``; a wrong algorithm name raises
    ``UnknownNameError`` with the nearest name. With ``verify`` (the default, as on the command
    line) the answer is recomputed from the instance alone and a failure raises
    ``VerificationError``. Infeasibility is a status of the returned solution.
    """
    from edgeinfer.core.errors import VerificationError
    from edgeinfer.core.registry import solve as _solve
    from edgeinfer.core.solution import SolveOptions

    inst, spec = _instance_and_spec(instance_or_path)
    options = SolveOptions(time_limit_s=time_limit_s, seed=seed, params=params)
    sol = _solve(spec.name, algorithm, inst, options)
    if verify:
        report = spec.verify(inst, sol)
        if not report.ok:
            raise VerificationError(
                f"{spec.name}/{algorithm}: the solver's result failed verification: " + "; ".join(report.reasons))
    return sol


def verify(instance_or_path: Any, solution: Any) -> VerifyReport:
    """Check a solution (typed, a path or a document) against its instance, from the instance alone."""
    from edgeinfer.core.io import load_solution

    inst, spec = _instance_and_spec(instance_or_path)
    if isinstance(solution, str | os.PathLike | dict):
        solution = load_solution(solution, spec, inst)
    report: VerifyReport = spec.verify(inst, solution)
    return report


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write a solution (or an instance) as JSON, atomically; ``"-"`` writes to standard output."""
    from edgeinfer.core.io import write_json
    from edgeinfer.core.registry import get_problem, problem_of_instance
    from edgeinfer.core.solution import Solution

    if isinstance(obj, Solution):
        doc = get_problem(obj.problem).dump_solution(obj)
    else:
        spec = problem_of_instance(obj)
        if spec.dump_instance is None:
            raise TypeError(f"problem {spec.name!r} cannot write instances")
        doc = spec.dump_instance(obj)
    write_json(path, doc)


def problems() -> list[str]:
    """Names of the registered problems (built-in and plugins)."""
    from edgeinfer.core.registry import list_problems

    return [p.name for p in list_problems()]


def algorithms(problem: str) -> list[str]:
    """Names of the algorithms registered for ``problem``; ``UnknownNameError`` if unknown."""
    from edgeinfer.core.registry import get_problem, list_solvers

    get_problem(problem)
    return [s.algorithm for s in list_solvers(problem)]


def solver(problem: str, algorithm: str) -> Any:
    """The registry entry of one solver: description, ``exact``, declared ``params``."""
    from edgeinfer.core.registry import get_solver

    return get_solver(problem, algorithm)
