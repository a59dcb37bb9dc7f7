"""The ``partial-loading`` study (``edgeinfer reproduce partial-loading``): §VII of the
PartialLoading paper, Figs. 6-9 and the paper's claims, through the experiment engine.

Each task is one realisation at one point and runs BOTH cases (backbone-sharing library and
general library) with every algorithm, named ``bs:<algo>`` and ``general:<algo>``. Besides the
study's own names (:data:`STUDY_ALGOS`), ``--algorithms`` takes ``bs:NAME`` / ``general:NAME``
for any registered ``partial_loading`` solver (built-in or plugin), run with its declared
defaults and verified (e.g. ``bs:search`` for the default point of docs/loading.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec, solve_row
from edgeinfer.loading.scenario import ScenarioConfig, make_instance

__all__ = ["ALGO_PARAMS", "PROBLEM", "STUDY", "STUDY_ALGOS", "run_task", "solution_metrics"]

PROBLEM = "partial_loading"

#: display name -> (registered algorithm, params)
ALGO_PARAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "spec": ("spec", {}),
    "spec-slotted": ("spec-slotted", {"slot_s": 0.01}),
    "gen": ("gen", {}),
    "search": ("search", {}),
    "independent": ("independent", {}),
    "equal-r5": ("equal-bandwidth", {"r": 5}),
    "equal-r10": ("equal-bandwidth", {"r": 10}),
    "equal-r20": ("equal-bandwidth", {"r": 20}),
}

#: the study's own algorithm names -> (case, display name in ALGO_PARAMS)
STUDY_ALGOS: dict[str, tuple[str, str]] = {
    "bs:spec": ("backbone", "spec"),
    "bs:gen": ("backbone", "gen"),
    "bs:independent": ("backbone", "independent"),
    "bs:spec-slotted": ("backbone", "spec-slotted"),
    "bs:equal-r5": ("backbone", "equal-r5"),
    "bs:equal-r10": ("backbone", "equal-r10"),
    "bs:equal-r20": ("backbone", "equal-r20"),
    "general:gen": ("general", "gen"),
    "general:search": ("general", "search"),
    "general:independent": ("general", "independent"),
    "general:equal-r5": ("general", "equal-r5"),
    "general:equal-r10": ("general", "equal-r10"),
    "general:equal-r20": ("general", "equal-r20"),
}


def _task_config(p: dict[str, Any] | Any, case: str) -> ScenarioConfig:
    small = bool(p["fig9_scale"])
    return ScenarioConfig(
        case=case,
        n_users=20 if small else int(p["n_users"]),
        n_models=5 if small else int(p["n_models_bs"] if case == "backbone" else p["n_models_general"]),
        bandwidth_hz=float(p["bandwidth_hz"]),
        deadline_s=0.2 if small else float(p["deadline_s"]),
        sharing_ratio=float(p["sharing_ratio"]),
        disk_bytes_per_s=float(p["disk_bytes_per_s"]),
        host_to_device_bytes_per_s=float(p["host_to_device_bytes_per_s"]),
    )


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One realisation at one point: both cases (BS and general), every algorithm, verified.

    At Fig. 9's scale (``fig9_scale``: K 20, 5 models, 200 ms) ``exact`` (the exhaustive
    optimum) also runs; its served ratio and time go in the extra columns
    ``exact_served_ratio`` and ``exact_runtime_s`` of that case's rows. A name that is not
    one of :data:`STUDY_ALGOS` is ``bs:SOLVER`` or ``general:SOLVER``, a registered solver run
    with its declared defaults (:func:`~edgeinfer.experiments.study.solve_row`).
    """
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions
    from edgeinfer.loading.problem import verify

    p = task.params
    seeds = task.child_seeds(2)
    rows: list[dict[str, Any]] = []
    for case, seed in zip(("backbone", "general"), seeds, strict=True):
        names = [n for n in task.algorithms if _case_of(n) == case]
        if not names:  # a run (--algorithms) without this case: no instance drawn
            continue
        inst = make_instance(_task_config(p, case), rng=np.random.default_rng(seed))
        extra: dict[str, Any] = {}
        if p["fig9_scale"]:
            t0 = time.perf_counter()
            ex = solve("partial_loading", "exact", inst)
            extra = {"exact_served_ratio": ex.objective / max(inst.n_users, 1),
                     "exact_runtime_s": time.perf_counter() - t0}
        for name in names:
            if name not in STUDY_ALGOS:
                rows.append({**solve_row(PROBLEM, name.split(":", 1)[1], inst, solution_metrics,
                                         seed=task.solver_seed, label=name), **extra})
                continue
            disp = STUDY_ALGOS[name][1]
            algo, params = ALGO_PARAMS[disp]
            params = dict(params)
            if disp == "spec-slotted":
                params["slot_s"] = float(p["slot_s"])
            t0 = time.perf_counter()
            sol = solve("partial_loading", algo, inst, SolveOptions(params=params))
            dt = time.perf_counter() - t0
            rep = verify(inst, sol)  # type: ignore[arg-type]
            if not rep.ok:  # pragma: no cover - a solver bug
                raise RuntimeError(f"{name} failed verification: {rep.violations}")
            rows.append({"algorithm": name, "served_ratio": sol.objective / max(inst.n_users, 1),
                         "runtime_s": dt, **extra})
    return rows


