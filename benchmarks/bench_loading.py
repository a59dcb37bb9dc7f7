"""PartialLoading (issue 4): solver speed, and quality beside ``exact`` where it finishes.

Targets: ``spec`` at the paper's default size (K 80, 50 models) under 10 ms; ``spec`` at 10,000
users and 1,000 models in 10 clusters under 2 s; ``gen`` and ``search`` at 1,000 users and 100
models under 1 s. Ratios (time and users served) against ``exact`` on sizes it finishes.
Times are medians of repeated runs, including the solution build (not the verification).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np


def _solve(inst: Any, algo: str, **params: Any) -> Any:
    from edgeinfer.core.registry import solve
    from edgeinfer.core.solution import SolveOptions
    from edgeinfer.loading import verify

    sol = solve("partial_loading", algo, inst, SolveOptions(params=params))
    assert verify(inst, sol).ok
    return sol


def _timed(make_inst, algo: str, repeat: int, **params: Any) -> tuple[float, float]:
    """Median seconds over fresh instances (caches cold) and mean users served."""
    ts, served = [], []
    for r in range(repeat):
        inst = make_inst(r)
        t0 = time.perf_counter()
        sol = _solve(inst, algo, **params)
        ts.append(time.perf_counter() - t0)
        served.append(sol.objective)
    return statistics.median(ts), float(np.mean(served))


def _big_backbone(seed: int, n_users: int, n_models: int, n_clusters: int) -> Any:
    """Backbone-sharing instance at scale: scenario-like times (uploads ~0.2 ms, loads ~ms)."""
    from edgeinfer.loading import load_instance

    rng = np.random.default_rng(seed)
    blocks, models = [], []
    per = n_models // n_clusters
    for c in range(n_clusters):
        depth = 20
        for j in range(depth):
            blocks.append({"id": f"c{c}.bb{j}", "bytes": float(rng.uniform(0.5e6, 4e6))})
        for m in range(per):
            level = int(rng.integers(depth // 2, depth + 1))
            own = [f"c{c}.m{m}.own{j}" for j in range(int(rng.integers(1, 3)))]
            for b in own:
                blocks.append({"id": b, "bytes": float(rng.uniform(0.5e6, 4e6))})
            models.append({"id": f"c{c}.m{m}", "blocks": [f"c{c}.bb{j}" for j in range(level)] + own,
                           "compute_per_sample_s": 2e-4, "compute_fixed_s": 3e-3, "max_batch": 32})
    users = [{"id": f"u{k}", "model": models[int(rng.integers(len(models)))]["id"], "data_bits": 393216.0,
              "spectral_efficiency": float(rng.uniform(2, 14))} for k in range(n_users)]
    return load_instance({
        "problem": "partial_loading", "bandwidth_hz": 200e6, "deadline_s": 2.0,
        "load": {"disk_bytes_per_s": 2e9, "host_to_device_bytes_per_s": 12e9},
        "blocks": blocks, "models": models, "users": users,
    })


def _general(seed: int, n_users: int, n_models: int, deadline_s: float, n_blocks: int = 40) -> Any:
    from edgeinfer.loading import load_instance

    rng = np.random.default_rng(seed)
    blocks = [{"id": f"b{j}", "bytes": float(rng.uniform(1e6, 8e6))} for j in range(n_blocks)]
    models = []
    for i in range(n_models):
        pick = rng.choice(n_blocks, size=int(rng.integers(5, n_blocks // 2)), replace=False)
        models.append({"id": f"m{i}", "blocks": [f"b{j}" for j in sorted(pick.tolist())],
                       "compute_per_sample_s": 2e-4, "compute_fixed_s": 3e-3, "max_batch": 32})
    users = [{"id": f"u{k}", "model": f"m{int(rng.integers(n_models))}", "data_bits": 393216.0,
              "spectral_efficiency": float(rng.uniform(2, 14))} for k in range(n_users)]
    return load_instance({
        "problem": "partial_loading", "bandwidth_hz": 200e6, "deadline_s": deadline_s,
        "load": {"disk_bytes_per_s": 2e9, "host_to_device_bytes_per_s": 12e9},
        "blocks": blocks, "models": models, "users": users,
    })


def run(quick: bool = False) -> list[dict]:
    from edgeinfer.loading.scenario import ScenarioConfig, make_instance

    rows: list[dict] = []
    rep = 5 if quick else 15

    # 1. spec at the paper's default point (K 80, 50 BS models, 3 clusters)
    cfg = ScenarioConfig()
    t, s = _timed(lambda r: make_instance(cfg, seed=r), "spec", rep)
    rows.append({"benchmark": "spec", "case": "paper default: K 80, 50 models, 3 clusters", "value": t * 1e3,
                 "unit": "ms", "target": 10.0, "ok": t * 1e3 < 10.0})
    tsl, ssl = _timed(lambda r: make_instance(cfg, seed=r), "spec-slotted", rep)
    rows.append({"benchmark": "spec-slotted", "case": "paper default, 10 ms slots", "value": tsl * 1e3, "unit": "ms"})
    rows.append({"benchmark": "spec-slotted/spec", "case": "users served, paper default", "value": ssl / s, "unit": "x"})
    tg, sg = _timed(lambda r: make_instance(cfg, seed=r), "gen", rep)
    rows.append({"benchmark": "gen", "case": "paper default", "value": tg * 1e3, "unit": "ms"})
    rows.append({"benchmark": "gen/spec", "case": "users served, paper default", "value": sg / s, "unit": "x"})

    # 2. Fig. 9 scale (K 20, 5 models, 200 ms): spec and gen beside exact
    small = ScenarioConfig(n_users=20, n_models=5, deadline_s=0.2)
    small_gen = small.with_(case="general")
    te, se = _timed(lambda r: make_instance(small, seed=r), "exact", rep)
    ts, ss = _timed(lambda r: make_instance(small, seed=r), "spec", rep)
    rows.append({"benchmark": "spec", "case": "Fig. 9 BS: K 20, 5 models, 200 ms", "value": ts * 1e3, "unit": "ms"})
    rows.append({"benchmark": "exact", "case": "Fig. 9 BS", "value": te * 1e3, "unit": "ms"})
    rows.append({"benchmark": "exact/spec", "case": "time, Fig. 9 BS", "value": te / ts, "unit": "x"})
    tm, sm = _timed(lambda r: make_instance(small, seed=r), "milp", rep)
    rows.append({"benchmark": "milp/exact", "case": "time, Fig. 9 BS (HiGHS MILP of P2)", "value": tm / te, "unit": "x"})
    rows.append({"benchmark": "milp/exact", "case": "users served, Fig. 9 BS", "value": sm / se, "unit": "x",
                 "target": 1.0, "ok": abs(sm - se) < 1e-9})
    rows.append({"benchmark": "spec/exact", "case": "users served, Fig. 9 BS", "value": ss / se, "unit": "x",
                 "target": 1.0, "ok": abs(ss - se) < 1e-9})
    te, se = _timed(lambda r: make_instance(small_gen, seed=r), "exact", rep)
    tg, sg = _timed(lambda r: make_instance(small_gen, seed=r), "gen", rep)
    _, ssr = _timed(lambda r: make_instance(small_gen, seed=r), "search", rep)
    rows.append({"benchmark": "gen/exact", "case": "users served, Fig. 9 general", "value": sg / se, "unit": "x"})
    rows.append({"benchmark": "search/exact", "case": "users served, Fig. 9 general", "value": ssr / se, "unit": "x"})
    rows.append({"benchmark": "exact/gen", "case": "time, Fig. 9 general", "value": te / tg, "unit": "x"})

    # 3. spec at scale
    nu, nm = (2000, 200) if quick else (10000, 1000)
    t, s = _timed(lambda r: _big_backbone(r, nu, nm, 10), "spec", 3)
    rows.append({"benchmark": "spec", "case": f"{nu} users, {nm} models, 10 clusters", "value": t, "unit": "s",
                 "target": 2.0, "ok": t < 2.0})
    rows.append({"benchmark": "spec", "case": f"users served of {nu}", "value": s, "unit": "users"})

    # 4. gen and search at 1,000 users, 100 general models
    nu, nm = (300, 30) if quick else (1000, 100)
    for algo in ("gen", "search"):
        t, s = _timed(lambda r: _general(r, nu, nm, 0.5), algo, 3)
        rows.append({"benchmark": algo, "case": f"{nu} users, {nm} general models", "value": t, "unit": "s",
                     "target": 1.0, "ok": t < 1.0})
        rows.append({"benchmark": algo, "case": f"users served of {nu} ({nm} models)", "value": s, "unit": "users"})

    # 5. heuristics beside exact on random general instances it finishes (10 models)
    for nm in (8, 10, 12):
        gaps: dict[str, list[float]] = {"gen": [], "search": []}
        times: dict[str, list[float]] = {"gen": [], "search": [], "exact": []}
        for r in range(4 if quick else 10):
            inst = _general(100 + r, 60, nm, 0.08, n_blocks=12)
            t0 = time.perf_counter()
            ex = _solve(inst, "exact").objective
            times["exact"].append(time.perf_counter() - t0)
            for algo in ("gen", "search"):
                t0 = time.perf_counter()
                v = _solve(inst, algo).objective
                times[algo].append(time.perf_counter() - t0)
                gaps[algo].append((ex - v) / max(ex, 1))
        for algo in ("gen", "search"):
            rows.append({"benchmark": f"{algo} gap to exact", "case": f"60 users, {nm} general models (mean)",
                         "value": 100 * float(np.mean(gaps[algo])), "unit": "%",
                         **({"target": 1.0, "ok": float(np.mean(gaps[algo])) < 0.01} if algo == "search" else {})})
        rows.append({"benchmark": "exact/search", "case": f"time, 60 users, {nm} general models",
                     "value": statistics.median(times["exact"]) / statistics.median(times["search"]), "unit": "x"})
        rows.append({"benchmark": "exact", "case": f"60 users, {nm} general models", "value":
                     statistics.median(times["exact"]), "unit": "s"})
    return rows
