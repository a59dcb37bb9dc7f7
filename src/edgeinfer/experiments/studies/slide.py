"""``edgeinfer reproduce slide``: served ratio vs bandwidth, users, deadline and model size for
``slide``, ``slide-dynamic``, ``sequential`` and ``equal-bandwidth`` with the zoo's real profiles
(``vit_tiny``, ``nin``, ``resnet18``) and device classes from IoT- to laptop-GPU-class
(``edgeinfer.streaming.scenario.DEVICE_CLASSES``; docs/streaming.md).

``--algorithms`` also takes any registered ``slide`` solver (built-in or plugin), run with its
declared defaults on the same population and verified."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec, solve_row

__all__ = ["ALGORITHMS", "STUDY", "instance", "run_task", "solution_metrics"]

PROBLEM = "slide"
ALGORITHMS = ["slide", "slide-dynamic", "sequential", "equal-bandwidth"]
MIXES = {
    "all": ("iot", "phone", "tablet", "laptop-gpu"),
    "iot": ("iot",),
    "phone-to-laptop": ("phone", "tablet", "laptop-gpu"),
}


def instance(task: TaskSpec) -> Any:
    """The task's random user population (zoo models, device mix) at its parameter point."""
    from edgeinfer.streaming.scenario import make_instance

    p = task.params
    return make_instance(rng=task.rng(), n_users=p["num_users"], models=("vit_tiny", "nin", "resnet18"),
                        bandwidth_hz=p["bandwidth_hz"], deadline_s=p["deadline_s"],
                        bits_scale=p["model_size_scale"], size_scale=1.0, classes=MIXES[p["device_mix"]],
                        n_candidates=p["candidates"])


def solution_metrics(inst: Any, sol: Any) -> dict[str, float]:
    """Users served and the served ratio of a solved population."""
    return {"served": float(sol.objective), "served_ratio": float(sol.objective) / inst.num_users}


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One random user population at one parameter point, every algorithm on it."""
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions

    inst = instance(task)
    rows = []
    for alg in task.algorithms:
        if alg not in ALGORITHMS:
            rows.append(solve_row(PROBLEM, alg, inst, solution_metrics, seed=task.solver_seed))
            continue
        sol = solve("slide", alg, inst, SolveOptions(seed=0))
        rows.append({"algorithm": alg, "served": float(sol.objective),
                     "served_ratio": float(sol.objective) / inst.num_users})
    return rows


def _ratio(a: str, b: str) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        d = df[df["sweep"] == "default"].groupby("algorithm")["served"].mean()
        return float(d[a] / d[b]) if d[b] > 0 else float("nan")

    return measure


STUDY = Study(
    name="slide",
    title="SLIDE: served ratio vs bandwidth, users, deadline and model size (zoo profiles)",
    params=[
        Param("bandwidth_hz", 100e6, float, "downlink bandwidth (Hz)", bounds=(1e5, 1e11)),
        Param("num_users", 50, int, "number of users", bounds=(1, 100000)),
        Param("deadline_s", 1.0, float, "mean deadline (s); each user U(0.5, 1.5) x this", bounds=(1e-4, 1e4)),
        Param("model_size_scale", 1.0, float, "scale of every layer's download size (bits)", bounds=(1e-4, 1e4)),
        Param("device_mix", "all", str, "device classes drawn uniformly", choices=tuple(MIXES)),
        Param("candidates", 2, int, "candidate models per user (of vit_tiny, nin, resnet18)", bounds=(1, 3)),
    ],
    sweeps={
        "bandwidth": Axis("bandwidth_hz", quick=(20e6, 100e6, 500e6),
                          full=(10e6, 20e6, 50e6, 100e6, 200e6, 500e6, 1e9)),
        "users": Axis("num_users", quick=(10, 50, 200), full=(10, 25, 50, 100, 200, 400)),
        "deadline": Axis("deadline_s", quick=(0.25, 1.0, 4.0), full=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0)),
        "model_size": Axis("model_size_scale", quick=(0.25, 1.0, 4.0), full=(0.125, 0.25, 0.5, 1.0, 2.0, 4.0)),
    },
    algorithms=ALGORITHMS,
    metrics={"served_ratio": "served ratio", "served": "users served"},
    run_task=run_task,
    realisations=(5, 50),
    figures=[
        Figure("served_vs_bandwidth", title="SLIDE: served ratio vs bandwidth", x="bandwidth_hz", y="served_ratio", xlabel="bandwidth (Hz)",
               ylabel="served ratio", logx=True),
        Figure("served_vs_users", title="SLIDE: served ratio vs users", x="num_users", y="served_ratio", xlabel="users", ylabel="served ratio", logx=True),
        Figure("served_vs_deadline", title="SLIDE: served ratio vs deadline", x="deadline_s", y="served_ratio", xlabel="mean deadline (s)",
               ylabel="served ratio", logx=True),
        Figure("served_vs_model_size", title="SLIDE: served ratio vs model size", x="model_size_scale", y="served_ratio", xlabel="model size (x real)",
               ylabel="served ratio", logx=True),
    ],
    claims=[
        Claim("SLIDE serves more users than download-then-infer (slide / sequential, default point)",
              "'significantly' (no number in the abstract)", _ratio("slide", "sequential"), unit="x",
              needs=("slide", "sequential")),
        Claim("time-varying shares (ours) vs static SLIDE (slide-dynamic / slide, default point)",
              "n/a (beyond the paper)", _ratio("slide-dynamic", "slide"), unit="x",
              needs=("slide-dynamic", "slide")),
    ],
    problem=PROBLEM,
    instance=instance,
    solution_metrics=solution_metrics,
)