def _case_of(name: str) -> str:
    return "backbone" if name.startswith("bs:") else "general"


def solution_metrics(instance: Any, solution: Any) -> dict[str, float]:
    """The study's metrics of a solved instance: served ratio and the solver's wall time."""
    return {"served_ratio": solution.objective / max(instance.n_users, 1), "runtime_s": float(solution.wall_time_s)}


_FIG6_SWEEPS = ("default", "bandwidth", "users", "deadline", "theta")


def _point_means(df: Any) -> Any:
    return df.groupby(["sweep", "point", "algorithm"])["served_ratio"].mean().unstack("algorithm")


def _gain_over(a: str, b: str) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        m = _point_means(df[df["sweep"].isin(_FIG6_SWEEPS)])
        return float(np.mean(m[a] / m[b] - 1.0))
    return measure


def _below_exhaustive(alg: str) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        d = df[(df["sweep"] == "fig9") & (df["algorithm"] == alg)]
        return float(1.0 - d["served_ratio"].mean() / d["exact_served_ratio"].mean())
    return measure


def _fig9_runtime(alg: str) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        d = df[(df["sweep"] == "fig9") & (df["algorithm"] == alg)]
        return float(d["runtime_s"].median() * 1e3)
    return measure


def _default_gain(a: str, b: str) -> Callable[[Any], float]:
    """Relative gain of ``a`` over ``b`` at the default point (mean served ratios)."""
    def measure(df: Any) -> float:
        m = df[df["sweep"] == "default"].groupby("algorithm")["served_ratio"].mean()
        return float(m[a] / m[b] - 1.0)
    return measure


def _equal_gap(r: int) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        m = _point_means(df[df["sweep"] == "bandwidth"])
        return float(np.mean(m["bs:spec"] / m[f"bs:equal-r{r}"] - 1.0))
    return measure


def _summary(df: Any) -> dict[str, Any]:
    d = df[df["sweep"] == "fig9"]
    out: dict[str, Any] = {"fig9": {}}
    for alg, g in d.groupby("algorithm"):
        out["fig9"][str(alg)] = {"served_ratio": float(g["served_ratio"].mean()),
                                 "runtime_s": float(g["runtime_s"].median()),
                                 "exact_served_ratio": float(g["exact_served_ratio"].mean()),
                                 "exact_runtime_s": float(g["exact_runtime_s"].median())}
    return out


_B = (10e6, 50e6, 100e6, 200e6, 300e6, 400e6)


def _figs() -> list[Figure]:
    bs3 = ("bs:spec", "bs:gen", "bs:independent")
    ge3 = ("general:gen", "general:search", "general:independent")
    bs_eq = ("bs:spec", "bs:equal-r5", "bs:equal-r10", "bs:equal-r20")
    ge_eq = ("general:gen", "general:equal-r5", "general:equal-r10", "general:equal-r20")
    axes = [("bandwidth_hz", "bandwidth B (Hz)", "a"), ("n_users", "users K", "b"),
            ("deadline_s", "deadline (s)", "c"), ("sharing_ratio", "sharing ratio theta", "d")]
    figs = []
    for x, label, tag in axes:
        figs.append(Figure(f"fig6{tag}", x=x, y="served_ratio", xlabel=label, ylabel="served ratio",
                           algorithms=bs3, title="BS case"))
        figs.append(Figure(f"fig7{tag}", x=x, y="served_ratio", xlabel=label, ylabel="served ratio",
                           algorithms=ge3, title="general case"))
    figs += [
        Figure("fig8a", x="bandwidth_hz", y="served_ratio", xlabel="bandwidth B (Hz)", ylabel="served ratio",
               algorithms=bs_eq, title="BS case, equal sub-channels"),
        Figure("fig8b", x="n_users", y="served_ratio", xlabel="users K", ylabel="served ratio",
               algorithms=bs_eq, title="BS case, equal sub-channels"),
        Figure("fig8c", x="bandwidth_hz", y="served_ratio", xlabel="bandwidth B (Hz)", ylabel="served ratio",
               algorithms=ge_eq, title="general case, equal sub-channels"),
        Figure("fig8d", x="n_users", y="served_ratio", xlabel="users K", ylabel="served ratio",
               algorithms=ge_eq, title="general case, equal sub-channels"),
        Figure("fig6_runtime", x="bandwidth_hz", y="runtime_s", xlabel="bandwidth B (Hz)",
               ylabel="solver time (s)", algorithms=("bs:spec", "bs:gen", "bs:spec-slotted"), logy=True),
    ]
    return figs


