"""The ``lymdo`` study (``edgeinfer reproduce lymdo``): Figs. 3-5 of the LyMDO paper and its
claims, through the experiment engine.

* Fig. 3: training reward per episode (moving average), ``lymdo`` vs ``ppo``: mean and 95 %
  interval over the training seeds.
* Fig. 4: average delay, energy, memory and energy queue vs arrival rate (0.5-2.5 req/s) for
  every agent, over the paper's 200-slot episode; the energy budget also over a long horizon.
* Fig. 5: energy queue over time at lambda = 2.5, AlexNet and ResNet-18 devices.

**One task per training seed.** Realisation ``r`` trains ``lymdo`` and ``ppo`` with seed
``train_seed + r`` (the same budget for both: ``episodes x steps`` slots) and evaluates every
agent at every rate of ``rates`` with one evaluation seed (common to all agents). So the
engine's interval over realisations is an interval over training seeds, and each policy is
trained exactly once whatever ``--jobs`` (``--full``: 3 seeds of the paper's 2,000 episodes).
``policy_lymdo`` / ``policy_ppo`` = ``pretrained`` evaluates the small policies shipped with
edgeinfer (:mod:`edgeinfer.online.pretrained`; ``--quick`` does), a path evaluates a policy
saved by ``edgeinfer train``; then nothing is trained and Fig. 3 shows the saved curve.

**Two horizons.** Each evaluation runs ``budget_slots`` slots from empty queues (at every rate
with ``budget_all_rates``, else at ``fig5_rate`` only; ``--quick`` leaves greedy-dpp's out,
``budget_greedy``); Fig. 4 and the paper's claims use its
first ``eval_slots`` (= K = 200, the paper's episode), the energy budget is judged over the whole
run, as the Lyapunov argument needs (a time average with the queue's start-up backlog
amortised), and the 200-slot ratio is reported beside it.

The agents are not solvers of a registered problem (``--algorithms`` selects among the
study's own agents only, :data:`FIXED_ALGORITHMS`). SB3/torch are imported inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgeinfer.experiments.study import Claim, Figure, Param, Study, TaskSpec
from edgeinfer.online.agents import AGENTS
from edgeinfer.online.pretrained import DEFAULT_EPISODES

__all__ = ["FIXED_ALGORITHMS", "PAPER_AGENTS", "RATES", "STUDY", "parse_rates", "run_task"]

RATES = (0.5, 1.0, 1.5, 2.0, 2.5)
#: the agents of the paper's figures (``greedy-dpp`` is ours)
PAPER_AGENTS = ("lymdo", "ppo", "local", "edge", "random")
FIXED_ALGORITHMS = ("its agents are policies evaluated over whole episodes of the Gymnasium environment, "
                    "not solvers of the one-slot problem lymdo_slot")
#: episodes of the moving average of the Fig. 3 curves
CURVE_WINDOW = 20
PRETRAINED = "pretrained"

_MODEL_CACHE: dict[tuple[Any, ...], Any] = {}


def _rates_problem(text: str) -> str | None:
    """What is wrong with a ``rates`` option, checked with the other options before any task
    runs (``1e300`` used to fail every task, exit 1), or ``None``."""
    try:
        parse_rates(text)
    except ValueError as exc:
        return str(exc).removeprefix("rates: ")
    return None


def parse_rates(text: str) -> tuple[float, ...]:
    """``"0.5,1.5,2.5"`` -> rates (req/s); ValueError naming ``rates`` otherwise."""
    try:
        vals = tuple(float(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        raise ValueError(f"rates: expected comma-separated arrival rates, got {text!r}") from None
    if not vals or any(not (math.isfinite(v) and 0 <= v <= 20) for v in vals) or len(set(vals)) != len(vals):
        raise ValueError(f"rates: need distinct rates in [0, 20] req/s, got {text!r}")
    return vals


def _trained(agent: str, episodes: int, steps: int, seed: int) -> tuple[Any, list[float], int]:
    """Train once per process and parameter set (same seed, same model everywhere)."""
    from edgeinfer.online.agents import train

    key = (agent, episodes, steps, seed)
    if key not in _MODEL_CACHE:
        res = train(agent, episodes=episodes, steps=steps, seed=seed)
        _MODEL_CACHE[key] = (res.model, list(res.episode_rewards), episodes)
    return _MODEL_CACHE[key]


def _saved(agent: str, path: str) -> tuple[Any, list[float], int | None]:
    """A shipped (``pretrained``) or saved policy (cached per process), its training curve and
    its training episodes (None: not known)."""
    from edgeinfer.online.agents import load_policy, load_training_log

    key = ("saved", agent, path)
    if key not in _MODEL_CACHE:
        if path == PRETRAINED:
            from edgeinfer.online.pretrained import load_pretrained

            pol, curve, entry = load_pretrained(agent)
            _MODEL_CACHE[key] = (pol.model, curve, entry.episodes)
        else:
            pol = load_policy(path)
            if pol.agent != agent:
                raise ValueError(f"policy_{agent}={path}: a saved {pol.agent!r} policy, not {agent!r}")
            log = load_training_log(path) or {}
            curve = [float(r) for r in log.get("episode_rewards", [])]
            _MODEL_CACHE[key] = (pol.model, curve, len(curve) or None)
    return _MODEL_CACHE[key]


_FIG4 = ("avg_delay_s", "avg_energy_j", "avg_memory_mb", "avg_energy_queue", "avg_reward", "energy_budget_ratio",
         "memory_budget_ratio")
_LONG = ("energy_ratio_long", "energy_ratio_tail", "energy_excess_bound", "memory_ratio_long")
_HEAD = ("delay_s", "energy_j", "energy_ratio_200", "energy_ratio_horizon", "memory_mb", "energy_queue",
         "reward")
_CURVES = ("train_reward", "train_reward_ma", "q_alexnet", "q_resnet18")


def _moving_average(x: Sequence[float], w: int) -> list[float]:
    a = np.asarray(x, dtype=float)
    c = np.cumsum(np.insert(a, 0, 0.0))
    k = np.minimum(np.arange(1, a.size + 1), w)
    return [float(v) for v in (c[1:] - c[np.arange(1, a.size + 1) - k]) / k]


def _long_metrics(ev: Any, head: int) -> dict[str, float]:
    """The energy budget over the whole run (``ev``, from empty queues): worst device's ratio of
    time-averaged energy to budget; the same over the slots after the first ``head`` (the
    queues' start-up left out: with stable queues this estimates the long-run average that C1
    constrains); and the bound the queue gives on the excess, eq. (8):
    ``Q_n(T) >= nu_e sum_t (E_n - e_n) / e_unit``, so the time-averaged excess ratio is at most
    ``Q_n(T) e_unit / (nu_e T e_n)``."""
    from edgeinfer.online.model import LyMDOConfig

    cfg = LyMDOConfig()
    T = ev.energy_j.shape[0]
    b = ev.energy_budget_j
    tail = ev.energy_j[head:] if T > head else ev.energy_j
    return {
        "energy_ratio_long": float(np.max(ev.energy_j.mean(axis=0) / b)),
        "energy_ratio_tail": float(np.max(tail.mean(axis=0) / b)),
        "energy_excess_bound": float(np.max(ev.energy_queue[-1] * cfg.energy_unit_j / (cfg.nu_e * T * b))),
        "memory_ratio_long": float(np.max(ev.memory_bytes.mean(axis=0) / ev.memory_budget_bytes)),
    }


def run_task(task: TaskSpec) -> list[dict[str, Any]]:
    """One training seed (``train_seed + realisation``): train (or load) ``lymdo`` and ``ppo``,
    then one evaluation run of every agent at every rate (engine task).

    Rows: per (agent, rate) the Fig. 4 metrics over the first ``eval_slots`` slots and, where the
    long run was made, the budget over ``budget_slots`` slots (``_LONG``); at ``fig5_rate`` also
    the headline columns (``_HEAD``), the energy queues per slot (``slot`` rows, Fig. 5) and
    the training curves (``episode`` rows, Fig. 3). Other columns of a row are None.
    """
    from edgeinfer.online.agents import LEARNING_AGENTS, evaluate, make_policy
    from edgeinfer.online.model import LyMDOConfig

    p = task.params
    rates = parse_rates(p["rates"])
    fig5 = float(p["fig5_rate"])
    if fig5 not in rates:
        raise ValueError(f"fig5_rate={fig5:g} is not one of rates={p['rates']}")
    seed = int(p["train_seed"]) + task.realisation
    eval_seed = int(task.rng().integers(2**31 - 1))
    k, long_slots = int(p["eval_slots"]), max(int(p["budget_slots"]), int(p["eval_slots"]))
    cols = (*_FIG4, *_LONG, *_HEAD, *_CURVES, "arrival_rate", "train_episodes")
    none = dict.fromkeys(cols)
    rows: list[dict[str, Any]] = []
    models = LyMDOConfig().models
    ia = [i for i, m in enumerate(models) if m == "alexnet"]
    ir = [i for i, m in enumerate(models) if m == "resnet18"]
    for ag in task.algorithms:
        model, budget = None, None
        if ag in LEARNING_AGENTS:
            saved = str(p[f"policy_{ag}"])
            model, curve, budget = (_saved(ag, saved) if saved else
                                    _trained(ag, int(p["episodes"]), int(p["steps"]), seed))
            ma = _moving_average(curve, CURVE_WINDOW)
            rows += [{**none, "algorithm": ag, "episode": i + 1, "train_reward": float(r), "train_reward_ma": m,
                      "train_episodes": budget} for i, (r, m) in enumerate(zip(curve, ma, strict=True))]
        for rate in rates:
            long = ((bool(p["budget_all_rates"]) or rate == fig5)
                    and (ag != "greedy-dpp" or bool(p["budget_greedy"])))
            ev_all = evaluate(ag, arrival_rate=rate, slots=long_slots if long else k, seed=eval_seed,
                              policy=make_policy(ag, seed=seed, model=model))
            ev = ev_all.head(k)
            s = ev.summary()
            row = {**none, "algorithm": ag, "arrival_rate": rate, "train_episodes": budget,
                   **{c: float(s[c]) for c in _FIG4}}
            if long:
                row.update(_long_metrics(ev_all, k))
            if rate == fig5:
                row.update({"delay_s": s["avg_delay_s"], "energy_j": s["avg_energy_j"],
                            "energy_ratio_200": s["energy_budget_ratio"],
                            "energy_ratio_horizon": row["energy_ratio_long"], "memory_mb": s["avg_memory_mb"],
                            "energy_queue": s["avg_energy_queue"], "reward": s["avg_reward"]})
                q = ev_all.energy_queue
                rows += [{**none, "algorithm": ag, "arrival_rate": rate, "slot": t + 1,
                          "q_alexnet": float(q[t, ia].mean()), "q_resnet18": float(q[t, ir].mean())}
                         for t in range(q.shape[0])]
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- claim measures
# Each returns one value per realisation (= training seed): the engine gives mean, interval, n.


def _fig4(df: Any, col: str) -> Any:
    """``col`` per (realisation, algorithm, arrival_rate) on the rate rows (Fig. 4; the curve
    rows hold None there)."""
    d = df.dropna(subset=[col, "arrival_rate"])
    return d.groupby(["realisation", "algorithm", "arrival_rate"])[col].mean()


def _per_seed(df: Any, fn: Callable[[Any, int], float]) -> list[float]:
    return [float(fn(df, int(r))) for r in sorted(set(df["realisation"]))]


def delay_reduction(df: Any) -> list[float]:
    """100 (1 - delay_lymdo / delay_ppo), mean over the rates (200-slot episodes), per seed (%)."""
    m = _fig4(df, "avg_delay_s")

    def one(_: Any, r: int) -> float:
        rates = sorted({x for (rr, a, x) in m.index if rr == r and a == "lymdo"})
        return 100 * float(np.mean([1 - m[(r, "lymdo", x)] / m[(r, "ppo", x)] for x in rates]))

    return _per_seed(df, one)


def queue_reduction(col: str) -> Callable[[Any], list[float]]:
    """100 (1 - Qbar_lymdo / Qbar_ppo) over the first ``eval_slots`` slots at ``fig5_rate`` (%)."""

    def measure(df: Any) -> list[float]:
        k = int(df["eval_slots"].iloc[0])
        d = df.dropna(subset=[col])
        d = d[d["slot"] <= k]
        m = d.groupby(["realisation", "algorithm"])[col].mean()
        return _per_seed(df, lambda _, r: 100 * (1 - m[(r, "lymdo")] / m[(r, "ppo")]))

    return measure


def lowest_among_paper_agents(col: str) -> Callable[[Any], list[float]]:
    """lymdo's ``col`` / the lowest of the paper's other agents, mean over the rates (x)."""

    def measure(df: Any) -> list[float]:
        m = _fig4(df, col)

        def one(_: Any, r: int) -> float:
            rates = sorted({x for (rr, a, x) in m.index if rr == r and a == "lymdo"})
            return float(np.mean([m[(r, "lymdo", x)] / min(m[(r, a, x)] for a in PAPER_AGENTS if a != "lymdo")
                                  for x in rates]))

        return _per_seed(df, one)

    return measure


def worst_ratio(col: str, agent: str = "lymdo") -> Callable[[Any], list[float]]:
    """``agent``'s worst ratio (over the rates where it was measured) of ``col``, per seed (x)."""

    def measure(df: Any) -> list[float]:
        m = _fig4(df, col)
        return _per_seed(df, lambda _, r: max(v for (rr, a, _x), v in m.items() if rr == r and a == agent))

    return measure


