"""The ``mba`` study (``edgeinfer reproduce mba``): the paper's Figs. 6-9 on the synthetic
library and the digits pipeline, through the experiment engine.

Default point (paper, Section VII-A): B = 100 MHz, N0 = 0.5e-9 W, Rayleigh with path loss
1e-3, 21 devices, N = 24, Q = 5 Mbit, E = 250 J. Exact selection at 21 x 24 does not finish,
so ``bnb`` runs with a time limit (``bnb_time_limit_s``) and returns its incumbent; the proven
lower bound is reported beside it (column ``bnb_lower_bound``).

Fig. 9 (real test accuracy vs latency limit, MBA vs unicast) trains the small torch models of
:mod:`edgeinfer.broadcast.pipeline` (torch and scikit-learn): the ``fig9`` sweep sets the
parameter ``fig9``, and the task of realisation 0 at that point trains once (seed
``fig9_seed``; about 7 s with the quick preset's epochs, minutes with the paper's) and adds one
row per latency limit for ``mba`` and ``unicast`` (columns ``latency_limit_s``, ``accuracy``).
Without torch or scikit-learn the rows are left out and ``summary.json`` says so.

``--algorithms`` also takes any registered ``mba`` solver (built-in or plugin), run on the same
library with its declared defaults and the time limit ``bnb_time_limit_s``, and verified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec, solve_row

__all__ = ["STUDY", "run_task", "solution_metrics"]

PROBLEM = "mba"
DEVICES = (2, 4, 6, 8, 12, 17, 21)
ENERGIES = (150.0, 200.0, 250.0, 320.0, 400.0)
#: the study's own algorithms: selections (blocks), and latency plans on bnb's selection
SELECTIONS = ("greedy", "greedy-adaptive", "bnb")
PLANS = ("mba", "mba-constant-power", "unicast")
ALGORITHMS = (*SELECTIONS, *PLANS)


def _plans(inst: Any, y: Any) -> dict[str, float]:
    """Latency of MBA (optimal/constant power) for selection ``y`` and of unicast."""
    from edgeinfer.broadcast.model import best_assembly
    from edgeinfer.broadcast.solvers import solution_from_requests, unicast_plan
    from edgeinfer.core.status import SolveStatus

    req = best_assembly(inst.scores, y)
    out = {}
    for mode in ("optimal", "constant"):
        s = solution_from_requests(inst, req, algorithm="bnb", status=SolveStatus.FEASIBLE, power=mode, stats={})
        out["mba" if mode == "optimal" else "mba-constant-power"] = s.total_latency_s
    out["unicast"] = unicast_plan(inst, "optimal").total_latency_s
    return out


def instance(task: TaskSpec) -> Any:
    """The task's synthetic library (:func:`edgeinfer.broadcast.scenario.make_instance`)."""
    from edgeinfer.broadcast.scenario import make_instance

    p = task.params
    return make_instance(rng=task.rng(), num_devices=p["num_devices"], num_positions=p["num_positions"],
                              num_families=p["num_families"], qos_fraction=p["qos_fraction"],
                              bandwidth_hz=p["bandwidth_hz"], noise_w=p["noise_w"], energy_j=p["energy_j"],
                              block_bits=p["block_bits"], path_loss=p["path_loss"])


