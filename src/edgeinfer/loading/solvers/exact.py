"""``exact``: the optimum of any instance by a DP over subsets of models x last model.

``F[S, j, u]`` = least time of a plan that serves exactly the models of S, ends with model
j and serves u users. Extending by model ``a`` not in S:
``F[S+a, a, u+k] = min_j F[S, j, u] + d[j, a] + c_a(k)``. Plans of distinct models suffice
(triangle inequality of the loading cost, Theorem 2.1; docs/loading.md), so
``max{u : min F[., ., u] <= deadline}`` is the optimum. Time O(2^I I^2 U + 2^I U K),
memory 2^I I U floats: practical to about 15 models (``max_models``). Larger instances are
refused unless a time limit is given; then the layers (plans with 1, 2, ... models) run
until the limit and the best plan found so far is returned with status ``time_limit``
(when even the table does not fit in memory, the incumbent comes from ``search``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param, resolve_params
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts, deadline_of, load_matrix, model_costs, user_bound
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.dp import minplus_extend
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["PARAMS", "solve_exact", "exact_plan"]


def exact_plan(
    inst: PartialLoadingInstance, costs: ModelCosts, *, time_limit_s: float | None, max_models: int,
    max_memory_bytes: float, seed: int,
) -> tuple[list[tuple[int, int]], bool, dict[str, Any]]:
    """Return (plan, proven_optimal, stats); ``seed`` seeds the ``search`` fallback."""
    t0 = time.perf_counter()
    full, d = load_matrix(inst)
    deadline = deadline_of(inst)
    useful = [i for i in range(inst.n_models)
              if len(costs.cost[i]) > 1 and full[i] + costs.cost[i][1] <= deadline]
    n = len(useful)
    ub = min(inst.n_users, user_bound(inst, costs))
    size = ub + 1
    stats: dict[str, Any] = {"models_considered": n, "user_bound": ub}
    if n == 0 or ub == 0:
        return [], True, stats
    mem = float(2**n) * n * size * 8.0
    if n > max_models and time_limit_s is None:
        raise UnsupportedInstanceError(
            f"exact: {n} candidate models (> max_models={max_models}); the subset DP needs ~2^{n} states. "
            "Give --time-limit to get the best plan found in time (status time_limit), or use search"
        )
    if mem > max_memory_bytes:
        if time_limit_s is None:
            raise UnsupportedInstanceError(
                f"exact: the subset table would need {mem / 1e9:.1f} GB (> {max_memory_bytes / 1e9:.1f} GB); "
                "use search, or give --time-limit"
            )
        from edgeinfer.loading.solvers.search import PARAMS, search_plan

        fallback, _ = search_plan(inst, costs, resolve_params(PARAMS, {}, where="solver partial_loading/search"),
                                  seed=seed, time_limit_s=time_limit_s)
        stats["method"] = "search (subset table too large)"
        return fallback, False, stats

    sd = d[np.ix_(useful, useful)]
    sfull = full[useful]
    cs = [costs.cost[i] for i in useful]
    masks_all = np.arange(2**n, dtype=np.int64)
    pop = np.zeros(2**n, dtype=np.int64)
    for a in range(n):
        pop += (masks_all >> a) & 1
    pos = np.zeros(2**n, dtype=np.int64)
    layer_masks: list[np.ndarray] = [np.array([0])]
    for p in range(1, n + 1):
        m = np.flatnonzero(pop == p)
        pos[m] = np.arange(len(m))
        layer_masks.append(m)
    layers: list[np.ndarray | None] = [None]
    # layer 1
    f1 = np.full((n, n, size), np.inf)
    start = np.full(size, np.inf)
    start[0] = 0.0
    for a in range(n):
        h, _ = minplus_extend(start + sfull[a], cs[a], size)
        h[h > deadline] = np.inf
        f1[pos[1 << a], a] = h
    layers.append(f1)
    best: tuple[int, float, tuple[int, int, int] | None] = (0, np.inf, None)  # (u, time, (p, row, a))

    def update_best(p: int, f: np.ndarray) -> None:
        nonlocal best
        fin = np.isfinite(f)
        if not fin.any():
            return
        us = np.flatnonzero(fin.any(axis=(0, 1)))
        u = int(us[-1])
        flat = f[:, :, u]
        r, a = np.unravel_index(int(np.argmin(flat)), flat.shape)
        t = float(flat[r, a])
        if u > best[0] or (u == best[0] and t < best[1]):
            best = (u, t, (p, int(r), int(a)))

    update_best(1, f1)
    timed_out = False
    for p in range(1, n):
        fp = layers[p]
        assert fp is not None
        masks_p = layer_masks[p]
        alive = np.isfinite(fp).any(axis=(1, 2))
        fn = np.full((len(layer_masks[p + 1]), n, size), np.inf)
        for a in range(n):
            if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
                timed_out = True
                break
            rows = np.flatnonzero(alive & ((masks_p >> a) & 1 == 0))
            if rows.size == 0:
                continue
            g = (fp[rows] + sd[:, a][None, :, None]).min(axis=1)
            h, _ = minplus_extend(g, cs[a], size)
            h[h > deadline] = np.inf
            fn[pos[masks_p[rows] | (1 << a)], a] = h
        layers.append(fn)
        update_best(p + 1, fn)
        if timed_out:
            break
        if not np.isfinite(fn).any():
            break
    # backtrack
    plan: list[tuple[int, int]] = []
    u, _, where = best
    if where is not None:
        p, row, a = where
        mask = int(layer_masks[p][row])
        while True:
            v = layers[p][row, a, u]  # type: ignore[index]
            if p == 1:
                plan.append((useful[a], u))
                break
            prev_mask = mask & ~(1 << a)
            prow = int(pos[prev_mask])
            fprev = layers[p - 1][prow] + sd[:, a][:, None]  # type: ignore[index]
            g = fprev.min(axis=0)
            ks = np.arange(1, min(u, len(cs[a]) - 1) + 1)
            diff = np.abs(g[u - ks] + cs[a][ks] - v)
            k = int(ks[int(np.argmin(diff))])
            plan.append((useful[a], k))
            u -= k
            a = int(np.argmin(fprev[:, u]))
            p, row, mask = p - 1, prow, prev_mask
        plan.reverse()
    stats["time_s"] = float(best[1]) if where is not None else 0.0
    stats["layers_done"] = len(layers) - 1
    proven = not timed_out
    return plan, proven, stats


#: The parameters of ``exact`` (both engines; each engine reads its own).
PARAMS: tuple[Param, ...] = (
    Param("engine", "auto", str, "cpsat: our reduced plan model on OR-Tools CP-SAT; dp: the subset DP "
          "(no dependency); auto: cpsat when ortools is installed and the DP's work is above dp_work, "
          "else dp", choices=("auto", "cpsat", "dp")),
    Param("dp_work", 2e7, float, "auto: the subset DP runs when its work 2^n n^2 (user bound + 1) is at "
          "most this (n candidate models; there it is as fast as CP-SAT or faster)", bounds=(0.0, None)),
    Param("max_models", 15, int, "dp: refuse more candidate models than this without --time-limit "
          "(the table has 2^n rows)", bounds=(0, None)),
    Param("max_memory_bytes", 1.5e9, float, "dp: largest subset table (bytes); above it, without "
          "--time-limit refuse, with it fall back to search", bounds=(0.0, None)),
    Param("num_workers", 1, int, "cpsat: search workers (interleaved in one thread when > 1, so the "
          "answer is deterministic)", bounds=(1, 64)),
    Param("max_deterministic_time", 300.0, float, "cpsat: work budget per CP-SAT solve in CP-SAT's "
          "deterministic seconds (machine-independent); spent: the best verified plan, status time_limit",
          bounds=(0.0, None)),
    Param("units", 1e6, float, "cpsat: integer time units per deadline (coefficients are rounded down "
          "for the bound, up for the restriction; exactness does not depend on it)", bounds=(10.0, 1e12)),
    Param("warm_start", True, bool, "cpsat: warm-start CP-SAT from search (hint, objective floor, and no "
          "model at all when search meets our bound)"),
    Param("warm_work", 2e6, float, "cpsat: work budget (max_work) of the search run that warm-starts "
          "CP-SAT", bounds=(0.0, None)),
)


@register_solver(
    PROBLEM, "exact", "exact: our reduced plan model on CP-SAT (ortools), or the subset DP (any instance)",
    exact=True, params=PARAMS,
)
def solve_exact(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    from edgeinfer.loading.solvers.canon import canonical, original_costs, plan_to_original
    from edgeinfer.loading.solvers.cpsat import cpsat_available

    prm = options.params
    seed = 0 if options.seed is None else options.seed
    can = canonical(inst)
    ci = can.inst
    ccosts = model_costs(ci)
    engine = prm["engine"]
    if engine == "auto":
        full, _ = load_matrix(ci)
        n = sum(1 for i in range(ci.n_models)
                if len(ccosts.cost[i]) > 1 and full[i] + ccosts.cost[i][1] <= deadline_of(ci))
        size = min(ci.n_users, user_bound(ci, ccosts)) + 1
        dp_work = 2.0 ** min(n, 1000) * n * n * size
        engine = "cpsat" if cpsat_available() and dp_work > prm["dp_work"] else "dp"
    elif engine == "cpsat" and not cpsat_available():
        raise UnsupportedInstanceError("exact: engine=cpsat needs OR-Tools (pip install ortools); "
                                       "engine=dp or auto works without it")
    if engine == "cpsat":
        plan, proven, stats = _cpsat_plan(ci, ccosts, prm, seed=seed, time_limit_s=options.time_limit_s)
    else:
        plan, proven, stats = exact_plan(
            ci, ccosts, time_limit_s=options.time_limit_s, max_models=prm["max_models"],
            max_memory_bytes=prm["max_memory_bytes"], seed=seed,
        )
        served = sum(k for _, k in plan)
        if proven:
            stats.setdefault("bound", served)
    stats["engine"] = engine
    served = sum(k for _, k in plan)
    if "bound" in stats:
        stats["gap"] = abs(stats["bound"] - served) / max(served, 1e-9)
    status = SolveStatus.OPTIMAL if proven else SolveStatus.TIME_LIMIT
    costs = original_costs(inst, can)
    return plan_to_solution(inst, plan_to_original(can, plan), algorithm="exact", status=status, costs=costs,
                            stats=stats)


def _cpsat_plan(inst: PartialLoadingInstance, costs: ModelCosts, prm: Any, *, seed: int,
                time_limit_s: float | None) -> tuple[list[tuple[int, int]], bool, dict[str, Any]]:
    """Reductions, our bound, the search warm start, then CP-SAT (:mod:`.cpsat`)."""
    from edgeinfer.loading.solvers.cpsat import knapsack_bound, reduce_instance, solve_cpsat
    from edgeinfer.loading.solvers.search import PARAMS as SEARCH_PARAMS
    from edgeinfer.loading.solvers.search import search_plan

    t0 = time.perf_counter()
    red = reduce_instance(inst, costs)
    stats: dict[str, Any] = dict(red.stats)
    ub = min(inst.n_users, user_bound(inst, costs), knapsack_bound(red))
    stats["user_bound"] = ub
    if not red.models or ub == 0:
        stats.update(bound=0, nodes=0)
        return [], True, stats
    warm: list[tuple[int, int]] = []
    if prm["warm_start"]:
        sp = resolve_params(SEARCH_PARAMS, {"max_work": prm["warm_work"], "polish_dtime": 0.0}, where="solver partial_loading/search")
        warm, _ = search_plan(inst, costs, sp, seed=seed, time_limit_s=time_limit_s)
    lb = sum(k for _, k in warm)
    stats["warm_start"] = lb
    if lb >= ub:
        stats.update(bound=ub, nodes=0, message="the warm start reaches our bound")
        return warm, True, stats
    left = None if time_limit_s is None else max(1e-3, time_limit_s - (time.perf_counter() - t0))
    res = solve_cpsat(inst, costs, red, incumbent=warm, upper=ub, params={
        "num_workers": prm["num_workers"], "seed": seed, "max_deterministic_time": prm["max_deterministic_time"],
        "time_limit_s": left, "units": prm["units"]})
    stats.update(res.stats)
    stats["bound"] = int(res.bound)
    if not res.proven:
        stats.setdefault("message", "CP-SAT stopped (work budget or time limit) before the bound closed")
    return res.plan, res.proven, stats
