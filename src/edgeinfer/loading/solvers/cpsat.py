"""``exact``'s CP-SAT engine: our reduced plan model of P2, solved by OR-Tools CP-SAT.

The model (over the canonical instance, :mod:`.canon`) is the plan form of P2 (eq. 13;
Theorem 2 and Lemma 3 of docs/loading.md: distinct models, each serving its k cheapest users):

* a circuit (``AddCircuit``) over a depot and the candidate models: arc depot -> i costs the full
  load of i, arc j -> i the partial load d(j, i) (eq. 8), arc i -> depot nothing; a model's
  self-loop means it is not served;
* ``x[i, r]`` = the r-th cheapest user of model i is served, ``x[i, r+1] <= x[i, r]`` (Theorem
  2.1), and ``x[i, 1]`` IS "model i is visited" (a model visited for nobody only adds loading,
  by the triangle inequality of d); the marginal time of ``x[i, r]`` is ``p_r/B + mu_i``, plus
  ``beta_i`` when r opens a batch (r = 1, b+1, 2b+1, ...: eqs. 9, 11);
* one knapsack row: loads + marginals <= deadline; maximise ``sum x``.

Reductions before modelling (each keeps every feasible plan): models that cannot serve one
user even when loaded first or after their cheapest predecessor are dropped; a user rank r is
dropped when the earliest arrival at its model plus ``c_i(r)`` passes the deadline; an arc
j -> i is dropped when the earliest arrival at j plus ``c_j(1) + d(j, i) + c_i(1)`` does.
Earliest arrivals are shortest paths from the depot with ``c(1)`` node costs. Bounds and warm
start: our knapsack bound (:func:`knapsack_bound`: each visited model pays at least its
cheapest way in) and the plan of ``search`` (a hint, and a floor on the objective); when
search reaches the bound no model is built at all.

Integer times and exactness: CP-SAT needs integer coefficients, so times are scaled to
``units`` per deadline. With every coefficient rounded DOWN the model is a relaxation (any
real plan stays feasible): its proven optimum is an upper bound ``U``. The plan it returns is
timed in floating point (:func:`~edgeinfer.loading.model.plan_duration`); when it fits, it is
optimal. Otherwise the coefficients are rounded UP (a restriction: each plan it finds fits);
if that optimum reaches ``U`` it is optimal, else the scale grows 1000x and both are solved
again; after ``3`` rounds the best verified plan is returned with its bound and gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.loading.model import ModelCosts, deadline_of, load_matrix, plan_duration
from edgeinfer.loading.problem import PartialLoadingInstance

#: Most time units per deadline the rescaling goes to (sums of coefficients stay far below 2^63).
MAX_UNITS = 1e15

__all__ = ["Reduced", "reduce_instance", "knapsack_bound", "cpsat_available", "solve_cpsat"]


def cpsat_available() -> bool:
    """True when OR-Tools' CP-SAT can be imported (it is loaded lazily)."""
    import importlib.util

    return importlib.util.find_spec("ortools") is not None


@dataclass
class Reduced:
    """The candidate models, their kept user ranks and arcs (indices into the instance)."""

    models: list[int]
    n_ranks: list[int]  # users of model models[a] kept (ranks 1..n_ranks[a])
    full: np.ndarray  # (n,) full load of each candidate
    d: np.ndarray  # (n, n) partial loads among candidates
    arcs: list[tuple[int, int]]  # kept arcs a -> b among candidates
    starts: list[int]  # candidates that may be first
    marg: list[np.ndarray]  # marginal seconds of each kept rank
    deadline: float
    stats: dict[str, Any] = field(default_factory=dict)


