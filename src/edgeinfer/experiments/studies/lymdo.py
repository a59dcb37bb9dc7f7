"""The ``lymdo`` study: Figs. 3-5 of the LyMDO paper, a summary and a claims table.

* Fig. 3: training reward per episode, ``lymdo`` vs ``ppo``.
* Fig. 4: average delay, energy, memory and energy queue vs arrival rate (0.5-2.5 req/s) for
  every agent.
* Fig. 5: energy queue over time at lambda = 2.5, AlexNet and ResNet-18 devices.

Quick mode trains briefly (``QUICK``); full mode uses the paper's 2,000 episodes x 200 slots.
The computation (:func:`compute`) imports SB3/torch inside; plotting imports matplotlib inside.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.online.agents import AGENTS

__all__ = ["QUICK", "FULL", "RATES", "compute", "summarize", "claims", "plot", "run"]

RATES = (0.5, 1.0, 1.5, 2.0, 2.5)
QUICK: dict[str, Any] = {"episodes": 40, "steps": 200, "eval_slots": 200, "eval_seeds": 1}
FULL: dict[str, Any] = {"episodes": 2000, "steps": 200, "eval_slots": 200, "eval_seeds": 5}

#: what the paper reports (§V-B)
PAPER_CLAIMS = {
    "delay_reduction_vs_ppo": 0.30,
    "energy_queue_reduction_alexnet": 0.54,
    "energy_queue_reduction_resnet18": 0.48,
}


def compute(
    *,
    quick: bool = True,
    seed: int = 0,
    rates: tuple[float, ...] = RATES,
    agents: tuple[str, ...] = AGENTS,
    params: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    pretrained: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Train the learning agents (or load ``pretrained`` policies, ``{"lymdo": "x.zip"}``) and
    evaluate every agent; returns JSON-ready results."""
    from edgeinfer.online.agents import (
        LEARNING_AGENTS,
        evaluate,
        load_policy,
        load_training_log,
        make_policy,
        train,
    )

    p = {**(QUICK if quick else FULL), **(params or {})}
    say = log or (lambda s: None)
    out: dict[str, Any] = {"params": {**p, "seed": seed, "rates": list(rates), "quick": quick},
                           "training": {}, "sweep": [], "fig5": {}}
    models = {}
    for ag in agents:
        if ag not in LEARNING_AGENTS:
            continue
        if pretrained and ag in pretrained:
            models[ag] = load_policy(pretrained[ag]).model
            tl = load_training_log(pretrained[ag]) or {"episode_rewards": [], "timesteps": 0, "wall_s": float("nan")}
            out["training"][ag] = {k: tl[k] for k in ("episode_rewards", "timesteps", "wall_s")}
            out["training"][ag]["pretrained"] = str(pretrained[ag])
            say(f"loaded {ag} from {pretrained[ag]}")
            continue
        t0 = time.perf_counter()
        res = train(ag, episodes=int(p["episodes"]), steps=int(p["steps"]), seed=seed)
        models[ag] = res.model
        out["training"][ag] = {"episode_rewards": res.episode_rewards, "timesteps": res.timesteps,
                               "wall_s": time.perf_counter() - t0}
        say(f"trained {ag}: {res.timesteps} slots in {res.wall_s:.1f} s")
    for ag in agents:
        for rate in rates:
            summaries, traces = [], []
            for k in range(int(p["eval_seeds"])):
                pol = make_policy(ag, seed=seed, model=models.get(ag))
                ev = evaluate(ag, arrival_rate=rate, slots=int(p["eval_slots"]), seed=10_000 + seed * 100 + k,
                              policy=pol)
                summaries.append(ev.summary())
                traces.append(ev)
            row = {"agent": ag, "arrival_rate": rate}
            for key in summaries[0]:
                if key in ("agent", "arrival_rate"):
                    continue
                vals = [s[key] for s in summaries]
                row[key] = bool(all(vals)) if isinstance(vals[0], bool) else float(np.mean(vals))
            out["sweep"].append(row)
            if rate == max(rates):
                ev = traces[0]
                models_of = ev_models(ev)
                out["fig5"][ag] = {
                    m: np.mean([t.energy_queue[:, [i for i, mm in enumerate(models_of) if mm == m]].mean(axis=1)
                                for t in traces], axis=0).tolist()
                    for m in sorted(set(models_of))
                }
        say(f"evaluated {ag}")
    return out


def ev_models(ev: Any) -> tuple[str, ...]:
    from edgeinfer.online.system import LyMDOConfig

    return LyMDOConfig().models


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """summary.json content: per agent at the highest rate (lambda = 2.5)."""
    top = max(results["params"]["rates"])
    per = {}
    for row in results["sweep"]:
        if row["arrival_rate"] == top:
            per[row["agent"]] = {k: row[k] for k in ("avg_delay_s", "avg_energy_j", "energy_budget_met",
                                                     "avg_memory_mb", "memory_budget_met", "avg_energy_queue",
                                                     "energy_budget_ratio", "avg_reward")}
    return {"arrival_rate": top, "agents": per, "claims": claims(results)}


def claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's claims next to what we measured (fractions; positive = lymdo better)."""
    top = max(results["params"]["rates"])
    rows = {r["agent"]: r for r in results["sweep"] if r["arrival_rate"] == top}
    out = []
    if "lymdo" in rows and "ppo" in rows:
        # the paper's "about 30%" is over the arrival-rate sweep of Fig. 4(a): average the ratios
        ly = [r for r in results["sweep"] if r["agent"] == "lymdo"]
        pp = {r["arrival_rate"]: r for r in results["sweep"] if r["agent"] == "ppo"}
        red = float(np.mean([1 - r["avg_delay_s"] / pp[r["arrival_rate"]]["avg_delay_s"] for r in ly]))
        out.append({"claim": "delay_reduction_vs_ppo", "paper": PAPER_CLAIMS["delay_reduction_vs_ppo"],
                    "measured": red, "note": "mean over arrival rates of 1 - delay(lymdo)/delay(ppo)"})
        f5 = results["fig5"]
        for m, key in (("alexnet", "energy_queue_reduction_alexnet"), ("resnet18", "energy_queue_reduction_resnet18")):
            if m in f5.get("lymdo", {}) and m in f5.get("ppo", {}):
                a, b = float(np.mean(f5["lymdo"][m])), float(np.mean(f5["ppo"][m]))
                out.append({"claim": key, "paper": PAPER_CLAIMS[key], "measured": 1 - a / b if b > 0 else float("nan"),
                            "note": f"time-averaged energy queue at lambda={top}, lymdo {a:.3g} vs ppo {b:.3g}"})
    if "lymdo" in rows and "greedy-dpp" in rows:
        out.append({"claim": "lymdo_vs_greedy_dpp_delay", "paper": None,
                    "measured": 1 - rows["lymdo"]["avg_delay_s"] / rows["greedy-dpp"]["avg_delay_s"],
                    "note": "not in the paper: what learning adds over per-slot greedy minimisation of (11)"})
    return out


