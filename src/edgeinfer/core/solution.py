"""Typed solution base, solve options and the independent verification report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeinfer.core.status import SolveStatus

__all__ = ["Solution", "SolveOptions", "VerifyReport", "Violations"]


@dataclass(frozen=True, kw_only=True)
class SolveOptions:
    """Options every solver accepts.

    Attributes
    ----------
    time_limit_s:
        Wall-clock budget. Exact solvers that hit it return their incumbent with
        status ``time_limit``; ``None`` means no limit (exact solvers may then
        refuse instances that are too large).
    seed:
        Seed for randomised algorithms (multi-start, sampling). Same seed, same result.
    params:
        Algorithm-specific parameters (e.g. ``{"power": "constant"}``, ``{"slot_s": 0.01}``).
    """

    time_limit_s: float | None = None
    seed: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True, kw_only=True)
class Solution:
    """Base of every framework's solution.

    Frameworks subclass it (frozen, keyword-only) and add their decision variables.
    ``objective`` is the problem's objective as the solver computed it; ``verify``
    recomputes it independently from the instance.
    """

    problem: str
    algorithm: str
    status: SolveStatus
    objective: float
    wall_time_s: float = 0.0
    stats: Mapping[str, Any] = field(default_factory=dict)


class Violations:
    """Collects constraint violations while verifying a solution."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.items.append(message)
        return bool(condition)

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    """Result of an independent check of a solution against its instance.

    ``feasible`` says whether every constraint holds; ``objective`` is the value
    recomputed from the instance; ``reported_objective`` is what the solution claims.
    ``ok`` holds when the solution is feasible and its claim is right.
    """

    feasible: bool
    objective: float
    reported_objective: float | None = None
    violations: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9

    @property
    def objective_matches(self) -> bool:
        if self.reported_objective is None:
            return True
        return math.isclose(
            self.objective, self.reported_objective, rel_tol=self.rel_tol, abs_tol=self.abs_tol
        )

    @property
    def ok(self) -> bool:
        return self.feasible and self.objective_matches

    @property
    def reasons(self) -> list[str]:
        out = list(self.violations)
        if not self.objective_matches:
            out.append(
                f"reported objective {self.reported_objective!r} differs from the recomputed {self.objective!r}"
            )
        return out

    @classmethod
    def from_violations(
        cls, violations: Violations, objective: float, reported_objective: float | None, **kw: Any
    ) -> VerifyReport:
        return cls(
            feasible=not violations,
            objective=objective,
            reported_objective=reported_objective,
            violations=tuple(violations.items),
            **kw,
        )