def reduce_instance(inst: PartialLoadingInstance, costs: ModelCosts) -> Reduced:
    """Drop the models, user ranks and arcs no feasible plan uses (see the module docstring)."""
    full_all, d_all = load_matrix(inst)
    deadline = deadline_of(inst)
    have = [i for i in range(inst.n_models) if len(costs.cost[i]) > 1]
    if not have:
        return Reduced([], [], np.zeros(0), np.zeros((0, 0)), [], [], [], deadline)
    h = np.asarray(have, dtype=np.int64)
    full = full_all[h]
    d = d_all[np.ix_(h, h)]
    c1 = np.array([costs.cost[i][1] for i in have])
    # earliest arrival (load start of a model's first batch): shortest paths, node cost c(1)
    arr = full.copy()
    for _ in range(len(have)):
        new = np.minimum(arr, ((arr + c1)[:, None] + d).min(axis=0))
        if np.array_equal(new, arr):
            break
        arr = new
    keep = [a for a in range(len(have)) if arr[a] + c1[a] <= deadline]
    models = [have[a] for a in keep]
    n_ranks, marg = [], []
    for a in keep:
        c = costs.cost[have[a]]
        r = int(np.searchsorted(arr[a] + c, deadline, side="right")) - 1
        r = max(1, min(r, len(c) - 1))
        n_ranks.append(r)
        marg.append(np.diff(c[: r + 1]))
    kk = np.asarray(keep, dtype=np.int64)
    full_k, d_k, arr_k, c1_k = full[kk], d[np.ix_(kk, kk)], arr[kk], c1[kk]
    arcs = [(a, b) for a in range(len(keep)) for b in range(len(keep))
            if a != b and arr_k[a] + c1_k[a] + d_k[a, b] + c1_k[b] <= deadline]
    starts = [a for a in range(len(keep)) if full_k[a] + c1_k[a] <= deadline]
    n_all = len(have)
    stats = {"models_considered": len(keep), "models_dropped": n_all - len(keep),
             "arcs_kept": len(arcs), "arcs_dropped": len(keep) * (len(keep) - 1) - len(arcs),
             "ranks_kept": int(sum(n_ranks)), "ranks_dropped": int(sum(len(costs.cost[i]) - 1 for i in have)
                                                                  - sum(n_ranks))}
    return Reduced(models, n_ranks, full_k, d_k, arcs, starts, marg, deadline, stats)


def _entry_costs(red: Reduced) -> tuple[np.ndarray, float]:
    """``e_a``: the cheapest way into model a (full load if it may start, else its cheapest kept
    arc); ``extra``: what the first model pays on top (its full load minus its ``e``)."""
    e = np.full(len(red.models), math.inf)
    for a, b in red.arcs:
        e[b] = min(e[b], red.d[a, b])
    for a in red.starts:
        e[a] = min(e[a], red.full[a])
    extra = min((red.full[a] - e[a] for a in red.starts), default=math.inf)
    return e, extra


def max_models_bound(red: Reduced) -> int:
    """Most models a plan can serve: the cheapest ``e_a + c_a(1)`` first (a cardinality cut)."""
    e, extra = _entry_costs(red)
    if not math.isfinite(extra):
        return 0
    one = np.sort(e + np.array([mg[0] for mg in red.marg]))
    ok = np.flatnonzero(np.cumsum(one) + extra <= red.deadline)
    return int(ok[-1]) + 1 if ok.size else 0


def knapsack_bound(red: Reduced) -> int:
    """Upper bound on the users served: every visited model pays at least its cheapest way in
    (``e_a``: full load if it may start, else the cheapest kept arc into it), the first one its
    full load; a multiple-choice knapsack over the models (how many users each) gives the most
    users within the deadline. ``O(n U K)``."""
    n = len(red.models)
    if n == 0:
        return 0
    inf = math.inf
    e, extra = _entry_costs(red)
    if not math.isfinite(extra):
        return 0
    size = int(sum(red.n_ranks)) + 1
    g = np.full(size, inf)
    g[0] = 0.0
    top = 0
    for a in range(n):
        if not math.isfinite(e[a]):
            continue
        cost = e[a] + np.concatenate([[0.0], np.cumsum(red.marg[a])])
        new = g.copy()
        for k in range(1, len(cost)):
            cand = g[: top + 1] + cost[k]
            np.minimum(new[k: k + top + 1], cand, out=new[k: k + top + 1])
        top = min(size - 1, top + len(cost) - 1)
        g = new
    ok = np.flatnonzero(g + extra <= red.deadline)
    return int(ok[-1]) if ok.size else 0