STUDY = Study(
    name="partial-loading",
    title="PartialLoading (Qu et al.): Figs. 6-9",
    description=("Served ratio vs B, K, deadline and theta in the backbone-sharing (Fig. 6) and general "
                 "(Fig. 7) cases, the equal-bandwidth ablation (Fig. 8) and Fig. 9's comparison with the "
                 "exhaustive optimum (sweep fig9: K 20, 5 models, 200 ms). Server constants are "
                 "assumptions (docs/loading.md)."),
    params=[
        Param("bandwidth_hz", 200e6, float, "uplink bandwidth B (Hz)", bounds=(1e3, 1e12)),
        Param("n_users", 80, int, "users K", bounds=(1, 100_000)),
        Param("deadline_s", 0.7, float, "deadline (s)", bounds=(0.0, 1e3)),
        Param("sharing_ratio", 0.85, float, "theta: mean frozen fraction of layers (1)", bounds=(0.0, 0.99)),
        Param("n_models_bs", 50, int, "models in the backbone-sharing library", bounds=(1, 10_000)),
        Param("n_models_general", 25, int, "models in the general library", bounds=(1, 10_000)),
        Param("fig9_scale", False, bool, "Fig. 9's scale: K 20, 5 models, 200 ms, with the exhaustive optimum"),
        Param("slot_s", 0.01, float, "slot of spec-slotted (s)", bounds=(1e-4, 1.0)),
        Param("disk_bytes_per_s", 2e9, float, "disk/page cache -> host memory (B/s)", bounds=(1.0, None)),
        Param("host_to_device_bytes_per_s", 12e9, float, "host -> GPU (B/s)", bounds=(1.0, None)),
    ],
    sweeps={
        "bandwidth": Axis("bandwidth_hz", quick=(10e6, 100e6, 400e6), full=_B),
        "users": Axis("n_users", quick=(60, 100), full=(60, 70, 80, 90, 100)),
        "deadline": Axis("deadline_s", quick=(0.5, 0.9), full=(0.5, 0.6, 0.7, 0.8, 0.9)),
        "theta": Axis("sharing_ratio", quick=(0.75, 0.95), full=(0.75, 0.80, 0.85, 0.90, 0.95)),
        "fig9": Axis("fig9_scale", quick=(True,), full=(True,)),
    },
    algorithms=list(STUDY_ALGOS),
    metrics={"served_ratio": "served user ratio (1)", "runtime_s": "solver time (s)"},
    run_task=run_task,
    realisations=(3, 200),
    figures=_figs(),
    claims=[
        Claim("spec over independent, BS case (Fig. 6, mean over points)", 0.24,
              _gain_over("bs:spec", "bs:independent"), unit="fraction", needs=("bs:spec", "bs:independent")),
        Claim("gen over independent, BS case (Fig. 6)", 0.16, _gain_over("bs:gen", "bs:independent"),
              unit="fraction", needs=("bs:gen", "bs:independent")),
        Claim("gen over independent, general case (Fig. 7)", 0.36,
              _gain_over("general:gen", "general:independent"), unit="fraction",
              needs=("general:gen", "general:independent")),
        Claim("spec over independent at the default point, BS case", 0.24,
              _default_gain("bs:spec", "bs:independent"), unit="fraction", needs=("bs:spec", "bs:independent")),
        Claim("gen over independent at the default point, BS case", 0.16,
              _default_gain("bs:gen", "bs:independent"), unit="fraction", needs=("bs:gen", "bs:independent")),
        Claim("gen over independent at the default point, general case", 0.36,
              _default_gain("general:gen", "general:independent"), unit="fraction",
              needs=("general:gen", "general:independent")),
        Claim("spec-slotted (10 ms slots) vs spec at the default point, BS case", "n/a (not reported)",
              _default_gain("bs:spec-slotted", "bs:spec"), unit="fraction", needs=("bs:spec-slotted", "bs:spec")),
        Claim("gen below exhaustive search, BS (Fig. 9a)", 0.037, _below_exhaustive("bs:gen"), unit="fraction",
              needs=("bs:gen",)),
        Claim("gen below exhaustive search, general (Fig. 9b)", 0.043, _below_exhaustive("general:gen"),
              unit="fraction", needs=("general:gen",)),
        Claim("spec equals exhaustive search (Fig. 9a)", 0.0, _below_exhaustive("bs:spec"), unit="fraction",
              needs=("bs:spec",)),
        Claim("spec running time at Fig. 9's scale", 5.6, _fig9_runtime("bs:spec"), unit="ms", needs=("bs:spec",)),
        Claim("spec over equal bandwidth r=20 vs B (Fig. 8a)", 0.262, _equal_gap(20), unit="fraction",
              needs=("bs:spec", "bs:equal-r20")),
        Claim("spec over equal bandwidth r=5 vs B (Fig. 8a)", 0.099, _equal_gap(5), unit="fraction",
              needs=("bs:spec", "bs:equal-r5")),
    ],
    summary=_summary,
    version="1",
    problem=PROBLEM,
    solution_metrics=solution_metrics,
    solver_prefixes=("bs:", "general:"),
)
