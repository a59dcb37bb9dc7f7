"""The ``split-noma`` study (``edgeinfer reproduce split-noma``): Figs. 2-11 of the ECC paper,
Li-GD vs GD (Corollary 4) and the paper's claims, through the experiment engine.

One task = one random drop of devices at one parameter point, every algorithm on it; ratios
against Device-Only and Neurosurgeon are taken per drop.

* Figs. 2-3: latency speed-up and energy reduction per model vs Device-Only (Device-Only's
  mean per-device latency / energy over the algorithm's; > 1 is better).
* Figs. 4-5: the same normalised to Neurosurgeon.
* Figs. 6/9, 7/10, 8/11: vs devices per AP, number of subchannels, workload (images per task).
* ``table1:li-gd`` / ``table1:gd`` rows: Table I without our pruning, for the iteration count.

``--algorithms`` also takes any registered ``split_noma`` solver (built-in or plugin), run with
its declared defaults on the same drop and verified; the ratio columns are computed for it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec, solve_row
from edgeinfer.split.problem import SplitSolution
from edgeinfer.split.scenario import PAPER_MODELS, make_instance

__all__ = ["ALGORITHMS", "STUDY", "STUDY_ALGORITHMS", "run_task", "solution_metrics"]

PROBLEM = "split_noma"

ALGORITHMS = ("device-only", "edge-only", "neurosurgeon", "dnn-surgery", "ecc-oma", "li-gd")


# ---------------------------------------------------------------------------------------------
# The experiment engine's declaration (``edgeinfer reproduce split-noma``)
# ---------------------------------------------------------------------------------------------

#: Table I as published (no pruning) for the Li-GD vs GD comparison of Corollary 4
TABLE1 = ("table1:li-gd", "table1:gd")
STUDY_ALGORITHMS = (*ALGORITHMS, *TABLE1)


def solution_metrics(inst: Any, s: Any) -> dict[str, float]:
    """Per-device mean latency and energy, objective, solver time and iterations of a solution."""
    if not isinstance(s, SplitSolution) or s.latency_s is None or s.energy_j is None:
        raise TypeError(f"split_noma/{s.algorithm} returned no per-device latency and energy")
    return {"latency_s": float(np.mean(s.latency_s)), "energy_j": float(np.mean(s.energy_j)),
            "objective": float(s.objective), "solve_time_s": float(s.wall_time_s),
            "iterations": float(dict(s.stats).get("iterations", 0) or 0)}


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One random drop at one parameter point: every algorithm, per-device means and ratios."""
    p = task.params
    inst = make_instance(seed=task.seed, model=p["model"], num_aps=p["num_aps"], users_per_ap=p["users_per_ap"],
                         num_subchannels=p["num_subchannels"], max_per_subchannel=p["max_per_subchannel"],
                         bandwidth_hz=p["bandwidth_hz"], weight_latency=p["weight_latency"],
                         workload=p["workload"])
    res: dict[str, dict[str, float]] = {}
    for name in task.algorithms:
        if name not in STUDY_ALGORITHMS:  # any registered solver: declared defaults, verified
            row = solve_row(PROBLEM, name, inst, solution_metrics, seed=task.solver_seed)
            res[name] = {k: v for k, v in row.items() if k != "algorithm"}
            continue
        alg, opts = (name.split(":", 1)[1], SolveOptions(params={"prune": False})) if name in TABLE1 \
            else (name, SolveOptions())
        t0 = time.perf_counter()
        s = solve("split_noma", alg, inst, opts)
        dt = time.perf_counter() - t0
        if not isinstance(s, SplitSolution) or s.latency_s is None or s.energy_j is None:
            raise TypeError(f"split_noma/{alg} returned no per-device latency and energy")
        res[name] = {"latency_s": float(np.mean(s.latency_s)), "energy_j": float(np.mean(s.energy_j)),
                     "objective": float(s.objective), "solve_time_s": dt,
                     "iterations": float(dict(s.stats).get("iterations", 0))}
    rows = []
    for name, r in res.items():
        row = {"algorithm": name, **r}
        for base, tag in (("device-only", ""), ("neurosurgeon", "_vs_neurosurgeon")):
            if base in res:
                row[f"latency_speedup{tag}"] = res[base]["latency_s"] / r["latency_s"]
                row[f"energy_reduction{tag}"] = res[base]["energy_j"] / r["energy_j"]
            else:
                row[f"latency_speedup{tag}"] = row[f"energy_reduction{tag}"] = float("nan")
        rows.append(row)
    return rows