@dataclass
class CpsatResult:
    plan: list[tuple[int, int]]
    proven: bool
    bound: int
    stats: dict[str, Any]


def _build_and_solve(red: Reduced, units_per_s: float, rounding: str, *, hint: list[tuple[int, int]],
                     lower: int, upper: int, params: dict[str, Any]) -> tuple[str, list[tuple[int, int]], int, dict[str, Any]]:
    """One CP-SAT solve with times rounded ``down`` (relaxation) or ``up`` (restriction).

    Returns (status name, plan over candidate positions, proven bound, solver stats)."""
    from ortools.sat.python import cp_model

    rnd = math.floor if rounding == "down" else math.ceil
    m = cp_model.CpModel()
    n = len(red.models)
    x: list[list[Any]] = []
    for a in range(n):
        x.append([m.new_bool_var(f"x{a}_{r}") for r in range(red.n_ranks[a])])
        for r in range(red.n_ranks[a] - 1):
            m.add_implication(x[a][r + 1], x[a][r])
    arcs_lit: dict[tuple[int, int], Any] = {}
    circuit = []
    dep = n  # depot node index
    for a in red.starts:
        lit = m.new_bool_var(f"s{a}")
        arcs_lit[(dep, a)] = lit
        circuit.append((dep, a, lit))
    for a in range(n):
        lit = m.new_bool_var(f"e{a}")
        arcs_lit[(a, dep)] = lit
        circuit.append((a, dep, lit))
        circuit.append((a, a, x[a][0].negated()))  # self-loop: model a not served
    for a, b in red.arcs:
        lit = m.new_bool_var(f"a{a}_{b}")
        arcs_lit[(a, b)] = lit
        circuit.append((a, b, lit))
    empty = m.new_bool_var("empty")
    circuit.append((dep, dep, empty))
    m.add_circuit(circuit)
    for a in range(n):  # a circuit without the depot would skip the first full load
        m.add_implication(empty, x[a][0].negated())
    terms, coefs = [], []
    for (a, b), lit in arcs_lit.items():
        t = red.full[b] if a == dep else (0.0 if b == dep else red.d[a, b])
        q = int(rnd(t * units_per_s))
        if q:
            terms.append(lit)
            coefs.append(q)
    for a in range(n):
        for r in range(red.n_ranks[a]):
            q = int(rnd(red.marg[a][r] * units_per_s))
            if q:
                terms.append(x[a][r])
                coefs.append(q)
    cap = int(math.floor(red.deadline * units_per_s))
    m.add(cp_model.LinearExpr.weighted_sum(terms, coefs) <= cap)
    served = cp_model.LinearExpr.sum([v for row in x for v in row])
    m.add(served <= upper)
    m.add(sum(x[a][0] for a in range(n)) <= max_models_bound(red))  # redundant: a cut for the LP
    if lower > 0:
        m.add(served >= lower)
    m.maximize(served)
    pos = {mod: a for a, mod in enumerate(red.models)}
    if hint:
        prev = dep
        on: set[tuple[int, int]] = set()
        ks = {pos[i]: k for i, k in hint if i in pos}
        for i, _ in hint:
            a = pos[i]
            on.add((prev, a))
            prev = a
        on.add((prev, dep))
        for key, lit in arcs_lit.items():
            m.add_hint(lit, key in on)
        for a in range(n):
            k = ks.get(a, 0)
            for r in range(red.n_ranks[a]):
                m.add_hint(x[a][r], r < k)
        m.add_hint(empty, False)
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = int(params["num_workers"])
    p.random_seed = int(params["seed"])
    p.max_deterministic_time = float(params["max_deterministic_time"])
    if params.get("end_s") is not None:  # the user's --time-limit, shared by every solve
        p.max_time_in_seconds = max(1e-3, float(params["end_s"]) - time.perf_counter())
    if p.num_workers > 1:
        p.interleave_search = True  # deterministic with several workers
    p.linearization_level = 2  # the circuit's cuts in the LP: level 1 loses 100x here
    p.add_lp_constraints_lazily = False  # all rows in the LP from the start: ~1.5x less work here
    st = solver.solve(m)
    name = solver.status_name(st)
    info = {"nodes": int(solver.num_branches), "conflicts": int(solver.num_conflicts),
            "deterministic_time": float(solver.deterministic_time), "wall_s": float(solver.wall_time)}
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = upper if st != cp_model.INFEASIBLE else lower - 1
        return name, [], bound, info
    plan: list[tuple[int, int]] = []
    cur = dep
    seen = 0
    while seen <= n:
        nxt = None
        for (a, b), lit in arcs_lit.items():
            if a == cur and b != dep and solver.value(lit):
                nxt = b
                break
        if nxt is None:
            break
        k = sum(int(solver.value(v)) for v in x[nxt])
        plan.append((red.models[nxt], k))
        cur = nxt
        seen += 1
    bound = int(math.floor(solver.best_objective_bound + 1e-6))
    return name, plan, bound, info


