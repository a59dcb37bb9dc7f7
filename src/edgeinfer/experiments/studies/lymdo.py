"""The ``lymdo`` study (``edgeinfer reproduce lymdo``): Figs. 3-5 of the LyMDO paper and its
claims, through the experiment engine.

* Fig. 3: training reward per episode, ``lymdo`` vs ``ppo``.
* Fig. 4: average delay, energy, memory and energy queue vs arrival rate (0.5-2.5 req/s) for
  every agent.
* Fig. 5: energy queue over time at lambda = 2.5, AlexNet and ResNet-18 devices.

Quick mode trains briefly (``quick_params``); full mode uses the paper's 2,000 episodes x 200
slots. ``--set policy_lymdo=FILE.zip`` / ``policy_ppo=FILE.zip`` evaluate policies saved by
``edgeinfer train`` instead of training (Fig. 3 then shows the training log saved beside
them, if any). SB3/torch are imported inside the functions.

The agents are not solvers of a registered problem: ``lymdo`` and ``ppo`` are policies trained
on the Gymnasium environment and every agent is evaluated over whole episodes (queues carried
from slot to slot), while the registered problem ``lymdo_slot`` is one slot with given queues.
So ``--algorithms`` selects among the study's own agents only (:data:`FIXED_ALGORITHMS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec
from edgeinfer.online.agents import AGENTS

__all__ = ["FIXED_ALGORITHMS", "RATES", "STUDY", "run_task"]

RATES = (0.5, 1.0, 1.5, 2.0, 2.5)
FIXED_ALGORITHMS = ("its agents are policies evaluated over whole episodes of the Gymnasium environment, "
                    "not solvers of the one-slot problem lymdo_slot")


_MODEL_CACHE: dict[tuple[Any, ...], Any] = {}


def _trained(agent: str, episodes: int, steps: int, seed: int) -> tuple[Any, list[float]]:
    """Train once per worker process and parameter set (same seed, same model everywhere)."""
    from edgeinfer.online.agents import train

    key = (agent, episodes, steps, seed)
    if key not in _MODEL_CACHE:
        res = train(agent, episodes=episodes, steps=steps, seed=seed)
        _MODEL_CACHE[key] = (res.model, list(res.episode_rewards))
    return _MODEL_CACHE[key]


def _saved(agent: str, path: str) -> tuple[Any, list[float]]:
    """A policy saved by ``edgeinfer train`` (cached per process) and its training curve (if saved)."""
    from edgeinfer.online.agents import load_policy, load_training_log

    key = ("saved", agent, path)
    if key not in _MODEL_CACHE:
        pol = load_policy(path)
        if pol.agent != agent:
            raise ValueError(f"policy_{agent.replace('-', '_')}={path}: a saved {pol.agent!r} policy, not {agent!r}")
        log = load_training_log(path) or {}
        _MODEL_CACHE[key] = (pol.model, [float(r) for r in log.get("episode_rewards", [])])
    return _MODEL_CACHE[key]


_METRICS = ("avg_delay_s", "avg_energy_j", "avg_memory_mb", "avg_energy_queue", "energy_budget_met",
            "energy_budget_ratio", "avg_reward")
_CURVES = ("train_reward", "q_alexnet", "q_resnet18")


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One evaluation episode of every agent at one arrival rate (engine task).

    The learning agents are trained first (cached per process; the training seed is the
    ``train_seed`` parameter, so every task uses the same policy), or loaded from the files
    named by ``policy_lymdo`` / ``policy_ppo``. At the default point the
    task also returns the training curves (``episode`` rows, Fig. 3) and the energy queues
    over time (``slot`` rows, Fig. 5); their other metrics are None.
    """
    from edgeinfer.online.agents import LEARNING_AGENTS, evaluate, make_policy
    from edgeinfer.online.model import LyMDOConfig

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
            saved = str(p[f"policy_{ag}"])
            model, curve = (_saved(ag, saved) if saved else
                            _trained(ag, int(p["episodes"]), int(p["steps"]), int(p["train_seed"])))
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


def _summary(df: Any) -> dict[str, Any]:
    """Fig. 4's numbers: ``{metric: {agent: {rate: mean over realisations}}}`` on the rate sweep."""
    d = df[df["sweep"] == "rate"].dropna(subset=["avg_delay_s"])
    out: dict[str, Any] = {}
    for col in ("avg_delay_s", "energy_budget_ratio", "avg_energy_j", "avg_memory_mb", "avg_energy_queue"):
        m = d.groupby(["algorithm", "arrival_rate"])[col].mean()
        out[f"fig4_{col}"] = {str(a): {f"{r:g}": float(v) for (a2, r), v in m.items() if a2 == a}
                              for a in dict.fromkeys(d["algorithm"])}
    return out


def _study() -> Study:
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
            Param("policy_lymdo", "", str, "saved lymdo policy (.zip of edgeinfer train) to evaluate instead of "
                  "training ('' = train)"),
            Param("policy_ppo", "", str, "saved ppo policy (.zip) to evaluate instead of training ('' = train)"),
        ],
        sweeps={"rate": Axis("arrival_rate", quick=(0.5, 1.5, 2.5), full=RATES)},
        algorithms=list(AGENTS),
        metrics={"avg_delay_s": "average E2E delay (s)", "avg_energy_j": "average energy per slot (J)",
                 "avg_memory_mb": "average memory (MB)", "avg_energy_queue": "average energy queue",
                 "energy_budget_met": "energy budget met (within 2%)",
                 "energy_budget_ratio": "worst device's time-averaged energy / budget (1)",
                 "avg_reward": "average reward (14)",
                 "train_reward": "training episode reward", "q_alexnet": "energy queue, AlexNet devices",
                 "q_resnet18": "energy queue, ResNet-18 devices"},
        summary_metrics=["avg_delay_s", "avg_energy_j", "energy_budget_met", "energy_budget_ratio", "avg_memory_mb",
                         "avg_energy_queue", "avg_reward"],
        summary=_summary,
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
                  unit="fraction", needs=("lymdo", "ppo")),
            Claim("energy queue of AlexNet devices 54% shorter than PPO's (lambda = 2.5)", 0.54,
                  _queue_reduction("q_alexnet"), unit="fraction", needs=("lymdo", "ppo")),
            Claim("energy queue of ResNet-18 devices 48% shorter than PPO's (lambda = 2.5)", 0.48,
                  _queue_reduction("q_resnet18"), unit="fraction", needs=("lymdo", "ppo")),
            Claim("(not in the paper) lymdo's delay vs greedy-dpp's, 1 - ratio", "n/a", _greedy_gap,
                  unit="fraction", needs=("lymdo", "greedy-dpp")),
        ],
        version="2",
        fixed_algorithms=FIXED_ALGORITHMS,
    )


STUDY = _study()
