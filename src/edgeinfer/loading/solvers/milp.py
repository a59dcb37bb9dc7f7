"""``milp``: P2 as a mixed-integer linear programme solved by HiGHS (``scipy.optimize.milp``).

An independent exact method to cross-check ``exact`` and ``spec``. By Lemma 3 of
docs/loading.md the optimum is a plan (distinct models, each serving its k cheapest users), so:

* ``z[t, i]`` = 1 if model i is at position t (positions filled from the front, each model
  at most once);
* ``w[t, j, i] >= z[t-1, j] + z[t, i] - 1`` (continuous in [0, 1]) marks j right before i;
* ``x[i, r]`` = 1 if the r-th cheapest user of model i is served (``x[i, r+1] <= x[i, r]``,
  ``x[i, 1] <= sum_t z[t, i]``); ``nb[i]`` integer with ``b_i nb[i] >= sum_r x[i, r]``;
* ``sum (p + mu) x + sum beta nb + sum full_i z[0, i] + sum d(j, i) w[t, j, i] <= deadline``;
* maximise ``sum x``.

O(I^3) variables: for checks on small instances (``max_models``).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import deadline_of, load_matrix, model_costs, plan_duration
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["solve_milp"]


@register_solver(
    PROBLEM, "milp", "P2 as a MILP (HiGHS via scipy), for cross-checks on small instances", exact=True,
    params=(Param("max_models", 12, int, "refuse instances with more models with users (O(I^3) variables)",
                  bounds=(0, None)),),
)
def solve_milp(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    costs = model_costs(inst)
    full, d = load_matrix(inst)
    deadline = deadline_of(inst)
    models = [i for i in range(inst.n_models) if len(costs.cost[i]) > 1]
    n = len(models)
    max_models = options.params["max_models"]
    if n > max_models:
        raise UnsupportedInstanceError(f"milp: {n} models with users (> max_models={max_models})")
    if n == 0:
        return plan_to_solution(inst, [], algorithm="milp", status=SolveStatus.OPTIMAL, costs=costs)
    unit = inst.unit_upload_s
    # variable layout
    iz = {(t, a): t * n + a for t in range(n) for a in range(n)}
    nv = n * n
    iw = {}
    for t in range(1, n):
        for a in range(n):
            for b in range(n):
                if a != b:
                    iw[(t, a, b)] = nv
                    nv += 1
    ix = {}
    for a, i in enumerate(models):
        for r in range(len(costs.order[i])):
            ix[(a, r)] = nv
            nv += 1
    inb = {}
    for a in range(n):
        inb[a] = nv
        nv += 1
    rows: list[tuple[dict[int, float], float, float]] = []
    for t in range(n):
        rows.append(({iz[(t, a)]: 1.0 for a in range(n)}, -np.inf, 1.0))
    for a in range(n):
        rows.append(({iz[(t, a)]: 1.0 for t in range(n)}, -np.inf, 1.0))
    for t in range(n - 1):  # contiguity: position t+1 used only if t is
        row = {iz[(t, a)]: 1.0 for a in range(n)}
        for a in range(n):
            row[iz[(t + 1, a)]] = row.get(iz[(t + 1, a)], 0.0) - 1.0
        rows.append((row, 0.0, np.inf))
    for (t, a, b), v in iw.items():  # w - z[t-1,a] - z[t,b] >= -1
        rows.append(({v: 1.0, iz[(t - 1, a)]: -1.0, iz[(t, b)]: -1.0}, -1.0, np.inf))
    for a, i in enumerate(models):
        k = len(costs.order[i])
        for r in range(k - 1):
            rows.append(({ix[(a, r + 1)]: 1.0, ix[(a, r)]: -1.0}, -np.inf, 0.0))
        row = {ix[(a, 0)]: 1.0}
        for t in range(n):
            row[iz[(t, a)]] = -1.0
        rows.append((row, -np.inf, 0.0))
        row = {inb[a]: float(costs.cap[i])}
        for r in range(k):
            row[ix[(a, r)]] = -1.0
        rows.append((row, 0.0, np.inf))
    time_row: dict[int, float] = {}
    for a, i in enumerate(models):
        p = unit[costs.order[i]]
        for r in range(len(p)):
            time_row[ix[(a, r)]] = float(p[r] + inst.compute_per_sample_s[i])
        time_row[inb[a]] = float(inst.compute_fixed_s[i])
        time_row[iz[(0, a)]] = float(full[i])
    for (_, a, b), v in iw.items():
        time_row[v] = float(d[models[a], models[b]])
    rows.append((time_row, -np.inf, deadline))
    A = lil_matrix((len(rows), nv))
    lo, hi = np.empty(len(rows)), np.empty(len(rows))
    for r_, (row, row_lo, row_hi) in enumerate(rows):
        for col, val in row.items():
            A[r_, col] = val
        lo[r_], hi[r_] = row_lo, row_hi
    c = np.zeros(nv)
    for v in ix.values():
        c[v] = -1.0
    integrality = np.ones(nv)
    for v in iw.values():
        integrality[v] = 0
    ub = np.ones(nv)
    for a in range(n):
        ub[inb[a]] = len(costs.order[models[a]])
    opts: dict[str, float | bool] = {"disp": False}
    if options.time_limit_s is not None:
        opts["time_limit"] = float(options.time_limit_s)
    res = milp(c, constraints=LinearConstraint(A.tocsr(), lo, hi), integrality=integrality,
               bounds=Bounds(np.zeros(nv), ub), options=opts)
    if res.x is None:
        return plan_to_solution(inst, [], algorithm="milp", status=SolveStatus.TIME_LIMIT, costs=costs,
                                stats={"milp_status": int(res.status), "message": str(res.message)})
    xv = np.round(res.x).astype(int)
    plan = []
    for t in range(n):
        for a in range(n):
            if xv[iz[(t, a)]]:
                k = int(sum(xv[ix[(a, r)]] for r in range(len(costs.order[models[a]]))))
                if k:
                    plan.append((models[a], k))
    status = SolveStatus.OPTIMAL if res.status == 0 else SolveStatus.TIME_LIMIT
    # HiGHS feasibility tolerance: trim users if the rounded plan overshoots the deadline
    while plan and plan_duration(inst, plan, costs) > deadline:
        i, k = plan[-1]
        plan[-1] = (i, k - 1)
        if k - 1 == 0:
            plan.pop()
        status = SolveStatus.FEASIBLE
    return plan_to_solution(inst, plan, algorithm="milp", status=status, costs=costs,
                            stats={"milp_status": int(res.status), "gap": float(getattr(res, "mip_gap", 0.0) or 0.0)})