def final_reward_gap(df: Any) -> list[float]:
    """Mean training reward of the last 10 % of episodes, lymdo minus ppo, per seed (reward 14)."""
    d = df.dropna(subset=["train_reward"])

    def one(_: Any, r: int) -> float:
        out = []
        for a in ("lymdo", "ppo"):
            x = d[(d["realisation"] == r) & (d["algorithm"] == a)].sort_values("episode")["train_reward"].to_numpy()
            out.append(float(x[-max(1, x.size // 10):].mean()))
        return out[0] - out[1]

    return _per_seed(d, one)


def convergence_episode(df: Any) -> list[float]:
    """First episode from which lymdo's moving-average reward stays within 10 % of its total
    rise of its final level (the mean of the last 10 % of episodes), per seed."""
    d = df.dropna(subset=["train_reward_ma"])

    def one(_: Any, r: int) -> float:
        x = d[(d["realisation"] == r) & (d["algorithm"] == "lymdo")].sort_values("episode")["train_reward_ma"]
        a = x.to_numpy()
        final = a[-max(1, a.size // 10):].mean()
        tol = 0.1 * max(abs(final - a[0]), 1e-12)
        outside = np.nonzero(np.abs(a - final) > tol)[0]
        return float(outside[-1] + 2 if outside.size else 1)

    return _per_seed(d, one)


def greedy_gap(df: Any) -> list[float]:
    """100 (delay_lymdo / delay_greedy-dpp - 1) at ``fig5_rate`` (%), per seed."""
    m = df.dropna(subset=["delay_s"]).groupby(["realisation", "algorithm"])["delay_s"].mean()
    return _per_seed(df, lambda _, r: 100 * (m[(r, "lymdo")] / m[(r, "greedy-dpp")] - 1))


def _summary(df: Any) -> dict[str, Any]:
    """Fig. 4's numbers: ``{metric: {agent: {rate: mean over seeds}}}``, the budget over both
    horizons, and the training budget of the learning agents."""
    out: dict[str, Any] = {}
    for col in (*_FIG4, *_LONG):
        m = _fig4(df, col).groupby(level=["algorithm", "arrival_rate"]).mean()
        out[f"fig4_{col}"] = {str(a): {f"{r:g}": float(v) for (a2, r), v in m.items() if a2 == a}
                              for a in dict.fromkeys(a for a, _ in m.index)}
    if {"lymdo", "greedy-dpp"} <= set(df["algorithm"]):
        out["lymdo_delay_vs_greedy_dpp_pct"] = greedy_gap(df)
    te = df.dropna(subset=["train_episodes"]).groupby("algorithm")["train_episodes"].max()
    out["train_episodes"] = {str(a): int(v) for a, v in te.items()}
    return out


def _study() -> Study:
    fig4 = [("fig4a_delay", "avg_delay_s", "average E2E delay (s), 200-slot episode"),
            ("fig4b_energy", "avg_energy_j", "average energy per slot (J)"),
            ("fig4c_memory", "avg_memory_mb", "average memory (MB)"),
            ("fig4d_energy_queue", "avg_energy_queue", "average energy queue"),
            ("fig4e_budget_200", "energy_budget_ratio", "worst energy / budget, 200 slots"),
            ("fig4f_budget_long", "energy_ratio_long", "worst energy / budget, long horizon")]
    return Study(
        name="lymdo",
        title="LyMDO (Ye et al.): Figs. 3-5",
        description="PPO partitioning + exact convex allocation vs baselines on the LyMDO system",
        params=[
            Param("rates", ",".join(f"{r:g}" for r in RATES), str, "arrival rates of Fig. 4 (req/s, comma-separated)",
                  validate=_rates_problem),
            Param("episodes", 2000, int, "training episodes of lymdo and ppo (the same budget for both)",
                  bounds=(1, 100_000)),
            Param("steps", 200, int, "slots per training episode", bounds=(1, 100_000)),
            Param("eval_slots", 200, int, "slots of the paper's evaluation episode (Figs. 4, 5; K)",
                  bounds=(1, 100_000)),
            Param("budget_slots", 1000, int, "slots of the long evaluation run judging the energy budget",
                  bounds=(1, 100_000)),
            Param("budget_all_rates", True, bool, "long run at every rate (else at fig5_rate only)"),
            Param("budget_greedy", True, bool, "long run for greedy-dpp too (its per-slot search is the slowest "
                  "agent: about 10 ms per slot)"),
            Param("train_seed", 0, int, "training seed of realisation 0 (realisation r: train_seed + r)",
                  bounds=(0, 2**31)),
            Param("fig5_rate", 2.5, float, "arrival rate of Fig. 5 and of the headline columns (req/s)",
                  bounds=(0.0, 20.0)),
            Param("policy_lymdo", "", str, "lymdo policy to evaluate instead of training: 'pretrained' "
                  "(shipped), a .zip of edgeinfer train, or '' (train)"),
            Param("policy_ppo", "", str, "ppo policy to evaluate instead of training ('pretrained', a .zip, '')"),
        ],
        sweeps={},
        algorithms=list(AGENTS),
        metrics={"avg_delay_s": "average E2E delay (s)", "avg_energy_j": "average energy per slot (J)",
                 "avg_memory_mb": "average memory (MB)", "avg_energy_queue": "average energy queue",
                 "energy_budget_ratio": "worst device's time-averaged energy / budget over eval_slots (1)",
                 "memory_budget_ratio": "worst device's time-averaged memory / budget over eval_slots (1)",
                 "avg_reward": "average reward (14)",
                 "energy_ratio_long": "worst energy / budget over budget_slots (1)",
                 "energy_ratio_tail": "worst energy / budget over slots eval_slots+1..budget_slots (1)",
                 "energy_excess_bound": "queue bound on the excess ratio at budget_slots, Q e_unit/(nu_e T e_n)",
                 "memory_ratio_long": "worst memory / budget over budget_slots (1)",
                 "delay_s": "E2E delay at fig5_rate (s)", "energy_j": "energy per slot at fig5_rate (J)",
                 "energy_ratio_200": "worst energy / budget at fig5_rate, eval_slots (1)",
                 "energy_ratio_horizon": "worst energy / budget at fig5_rate, budget_slots (1)",
                 "memory_mb": "memory at fig5_rate (MB)", "energy_queue": "energy queue at fig5_rate",
                 "reward": "reward (14) at fig5_rate",
                 "train_reward": "training episode reward",
                 "train_reward_ma": f"training episode reward, moving average of {CURVE_WINDOW}",
                 "q_alexnet": "energy queue, AlexNet devices", "q_resnet18": "energy queue, ResNet-18 devices"},
        summary_metrics=["delay_s", "energy_j", "energy_ratio_200", "energy_ratio_horizon", "memory_mb",
                         "energy_queue", "reward"],
        summary=_summary,
        run_task=run_task,
        realisations=(1, 3),
        quick_params={"policy_lymdo": PRETRAINED, "policy_ppo": PRETRAINED, "rates": "0.5,1.5,2.5",
                      "budget_all_rates": False, "budget_greedy": False, "episodes": 25},
        figures=[
            Figure("fig3_training_reward", x="episode", y="train_reward_ma", xlabel="episode",
                   ylabel=f"episode reward (moving average of {CURVE_WINDOW})", sweep="default",
                   algorithms=("lymdo", "ppo"), symlogy=10.0),
            *[Figure(n, x="arrival_rate", y=y, xlabel="arrival rate (req/s)", ylabel=lab, sweep="default",
                     logy=(y == "avg_energy_queue")) for n, y, lab in fig4],
            Figure("fig5a_queue_alexnet", x="slot", y="q_alexnet", xlabel="slot", ylabel="energy queue Q",
                   sweep="default", logy=True),
            Figure("fig5b_queue_resnet18", x="slot", y="q_resnet18", xlabel="slot", ylabel="energy queue Q",
                   sweep="default", logy=True),
        ],
        claims=_claims(),
        setting_notes={"default": "the paper's constants (Sec. V-A, Table I); slot 1 s and queue units J / GB "
                                  "(open in the paper); lymdo and ppo with the same training budget and PPO "
                                  f"tuning grid; --quick: the shipped {DEFAULT_EPISODES}-episode policies "
                                  "(short training)"},
        version="3",
        fixed_algorithms=FIXED_ALGORITHMS,
    )


_DOCS = "docs/online.md#claims-and-verdicts"
_SHORT = (f"a short training (--quick evaluates the shipped {DEFAULT_EPISODES}-episode policies, "
          f"{100 * DEFAULT_EPISODES / 2000:g} % of the paper's 2,000 episodes)")


def _claims() -> list[Claim]:
    inf = math.inf
    pct, ratio = "% (relative change)", "x (ratio)"
    return [
        Claim("Compared to PPO, LyMDO reduces the average inference delay by approximately 30%", 30.0,
              delay_reduction, unit=pct, needs=("lymdo", "ppo"), source="Sec. I, Sec. V-B (Fig. 4(a))",
              target=(25.0, 35.0), partly=(10.0, 100.0), docs=_DOCS, reasons={
                  "reproduced": "with equal training budgets ppo, which picks all 4N resource shares itself, "
                                "allocates worse than lymdo's exact convex allocation, by about the paper's 30 %",
                  "partly": "lymdo's delay is clearly below ppo's but not by about 30 %: the gap depends on how "
                            "long both are trained (58 % after 25 episodes, 70 % after 100, 14 % [3, 26] after the "
                            "paper's 2,000 on 3 seeds, docs): after a short training (--quick evaluates the shipped "
                            f"{DEFAULT_EPISODES}-episode policies) ppo has not learnt its resource shares and its "
                            "delay is far above lymdo's; after 2,000 episodes it is closer, and its seeds disagree",
                  "not reproduced": "well trained (the paper's 2,000 episodes) ppo runs everything locally at high "
                                    "speed, ignoring the energy budget (about twice over it), and its delay is as "
                                    "low as lymdo's: lymdo's advantage is in the objective (14) and the queues, "
                                    "not in delay alone"}),
        Claim("LyMDO shortens the energy queue of the AlexNet devices by 54% vs PPO (lambda = 2.5)", 54.0,
              queue_reduction("q_alexnet"), unit=pct, needs=("lymdo", "ppo"), source="Sec. V-B (Fig. 5(a))",
              target=(49.0, 59.0), partly=(20.0, 95.0), docs=_DOCS, reasons={
                  "reproduced": "the interval over training seeds reaches the paper's 54 %: ppo's own resource "
                                "shares overspend the AlexNet devices' energy where lymdo's exact allocation does "
                                "not (a wide interval means the seeds disagree, as after a short training)",
                  "partly": "lymdo's AlexNet queue is much shorter than ppo's, by more than 54 %: ppo overspends "
                            "energy (its queue grows over the episode), by how much depends on its training and "
                            "on the episode's arrivals (the paper's figure is one episode)",
                  "not reproduced": "lymdo's AlexNet queue is not shorter than ppo's: its splits overspend the "
                                    "AlexNet devices' 40 mJ budget at lambda = 2.5, as a short-trained lymdo does "
                                    f"(after {_SHORT} its energy and queues track local's; fully trained it was 90 % "
                                    "shorter, docs)"}),
        Claim("LyMDO shortens the energy queue of the ResNet-18 devices by 48% vs PPO (lambda = 2.5)", 48.0,
              queue_reduction("q_resnet18"), unit=pct, needs=("lymdo", "ppo"), source="Sec. V-B (Fig. 5(b))",
              target=(43.0, 53.0), partly=(20.0, 95.0), docs=_DOCS, reasons={
                  "reproduced": "the interval over training seeds reaches the paper's 48 %: ppo's own resource "
                                "shares overspend the ResNet-18 devices' energy (a wide interval means the seeds "
                                "disagree, as after a short training)",
                  "partly": "lymdo's ResNet-18 queue is shorter than ppo's by another margin: it depends on ppo's "
                            "training and on one episode's arrivals (the paper's figure is one episode)",
                  "not reproduced": "the ResNet-18 devices' queues are similar for both policies in this run: at "
                                    "lambda = 2.5 their budget binds for every agent (greedy-dpp's too), so "
                                    "the margin comes from ppo's overspending alone"}),
        Claim("LyMDO satisfies the long-term energy consumption constraint (time average once the queues have "
              "built up: slots 201-1,000 of a 1,000-slot run)", "<= 1", worst_ratio("energy_ratio_tail"), unit=ratio,
              needs=("lymdo",), source="Sec. V-B (Fig. 4(b)), constraint C1 / queue (8)", target=(0.0, 1.02),
              partly=(1.02, 1.10), docs=_DOCS, reasons={
                  "reproduced": "once the queues have built up (after the first 200 slots) lymdo's time-averaged "
                                "energy stays within 2 % of the budget at every rate measured: its queues are "
                                "stable, so the start-up overspend vanishes from the long-run average (C1)",
                  "partly": "lymdo is 2-10 % over its budget even after the queues' start-up: its learnt splits "
                            f"let a queue keep growing (after {_SHORT} more so)",
                  "not reproduced": "lymdo's learnt splits ignore the energy queue: its time-averaged energy is "
                                    "more than 10 % over budget even after the queues' start-up"}),
        Claim("LyMDO satisfies the energy constraint, judged over one 200-slot episode from empty queues (K)", "<= 1",
              worst_ratio("energy_budget_ratio"), unit=ratio, needs=("lymdo",), source="Sec. V-A (K = 200), Fig. 4(b)",
              verdict="not comparable", docs=_DOCS, reasons={
                  "not comparable": "shown, not judged: C1 constrains the long-run average, and one 200-slot "
                                    "episode from empty queues carries the start-up backlog Q*/(nu_e T e_n), about "
                                    "4 % for greedy-dpp and 16 % for a policy whose ResNet-18 queue settles near 190 "
                                    "(local, and a short-trained lymdo): even the per-slot optimiser is about 1.04 "
                                    "over its budget here and 1.007 over 1,000 slots; the row above judges C1"}),
        Claim("LyMDO satisfies the long-term memory cost constraint", "<= 1", worst_ratio("memory_ratio_long"),
              unit=ratio, needs=("lymdo",), source="Sec. V-B (Fig. 4(c)), constraint C2 / queue (9)",
              target=(0.0, 1.02), partly=(1.02, 1.10), docs=_DOCS, reasons={
                  "reproduced": "the interval over training seeds reaches the memory budget: the memory queue (9) "
                                "steers lymdo's splits (a seed whose splits keep more layers locally widens it)",
                  "partly": "lymdo's time-averaged memory is 2-10 % over its budget: its splits react to the "
                            "memory queue only after it has grown",
                  "not reproduced": "lymdo's splits keep more layers than the memory budget allows"}),
        Claim("LyMDO achieves the lowest E2E delay of the paper's algorithms (ratio to the best other, mean over "
              "rates)", "<= 1", lowest_among_paper_agents("avg_delay_s"), unit=ratio,
              needs=PAPER_AGENTS, source="Sec. V-B (Fig. 4(a))", target=(0.0, 1.0), partly=(1.0, 1.10), docs=_DOCS,
              reasons={
                  "reproduced": "the interval over training seeds reaches 1: with the exact allocation lymdo's "
                                "delay matches or beats the best other of ppo, local, edge, random (local at low "
                                "rates is the hardest to beat)",
                  "partly": "lymdo's delay is within 10 % of the best other agent's (local at low rates, or a "
                            "well-trained ppo that ignores the energy budget), not below it",
                  "not reproduced": "another agent's delay is more than 10 % below lymdo's (local at low rates): "
                                    f"its learnt splits are far from the per-slot optimum (after {_SHORT} more so)"}),
        Claim("LyMDO achieves the lowest energy consumption of the paper's algorithms (ratio to the best other, "
              "mean over rates)", "<= 1", lowest_among_paper_agents("avg_energy_j"), unit=ratio,
              needs=PAPER_AGENTS, source="Sec. V-B (Fig. 4(b))", target=(0.0, 1.0), partly=(1.0, 1.10), docs=_DOCS,
              reasons={
                  "reproduced": "the interval over training seeds reaches 1: the energy queue weighs energy in "
                                "lymdo's splits and the exact allocation spends no more than needed, so it matches "
                                "or beats the best other agent (local at low rates)",
                  "partly": "lymdo's energy is within 10 % of the best other agent's (local at low rates): it "
                            "trades a little energy for delay, as (11) with V = 10 asks",
                  "not reproduced": "another agent uses more than 10 % less energy than lymdo (running locally "
                                    "at low rates costs least energy; lymdo's splits offload more)"}),
        Claim("PPO's training reward converges lower than LyMDO's (mean of the last 10% of episodes, lymdo - ppo)",
              "> 0", final_reward_gap, unit="reward (14) per episode", needs=("lymdo", "ppo"), source="Fig. 3",
              target=(0.0, inf), docs=_DOCS, reasons={
                  "reproduced": "with the same training budget ppo, which must learn 4N continuous resource "
                                "shares, ends far below lymdo, which learns only the splits",
                  "not reproduced": "ppo's training reward is not below lymdo's at the end of this run's training"}),
        Claim("LyMDO's training reward tends to converge around the 1000th episode", 1000.0, convergence_episode,
              unit="episode", needs=("lymdo",), source="Fig. 3, Sec. V-B", target=(750.0, 1250.0),
              partly=(400.0, 1600.0), docs=_DOCS, reasons={
                  "reproduced": "lymdo's moving-average reward levels off around episode 1000, as in the paper",
                  "partly": "lymdo levels off earlier or later than episode 1000 (about 600 in our 2,000-episode "
                            "run): one run of the paper, a noisy curve (each episode draws its arrival rate)",
                  "not reproduced": "lymdo's curve levels off far from episode 1000; a training shorter than "
                                    f"about 1,500 episodes cannot show this at all ({_SHORT} is one)"}),
    ]


STUDY = _study()