def _model_mean(alg: str, metric: str, model: str | None = None, agg: str = "mean") -> Callable[[Any], float]:
    """Claim measure: ``metric`` of ``alg`` on the per-model sweep (Figs. 2-5), one model or
    aggregated over models (``mean``/``min``/``max`` of the per-model means)."""

    def measure(df: Any) -> float:
        d = df[(df["sweep"] == "model") & (df["algorithm"] == alg)]
        per = d.groupby("model")[metric].mean()
        if model is not None:
            return float(per.get(model, float("nan")))
        return float(getattr(per, agg)()) if len(per) else float("nan")

    return measure


def _peak_subchannels(df: Any) -> float:
    d = df[(df["sweep"] == "subchannels") & (df["algorithm"] == "li-gd")]
    per = d.groupby("num_subchannels")["latency_speedup"].mean()
    return float(per.idxmax()) if len(per) else float("nan")


def _iteration_ratio(df: Any) -> float:
    d = df[(df["sweep"] == "model") & df["algorithm"].isin(TABLE1)].groupby("algorithm")["iterations"].mean()
    return float(d["table1:gd"] / d["table1:li-gd"]) if set(TABLE1) <= set(d.index) else float("nan")


def _study() -> Study:
    comparative = tuple(ALGORITHMS)
    figs = [
        Figure("fig2_latency_speedup", x="model", y="latency_speedup", sweep="model", algorithms=comparative,
               xlabel="model", ylabel="latency speed-up vs Device-Only (x)", title="Fig. 2"),
        Figure("fig3_energy_reduction", x="model", y="energy_reduction", sweep="model", algorithms=comparative,
               xlabel="model", ylabel="energy reduction vs Device-Only (x)", title="Fig. 3"),
        Figure("fig4_latency_vs_neurosurgeon", x="model", y="latency_speedup_vs_neurosurgeon", sweep="model",
               algorithms=comparative, xlabel="model", ylabel="latency speed-up vs Neurosurgeon (x)",
               title="Fig. 4"),
        Figure("fig5_energy_vs_neurosurgeon", x="model", y="energy_reduction_vs_neurosurgeon", sweep="model",
               algorithms=comparative, xlabel="model", ylabel="energy reduction vs Neurosurgeon (x)",
               title="Fig. 5"),
    ]
    for (lat_no, en_no), param, xlabel in (((6, 9), "users_per_ap", "devices per AP"),
                                          ((7, 10), "num_subchannels", "subchannels M"),
                                          ((8, 11), "workload", "workload (images per task)")):
        figs += [Figure(f"fig{lat_no}_latency_vs_{param}", x=param, y="latency_speedup", algorithms=comparative,
                        xlabel=xlabel, ylabel="latency speed-up vs Device-Only (x)", title=f"Fig. {lat_no}"),
                 Figure(f"fig{en_no}_energy_vs_{param}", x=param, y="energy_reduction", algorithms=comparative,
                        xlabel=xlabel, ylabel="energy reduction vs Device-Only (x)", title=f"Fig. {en_no}")]
    figs.append(Figure("ligd_vs_gd_iterations", x="model", y="iterations", sweep="model", algorithms=TABLE1,
                       xlabel="model", ylabel="descent iterations (all splits)", title="Corollary 4"))
    return Study(
        name="split-noma",
        title="ECC / Li-GD (split inference over multi-cell NOMA): Figs. 2-11 and Li-GD vs GD",
        description=("One task = one random drop (devices uniform in each AP's disk, nearest-AP "
                     "association) at one point; every algorithm on the same drop. Device, edge and "
                     "energy constants: docs/split.md. 'table1:' rows run Li-GD / GD without the "
                     "added pruning (Table I as published) for the iteration comparison."),
        params=[
            Param("model", "vgg16", str, "DNN every device runs (zoo profile)", choices=tuple(PAPER_MODELS)),
            Param("num_aps", 5, int, "access points with edge servers", bounds=(1, 100)),
            Param("users_per_ap", 10, int, "devices dropped per AP", bounds=(1, 1000)),
            Param("num_subchannels", 6, int, "subchannels M shared by every cell", bounds=(1, 256)),
            Param("max_per_subchannel", 3, int, "devices per (cell, subchannel) at most", bounds=(1, 64)),
            Param("bandwidth_hz", 10e6, float, "total bandwidth B, split equally over subchannels (Hz)",
                  bounds=(1e3, 1e12)),
            Param("weight_latency", 0.5, float, "omega_T (omega_E = 1 - omega_T)", bounds=(0.0, 1.0)),
            Param("workload", 1.0, float, "images per task (scales FLOPs and data)", bounds=(1e-3, 1e4)),
        ],
        sweeps={
            "model": Axis("model", quick=tuple(PAPER_MODELS), full=tuple(PAPER_MODELS)),
            "density": Axis("users_per_ap", quick=(2, 6, 10, 14), full=(2, 6, 10, 14, 18)),
            "subchannels": Axis("num_subchannels", quick=(2, 4, 6, 8, 10), full=tuple(range(2, 11))),
            "workload": Axis("workload", quick=(1.0, 2.0, 4.0), full=(1.0, 2.0, 4.0, 8.0)),
        },
        algorithms=list(STUDY_ALGORITHMS),
        metrics={"latency_speedup": "latency speed-up vs Device-Only (x)",
                 "energy_reduction": "energy reduction vs Device-Only (x)",
                 "latency_speedup_vs_neurosurgeon": "latency speed-up vs Neurosurgeon (x)",
                 "energy_reduction_vs_neurosurgeon": "energy reduction vs Neurosurgeon (x)",
                 "latency_s": "mean per-device latency (s)", "energy_j": "mean per-device energy (J)",
                 "objective": "objective (22)", "iterations": "descent iterations",
                 "solve_time_s": "solver time (s)"},
        run_task=run_task,
        realisations=(2, 10),
        figures=figs,
        claims=[
            Claim("ECC-OMA latency speed-up vs Device-Only, lowest model", "3.1x (range 3.1-8x)",
                  _model_mean("ecc-oma", "latency_speedup", agg="min"), unit="x", needs=("ecc-oma", "device-only")),
            Claim("ECC-OMA latency speed-up vs Device-Only, highest model", "8x (range 3.1-8x)",
                  _model_mean("ecc-oma", "latency_speedup", agg="max"), unit="x", needs=("ecc-oma", "device-only")),
            Claim("NiN speed-up vs Device-Only, ECC-OMA", 4.1, _model_mean("ecc-oma", "latency_speedup", "nin"),
                  unit="x", needs=("ecc-oma", "device-only")),
            Claim("NiN speed-up vs Device-Only, ECC-NOMA (li-gd)", 6.1,
                  _model_mean("li-gd", "latency_speedup", "nin"), unit="x", needs=("li-gd", "device-only")),
            Claim("ECC-NOMA energy reduction vs Neurosurgeon (mean over models)", "1.5-1.7x",
                  _model_mean("li-gd", "energy_reduction_vs_neurosurgeon"), unit="x", needs=("li-gd", "neurosurgeon")),
            Claim("ECC-OMA energy reduction vs Neurosurgeon (mean over models)", "1.5-1.7x",
                  _model_mean("ecc-oma", "energy_reduction_vs_neurosurgeon"), unit="x", needs=("ecc-oma", "neurosurgeon")),
            Claim("subchannels M at which the li-gd speed-up peaks (Fig. 7)", "6 (text also says 4)",
                  _peak_subchannels, unit="subchannels", needs=("li-gd", "device-only")),
            Claim("GD iterations / Li-GD iterations, Table I unpruned (Corollary 4)", "> 1 (no number)",
                  _iteration_ratio, unit="x", needs=TABLE1),
        ],
        summary_metrics=["latency_speedup", "energy_reduction", "latency_s", "energy_j", "objective",
                         "iterations", "solve_time_s"],
        version="1",
        problem=PROBLEM,
        solution_metrics=solution_metrics,
    )


STUDY = _study()
