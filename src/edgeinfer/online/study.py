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
