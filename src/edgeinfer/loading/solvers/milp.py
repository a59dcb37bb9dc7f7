"""``milp``: P2 as a mixed-integer linear programme solved by HiGHS (``scipy.optimize.milp``).

An independent exact method to cross-check ``exact`` and ``spec``, and the HiGHS peer of
``benchmarks/bench_peers_loading.py`` (SCIP reads the same matrix, :func:`build_plan_milp`).
By Lemma 3 of docs/loading.md the optimum is a plan (distinct models, each serving its k
cheapest users), so, over the n models with users and a depot:

* ``v[a]`` = 1 if model a is served; ``x[a, r]`` = 1 if its r-th cheapest user is,
  ``x[a, r+1] <= x[a, r] <= v[a]`` (Theorem 2.1); ``nb[a]`` integer with
  ``b_a nb[a] >= sum_r x[a, r]`` (batches, eq. 9);
* arcs: ``s[a]`` depot -> a (the first model, full load), ``y[a, b]`` a -> b (partial load
  d(a, b), eq. 8), ``e[a]`` a -> depot; in- and out-degree of a equal ``v[a]``, at most one
  start; MTZ order variables ``u`` in [0, n-1]: ``u[b] >= u[a] + 1 - n (1 - y[a, b])``
  (no subtours);
* ``sum full s + sum d y + sum (p_r/B + mu_a) x + sum beta_a nb <= deadline`` (eqs. 11, 13c);
* maximise ``sum x``.

O(I^2 + K) variables (it was O(I^3) with position variables before issue 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts, deadline_of, load_matrix, model_costs, plan_duration
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.plans import plan_to_solution

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

__all__ = ["PlanMilp", "build_plan_milp", "solve_milp"]


@dataclass(frozen=True)
class PlanMilp:
    """``min c x`` s.t. ``lo <= A x <= hi``, ``lb <= x <= ub``, integrality (1 = integer)."""

    c: np.ndarray
    A: csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    decode: Callable[[np.ndarray], list[tuple[int, int]]]


def build_plan_milp(inst: PartialLoadingInstance, costs: ModelCosts) -> PlanMilp:
    """The MILP of the module docstring (sense: minimise ``-sum x``)."""
    from scipy.sparse import csr_matrix

    full, d = load_matrix(inst)
    unit = inst.unit_upload_s
    models = [i for i in range(inst.n_models) if len(costs.order[i])]
    n = len(models)
    nv = 0

    def new(k: int) -> np.ndarray:
        nonlocal nv
        out = np.arange(nv, nv + k)
        nv += k
        return out

    iv, inb, iu, i_s, i_e = new(n), new(n), new(n), new(n), new(n)
    iy = {(a, b): int(new(1)[0]) for a in range(n) for b in range(n) if a != b}
    ix = [new(len(costs.order[i])) for i in models]
    rows: list[tuple[dict[int, float], float, float]] = []
    for a in range(n):
        rin = {int(i_s[a]): 1.0, int(iv[a]): -1.0}
        rout = {int(i_e[a]): 1.0, int(iv[a]): -1.0}
        for b in range(n):
            if b != a:
                rin[iy[(b, a)]] = 1.0
                rout[iy[(a, b)]] = 1.0
        rows += [(rin, 0.0, 0.0), (rout, 0.0, 0.0)]
    rows.append(({int(j): 1.0 for j in i_s}, -np.inf, 1.0))
    for (a, b), j in iy.items():  # u_b - u_a - n y_ab >= 1 - n
        rows.append(({int(iu[b]): 1.0, int(iu[a]): -1.0, j: -float(n)}, 1.0 - n, np.inf))
    for a, i in enumerate(models):
        k = len(costs.order[i])
        rows.append(({int(ix[a][0]): 1.0, int(iv[a]): -1.0}, -np.inf, 0.0))
        for r in range(k - 1):
            rows.append(({int(ix[a][r + 1]): 1.0, int(ix[a][r]): -1.0}, -np.inf, 0.0))
        row = {int(inb[a]): float(costs.cap[i])}
        for r in range(k):
            row[int(ix[a][r])] = -1.0
        rows.append((row, 0.0, np.inf))
    time_row: dict[int, float] = {}
    for a, i in enumerate(models):
        p = unit[costs.order[i]]
        for r in range(len(p)):
            time_row[int(ix[a][r])] = float(p[r] + inst.compute_per_sample_s[i])
        time_row[int(inb[a])] = float(inst.compute_fixed_s[i])
        time_row[int(i_s[a])] = float(full[i])
    for (a, b), j in iy.items():
        time_row[j] = float(d[models[a], models[b]])
    rows.append((time_row, -np.inf, deadline_of(inst)))
    data, ri, ci = [], [], []
    lo, hi = np.empty(len(rows)), np.empty(len(rows))
    for r_, (row, row_lo, row_hi) in enumerate(rows):
        for col, val in row.items():
            ri.append(r_)
            ci.append(col)
            data.append(val)
        lo[r_], hi[r_] = row_lo, row_hi
    A = csr_matrix((data, (ri, ci)), shape=(len(rows), nv))
    c = np.zeros(nv)
    for a in range(n):
        c[ix[a]] = -1.0
    integrality = np.ones(nv)
    integrality[iu] = 0
    lb = np.zeros(nv)
    ub = np.ones(nv)
    ub[iu] = max(n - 1, 0)
    for a, i in enumerate(models):
        ub[inb[a]] = len(costs.order[i])

    def decode(xv: np.ndarray) -> list[tuple[int, int]]:
        xr = np.round(xv).astype(int)
        start = [a for a in range(n) if xr[i_s[a]]]
        plan: list[tuple[int, int]] = []
        if not start:
            return plan
        a: int | None = start[0]
        seen: set[int] = set()
        while a is not None and a not in seen:
            seen.add(a)
            plan.append((models[a], int(xr[ix[a]].sum())))
            a = next((b for b in range(n) if b != a and xr[iy[(a, b)]]), None)
        return plan

    return PlanMilp(c, A, lo, hi, lb, ub, integrality, decode)


@register_solver(
    PROBLEM, "milp", "P2 as a MILP (HiGHS via scipy, MTZ order), for cross-checks", exact=True,
    params=(Param("max_models", 12, int, "refuse instances with more models with users",
                  bounds=(0, None)),),
)
def solve_milp(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    from scipy.optimize import Bounds, LinearConstraint, milp

    costs = model_costs(inst)
    deadline = deadline_of(inst)
    n = sum(1 for i in range(inst.n_models) if len(costs.cost[i]) > 1)
    max_models = options.params["max_models"]
    if n > max_models:
        raise UnsupportedInstanceError(f"milp: {n} models with users (> max_models={max_models})")
    if n == 0:
        return plan_to_solution(inst, [], algorithm="milp", status=SolveStatus.OPTIMAL, costs=costs,
                                stats={"bound": 0, "gap": 0.0})
    mp = build_plan_milp(inst, costs)
    opts: dict[str, float | bool] = {"disp": False}
    if options.time_limit_s is not None:
        opts["time_limit"] = float(options.time_limit_s)
    res = milp(mp.c, constraints=LinearConstraint(mp.A, mp.lo, mp.hi), integrality=mp.integrality,
               bounds=Bounds(mp.lb, mp.ub), options=opts)
    dual = getattr(res, "mip_dual_bound", None)
    stats: dict[str, object] = {"milp_status": int(res.status), "message": str(res.message)}
    if dual is not None and np.isfinite(dual):
        stats["bound"] = float(-dual)
    if getattr(res, "mip_node_count", None) is not None:
        stats["nodes"] = int(res.mip_node_count)
    if res.x is None:
        return plan_to_solution(inst, [], algorithm="milp", status=SolveStatus.TIME_LIMIT, costs=costs, stats=stats)
    plan = [(i, k) for i, k in mp.decode(res.x) if k > 0]
    status = SolveStatus.OPTIMAL if res.status == 0 else SolveStatus.TIME_LIMIT
    # HiGHS feasibility tolerance: trim users if the rounded plan overshoots the deadline
    while plan and plan_duration(inst, plan, costs) > deadline:
        i, k = plan[-1]
        plan[-1] = (i, k - 1)
        if k - 1 == 0:
            plan.pop()
        status = SolveStatus.FEASIBLE
    served = sum(k for _, k in plan)
    if "bound" in stats:
        stats["gap"] = abs(float(stats["bound"]) - served) / max(served, 1e-9)  # type: ignore[arg-type]
    return plan_to_solution(inst, plan, algorithm="milp", status=status, costs=costs, stats=stats)
