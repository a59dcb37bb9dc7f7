"""A toy study exercising the whole engine: a noisy analytic function of two parameters.

``f(a, b) = a * sin(b) + 1`` observed with Gaussian noise (``noise_std``); algorithm
``exact`` returns ``f``, algorithm ``half`` returns half of the noisy ``f``. Optionally burns CPU
(``work`` matrix multiplications) so the benchmarks can measure parallel speed-up.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec

__all__ = ["STUDY", "run_task"]


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One realisation: both algorithms on the same noise draw."""
    p = task.params
    rng = task.rng()
    for _ in range(p["work"]):  # optional CPU load for benchmarks
        m = rng.standard_normal((60, 60))
        m = m @ m
    f = p["a"] * math.sin(p["b"]) + 1.0
    noise = float(rng.normal(0.0, p["noise_std"]))
    rows = []
    for alg in task.algorithms:
        scale = 1.0 if alg == "exact" else 0.5
        rows.append({"algorithm": alg, "value": scale * (f + noise), "error": abs(noise) * scale})
    return rows


def _mean_value(df: Any) -> list[float]:
    """f at the default point, one value per realisation."""
    d = df[(df["sweep"] == "default") & (df["algorithm"] == "exact")]
    return [float(v) for v in d.groupby("realisation")["value"].mean()]


STUDY = Study(
    name="toy",
    title="Toy study: noisy a*sin(b)+1",
    description="Exercises the engine: two sweeps, two algorithms, one claim.",
    params=[
        Param("a", 2.0, float, "amplitude (1)", bounds=(0.0, 100.0)),
        Param("b", 1.0, float, "phase (rad)", bounds=(-10.0, 10.0)),
        Param("noise_std", 0.1, float, "noise standard deviation (1)", bounds=(0.0, None)),
        Param("work", 0, int, "CPU load: 60x60 matmuls per task", bounds=(0, None)),
    ],
    sweeps={
        "amplitude": Axis("a", quick=(0.0, 1.0, 2.0), full=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)),
        "phase": Axis("b", quick=(0.0, 1.0, 2.0), full=tuple(np.round(np.linspace(0.0, 3.0, 7), 3).tolist())),
    },
    algorithms=["exact", "half"],
    metrics={"value": "f(a, b) (1)", "error": "absolute noise (1)"},
    run_task=run_task,
    realisations=(4, 20),
    figures=[
        Figure("fig_amplitude", x="a", y="value", xlabel="amplitude a (1)", ylabel="f (1)"),
        Figure("fig_phase", x="b", y="value", xlabel="phase b (rad)", ylabel="f (1)"),
    ],
    claims=[Claim("f(2, 1) = 2 sin(1) + 1", 2 * math.sin(1.0) + 1.0, _mean_value, unit="1 (the value of f)",
                  source="definition", target=(2 * math.sin(1.0) + 0.75, 2 * math.sin(1.0) + 1.25),
                  partly=(2 * math.sin(1.0) + 0.25, 2 * math.sin(1.0) + 1.75),
                  reasons={"reproduced": "the mean of noisy observations of f is f"})],
    fixture=True,
)
