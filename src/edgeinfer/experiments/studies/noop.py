"""A no-op study (not in the registry's ``all``): measures the engine's per-task overhead."""

from __future__ import annotations

from typing import Any

from edgeinfer.experiments.study import Axis, Param, Study, TaskSpec

__all__ = ["STUDY", "run_task"]


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """Returns a constant row per algorithm, doing no work (raises at realisation ``fail_at``,
    to test how the engine reports a failing task)."""
    if task.realisation == task.params["fail_at"]:
        raise ValueError(f"deliberate failure at realisation {task.realisation}")
    return [{"algorithm": alg, "value": float(task.params["x"])} for alg in task.algorithms]


STUDY = Study(
    name="noop",
    title="No-op study (engine overhead)",
    params=[Param("x", 0.0, float, "a value (1)"), Param("points", 1, int, "unused (1)", bounds=(1, None)),
            Param("fail_at", -1, int, "realisation whose task raises (-1: none; for tests)", bounds=(-1, None))],
    sweeps={"x": Axis("x", quick=(1.0, 2.0), full=tuple(float(i) for i in range(1, 11)))},
    algorithms=["a"],
    metrics={"value": "value (1)"},
    run_task=run_task,
    realisations=(10, 100),
)
