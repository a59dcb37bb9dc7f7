"""Core: errors, status codes, typed solutions, the solver registry, JSON I/O, RNG, units."""

from edgeinfer.core.errors import (
    EdgeInferError,
    InvalidInstanceError,
    InvalidSolutionError,
    SolverError,
    UnknownNameError,
    UnsupportedInstanceError,
)
from edgeinfer.core.registry import (
    ProblemSpec,
    get_problem,
    get_solver,
    list_solvers,
    register_problem,
    register_solver,
    solve,
)
from edgeinfer.core.rng import make_rng, spawn, spawn_seeds
from edgeinfer.core.solution import Solution, SolveOptions, VerifyReport, Violations
from edgeinfer.core.status import SolveStatus

__all__ = [
    "EdgeInferError",
    "InvalidInstanceError",
    "InvalidSolutionError",
    "SolverError",
    "UnknownNameError",
    "UnsupportedInstanceError",
    "ProblemSpec",
    "get_problem",
    "get_solver",
    "list_solvers",
    "register_problem",
    "register_solver",
    "solve",
    "make_rng",
    "spawn",
    "spawn_seeds",
    "Solution",
    "SolveOptions",
    "VerifyReport",
    "Violations",
    "SolveStatus",
]
