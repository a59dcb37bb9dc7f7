"""``search``: our general-case heuristic, an order local search over an exact inner DP.

For a fixed order of the models, :class:`OrderDP` finds the best plan that follows
it exactly (which models to serve and how many users each: a DP over (last model, users)).
The order starts from ``gen``'s (continuous time; the models it did not use are appended by
nearest loading cost) and improves by first-improvement insertion moves (take the model at
position a, put it at position b), comparing (users served, then least time), scanning the
positions round-robin. Up to ``full_neighbourhood`` (16) models every target position is tried;
beyond, only the front and the positions right after the ``neighbours`` (6) models it loads
fastest after (TSP-style neighbour lists), and the DP runs on a window: the order is kept as
(the plan's models, then the others), which never loses, and only its first
(plan models + ``window`` (12)) positions are evaluated. Moves that change the order from
position p on reuse the DP rows of the first p positions.

Then an iterated local search: ``restarts`` (10) times, ``kick`` (2) random models of the best
order move to random positions (``--seed``, default 0) and the descent runs again; the best
plan is kept. Every descent stops at a local optimum; when the plan serves the user bound;
when the work budget ``max_work`` (sum over evaluations of (positions recomputed) x ((models) x (user bound) +
1e4), default 1.5e8: 100 models x 1,000 users in under a second here) or ``max_evals`` is spent; or at
the time limit. Deterministic. Optional (``reversals``, off): at each insertion local optimum,
first-improving segment reversals (2-opt) starting among the plan's positions.

Then the exact polish (:func:`polish_plan`, issue 16): ``exact``'s CP-SAT model (:mod:`.cpsat`)
over the plan's neighbourhood (its models + ``polish_extra`` (16) others entered most cheaply
from a plan model), warm-started from the plan, 1 worker, ``polish_dtime`` deterministic
seconds per solve; only a verified plan serving more replaces the search's, and the status
stays feasible. Skipped when the plan meets the neighbourhood's bound or ortools is missing.
The solver runs on the canonical instance (:mod:`.canon`): the answer does not follow the
file's order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts, deadline_of, load_matrix, model_costs, user_bound
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.dp import minplus_extend
from edgeinfer.loading.solvers.gen import gen_plan
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["PARAMS", "solve_search", "search_plan", "OrderDP"]

#: The declared parameters of ``search`` (also the budget of ``exact``'s fallback).
PARAMS: tuple[Param, ...] = (
    Param("max_evals", 100_000, int, "most order evaluations (inner DPs) in all", bounds=(1, None)),
    Param("max_work", 1.5e8, float, "work budget: sum over evaluations of positions recomputed x "
          "(models x user bound + 1e4)", bounds=(0.0, None)),
    Param("neighbours", 6, int, "insertion targets beyond full_neighbourhood: after the models a model "
          "loads fastest after", bounds=(1, None)),
    Param("full_neighbourhood", 16, int, "up to this many models every insertion position is tried",
          bounds=(0, None)),
    Param("restarts", 10, int, "iterated-local-search kicks after the first descent", bounds=(0, 1_000_000)),
    Param("kick", 2, int, "random moves per kick", bounds=(0, 10_000)),
    Param("window", 12, int, "large instances: positions evaluated beyond the plan's models", bounds=(0, None)),
    Param("reversals", False, bool, "at each insertion local optimum also try segment reversals (2-opt) "
          "within the plan's models"),
    Param("polish_dtime", 1.0, float, "exact polish: CP-SAT's work budget (deterministic seconds, per "
          "solve) on the neighbourhood of the search plan; 0 = off (also off without ortools)",
          bounds=(0.0, None)),
    Param("polish_extra", 16, int, "exact polish: models outside the plan added to its neighbourhood "
          "(those entered most cheaply from a plan model)", bounds=(0, None)),
)

#: Work units charged per recomputed position on top of ``n * size`` (the per-model Python and
#: min-plus overhead, which dominates when the user bound is small).
EVAL_OVERHEAD = 10_000


@dataclass
class _Tables:
    order: list[int]
    fmat: np.ndarray  # (n, size)
    preds: np.ndarray  # (n, size) position of the predecessor (-1 none)
    argk: np.ndarray  # (n, size)
    served: int
    time_s: float
    end_pos: int


class OrderDP:
    """Exact best plan following a model order, with prefix reuse."""

    def __init__(self, full: np.ndarray, d: np.ndarray, costs: ModelCosts, deadline: float, size: int) -> None:
        self.full, self.d, self.costs, self.deadline, self.size = full, d, costs, deadline, size
        self.evals = 0

    def run(self, order: list[int], base: _Tables | None = None, p0: int = 0) -> _Tables:
        self.evals += 1
        n, size = len(order), self.size
        fmat = np.full((n, size), np.inf)
        preds = np.full((n, size), -1, dtype=np.int64)
        argk = np.zeros((n, size), dtype=np.int32)
        if base is not None and p0 > 0:
            fmat[:p0] = base.fmat[:p0]
            preds[:p0] = base.preds[:p0]
            argk[:p0] = base.argk[:p0]
        else:
            p0 = 0
        idx = np.asarray(order, dtype=np.int64)
        start = np.full(size, np.inf)
        start[0] = 0.0
        ar = np.arange(size)
        for p in range(p0, n):
            i = order[p]
            g = start + self.full[i]
            src = np.full(size, -1, dtype=np.int64)
            if p:
                m = fmat[:p] + self.d[idx[:p], i][:, None]
                j = np.argmin(m, axis=0)
                mv = m[j, ar]
                better = mv < g
                g = np.where(better, mv, g)
                src = np.where(better, j, -1)
            h, ak = minplus_extend(g, self.costs.cost[i], size)
            h[h > self.deadline] = np.inf
            fmat[p] = h
            preds[p] = src
            argk[p] = ak
        best_u = fmat.min(axis=0) if n else np.full(size, np.inf)
        fin = np.flatnonzero(np.isfinite(best_u))
        if fin.size == 0:
            return _Tables(order, fmat, preds, argk, 0, 0.0, -1)
        u = int(fin[-1])
        p = int(np.argmin(fmat[:, u]))
        return _Tables(order, fmat, preds, argk, u, float(fmat[p, u]), p)

    @staticmethod
    def plan(t: _Tables) -> list[tuple[int, int]]:
        out = []
        u, p = t.served, t.end_pos
        while p >= 0 and u > 0:
            k = int(t.argk[p, u])
            out.append((t.order[p], k))
            u -= k
            p = int(t.preds[p, u])
        out.reverse()
        return out


def search_plan(
    inst: PartialLoadingInstance, costs: ModelCosts, params: Mapping[str, Any], *, seed: int,
    time_limit_s: float | None,
) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """The search from gen's order; ``params`` holds every name of :data:`PARAMS`. Returns (plan, stats)."""
    t0 = time.perf_counter()
    max_evals, max_work = params["max_evals"], params["max_work"]
    neighbours, full_neighbourhood = params["neighbours"], params["full_neighbourhood"]
    restarts, kick, window = params["restarts"], params["kick"], params["window"]
    reversals = bool(params["reversals"])
    full, d = load_matrix(inst)
    deadline = deadline_of(inst)
    size = min(inst.n_users, user_bound(inst, costs)) + 1
    # candidate models: have users and can serve one user after some predecessor
    cand = []
    for i in range(inst.n_models):
        if len(costs.cost[i]) > 1:
            cheapest_load = min(full[i], float(np.delete(d[:, i], i).min()) if inst.n_models > 1 else full[i])
            if cheapest_load + costs.cost[i][1] <= deadline:
                cand.append(i)
    if not cand or size <= 1:
        return [], {"evaluations": 0, "served_before_polish": 0}
    g = [i for i, _ in gen_plan(inst, costs, slot_s=0.0)]
    rest = [i for i in cand if i not in g]
    order = [i for i in g if i in cand]
    while rest:  # nearest loading cost from the last model
        last = order[-1] if order else -1
        nxt = min(rest, key=lambda i: (full[i] if last < 0 else d[last, i], i))
        order.append(nxt)
        rest.remove(nxt)
    dp = OrderDP(full, d, costs, deadline, size)
    n = len(order)
    state: dict[str, Any] = {"work": 0.0, "stop": False}
    full_nbhd = n <= full_neighbourhood

    def better(x: _Tables, y: _Tables) -> bool:
        return x.served > y.served or (x.served == y.served and x.time_s < y.time_s - 1e-12)

    def out_of_budget() -> bool:
        if state["work"] >= max_work or dp.evals >= max_evals or (
                time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
            state["stop"] = True
        return bool(state["stop"])

    def reverse_full(cur: _Tables) -> _Tables | None:
        """First improving segment reversal order[i..j] (2-opt), or None."""
        for i in range(n - 1):
            for j in range(i + 1, n):
                if out_of_budget():
                    return None
                new = cur.order[:i] + cur.order[i:j + 1][::-1] + cur.order[j + 1:]
                state["work"] += float(n - i) * (n * size + EVAL_OVERHEAD)
                cand_t = dp.run(new, cur, i)
                if better(cand_t, cur):
                    return cand_t
        return None

    def local(cur: _Tables) -> _Tables:
        while True:
            cur = insertion(cur)
            if not reversals or state["stop"] or cur.served >= size - 1 or n < 2:
                return cur
            nxt = reverse_full(cur)
            if nxt is None:
                return cur
            cur = nxt

    def insertion(cur: _Tables) -> _Tables:
        a = 0
        since = 0  # positions scanned since the last improvement
        while not state["stop"] and since < n and n > 1 and cur.served < size - 1:  # size-1: user bound
            x = cur.order[a]
            if full_nbhd:
                targets = [b for b in range(n) if b != a]
            else:  # right after the models it loads fastest after, and the front
                others = [j for j in cur.order if j != x]
                near = sorted(others, key=lambda j: (d[j, x], j))[:neighbours]
                rest_order = cur.order[:a] + cur.order[a + 1:]
                targets = sorted({0, *(rest_order.index(j) + 1 for j in near)})
            improved = False
            for b in targets:
                if b == a:
                    continue
                if state["work"] >= max_work or dp.evals >= max_evals or (
                        time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
                    state["stop"] = True
                    break
                new = cur.order[:a] + cur.order[a + 1:]
                new.insert(b, x)
                p0 = min(a, b)
                state["work"] += float(n - p0) * (n * size + EVAL_OVERHEAD)
                cand_t = dp.run(new, cur, p0)
                if better(cand_t, cur):
                    cur = cand_t
                    improved = True
                    break
            if improved:
                since = 0
            else:
                since += 1
                a = (a + 1) % n
        return cur

    def canon(order_full: list[int], t: _Tables) -> list[int]:
        """The plan's models first (in plan order), then the others: never worse (same plan)."""
        pm = [i for i, _ in OrderDP.plan(t)]
        used = set(pm)
        return pm + [i for i in order_full if i not in used]

    def window_of(t: _Tables) -> int:
        return min(n, len(OrderDP.plan(t)) + window)

    def settle(order_full: list[int], t: _Tables) -> tuple[list[int], _Tables]:
        new_full = canon(order_full, t)
        win = new_full[:window_of(t)]
        p = 0
        while p < min(len(win), len(t.order)) and win[p] == t.order[p]:
            p += 1
        state["work"] += float(len(win) - p) * (len(win) * size + EVAL_OVERHEAD)
        return new_full, dp.run(win, t, p)

    def reverse_window(order_full: list[int], cur: _Tables) -> tuple[list[int], _Tables] | None:
        """First improving reversal order_full[i..j], i among the plan's positions, j in the window."""
        m = len(cur.order)
        for i in range(len(OrderDP.plan(cur))):
            for j in range(i + 1, m):
                if out_of_budget():
                    return None
                new = order_full[:i] + order_full[i:j + 1][::-1] + order_full[j + 1:]
                state["work"] += float(m - i) * (m * size + EVAL_OVERHEAD)
                cand_t = dp.run(new[:m], cur, i)
                if better(cand_t, cur):
                    return settle(new, cand_t)
        return None

    def local_window(order_full: list[int], cur: _Tables) -> tuple[list[int], _Tables]:
        while True:
            order_full, cur = insertion_window(order_full, cur)
            if not reversals or state["stop"] or cur.served >= size - 1:
                return order_full, cur
            nxt = reverse_window(order_full, cur)
            if nxt is None:
                return order_full, cur
            order_full, cur = nxt

    def insertion_window(order_full: list[int], cur: _Tables) -> tuple[list[int], _Tables]:
        """Large instances: the DP runs on a window (the plan's models + ``window`` more)."""
        a = 0
        since = 0
        while not state["stop"] and since < n and cur.served < size - 1:
            m = len(cur.order)
            x = order_full[a]
            rest = order_full[:a] + order_full[a + 1:]
            near = sorted((j for j in cur.order if j != x), key=lambda j: (d[j, x], j))[:neighbours]
            targets = sorted({0, *(rest.index(j) + 1 for j in near)})
            improved = False
            for b in targets:
                if b == a or b >= m:
                    continue
                if state["work"] >= max_work or dp.evals >= max_evals or (
                        time_limit_s is not None and time.perf_counter() - t0 > time_limit_s):
                    state["stop"] = True
                    break
                new = rest[:b] + [x] + rest[b:]
                p0 = min(a, b)
                state["work"] += float(m - p0) * (m * size + EVAL_OVERHEAD)
                cand_t = dp.run(new[:m], cur, p0)
                if better(cand_t, cur):
                    order_full, cur = settle(new, cand_t)
                    improved = True
                    break
            if improved:
                since = 0
                a = 0
            else:
                since += 1
                a = (a + 1) % n
        return order_full, cur

    rng = np.random.default_rng(seed)
    kicks = 0
    if full_nbhd:
        best = local(dp.run(order))
        first = best.served
        for _ in range(restarts):  # iterated local search: perturb the best order, descend again
            if state["stop"] or best.served >= size - 1 or n < 3:
                break
            new = list(best.order)
            for _ in range(kick):
                x = new.pop(int(rng.integers(n)))
                new.insert(int(rng.integers(n)), x)
            state["work"] += float(n) * (n * size + EVAL_OVERHEAD)
            cand_t = local(dp.run(new))
            kicks += 1
            if better(cand_t, best):
                best = cand_t
    else:
        state["work"] += float(n) * (n * size + EVAL_OVERHEAD)
        best_full, best = settle(order, dp.run(order))
        best_full, best = local_window(best_full, best)
        first = best.served
        for _ in range(restarts):
            if state["stop"] or best.served >= size - 1:
                break
            new = list(best_full)
            for _ in range(kick):
                x = new.pop(int(rng.integers(len(best.order))))
                new.insert(int(rng.integers(len(best.order))), x)
            m = len(best.order)
            state["work"] += float(m) * (m * size + EVAL_OVERHEAD)
            cf, ct = local_window(new, dp.run(new[:m]))
            kicks += 1
            if better(ct, best):
                best_full, best = cf, ct
    cur = best
    stats = {"evaluations": dp.evals, "budget_exhausted": state["stop"], "planned_time_s": cur.time_s,
             "kicks": kicks, "served_first_descent": first}
    plan = OrderDP.plan(cur)
    stats["served_before_polish"] = cur.served
    if params["polish_dtime"] > 0 and cur.served < size - 1:
        left = None if time_limit_s is None else time_limit_s - (time.perf_counter() - t0)
        if left is None or left > 0:
            plan, pst = polish_plan(inst, costs, plan, dtime=float(params["polish_dtime"]),
                                    extra=int(params["polish_extra"]), seed=seed, time_limit_s=left)
            stats.update(pst)
    return plan, stats


def neighbourhood(red: Any, plan: list[tuple[int, int]], extra: int) -> Any:
    """The reduced instance restricted to the plan's models and the ``extra`` other candidates
    entered most cheaply from a plan model (ties by index)."""
    from edgeinfer.loading.solvers.cpsat import Reduced

    pos = {m: a for a, m in enumerate(red.models)}
    inside = sorted(pos[i] for i, k in plan if k > 0 and i in pos)
    if not inside:
        return red
    out = [a for a in range(len(red.models)) if a not in set(inside)]
    out.sort(key=lambda a: (float(red.d[inside, a].min()), red.models[a]))
    keep = sorted(inside + out[:extra])
    new = {a: b for b, a in enumerate(keep)}
    kk = np.asarray(keep, dtype=np.int64)
    return Reduced([red.models[a] for a in keep], [red.n_ranks[a] for a in keep], red.full[kk],
                   red.d[np.ix_(kk, kk)], [(new[a], new[b]) for a, b in red.arcs if a in new and b in new],
                   [new[a] for a in red.starts if a in new], [red.marg[a] for a in keep], red.deadline)


def polish_plan(
    inst: PartialLoadingInstance, costs: ModelCosts, plan: list[tuple[int, int]], *, dtime: float, extra: int,
    seed: int, time_limit_s: float | None,
) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Exact polish: ``exact``'s CP-SAT model (:mod:`.cpsat`) over :func:`neighbourhood` of the
    plan (any order, any users per model of those models), warm-started from the plan, with a
    deterministic work budget. Only a plan verified in floating point and serving more users
    replaces it; nothing is claimed about optimality (the neighbourhood is not the instance)."""
    from edgeinfer.loading.solvers.cpsat import (
        cpsat_available,
        knapsack_bound,
        reduce_instance,
        solve_cpsat,
    )

    if not cpsat_available():
        return plan, {"polish": "skipped (ortools missing)"}
    served = sum(k for _, k in plan)
    sub = neighbourhood(reduce_instance(inst, costs), plan, extra)
    ub = min(inst.n_users, user_bound(inst, costs), knapsack_bound(sub))
    st: dict[str, Any] = {"polish_models": len(sub.models)}
    if served >= ub:
        st["polish"] = "plan meets the neighbourhood's bound"
        return plan, st
    res = solve_cpsat(inst, costs, sub, incumbent=plan, upper=ub, params={
        "num_workers": 1, "seed": seed, "max_deterministic_time": dtime, "time_limit_s": time_limit_s,
        "units": 1e6})
    st["polish_nodes"] = res.stats.get("nodes", 0)
    st["polish_deterministic_time"] = res.stats.get("deterministic_time", 0.0)
    new = sum(k for _, k in res.plan)
    st["polish"] = f"{served} -> {max(new, served)} users" + (" (neighbourhood optimum)" if res.proven else "")
    return (list(res.plan), st) if new > served else (plan, st)


@register_solver(PROBLEM, "search", "order local search from gen's order with an exact inner DP (ours)",
                 params=PARAMS)
def solve_search(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    """On the canonical instance (:mod:`.canon`), so the answer does not follow the file's order."""
    from edgeinfer.loading.solvers.canon import canonical, original_costs, plan_to_original

    can = canonical(inst)
    plan, stats = search_plan(can.inst, model_costs(can.inst), options.params,
                              seed=0 if options.seed is None else options.seed, time_limit_s=options.time_limit_s)
    return plan_to_solution(inst, plan_to_original(can, plan), algorithm="search", status=SolveStatus.FEASIBLE,
                            costs=original_costs(inst, can), stats=stats)