def plot(results: dict[str, Any], outdir: str | Path) -> list[Path]:
    """Figs. 3-5 as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    od = Path(outdir)
    od.mkdir(parents=True, exist_ok=True)
    files = []
    # Fig. 3
    fig, ax = plt.subplots(figsize=(6, 4))
    for ag, tr in results["training"].items():
        r = np.asarray(tr["episode_rewards"], dtype=float)
        if r.size == 0:
            continue
        w = max(1, r.size // 50)
        sm = np.convolve(r, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(sm.size) + w, sm, label=ag)
    ax.set_xlabel("episode")
    ax.set_ylabel("episode reward (eq. 14, summed)")
    ax.set_title("Fig. 3: training reward")
    ax.legend()
    fig.tight_layout()
    files.append(od / "fig3_training_reward.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    # Fig. 4
    keys = [("avg_delay_s", "average E2E delay (s)"), ("avg_energy_j", "average energy per slot (J)"),
            ("avg_memory_mb", "average memory (MB)"), ("avg_energy_queue", "average energy queue")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    agents = sorted({r["agent"] for r in results["sweep"]}, key=lambda a: AGENTS.index(a) if a in AGENTS else 99)
    for ax, (k, lab) in zip(axes.flat, keys):
        for ag in agents:
            rows = sorted((r for r in results["sweep"] if r["agent"] == ag), key=lambda r: r["arrival_rate"])
            ax.plot([r["arrival_rate"] for r in rows], [r[k] for r in rows], marker="o", label=ag)
        ax.set_xlabel("arrival rate (req/s)")
        ax.set_ylabel(lab)
        if k == "avg_energy_queue":
            ax.set_yscale("symlog")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Fig. 4: performance vs arrival rate")
    fig.tight_layout()
    files.append(od / "fig4_vs_arrival_rate.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    # Fig. 5
    f5 = results["fig5"]
    models = sorted({m for v in f5.values() for m in v})
    fig, axes = plt.subplots(1, max(1, len(models)), figsize=(5 * max(1, len(models)), 4))
    for ax, m in zip(np.atleast_1d(axes), models):
        for ag in agents:
            if m in f5.get(ag, {}):
                ax.plot(f5[ag][m], label=ag)
        ax.set_title(f"{m} devices")
        ax.set_xlabel("slot")
        ax.set_ylabel("energy queue Q")
        ax.set_yscale("symlog")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"Fig. 5: energy queue at lambda = {max(results['params']['rates'])}")
    fig.tight_layout()
    files.append(od / "fig5_energy_queue.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    return files


def report_md(results: dict[str, Any], summary: dict[str, Any]) -> str:
    lines = ["# LyMDO study", "", f"Parameters: `{json.dumps(results['params'])}`", "",
             f"## Agents at lambda = {summary['arrival_rate']} req/s", "",
             "| agent | avg delay (s) | avg energy (J/slot) | energy budget met | max energy/budget | avg memory (MB) | avg energy queue |",
             "|---|---|---|---|---|---|---|"]
    for ag, s in summary["agents"].items():
        lines.append(f"| {ag} | {s['avg_delay_s']:.4g} | {s['avg_energy_j']:.4g} | {s['energy_budget_met']} | "
                     f"{s['energy_budget_ratio']:.3g} | {s['avg_memory_mb']:.4g} | {s['avg_energy_queue']:.4g} |")
    lines += ["", "## Claims", "", "| claim | paper | measured | note |", "|---|---|---|---|"]
    for c in summary["claims"]:
        paper = "-" if c["paper"] is None else f"{c['paper']:.0%}"
        lines.append(f"| {c['claim']} | {paper} | {c['measured']:.1%} | {c['note']} |")
    return "\n".join(lines) + "\n"


def run(outdir: str | Path, *, quick: bool = True, seed: int = 0, params: dict[str, Any] | None = None,
        log: Callable[[str], None] | None = None, pretrained: dict[str, str] | None = None) -> dict[str, Any]:
    """Standalone runner (used until/unless the experiment engine drives the study)."""
    od = Path(outdir)
    od.mkdir(parents=True, exist_ok=True)
    res = compute(quick=quick, seed=seed, params=params, log=log, pretrained=pretrained)
    summ = summarize(res)
    (od / "results.json").write_text(json.dumps(res))
    (od / "summary.json").write_text(json.dumps(summ, indent=1))
    plot(res, od)
    (od / "report.md").write_text(report_md(res, summ))
    return summ


# =========================================================================== experiment engine

_MODEL_CACHE: dict[tuple[str, int, int, int], Any] = {}


def _trained(agent: str, episodes: int, steps: int, seed: int) -> tuple[Any, list[float]]:
    """Train once per worker process and parameter set (same seed, same model everywhere)."""
    from edgeinfer.online.agents import train

    key = (agent, episodes, steps, seed)
    if key not in _MODEL_CACHE:
        res = train(agent, episodes=episodes, steps=steps, seed=seed)
        _MODEL_CACHE[key] = (res.model, list(res.episode_rewards))
    return _MODEL_CACHE[key]


_METRICS = ("avg_delay_s", "avg_energy_j", "avg_memory_mb", "avg_energy_queue", "energy_budget_met", "avg_reward")
_CURVES = ("train_reward", "q_alexnet", "q_resnet18")


def run_task(task: Any) -> list[dict[str, Any]]:
    """One evaluation episode of every agent at one arrival rate (engine task).

    The learning agents are trained first (cached per process; the training seed is the
    ``train_seed`` parameter, so every task uses the same policy). At the default point the
    task also returns the training curves (``episode`` rows, Fig. 3) and the energy queues
    over time (``slot`` rows, Fig. 5); their other metrics are None.
    """
    from edgeinfer.online.agents import LEARNING_AGENTS, evaluate, make_policy
    from edgeinfer.online.system import LyMDOConfig

    p = task.params
    rate = float(p["arrival_rate"])
    eval_seed = int(task.rng().integers(2**31 - 1))
    none = dict.fromkeys((*_METRICS, *_CURVES))
    rows: list[dict[str, Any]] = []
    models = LyMDOConfig().models
    default_point = rate == float(p["fig5_rate"])
    for ag in task.algorithms:
        model = None
        if ag in LEARNING_AGENTS:
            model, curve = _trained(ag, int(p["episodes"]), int(p["steps"]), int(p["train_seed"]))
            if default_point:
                rows += [{**none, "algorithm": ag, "episode": i + 1, "train_reward": float(r)}
                         for i, r in enumerate(curve)]
        ev = evaluate(ag, arrival_rate=rate, slots=int(p["eval_slots"]), seed=eval_seed,
                      policy=make_policy(ag, seed=int(p["train_seed"]), model=model))
        s = ev.summary()
        rows.append({**none, "algorithm": ag, **{k: float(s[k]) for k in _METRICS}})
        if default_point:
            ia = [i for i, m in enumerate(models) if m == "alexnet"]
            ir = [i for i, m in enumerate(models) if m == "resnet18"]
            for t in range(ev.energy_queue.shape[0]):
                rows.append({**none, "algorithm": ag, "slot": t + 1,
                             "q_alexnet": float(ev.energy_queue[t, ia].mean()),
                             "q_resnet18": float(ev.energy_queue[t, ir].mean())})
    return rows


def _delay_reduction(df: Any) -> float:
    d = df[df["sweep"] == "rate"].dropna(subset=["avg_delay_s"])
    m = d.groupby(["algorithm", "arrival_rate"])["avg_delay_s"].mean()
    rates = sorted(set(d["arrival_rate"]))
    return float(np.mean([1 - m[("lymdo", r)] / m[("ppo", r)] for r in rates]))


def _queue_reduction(col: str) -> Callable[[Any], float]:
    def measure(df: Any) -> float:
        d = df[df["sweep"] == "default"].dropna(subset=[col])
        m = d.groupby("algorithm")[col].mean()
        return float(1 - m["lymdo"] / m["ppo"])

    return measure


def _greedy_gap(df: Any) -> float:
    d = df[df["sweep"] == "default"].dropna(subset=["avg_delay_s"])
    m = d.groupby("algorithm")["avg_delay_s"].mean()
    return float(1 - m["lymdo"] / m["greedy-dpp"])


def _study() -> Any:
    try:
        from edgeinfer.experiments import Axis, Claim, Figure, Param, Study
    except ImportError:  # pragma: no cover - engine absent
        return None
    fig4 = [("fig4a_delay", "avg_delay_s", "average E2E delay (s)"),
            ("fig4b_energy", "avg_energy_j", "average energy per slot (J)"),
            ("fig4c_memory", "avg_memory_mb", "average memory (MB)"),
            ("fig4d_energy_queue", "avg_energy_queue", "average energy queue")]
    return Study(
        name="lymdo",
        title="LyMDO (Ye et al.): Figs. 3-5",
        description="PPO partitioning + exact convex allocation vs baselines on the LyMDO system",
        params=[
            Param("arrival_rate", 2.5, float, "task arrival rate (req/s)", bounds=(0.0, 20.0)),
            Param("episodes", 2000, int, "training episodes of lymdo and ppo", bounds=(1, 100_000)),
            Param("steps", 200, int, "slots per training episode", bounds=(1, 100_000)),
            Param("eval_slots", 200, int, "slots per evaluation episode", bounds=(1, 100_000)),
            Param("train_seed", 0, int, "seed of the PPO training runs", bounds=(0, None)),
            Param("fig5_rate", 2.5, float, "arrival rate of Figs. 3 and 5 rows (req/s)", bounds=(0.0, 20.0)),
        ],
        sweeps={"rate": Axis("arrival_rate", quick=(0.5, 1.5, 2.5), full=RATES)},
        algorithms=list(AGENTS),
        metrics={"avg_delay_s": "average E2E delay (s)", "avg_energy_j": "average energy per slot (J)",
                 "avg_memory_mb": "average memory (MB)", "avg_energy_queue": "average energy queue",
                 "energy_budget_met": "energy budget met (within 2%)", "avg_reward": "average reward (14)",
                 "train_reward": "training episode reward", "q_alexnet": "energy queue, AlexNet devices",
                 "q_resnet18": "energy queue, ResNet-18 devices"},
        summary_metrics=["avg_delay_s", "avg_energy_j", "energy_budget_met", "avg_memory_mb", "avg_energy_queue"],
        run_task=run_task,
        realisations=(1, 5),
        quick_params={"episodes": 25, "eval_slots": 100},
        figures=[
            Figure("fig3_training_reward", x="episode", y="train_reward", xlabel="episode",
                   ylabel="episode reward", sweep="default", algorithms=("lymdo", "ppo")),
            *[Figure(n, x="arrival_rate", y=y, xlabel="arrival rate (req/s)", ylabel=lab, sweep="rate",
                     logy=(y == "avg_energy_queue")) for n, y, lab in fig4],
            Figure("fig5a_queue_alexnet", x="slot", y="q_alexnet", xlabel="slot", ylabel="energy queue Q",
                   sweep="default", logy=True),
            Figure("fig5b_queue_resnet18", x="slot", y="q_resnet18", xlabel="slot", ylabel="energy queue Q",
                   sweep="default", logy=True),
        ],
        claims=[
            Claim("LyMDO's delay about 30% below PPO's (mean over arrival rates)", 0.30, _delay_reduction,
                  unit="fraction"),
            Claim("energy queue of AlexNet devices 54% shorter than PPO's (lambda = 2.5)", 0.54,
                  _queue_reduction("q_alexnet"), unit="fraction"),
            Claim("energy queue of ResNet-18 devices 48% shorter than PPO's (lambda = 2.5)", 0.48,
                  _queue_reduction("q_resnet18"), unit="fraction"),
            Claim("(not in the paper) lymdo's delay vs greedy-dpp's, 1 - ratio", "n/a", _greedy_gap,
                  unit="fraction"),
        ],
        version="1",
    )


STUDY = _study()
