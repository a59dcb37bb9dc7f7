"""A tiny registered problem used to test the core contracts and the CLI end to end.

toy_knapsack: items with weights; pick as many items as fit in the capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edgeinfer.core.errors import InvalidSolutionError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import ProblemSpec, get_problem, register_problem, register_solver
from edgeinfer.core.solution import Solution, SolveOptions, VerifyReport, Violations
from edgeinfer.core.status import SolveStatus
from edgeinfer.core.validation import (
    Id,
    PositiveFloat,
    StrictModel,
    check_ref,
    check_unique_ids,
    parse_model,
    require_nonempty,
)


class ItemModel(StrictModel):
    id: Id
    weight_kg: PositiveFloat


class ToyInstanceModel(StrictModel):
    problem: Literal["toy_knapsack"]
    capacity_kg: PositiveFloat
    items: list[ItemModel]
    must_include: list[Id] = []


class ToySolutionModel(StrictModel):
    problem: Literal["toy_knapsack"]
    algorithm: str
    status: str
    picked: list[Id]
    count: int


@dataclass(frozen=True)
class ToyInstance:
    capacity_kg: float
    weights: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class ToySolution(Solution):
    picked: tuple[str, ...]


def load_instance(doc):
    m = parse_model(ToyInstanceModel, doc)
    require_nonempty(m.items, "items")
    check_unique_ids([i.id for i in m.items], "items")
    ids = {i.id for i in m.items}
    for k, ref in enumerate(m.must_include):
        check_ref(ref, ids, f"must_include[{k}]", "item")
    return ToyInstance(m.capacity_kg, {i.id: i.weight_kg for i in m.items})


def load_solution(doc, instance):
    m = parse_model(ToySolutionModel, doc, error=InvalidSolutionError)
    for k, ref in enumerate(m.picked):
        if ref not in instance.weights:
            raise InvalidSolutionError(f"picked[{k}]", f"unknown item {ref!r}")
    return ToySolution(problem="toy_knapsack", algorithm=m.algorithm, status=SolveStatus(m.status),
                       objective=float(m.count), picked=tuple(m.picked))


def dump_solution(s):
    return {"problem": "toy_knapsack", "algorithm": s.algorithm, "status": s.status.value,
            "picked": list(s.picked), "count": int(s.objective)}


def verify(instance, s):
    v = Violations()
    v.check(len(set(s.picked)) == len(s.picked), "an item is picked twice")
    total = sum(instance.weights[i] for i in s.picked)
    v.check(total <= instance.capacity_kg + 1e-9, f"weight {total} exceeds capacity {instance.capacity_kg}")
    return VerifyReport.from_violations(v, float(len(set(s.picked))), s.objective)


def register() -> None:
    try:
        get_problem("toy_knapsack")
        return
    except Exception:
        pass
    register_problem(ProblemSpec("toy_knapsack", "test-only toy problem", ToyInstanceModel, ToySolutionModel,
                                 load_instance, load_solution, dump_solution, verify))

    @register_solver("toy_knapsack", "greedy", "lightest items first (optimal for counting)", exact=True,
                     params=(Param("max_items", 1000, int, "items to pick at most", bounds=(0, None)),
                             Param("order", "light", str, "which items first", choices=("light", "heavy"))))
    def greedy(instance: ToyInstance, *, options: SolveOptions) -> ToySolution:
        picked, total = [], 0.0
        heavy = options.params["order"] == "heavy"
        for i, w in sorted(instance.weights.items(), key=lambda kv: -kv[1] if heavy else kv[1]):
            if len(picked) < options.params["max_items"] and total + w <= instance.capacity_kg:
                picked.append(i)
                total += w
        return ToySolution(problem="toy_knapsack", algorithm="greedy", status=SolveStatus.OPTIMAL,
                           objective=float(len(picked)), picked=tuple(picked))

    @register_solver("toy_knapsack", "broken", "returns an overweight answer (tests verify)")
    def broken(instance: ToyInstance, *, options: SolveOptions) -> ToySolution:
        ids = tuple(instance.weights)
        return ToySolution(problem="toy_knapsack", algorithm="broken", status=SolveStatus.FEASIBLE,
                           objective=float(len(ids)), picked=ids)

    @register_solver("toy_knapsack", "crash", "raises a ZeroDivisionError (tests exit code 3)")
    def crash(instance: ToyInstance, *, options: SolveOptions) -> ToySolution:
        return 1 / 0  # type: ignore[return-value]

    @register_solver("toy_knapsack", "nan-stats", "optimal answer whose stats hold inf and numpy values")
    def nan_stats(instance: ToyInstance, *, options: SolveOptions) -> ToySolution:
        import numpy as np

        sol = greedy(instance, options=SolveOptions(params={"max_items": 1000, "order": "light"}))
        return ToySolution(problem="toy_knapsack", algorithm="nan-stats", status=sol.status,
                           objective=sol.objective, picked=sol.picked,
                           stats={"bound": float("inf"), "nodes": np.int64(3), "gap": np.float64("nan"),
                                  "trace": np.array([1.0, np.inf])})


VALID = {"problem": "toy_knapsack", "capacity_kg": 3.0,
         "items": [{"id": "a", "weight_kg": 1.0}, {"id": "b", "weight_kg": 1.5}, {"id": "c", "weight_kg": 2.0}]}
