"""Typed solution base, solve options and the independent verification report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeinfer.core.status import SolveStatus

__all__ = ["Solution", "SolveOptions", "VerifyReport", "Violations", "STATS_KEYS", "json_safe"]

#: Keys with one meaning in every problem's ``Solution.stats`` (a solver uses these names when
#: it reports the quantity; other keys are solver-specific). Values are JSON-safe: numbers,
#: strings, booleans, ``None`` (a non-finite number is stored as ``None``), lists and dicts.
STATS_KEYS: dict[str, str] = {
    "iterations": "iterations of the solver's main loop (gradient steps, rounds, passes)",
    "nodes": "branch-and-bound or search-tree nodes explored",
    "evaluations": "candidate solutions evaluated (local search, exhaustive enumeration)",
    "bound": "best proven bound on the objective (same sense and unit as the objective)",
    "gap": "relative gap |objective - bound| / max(|objective|, 1e-9), when a bound is known",
    "message": "a human-readable note (why a solver stopped, what it fell back to)",
}


def json_safe(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays, tuples and enums made JSON types; non-finite floats -> None."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy arrays and scalars
        return json_safe(obj.tolist())
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "value") and isinstance(obj.value, str | int | float):  # enums
        return json_safe(obj.value)
    return str(obj)


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

    def __post_init__(self) -> None:
        from edgeinfer.core.errors import InvalidOptionError
        from edgeinfer.core.options import MAX_INT

        t = self.time_limit_s
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(float(t)) or t <= 0:
                raise InvalidOptionError("time_limit_s", f"must be a positive finite number of seconds, got {t!r}")
        sd = self.seed
        if sd is not None:
            if isinstance(sd, bool) or not isinstance(sd, int) or not 0 <= sd <= MAX_INT:
                raise InvalidOptionError("seed", f"must be an integer in [0, 2**62], got {sd!r}")
        if not isinstance(self.params, Mapping):
            raise InvalidOptionError("params", f"must be a mapping of parameter names to values, got {type(self.params).__name__}")

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter's value (after :func:`~edgeinfer.core.registry.solve` resolved the
        declared parameters, every declared name is present)."""
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

    def summary_items(self) -> list[tuple[str, Any]]:
        """The few numbers that matter, as ``(label, value)``; frameworks may extend it."""
        items: list[tuple[str, Any]] = [("status", self.status.value), (self._objective_label(), self.objective)]
        for key in ("bound", "gap", "nodes", "iterations"):
            v = self.stats.get(key) if isinstance(self.stats, Mapping) else None
            if v is not None:
                items.append((key, v))
        items.append(("wall time", f"{self.wall_time_s:.3g} s"))
        return items

    def _objective_label(self) -> str:
        from edgeinfer.core.registry import (
            _PROBLEMS,  # registered problems only; no lookup, no import
        )

        spec = _PROBLEMS.get(self.problem)
        return spec.objective if spec is not None else "objective"

    def summary(self) -> str:
        """One readable line: ``slide/slide: optimal, users served 11, wall time 0.0013 s``."""
        parts = []
        for label, v in self.summary_items():
            if isinstance(v, float):
                v = f"{v:.6g}"
            parts.append(f"{label} {v}" if label != "status" else str(v))
        return f"{self.problem}/{self.algorithm}: " + ", ".join(parts)

    def __str__(self) -> str:
        return self.summary()


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
    ``ok`` holds when the solution is feasible and its claim is right. With ``integer=True``
    (an objective that counts: users served, blocks) the claim must equal the recomputed count
    exactly; otherwise it matches within ``rel_tol``/``abs_tol`` (``math.isclose``). A claim
    that is not a finite number never matches a finite recomputed objective.
    """

    feasible: bool
    objective: float
    reported_objective: float | None = None
    violations: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    integer: bool = False

    @property
    def objective_matches(self) -> bool:
        if self.reported_objective is None:
            return True
        if self.integer:
            return bool(self.reported_objective == self.objective and math.isfinite(self.objective))
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
