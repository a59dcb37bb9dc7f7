"""The PartialLoading study: §VII's points (Figs. 6-9) and the paper's claims.

Engine-independent part: :func:`evaluate` runs algorithms on Monte Carlo realisations of the
§VII scenario and :func:`claims` the default point and Fig. 9's scale::

    python -m edgeinfer.loading.study --claims --n 30

(the numbers in docs/loading.md, "Measured results"), and :func:`run_figures` the sweeps of
Figs. 6-8 (served ratio vs B, K, deadline, theta; the bandwidth ablation) into a folder::

    python -m edgeinfer.loading.study --figures results/partial-loading --n 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec
from edgeinfer.loading.scenario import ScenarioConfig, make_instance

__all__ = ["ALGO_PARAMS", "evaluate", "claims", "FIGURES", "STUDY", "run_task"]

#: display name -> (registered algorithm, params)
ALGO_PARAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "spec": ("spec", {}),
    "spec-slotted": ("spec-slotted", {"slot_s": 0.01}),
    "gen": ("gen", {}),
    "gen-slotted": ("gen", {"slot_s": 0.01}),
    "search": ("search", {}),
    "exact": ("exact", {}),
    "independent": ("independent", {}),
    "equal-r5": ("equal-bandwidth", {"r": 5}),
    "equal-r10": ("equal-bandwidth", {"r": 10}),
    "equal-r20": ("equal-bandwidth", {"r": 20}),
}

#: figure -> (case, swept parameter, values, algorithms)
FIGURES: dict[str, tuple[str, str, tuple[Any, ...], tuple[str, ...]]] = {
    "fig6a": ("backbone", "bandwidth_hz", (10e6, 50e6, 100e6, 200e6, 300e6, 400e6), ("spec", "gen", "independent")),
    "fig6b": ("backbone", "n_users", (60, 70, 80, 90, 100), ("spec", "gen", "independent")),
    "fig6c": ("backbone", "deadline_s", (0.5, 0.6, 0.7, 0.8, 0.9), ("spec", "gen", "independent")),
    "fig6d": ("backbone", "sharing_ratio", (0.75, 0.80, 0.85, 0.90, 0.95), ("spec", "gen", "independent")),
    "fig7a": ("general", "bandwidth_hz", (10e6, 50e6, 100e6, 200e6, 300e6, 400e6), ("gen", "search", "independent")),
    "fig7b": ("general", "n_users", (60, 70, 80, 90, 100), ("gen", "search", "independent")),
    "fig7c": ("general", "deadline_s", (0.5, 0.6, 0.7, 0.8, 0.9), ("gen", "search", "independent")),
    "fig7d": ("general", "sharing_ratio", (0.75, 0.80, 0.85, 0.90, 0.95), ("gen", "search", "independent")),
    "fig8a": ("backbone", "bandwidth_hz", (10e6, 50e6, 100e6, 200e6, 300e6, 400e6),
              ("spec", "equal-r5", "equal-r10", "equal-r20")),
    "fig8b": ("backbone", "n_users", (60, 70, 80, 90, 100), ("spec", "equal-r5", "equal-r10", "equal-r20")),
    "fig8c": ("general", "bandwidth_hz", (10e6, 50e6, 100e6, 200e6, 300e6, 400e6),
              ("gen", "equal-r5", "equal-r10", "equal-r20")),
    "fig8d": ("general", "n_users", (60, 70, 80, 90, 100), ("gen", "equal-r5", "equal-r10", "equal-r20")),
}


def run_point(cfg: ScenarioConfig, algos: Sequence[str], seed: int) -> dict[str, dict[str, float]]:
    """One realisation: served ratio and solver time of each algorithm (verified)."""
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions
    from edgeinfer.loading.problem import verify

    inst = make_instance(cfg, seed)
    out = {}
    for name in algos:
        algo, params = ALGO_PARAMS[name]
        t0 = time.perf_counter()
        sol = solve("partial_loading", algo, inst, SolveOptions(params=params))
        dt = time.perf_counter() - t0
        rep = verify(inst, sol)  # type: ignore[arg-type]
        if not rep.ok:  # pragma: no cover - a solver bug
            raise RuntimeError(f"{name} failed verification: {rep.reasons}")
        out[name] = {"served_ratio": sol.objective / max(inst.n_users, 1), "runtime_s": dt}
    return out


def evaluate(cfg: ScenarioConfig, algos: Sequence[str], seeds: Sequence[int]) -> dict[str, dict[str, float]]:
    """Mean served ratio and median runtime per algorithm over the seeds."""
    rows = [run_point(cfg, algos, s) for s in seeds]
    return {a: {"served_ratio": float(np.mean([r[a]["served_ratio"] for r in rows])),
                "runtime_s": float(np.median([r[a]["runtime_s"] for r in rows]))} for a in algos}


def claims(n: int = 30, seed0: int = 10_000) -> dict[str, Any]:
    """The paper's claims, measured: default point (both cases) and Fig. 9's scale."""
    seeds = range(seed0, seed0 + n)
    cfg = ScenarioConfig()
    small = ScenarioConfig(n_users=20, n_models=5, deadline_s=0.2)
    res = {
        "bs_default": evaluate(cfg, ("spec", "search", "gen", "spec-slotted", "independent"), seeds),
        "general_default": evaluate(cfg.with_(case="general"), ("gen", "search", "independent"), seeds),
        "fig9_bs": evaluate(small, ("exact", "spec", "gen", "spec-slotted"), seeds),
        "fig9_general": evaluate(small.with_(case="general"), ("exact", "gen", "search"), seeds),
    }
    bs, ge = res["bs_default"], res["general_default"]
    f9b, f9g = res["fig9_bs"], res["fig9_general"]

    def gain(a: float, b: float) -> float:
        return a / b - 1.0 if b > 0 else float("nan")

    res["claims"] = {
        "spec_over_independent_bs": {"paper": 0.24, "ours": gain(bs["spec"]["served_ratio"],
                                                                bs["independent"]["served_ratio"])},
        "gen_over_independent_bs": {"paper": 0.16, "ours": gain(bs["gen"]["served_ratio"],
                                                               bs["independent"]["served_ratio"])},
        "gen_over_independent_general": {"paper": 0.36, "ours": gain(ge["gen"]["served_ratio"],
                                                                    ge["independent"]["served_ratio"])},
        "gen_below_exhaustive_bs": {"paper": 0.037, "ours": -gain(f9b["gen"]["served_ratio"],
                                                                 f9b["exact"]["served_ratio"])},
        "gen_below_exhaustive_general": {"paper": 0.043, "ours": -gain(f9g["gen"]["served_ratio"],
                                                                      f9g["exact"]["served_ratio"])},
        "spec_runtime_s_fig9": {"paper": 5.6e-3, "ours": f9b["spec"]["runtime_s"]},
    }
    return res


def sweep(figure: str, n: int, seed0: int = 0) -> dict[str, Any]:
    """One figure of §VII: for each value of the swept parameter, :func:`evaluate` (same seeds)."""
    case, param, values, algos = FIGURES[figure]
    base = ScenarioConfig(case=case)
    points = []
    for v in values:
        cfg = base.with_(**{param: v})
        points.append({"x": v, "results": evaluate(cfg, algos, range(seed0, seed0 + n))})
    return {"figure": figure, "case": case, "param": param, "algorithms": list(algos), "points": points}


def run_figures(outdir: str, n: int, figures: Sequence[str] | None = None, plot: bool = True) -> dict[str, Any]:
    """Figs. 6-8 sweeps, Fig. 9 and the default point: JSON files (and PNGs with matplotlib)."""
    from pathlib import Path

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    data = {f: sweep(f, n) for f in (figures or list(FIGURES))}
    summary = claims(n)
    summary["default_point"] = {"B_hz": 200e6, "K": 80, "deadline_s": 0.7, "theta": 0.85,
                                "backbone": summary["bs_default"], "general": summary["general_default"]}
    (out / "figures.json").write_text(json.dumps(data, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for f, d in data.items():
            fig, ax = plt.subplots(figsize=(4.2, 3.2))
            xs = [p["x"] for p in d["points"]]
            scale = 1e-6 if d["param"] == "bandwidth_hz" else (1e3 if d["param"] == "deadline_s" else 1.0)
            for a in d["algorithms"]:
                ax.plot([x * scale for x in xs], [p["results"][a]["served_ratio"] for p in d["points"]],
                        marker="o", label=a)
            unit = {"bandwidth_hz": "B (MHz)", "deadline_s": "deadline (ms)", "n_users": "K",
                    "sharing_ratio": "theta"}[d["param"]]
            ax.set_xlabel(unit)
            ax.set_ylabel("served ratio")
            ax.set_title(f"{f} ({d['case']})")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out / f"{f}.png", dpi=120)
            plt.close(fig)
    return summary


QUICK_N = 2
FULL_N = 200


def report_md(summary: dict[str, Any]) -> str:
    """Markdown: the default point and the paper's claims beside ours."""
    lines = ["# PartialLoading study", "", "Default point: B 200 MHz, K 80, deadline 700 ms, theta 85%.", "",
             "| case | algorithm | served ratio | runtime (ms) |", "|---|---|---|---|"]
    for case in ("backbone", "general"):
        for a, v in summary["default_point"][case].items():
            lines.append(f"| {case} | {a} | {v['served_ratio']:.3f} | {1e3 * v['runtime_s']:.2f} |")
    lines += ["", "| claim | paper | ours |", "|---|---|---|"]
    for k, v in summary["claims"].items():
        fmt = "{:.2f} ms" if k.endswith("runtime_s_fig9") else "{:+.1%}"
        scale = 1e3 if k.endswith("runtime_s_fig9") else 1.0
        lines.append(f"| {k} | {fmt.format(scale * v['paper'])} | {fmt.format(scale * v['ours'])} |")
    return "\n".join(lines) + "\n"