def solve_cpsat(inst: PartialLoadingInstance, costs: ModelCosts, red: Reduced, *, incumbent: list[tuple[int, int]],
                upper: int, params: dict[str, Any]) -> CpsatResult:
    """Solve the reduced model exactly (module docstring); ``incumbent`` is a verified plan."""
    deadline = deadline_of(inst)
    best = list(incumbent)
    best_v = sum(k for _, k in best)
    units = float(params["units"]) / max(red.deadline, 1e-300)
    if params.get("time_limit_s") is not None:
        params = {**params, "end_s": time.perf_counter() + float(params["time_limit_s"])}
    stats: dict[str, Any] = {"solves": 0, "nodes": 0, "deterministic_time": 0.0}
    bound = upper
    for _ in range(3):
        name, plan, b, info = _build_and_solve(red, units, "down", hint=best, lower=best_v, upper=bound,
                                               params=params)
        stats["solves"] += 1
        stats["nodes"] += info["nodes"]
        stats["deterministic_time"] += info["deterministic_time"]
        stats["status_relaxed"] = name
        if name == "INFEASIBLE":  # the relaxation has nothing at or above a verified incumbent:
            # impossible unless the model is wrong, so claim nothing
            stats["message"] = "CP-SAT found the relaxation infeasible above a verified plan (a model error)"
            return CpsatResult(best, False, bound, stats)
        if name not in ("OPTIMAL", "FEASIBLE"):
            return CpsatResult(best, best_v >= bound, bound, stats)
        bound = min(bound, b)
        v = sum(k for _, k in plan)
        if v > best_v and plan_duration(inst, plan, costs) <= deadline:
            best, best_v = plan, v
        if name != "OPTIMAL":
            return CpsatResult(best, best_v >= bound, bound, stats)
        if best_v >= bound:
            return CpsatResult(best, True, bound, stats)
        # the relaxation's plan does not fit in floating point: the restriction decides
        name, plan, _, info = _build_and_solve(red, units, "up", hint=best, lower=0, upper=bound,
                                               params=params)
        stats["solves"] += 1
        stats["nodes"] += info["nodes"]
        stats["deterministic_time"] += info["deterministic_time"]
        v = sum(k for _, k in plan)
        if v > best_v and plan_duration(inst, plan, costs) <= deadline:
            best, best_v = plan, v
        if best_v >= bound:
            return CpsatResult(best, True, bound, stats)
        if units * red.deadline * 1000.0 > MAX_UNITS:  # coefficients would near int64's range
            break
        units *= 1000.0
        stats["rescaled"] = stats.get("rescaled", 0) + 1
    return CpsatResult(best, best_v >= bound, bound, stats)
