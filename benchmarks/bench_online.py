"""LyMDO (issue 8): allocation speed, environment steps per second, training-time extrapolation.

Targets: an environment step with allocation for 5 devices >= 5,000 per second; the paper's
full training (2,000 episodes x 200 slots) under 20 minutes on 2 cores, EXTRAPOLATED from a
measured shorter run (the rate of a short run includes PPO's update epochs, so it is
representative; the full run is not executed here).
"""

from __future__ import annotations

import math
import time

import numpy as np


def _per_call(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def run(quick: bool = False) -> list[dict]:
    from edgeinfer.online.model import LyMDOConfig, build_tables
    from edgeinfer.online.scenario import draw_arrivals, draw_channels
    from edgeinfer.online.solvers.allocation import allocate, bandwidth_shares, local_frequency

    cfg = LyMDOConfig()
    tb = build_tables(cfg)
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(64):
        h = draw_channels(rng, tb)
        lam = draw_arrivals(rng, tb.n, 2.5, 1.0)
        Q, W = rng.uniform(0, 50, tb.n), rng.uniform(0, 5, tb.n)
        sp = np.array([rng.integers(0, L + 1) for L in tb.num_layers])
        cases.append((sp, h, lam, Q, W))
    n = 2000 if quick else 10000
    rows: list[dict] = []
    it = iter(range(10**9))

    def one_alloc(method: str = "newton"):
        c = cases[next(it) % len(cases)]
        allocate(cfg, tb, c[0], c[1], c[2], c[3], c[4], method=method)

    t = _per_call(one_alloc, n)
    rows.append({"benchmark": "allocation", "case": "allocate(): P3+P4+P5, 5 devices", "value": t * 1e6, "unit": "us"})
    tg = _per_call(lambda: one_alloc("golden"), n // 4)
    rows.append({"benchmark": "allocation", "case": "allocate() with golden-section P3", "value": tg * 1e6, "unit": "us"})
    snr = 79.0 * rng.exponential(size=5)
    w = rng.uniform(1e6, 1e7, 5)
    tb5 = _per_call(lambda: bandwidth_shares(w, snr), n)
    rows.append({"benchmark": "allocation", "case": "P5 bandwidth_shares (KKT Newton), 5 senders", "value": tb5 * 1e6, "unit": "us"})
    tl = _per_call(lambda: local_frequency(1.5e8, 2.5, 50 * 1e-28 * 1.5e8 * 2.5, 10.0, 1.5e9), n)
    rows.append({"benchmark": "allocation", "case": "P3 local_frequency (bracketed Newton)", "value": tl * 1e6, "unit": "us"})
    try:
        import cvxpy as cp

        idx = np.arange(5)
        x = cp.Variable(5, pos=True)
        prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(w / w.max(), cp.inv_pos(-cp.rel_entr(x, x + snr[idx]))))),
                          [cp.sum(x) <= 1])
        reps = 5 if quick else 20
        tc = _per_call(lambda: prob.solve(solver=cp.CLARABEL), reps)
        rows.append({"benchmark": "allocation", "case": "P5 with cvxpy/Clarabel (reference)", "value": tc * 1e6, "unit": "us"})
        rows.append({"benchmark": "allocation", "case": "P5 speed-up of KKT Newton over cvxpy", "value": tc / tb5, "unit": "x"})
    except ImportError:  # pragma: no cover
        pass

    try:
        from edgeinfer.online.env import CoopInferenceEnv
    except ImportError:  # pragma: no cover
        return rows
    for mode in ("partition", "joint"):
        env = CoopInferenceEnv(arrival_rate=2.5, action_mode=mode)
        env.reset(seed=0)
        env.action_space.seed(0)
        acts = [env.action_space.sample() for _ in range(n)]
        t0 = time.perf_counter()
        for a in acts:
            *_, trunc, _ = env.step(a)
            if trunc:
                env.reset()
        sps = n / (time.perf_counter() - t0)
        row = {"benchmark": "env", "case": f"CoopInference-v0 step, 5 devices ({mode})", "value": sps, "unit": "steps/s"}
        if mode == "partition":
            row.update(target=5000, ok=sps >= 5000)
        rows.append(row)
    from edgeinfer.online.agents import evaluate

    t0 = time.perf_counter()
    slots = 20 if quick else 100
    evaluate("greedy-dpp", arrival_rate=2.5, slots=slots, seed=0)
    rows.append({"benchmark": "env", "case": "greedy-dpp slot (coordinate descent)", "value": (time.perf_counter() - t0) / slots * 1e3, "unit": "ms"})

    try:
        from edgeinfer.online.agents import train
    except ImportError:  # pragma: no cover
        return rows
    episodes = 10 if quick else 40
    full = 2000 * 200
    for agent in ("lymdo", "ppo"):
        res = train(agent, episodes=episodes, steps=200, seed=0)
        rate = res.timesteps / res.wall_s
        est_min = full / rate / 60
        rows.append({"benchmark": "training", "case": f"{agent}: measured {res.timesteps} slots, 1 torch thread",
                     "value": rate, "unit": "slots/s"})
        row = {"benchmark": "training", "case": f"{agent}: 2000x200 slots EXTRAPOLATED", "value": est_min, "unit": "min",
               "target": 20}
        row["ok"] = bool(math.isfinite(est_min) and est_min < 20)
        rows.append(row)
    return rows