def run(outdir: str, *, quick: bool = True, n: int | None = None, plot: bool = True) -> dict[str, Any]:
    """The whole study: ``quick`` uses 2 realisations per point (seconds), else 200."""
    from pathlib import Path

    summary = run_figures(outdir, n or (QUICK_N if quick else FULL_N), plot=plot)
    (Path(outdir) / "report.md").write_text(report_md(summary))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeinfer.loading.study")
    ap.add_argument("--claims", action="store_true", help="measure the paper's claims (JSON to stdout)")
    ap.add_argument("--figures", metavar="DIR", default=None, help="run Figs. 6-9 sweeps into DIR")
    ap.add_argument("--n", type=int, default=30, help="realisations per point")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    if args.figures:
        res = run(args.figures, n=args.n, plot=not args.no_plot)
        json.dump(res["claims"], sys.stdout, indent=1)
        print()
        return 0
    if not args.claims:
        ap.print_help()
        return 2
    json.dump(claims(args.n), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# --------------------------------------------------------------------------- engine study

#: engine algorithm name -> (case, display name in ALGO_PARAMS)
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
    ``exact_served_ratio`` and ``exact_runtime_s`` of that case's rows.
    """
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions
    from edgeinfer.loading.problem import verify

    p = task.params
    seeds = task.child_seeds(2)
    rows: list[dict[str, Any]] = []
    for case, seed in zip(("backbone", "general"), seeds, strict=True):
        inst = make_instance(_task_config(p, case), np.random.default_rng(seed))
        extra: dict[str, Any] = {}
        if p["fig9_scale"]:
            t0 = time.perf_counter()
            ex = solve("partial_loading", "exact", inst)
            extra = {"exact_served_ratio": ex.objective / max(inst.n_users, 1),
                     "exact_runtime_s": time.perf_counter() - t0}
        for name in task.algorithms:
            c, disp = STUDY_ALGOS[name]
            if c != case:
                continue
            algo, params = ALGO_PARAMS[disp]
            params = dict(params)
            if disp == "spec-slotted":
                params["slot_s"] = float(p["slot_s"])
            t0 = time.perf_counter()
            sol = solve("partial_loading", algo, inst, SolveOptions(params=params))
            dt = time.perf_counter() - t0
            rep = verify(inst, sol)  # type: ignore[arg-type]
            if not rep.ok:  # pragma: no cover - a solver bug
                raise RuntimeError(f"{name} failed verification: {rep.reasons}")
            rows.append({"algorithm": name, "served_ratio": sol.objective / max(inst.n_users, 1),
                         "runtime_s": dt, **extra})
    return rows


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
              _gain_over("bs:spec", "bs:independent"), unit="fraction"),
        Claim("gen over independent, BS case (Fig. 6)", 0.16, _gain_over("bs:gen", "bs:independent"),
              unit="fraction"),
        Claim("gen over independent, general case (Fig. 7)", 0.36,
              _gain_over("general:gen", "general:independent"), unit="fraction"),
        Claim("gen below exhaustive search, BS (Fig. 9a)", 0.037, _below_exhaustive("bs:gen"), unit="fraction"),
        Claim("gen below exhaustive search, general (Fig. 9b)", 0.043, _below_exhaustive("general:gen"),
              unit="fraction"),
        Claim("spec equals exhaustive search (Fig. 9a)", 0.0, _below_exhaustive("bs:spec"), unit="fraction"),
        Claim("spec running time at Fig. 9's scale", 5.6, _fig9_runtime("bs:spec"), unit="ms"),
        Claim("spec over equal bandwidth r=20 vs B (Fig. 8a)", 0.262, _equal_gap(20), unit="fraction"),
        Claim("spec over equal bandwidth r=5 vs B (Fig. 8a)", 0.099, _equal_gap(5), unit="fraction"),
    ],
    summary=_summary,
    version="1",
)
