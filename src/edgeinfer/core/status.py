"""Solver status codes (cf. ``scipy.optimize.milp``)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SolveStatus"]


class SolveStatus(StrEnum):
    """Outcome of a solve. Infeasibility is a status, never an exception."""

    OPTIMAL = "optimal"  #: proven optimal
    FEASIBLE = "feasible"  #: feasible, optimality not proven (heuristics, baselines)
    INFEASIBLE = "infeasible"  #: no feasible solution exists (or none satisfies a hard requirement)
    TIME_LIMIT = "time_limit"  #: stopped by the time limit; best solution found so far
    ERROR = "error"  #: the solver failed

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT)
