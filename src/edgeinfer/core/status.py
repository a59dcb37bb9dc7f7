"""Solver status codes (cf. ``scipy.optimize.milp``)."""

from __future__ import annotations

from enum import Enum

__all__ = ["SolveStatus"]


class SolveStatus(str, Enum):
    """Outcome of a solve. Infeasibility is a status, never an exception."""

    OPTIMAL = "optimal"  #: proven optimal
    FEASIBLE = "feasible"  #: feasible, optimality not proven (heuristics, baselines)
    INFEASIBLE = "infeasible"  #: no feasible solution exists (or none satisfies a hard requirement)
    TIME_LIMIT = "time_limit"  #: stopped by the time limit; best solution found so far
    ERROR = "error"  #: the solver failed

    def __str__(self) -> str:
        return self.value

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT)