def solution_metrics(inst: Any, sol: Any) -> dict[str, Any]:
    """Blocks broadcast, total latency and latency per device of a solved ``mba`` instance."""
    lat = float(sol.total_latency_s)
    return {"blocks": float(len(sol.broadcast)), "latency_s": lat, "latency_per_device_s": lat / inst.num_devices,
            "accuracy": None}


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One realisation of one point: a synthetic library, every algorithm on it (rows per algorithm).

    ``bnb`` runs with ``bnb_time_limit_s``; from about 8 devices at N = 24 its value is the
    incumbent (column ``bnb_status``). ``mba`` = bnb selection + Prop. 2, ``mba-constant-power``
    = bnb selection + one power, ``unicast`` = own models; ``greedy``/``greedy-adaptive`` rows carry
    their block counts and their latency with optimal power control. Another name is a
    registered ``mba`` solver (:func:`solution_metrics`). With ``fig9``, realisation 0 adds
    Fig. 9's rows (:func:`_fig9_rows`).
    """
    from edgeinfer.broadcast.solvers import adaptive_greedy_select, bnb_select, greedy_select

    p = task.params
    inst = instance(task)
    K = inst.num_devices
    own = [a for a in task.algorithms if a in ALGORITHMS]
    bnb = None
    sels: dict[str, Any] = {}
    if own:
        if "greedy" in own:
            sels["greedy"] = greedy_select(inst.scores, inst.qos, inst.own_model)
        if "greedy-adaptive" in own:
            sels["greedy-adaptive"] = adaptive_greedy_select(inst.scores, inst.qos)
        bnb = sels["bnb"] = bnb_select(inst.scores, inst.qos, inst.own_model, time_limit_s=p["bnb_time_limit_s"])
        plans = _plans(inst, bnb.y)
    cols = {"bnb_status": None if bnb is None else bnb.status,
            "bnb_lower_bound": None if bnb is None else float(bnb.lower_bound)}
    rows = []
    for alg in task.algorithms:
        if alg not in ALGORITHMS:
            rows.append({**solve_row(PROBLEM, alg, inst, solution_metrics, seed=task.solver_seed,
                                     time_limit_s=p["bnb_time_limit_s"]), **cols})
            continue
        assert bnb is not None
        if alg in sels:
            lat = plans["mba"] if alg == "bnb" else _plans(inst, sels[alg].y)["mba"]
            blocks = sels[alg].blocks
        else:
            lat = plans[alg]
            blocks = K * inst.num_positions if alg == "unicast" else bnb.blocks
        rows.append({"algorithm": alg, "blocks": float(blocks or 0), "latency_s": float(lat),
                     "latency_per_device_s": float(lat) / K, "accuracy": None, **cols})
    if p["fig9"] and task.realisation == 0:
        rows += _fig9_rows(p, task.algorithms)
    return rows


def _fig9_rows(p: Any, algorithms: tuple[str, ...]) -> list[dict[str, Any]]:
    """Fig. 9: train the digits library (torch), Shapley scores, real test accuracy (mean over the
    devices) vs latency limit for ``mba`` and ``unicast``; nothing without torch or scikit-learn."""
    import importlib.util

    wanted = [a for a in ("mba", "unicast") if a in algorithms]
    if not wanted or any(importlib.util.find_spec(m) is None for m in ("torch", "sklearn")):
        return []
    from edgeinfer.broadcast.pipeline import run_pipeline

    res = run_pipeline(seed=int(p["fig9_seed"]), epochs_base=int(p["fig9_epochs_base"]),
                       epochs_task=int(p["fig9_epochs_task"]), num_permutations=int(p["fig9_permutations"]))
    none = {"blocks": None, "latency_s": None, "latency_per_device_s": None, "bnb_status": None,
            "bnb_lower_bound": None}
    rows = []
    for a, limit in enumerate(res["latency_s"]):
        for alg in wanted:
            acc = res[f"{alg}_accuracy"][a]
            rows.append({**none, "algorithm": alg, "latency_limit_s": float(limit), "accuracy": float(np.mean(acc)),
                         "fig9_blocks": float(res[f"{alg}_blocks"]),
                         "fig9_total_latency_s": float(res[f"{alg}_total_latency_s"]),
                         "fig9_pearson_r": float(res["surrogate"]["pearson_r"])})
    return rows


def _mean(df: Any, sweep: str, alg: str, col: str, **where: Any) -> float:
    d = df[(df["sweep"] == sweep) & (df["algorithm"] == alg)]
    for k, v in where.items():
        d = d[d[k] == v]
    return float(d[col].mean())


def _claim_unicast(df: Any) -> float:
    return 1 - _mean(df, "default", "mba", "latency_s") / _mean(df, "default", "unicast", "latency_s")


def _claim_constant(energy: float) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        sweep = "energy" if (df["sweep"] == "energy").any() and (df["energy_j"] == energy).any() else "default"
        kw = {"energy_j": energy} if sweep == "energy" else {}
        return _mean(df, sweep, "mba-constant-power", "latency_s", **kw) / _mean(df, sweep, "mba", "latency_s", **kw) - 1
    return measure


def _claim_greedy(devices: int) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        d = df[df["sweep"] == "devices"]
        if not (d["num_devices"] == devices).any():
            return float("nan")
        return (_mean(df, "devices", "greedy", "blocks", num_devices=devices)
                / _mean(df, "devices", "bnb", "blocks", num_devices=devices) - 1)
    return measure


def _claim_most_devices(a: str, b: str) -> Callable[[Any], float]:
    """Latency per device of ``a`` over ``b`` at the largest device count of the devices sweep (Fig. 8)."""
    def measure(df: Any) -> float:
        d = df[df["sweep"] == "devices"]
        k = int(d["num_devices"].max())
        return (_mean(df, "devices", a, "latency_per_device_s", num_devices=k)
                / _mean(df, "devices", b, "latency_per_device_s", num_devices=k))
    return measure


def _curve(df: Any, sweep: str, x: str, y: str) -> dict[str, dict[str, float]]:
    """``{algorithm: {x value: mean of y}}`` on one sweep (the figures' numbers)."""
    d = df[df["sweep"] == sweep].dropna(subset=[y])
    out: dict[str, dict[str, float]] = {}
    for (alg, xv), g in d.groupby(["algorithm", x]):
        out.setdefault(str(alg), {})[f"{xv:g}"] = float(g[y].mean())
    return out


def _summary(df: Any) -> dict[str, Any]:
    """The numbers of Figs. 6-9 (means over realisations), for docs/broadcast.md."""
    out: dict[str, Any] = {
        "fig6_blocks": _curve(df, "devices", "num_devices", "blocks"),
        "fig6_bnb_lower_bound": _curve(df[df["algorithm"] == "bnb"], "devices", "num_devices", "bnb_lower_bound"),
        "fig7_latency_s": _curve(df, "energy", "energy_j", "latency_s"),
        "fig8_latency_per_device_s": _curve(df, "devices", "num_devices", "latency_per_device_s"),
    }
    if "accuracy" in df.columns and df["accuracy"].notna().any():
        d = df[df["accuracy"].notna()]
        out["fig9"] = {
            "accuracy": {str(a): [float(v) for v in g.sort_values("latency_limit_s")["accuracy"]]
                         for a, g in d.groupby("algorithm")},
            "latency_limit_s": sorted({float(v) for v in d["latency_limit_s"]}),
            "blocks": {str(a): float(g["fig9_blocks"].iloc[0]) for a, g in d.groupby("algorithm")},
            "total_latency_s": {str(a): float(g["fig9_total_latency_s"].iloc[0]) for a, g in d.groupby("algorithm")},
            "surrogate_pearson_r": float(d["fig9_pearson_r"].iloc[0]),
        }
    elif bool(df["fig9"].any()):
        out["fig9"] = "not produced: needs torch and scikit-learn (pip install 'edgeinfer[torch]')"
    return out


STUDY = Study(
    name="mba",
    title="MBA (Wu, Zeng, Huang): Figs. 6-9 on the synthetic library and the digits pipeline",
    description=("Synthetic two-family library (edgeinfer.broadcast.scenario); bnb is time-limited "
                 "(bnb_time_limit_s) and its incumbent is used from ~8 devices on. Fig. 9 (real "
                 "accuracy vs latency limit, digits + torch) runs in the fig9 sweep (trained at "
                 "realisation 0; skipped without torch)."),
    params=[
        Param("bandwidth_hz", 100e6, float, "bandwidth B (Hz)", bounds=(1.0, None)),
        Param("noise_w", 0.5e-9, float, "noise power N0 (W)", bounds=(0.0, None)),
        Param("energy_j", 250.0, float, "energy budget E (J)", bounds=(0.0, None)),
        Param("block_bits", 5e6, float, "block size Q (bit)", bounds=(1.0, None)),
        Param("path_loss", 1e-3, float, "path loss of the Rayleigh gains (1)", bounds=(0.0, None)),
        Param("num_devices", 21, int, "devices K (1)", bounds=(1, 200)),
        Param("num_positions", 24, int, "blocks per model N (1)", bounds=(1, 200)),
        Param("num_families", 2, int, "task families (1)", bounds=(1, 50)),
        Param("qos_fraction", 0.9, float, "QoS as a fraction of the dedicated score (1)", bounds=(0.0, 1.0)),
        Param("bnb_time_limit_s", 30.0, float, "time limit of bnb (and of --algorithms solvers) per instance (s)",
              bounds=(0.1, None)),
        Param("fig9", False, bool, "Fig. 9: train the digits models (torch, scikit-learn) at realisation 0"),
        Param("fig9_seed", 0, int, "seed of Fig. 9's training, Shapley sampling and gains", bounds=(0, None)),
        Param("fig9_epochs_base", 30, int, "Fig. 9: epochs of the base model", bounds=(1, 10_000)),
        Param("fig9_epochs_task", 15, int, "Fig. 9: epochs of each task model", bounds=(1, 10_000)),
        Param("fig9_permutations", 24, int, "Fig. 9: Shapley permutations", bounds=(1, 100_000)),
    ],
    sweeps={
        "devices": Axis("num_devices", quick=(4, 8, 21), full=DEVICES),
        "energy": Axis("energy_j", quick=(200.0, 320.0), full=ENERGIES),
        "fig9": Axis("fig9", quick=(True,), full=(True,)),
    },
    algorithms=list(ALGORITHMS),
    metrics={"blocks": "blocks broadcast (1)", "latency_s": "total latency (s)",
             "latency_per_device_s": "latency per device (s)", "accuracy": "test accuracy, mean over devices (1)"},
    run_task=run_task,
    realisations=(1, 3),
    quick_params={"bnb_time_limit_s": 2.0, "fig9_epochs_base": 10, "fig9_epochs_task": 5, "fig9_permutations": 8},
    figures=[
        Figure("fig6", x="num_devices", y="blocks", xlabel="number of devices", ylabel="blocks broadcast",
               algorithms=SELECTIONS, title="MBA Fig. 6: blocks broadcast"),
        Figure("fig7", x="energy_j", y="latency_s", xlabel="energy budget E (J)", ylabel="total latency (s)",
               algorithms=PLANS, title="MBA Fig. 7: latency vs energy budget"),
        Figure("fig8", x="num_devices", y="latency_per_device_s", xlabel="number of devices",
               ylabel="latency per device (s)", algorithms=PLANS, title="MBA Fig. 8: latency per device"),
        Figure("fig9", x="latency_limit_s", y="accuracy", xlabel="latency limit (s)",
               ylabel="test accuracy (mean over devices)", sweep="fig9", algorithms=("mba", "unicast"),
               title="MBA Fig. 9: digits pipeline, accuracy vs latency limit"),
    ],
    claims=[
        Claim("MBA latency about 50% below unicast (Fig. 7)", 0.5, _claim_unicast, unit="fraction",
              needs=("mba", "unicast")),
        Claim("constant power +20% latency at 200 J", 0.2, _claim_constant(200.0), unit="fraction",
              needs=("mba", "mba-constant-power")),
        Claim("constant power +10% latency at 320 J", 0.1, _claim_constant(320.0), unit="fraction",
              needs=("mba", "mba-constant-power")),
        Claim("greedy = optimal at 8 devices (Fig. 6)", 0.0, _claim_greedy(8), unit="fraction",
              needs=("greedy", "bnb")),
        Claim("greedy within 5% of optimal at 17 devices", 0.05, _claim_greedy(17), unit="fraction",
              needs=("greedy", "bnb")),
        Claim("MBA latency at the most devices is 60% of unicast (Fig. 8, 20 devices)", 0.6,
              _claim_most_devices("mba", "unicast"), unit="fraction", needs=("mba", "unicast")),
        Claim("MBA latency at the most devices is 85% of constant-power MBA (Fig. 8)", 0.85,
              _claim_most_devices("mba", "mba-constant-power"), unit="fraction", needs=("mba", "mba-constant-power")),
    ],
    summary_metrics=["blocks", "latency_s"],
    summary=_summary,
    version="2",
    problem=PROBLEM,
    instance=instance,
    solution_metrics=solution_metrics,
)
